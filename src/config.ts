// Settings come from environment variables, overridden by --flags of the same name
// (PORT → --port, DATA_DIR → --data-dir). Secrets come only from the environment or a file (a flag
// shows in `ps`). Nothing here touches the network; the disk only to read a *_FILE secret.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type AllowList, parseAllowList } from "./net/address-policy.ts";
import { parseOverrides } from "./net/guarded-fetch.ts";
import { DEFAULT_LANGUAGE, isLanguage, LANGUAGES, type Language } from "./bridge/texts.ts";
import { parseServerKeys, type ServerKey } from "./telegram/server-keys.ts";
import { parseProxy, type ProxySpec } from "./domain/proxy.ts";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

export interface Settings {
  port: number;
  host: string;
  dataDir: string;
  sessionsDir: string;
  publicUrl: string;
  telegramApiId: number | null;
  telegramApiHash: string | null;
  adminToken: string | null;
  /** METRICS_TOKEN: opens GET /metrics only. */
  metricsToken: string | null;
  logLevel: LogLevel;
  telegramEndpoint: string | null;
  /** TELEGRAM_PROXY: what every number's Telegram connections go through unless it sets its own (holds secrets). */
  telegramProxy: ProxySpec | null;
  providerId: string;
  startTimeoutMs: number;
  fileTtlDays: number;
  maxFileBytes: number;
  retryCapMs: number;
  offlineGiveUpMs: number;
  planfixKeyRetryMs: number;
  /** Failed token checks a source address may make per minute before it gets 429; 0 = no limit. */
  authFailuresPerMinute: number;
  /** Problems worth a warning that do not stop the start (logged once, shown on /health and /admin/clients). */
  warnings: string[];
  mediaMaxBytes: number;
  minFreeDiskBytes: number;
  /** Private networks / host names outbound HTTP may reach (ALLOW_PRIVATE_NETWORKS); none by default. */
  allowPrivateNetworks: AllowList;
  /** Host names answered without DNS (RESOLVE_OVERRIDE); tests and demos. */
  resolveOverride: Map<string, string>;
  /** Language of the texts the appliance writes into Planfix, unless a number sets its own. */
  language: Language;
  tls: TlsSettings;
  telegramServerKeys: ServerKey[];
  /** LIVENESS_PROBE_SECONDS; null: the tunable's default. */
  livenessProbeMs: number | null;
  /** What the appliance declares to Telegram (Active sessions); null: the default naming the appliance. */
  telegramDevice: { deviceModel: string | null; systemVersion: string | null; appVersion: string | null };
}

/**
 * Timeouts, intervals and backoffs that are not operator settings: fixed for production, one place to
 * read them, and overridable by the composition root's callers (tests) through createAppliance.
 */
export interface Tunables {
  /** One Planfix API call. */
  planfixTimeoutMs: number;
  /** One attachment download from Planfix. */
  downloadTimeoutMs: number;
  /** A FLOOD_WAIT longer than this on a send parks the message instead of waiting. */
  maxFloodWaitMs: number;
  /**
   * Liveness: how often a number online is probed (jittered ±25 %; LIVENESS_PROBE_SECONDS overrides).
   * A session revoked or an account banned shows within about this long, not at the next restart.
   */
  livenessProbeMs: number;
  /** Connecting a number waits at most min(START_TIMEOUT, this). */
  connectTimeoutCapMs: number;
  /** The first pause before a lost number reconnects (doubling from there). */
  reconnectBackoffBaseMs: number;
  /** Delivery retries: the first pause, how long an item is retried, how often a refused item is tried. */
  retryBaseMs: number;
  retryGiveUpAfterMs: number;
  refusedTries: number;
  /** Recipient lookups per number: a burst, then one per this many ms. */
  lookupBurst: number;
  lookupEveryMs: number;
  /** How often expired media files are removed. */
  mediaSweepMs: number;
  /** How often the data disk's free space is checked. */
  diskCheckMs: number;
  /** Restoring numbers on a full disk is tried again after this long. */
  restoreRetryMs: number;
  /** A stop waits this long for the HTTP server, deliveries in flight, and Telegram connections. */
  stopHttpMs: number;
  stopDeliveriesMs: number;
  stopTelegramMs: number;
}

export const TUNABLES: Readonly<Tunables> = {
  planfixTimeoutMs: 15_000,
  downloadTimeoutMs: 60_000,
  maxFloodWaitMs: 15 * 60_000,
  connectTimeoutCapMs: 30_000,
  // At most 225 s with the jitter: a revoked or banned number shows within 5 minutes.
  livenessProbeMs: 180_000,
  reconnectBackoffBaseMs: 1000,
  retryBaseMs: 1000,
  retryGiveUpAfterMs: 72 * 3600_000,
  refusedTries: 3,
  lookupBurst: 5,
  lookupEveryMs: 3000,
  mediaSweepMs: 3600_000,
  diskCheckMs: 30_000,
  restoreRetryMs: 10_000,
  // A stop ends well within a supervisor's grace period (Docker: 10 s): see appliance.ts.
  stopHttpMs: 1_000,
  stopDeliveriesMs: 4_000,
  stopTelegramMs: 3_000,
};

/** The shortest admin token accepted: a short one can be guessed. */
export const MIN_ADMIN_TOKEN_LENGTH = 32;

/** HTTPS: off, certificate files (re-read on change or SIGHUP), or certificates over ACME (HTTP-01). */
export type TlsSettings =
  | { kind: "off" }
  | { kind: "files"; certFile: string; keyFile: string }
  | { kind: "acme"; domain: string; email: string | null; directory: string; httpPort: number; caFile: string | null; renewDays: number };

export const LETS_ENCRYPT_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory";

interface Option {
  env: string;
  help: string;
  default?: string;
  /** A secret: environment or *_FILE only, never a flag. */
  secret?: boolean;
}

export const OPTIONS: readonly Option[] = [
  { env: "PORT", help: "HTTP port", default: "8080" },
  { env: "HOST", help: "address to listen on", default: "0.0.0.0" },
  { env: "DATA_DIR", help: "database, sessions and files", default: "./data" },
  { env: "SESSIONS_DIR", help: "where path_session / name_session resolve", default: "DATA_DIR/sessions" },
  { env: "PUBLIC_URL", help: "how Planfix reaches this appliance (links to media files)", default: "http://HOST:PORT" },
  { env: "TELEGRAM_API_ID", help: "api_id from my.telegram.org (required to start numbers)" },
  { env: "TELEGRAM_API_HASH", help: "api_hash from my.telegram.org (required to start numbers); environment only", secret: true },
  { env: "TELEGRAM_API_HASH_FILE", help: "a file holding TELEGRAM_API_HASH" },
  {
    env: "ADMIN_TOKEN",
    help: `token for creating clients, at least ${MIN_ADMIN_TOKEN_LENGTH} characters; environment only; generated into DATA_DIR/admin-token when unset`,
    secret: true,
  },
  { env: "ADMIN_TOKEN_FILE", help: "a file holding ADMIN_TOKEN" },
  {
    env: "METRICS_TOKEN",
    help: `a token that opens only GET /metrics (for Prometheus), at least ${MIN_ADMIN_TOKEN_LENGTH} characters; the admin token opens it too; environment only`,
    secret: true,
  },
  { env: "METRICS_TOKEN_FILE", help: "a file holding METRICS_TOKEN" },
  { env: "LOG_LEVEL", help: "debug | info | warn | error | silent", default: "info" },
  { env: "TELEGRAM_ENDPOINT", help: "host:port to send every MTProto connection to (tests, demos); off by default" },
  {
    env: "TELEGRAM_PROXY",
    help: "proxy for every number's Telegram connections unless a number sets its own: socks5://[user:password@]host:port or mtproxy://secret@host:port (or a tg://proxy link); environment only; off by default",
    secret: true,
  },
  { env: "TELEGRAM_PROXY_FILE", help: "a file holding TELEGRAM_PROXY" },
  { env: "PROVIDER_ID", help: "providerId sent to Planfix unless a number sets its own", default: "planfix-telegram" },
  { env: "START_TIMEOUT", help: "seconds POST /client waits for a number to come online", default: "10" },
  { env: "FILE_TTL_DAYS", help: "days media links given to Planfix stay valid", default: "30" },
  { env: "MAX_FILE_MB", help: "largest file bridged in either direction, in MB", default: "50" },
  { env: "RETRY_CAP_SECONDS", help: "longest pause between two delivery attempts (retries go on for 72 h)", default: "60" },
  { env: "AUTH_FAILURES_PER_MINUTE", help: "failed token checks per minute from one address before it gets 429; 0 turns this off", default: "10" },
  { env: "OFFLINE_GIVE_UP_MINUTES", help: "how long a message for Telegram waits for its number to come online", default: "15" },
  { env: "PLANFIX_KEY_RETRY_SECONDS", help: "how often a number's queue held by a refused Planfix key (401) is tried again", default: "300" },
  { env: "MEDIA_MAX_GB", help: "total media from Telegram kept for Planfix, in GB; the oldest files expire first", default: "10" },
  { env: "MIN_FREE_DISK_MB", help: "free space left on the data disk; below it incoming media is not kept", default: "512" },
  { env: "ALLOW_PRIVATE_NETWORKS", help: "CIDRs or host names (comma-separated) that Planfix calls and downloads may reach although private or loopback; off by default" },
  { env: "RESOLVE_OVERRIDE", help: "name=address,… answered without DNS for outbound HTTP (tests, demos); still checked; off by default" },
  { env: "LANGUAGE", help: "language of the notes and statuses written into Planfix: uk | ru | en (a number may set its own)", default: "uk" },
  { env: "TLS_CERT", help: "HTTPS certificate file (PEM, full chain); re-read on change or SIGHUP" },
  { env: "TLS_KEY", help: "private key file (PEM) for TLS_CERT" },
  { env: "ACME_DOMAIN", help: "get HTTPS certificates for this domain automatically over ACME (HTTP-01)" },
  { env: "ACME_EMAIL", help: "contact address for the ACME account (optional)" },
  { env: "ACME_DIRECTORY", help: "ACME directory URL", default: "Let's Encrypt production" },
  { env: "ACME_HTTP_PORT", help: "port answering ACME HTTP-01 challenges", default: "80" },
  { env: "ACME_CA_FILE", help: "extra CA certificate (PEM) trusted for the ACME directory (test CAs)" },
  { env: "ACME_RENEW_DAYS", help: "renew a certificate this many days before it expires", default: "30" },
  { env: "TELEGRAM_SERVER_KEYS", help: "PEM RSA public keys of private/test MTProto servers, trusted besides Telegram's own; off by default" },
  {
    env: "LIVENESS_PROBE_SECONDS",
    help: "how often each number online checks that Telegram still has it signed in (jittered); a session ended from the phone, a ban or a freeze shows within about this long",
    default: "180",
  },
  { env: "TELEGRAM_DEVICE_MODEL", help: "device model declared to Telegram (the user's Active sessions)", default: "planfix-telegram" },
  { env: "TELEGRAM_SYSTEM_VERSION", help: "system version declared to Telegram", default: "the OS and CPU, e.g. linux x64" },
  { env: "TELEGRAM_APP_VERSION", help: "app version declared to Telegram", default: "the appliance's version" },
];

export class SettingsError extends Error {}

const flagName = (env: string) => "--" + env.toLowerCase().replaceAll("_", "-");

export function helpText(): string {
  const lines = OPTIONS.map((o) => {
    const left = `  ${flagName(o.env)}, ${o.env}`;
    return `${left.padEnd(36)} ${o.help}${o.default ? ` (default ${o.default})` : ""}`;
  });
  return [
    "planfix-telegram — Telegram user accounts ⇄ Planfix chats",
    "",
    "Usage: planfix-telegram [--flag value]...",
    "       planfix-telegram backup FILE [--url URL] [--flag value]...   (a copy of the running appliance's database)",
    "       planfix-telegram login --client NAME --number PHONE [--code]   (log a Telegram account in; writes its session file)",
    "",
    ...lines,
    "  --version                          version and build commit",
    "  --help                             this text",
    "",
  ].join("\n");
}

/** Reads argv flags (`--port 9000` or `--port=9000`) over env values; unknown flags are an error. */
export function readRawSettings(argv: readonly string[], env: Record<string, string | undefined>): Record<string, string | undefined> {
  const raw: Record<string, string | undefined> = {};
  for (const o of OPTIONS) raw[o.env] = env[o.env];
  const byFlag = new Map(OPTIONS.map((o) => [flagName(o.env), o.env]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const key = byFlag.get(flag);
    if (!key) throw new SettingsError(`unknown option ${flag} (see --help)`);
    if (OPTIONS.find((o) => o.env === key)?.secret) {
      throw new SettingsError(`${flag} is refused: a secret given as a flag shows in \`ps\`; set ${key} in the environment or put it in a file named by ${key}_FILE`);
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new SettingsError(`${flag} needs a value`);
    raw[key] = value;
  }
  return raw;
}

function positiveNumber(raw: Record<string, string | undefined>, key: string, fallback: number, integer = true): number {
  const text = raw[key]?.trim();
  if (!text) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new SettingsError(`${key} must be a positive ${integer ? "integer" : "number"}, got "${text}"`);
  }
  return n;
}

function parsed<T>(key: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    throw new SettingsError(`${key}: ${(e as Error).message}`);
  }
}

const nonEmpty = (v: string | undefined) => (v && v.trim() ? v.trim() : null);

/** A secret from KEY or from the file named by KEY_FILE (not both); null when neither is set. */
function secret(raw: Record<string, string | undefined>, key: string, readFile: (path: string) => string): string | null {
  const direct = nonEmpty(raw[key]);
  const file = nonEmpty(raw[`${key}_FILE`]);
  if (direct && file) throw new SettingsError(`set either ${key} or ${key}_FILE, not both`);
  if (!file) return direct;
  let text: string;
  try {
    text = readFile(file);
  } catch (e) {
    throw new SettingsError(`${key}_FILE: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? "unreadable"})`);
  }
  const value = nonEmpty(text);
  if (!value) throw new SettingsError(`${key}_FILE: ${file} is empty`);
  return value;
}

const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "[::]", "*"]);

export function loadSettings(argv: readonly string[], env: Record<string, string | undefined>, readFile: (path: string) => string = (p) => readFileSync(p, "utf8")): Settings {
  /**
   * LANGUAGE is also GNU gettext's variable ("en_US:en"), often set in a shell: a locale list is read
   * for its first language, and one we do not have falls back to the default instead of refusing to
   * start. A bare code we do not have ("de") is the operator's own setting, and is an error.
   */
  function languageSetting(value: string | undefined): Language {
    const text = nonEmpty(value);
    if (!text) return DEFAULT_LANGUAGE;
    const code = text
      .split(":")[0]!
      .split(/[_.@-]/)[0]!
      .toLowerCase();
    if (isLanguage(code)) return code;
    if (/^[a-z]{2,3}$/i.test(text)) throw new SettingsError(`LANGUAGE must be one of ${LANGUAGES.join(", ")}; got "${text}"`);
    return DEFAULT_LANGUAGE;
  }

  const raw = readRawSettings(argv, env);
  const port = positiveNumber(raw, "PORT", 8080);
  if (port > 65535) throw new SettingsError(`PORT must be at most 65535, got ${port}`);
  const host = nonEmpty(raw.HOST) ?? "0.0.0.0";
  const dataDir = resolve(nonEmpty(raw.DATA_DIR) ?? "./data");
  const level = (nonEmpty(raw.LOG_LEVEL) ?? "info").toLowerCase();
  if (!["debug", "info", "warn", "error", "silent"].includes(level)) {
    throw new SettingsError(`LOG_LEVEL must be one of debug, info, warn, error, silent; got "${level}"`);
  }
  const language = languageSetting(raw.LANGUAGE);
  const apiIdText = nonEmpty(raw.TELEGRAM_API_ID);
  const apiId = apiIdText === null ? null : positiveNumber(raw, "TELEGRAM_API_ID", 0);
  const adminToken = secret(raw, "ADMIN_TOKEN", readFile);
  if (adminToken !== null && adminToken.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new SettingsError(
      `ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (got ${adminToken.length}); e.g. \`openssl rand -base64 32\`, or leave it unset to have one generated`,
    );
  }
  const metricsToken = secret(raw, "METRICS_TOKEN", readFile);
  if (metricsToken !== null && metricsToken.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new SettingsError(`METRICS_TOKEN must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (got ${metricsToken.length}); e.g. \`openssl rand -base64 32\``);
  }
  const wildcard = WILDCARD_HOSTS.has(host);
  const publicHost = wildcard ? "127.0.0.1" : host;
  const tls = tlsSettings(raw);
  const scheme = tls.kind === "off" ? "http" : "https";
  const defaultPublicUrl = tls.kind === "acme" ? `https://${tls.domain}${port === 443 ? "" : `:${port}`}` : `${scheme}://${publicHost}:${port}`;
  const publicUrl = (nonEmpty(raw.PUBLIC_URL) ?? defaultPublicUrl).replace(/\/+$/, "");
  const warnings: string[] = [];
  if (!nonEmpty(raw.PUBLIC_URL) && wildcard && tls.kind !== "acme") {
    warnings.push(
      `PUBLIC_URL is not set: media links given to Planfix point at ${publicUrl}, which Planfix cannot reach; set PUBLIC_URL to the address Planfix uses for this appliance (e.g. https://bridge.example.com)`,
    );
  }
  let telegramServerKeys: ServerKey[];
  try {
    telegramServerKeys = parseServerKeys(raw.TELEGRAM_SERVER_KEYS);
  } catch (e) {
    throw new SettingsError(`TELEGRAM_SERVER_KEYS: ${e instanceof Error ? e.message : String(e)}`);
  }
  return {
    port,
    host,
    dataDir,
    sessionsDir: resolve(nonEmpty(raw.SESSIONS_DIR) ?? join(dataDir, "sessions")),
    publicUrl,
    telegramApiId: apiId,
    telegramApiHash: secret(raw, "TELEGRAM_API_HASH", readFile),
    adminToken,
    metricsToken,
    logLevel: level as LogLevel,
    telegramEndpoint: nonEmpty(raw.TELEGRAM_ENDPOINT),
    telegramProxy: proxySetting(secret(raw, "TELEGRAM_PROXY", readFile)),
    providerId: nonEmpty(raw.PROVIDER_ID) ?? "planfix-telegram",
    startTimeoutMs: positiveNumber(raw, "START_TIMEOUT", 10, false) * 1000,
    fileTtlDays: positiveNumber(raw, "FILE_TTL_DAYS", 30, false),
    maxFileBytes: Math.round(positiveNumber(raw, "MAX_FILE_MB", 50, false) * 1024 * 1024),
    retryCapMs: positiveNumber(raw, "RETRY_CAP_SECONDS", 60, false) * 1000,
    offlineGiveUpMs: positiveNumber(raw, "OFFLINE_GIVE_UP_MINUTES", 15, false) * 60_000,
    planfixKeyRetryMs: positiveNumber(raw, "PLANFIX_KEY_RETRY_SECONDS", 300, false) * 1000,
    authFailuresPerMinute: raw.AUTH_FAILURES_PER_MINUTE?.trim() === "0" ? 0 : positiveNumber(raw, "AUTH_FAILURES_PER_MINUTE", 10),
    warnings,
    mediaMaxBytes: Math.round(positiveNumber(raw, "MEDIA_MAX_GB", 10, false) * 1024 ** 3),
    minFreeDiskBytes: Math.round(positiveNumber(raw, "MIN_FREE_DISK_MB", 512, false) * 1024 * 1024),
    allowPrivateNetworks: parsed("ALLOW_PRIVATE_NETWORKS", () => parseAllowList(raw.ALLOW_PRIVATE_NETWORKS)),
    resolveOverride: parsed("RESOLVE_OVERRIDE", () => parseOverrides(raw.RESOLVE_OVERRIDE)),
    language,
    tls,
    telegramServerKeys,
    livenessProbeMs: raw.LIVENESS_PROBE_SECONDS?.trim() ? positiveNumber(raw, "LIVENESS_PROBE_SECONDS", 180, false) * 1000 : null,
    telegramDevice: { deviceModel: nonEmpty(raw.TELEGRAM_DEVICE_MODEL), systemVersion: nonEmpty(raw.TELEGRAM_SYSTEM_VERSION), appVersion: nonEmpty(raw.TELEGRAM_APP_VERSION) },
  };
}

/** The value is never echoed: it may hold a password or an MTProxy secret. */
function proxySetting(value: string | null): ProxySpec | null {
  if (value === null) return null;
  try {
    return parseProxy(value);
  } catch (e) {
    throw new SettingsError(`TELEGRAM_PROXY: ${(e as Error).message}`);
  }
}

function tlsSettings(raw: Record<string, string | undefined>): TlsSettings {
  const cert = nonEmpty(raw.TLS_CERT);
  const key = nonEmpty(raw.TLS_KEY);
  const domain = nonEmpty(raw.ACME_DOMAIN);
  if ((cert || key) && domain) throw new SettingsError("set either TLS_CERT/TLS_KEY or ACME_DOMAIN, not both");
  if (cert || key) {
    if (!cert || !key) throw new SettingsError(`${cert ? "TLS_KEY" : "TLS_CERT"} is missing: TLS_CERT and TLS_KEY go together`);
    return { kind: "files", certFile: resolve(cert), keyFile: resolve(key) };
  }
  if (!domain) return { kind: "off" };
  if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i.test(domain))
    throw new SettingsError(`ACME_DOMAIN must be a domain name like bridge.example.com, got "${domain}"`);
  const httpPort = positiveNumber(raw, "ACME_HTTP_PORT", 80);
  if (httpPort > 65535) throw new SettingsError(`ACME_HTTP_PORT must be at most 65535, got ${httpPort}`);
  const caFile = nonEmpty(raw.ACME_CA_FILE);
  return {
    kind: "acme",
    domain: domain.toLowerCase(),
    email: nonEmpty(raw.ACME_EMAIL),
    directory: nonEmpty(raw.ACME_DIRECTORY) ?? LETS_ENCRYPT_DIRECTORY,
    httpPort,
    caFile: caFile ? resolve(caFile) : null,
    renewDays: positiveNumber(raw, "ACME_RENEW_DAYS", 30, false),
  };
}

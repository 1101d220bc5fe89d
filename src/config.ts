// Settings come from environment variables, overridden by --flags of the same name
// (PORT → --port, DATA_DIR → --data-dir). Nothing here touches the disk or the network.
import { join, resolve } from "node:path";
import { parseServerKeys, type ServerKey } from "./telegram/server-keys.ts";

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
  logLevel: LogLevel;
  telegramEndpoint: string | null;
  providerId: string;
  startTimeoutMs: number;
  fileTtlDays: number;
  maxFileBytes: number;
  retryCapMs: number;
  offlineGiveUpMs: number;
  telegramServerKeys: ServerKey[];
}

interface Option {
  env: string;
  help: string;
  default?: string;
}

export const OPTIONS: readonly Option[] = [
  { env: "PORT", help: "HTTP port", default: "8080" },
  { env: "HOST", help: "address to listen on", default: "0.0.0.0" },
  { env: "DATA_DIR", help: "database, sessions and files", default: "./data" },
  { env: "SESSIONS_DIR", help: "where path_session / name_session resolve", default: "DATA_DIR/sessions" },
  { env: "PUBLIC_URL", help: "how Planfix reaches this appliance (links to media files)", default: "http://HOST:PORT" },
  { env: "TELEGRAM_API_ID", help: "api_id from my.telegram.org (required to start numbers)" },
  { env: "TELEGRAM_API_HASH", help: "api_hash from my.telegram.org (required to start numbers)" },
  { env: "ADMIN_TOKEN", help: "token for creating clients; generated into DATA_DIR/admin-token when unset" },
  { env: "LOG_LEVEL", help: "debug | info | warn | error | silent", default: "info" },
  { env: "TELEGRAM_ENDPOINT", help: "host:port to send every MTProto connection to (tests, demos); off by default" },
  { env: "PROVIDER_ID", help: "providerId sent to Planfix unless a number sets its own", default: "planfix-telegram" },
  { env: "START_TIMEOUT", help: "seconds POST /client waits for a number to come online", default: "10" },
  { env: "FILE_TTL_DAYS", help: "days media links given to Planfix stay valid", default: "30" },
  { env: "MAX_FILE_MB", help: "largest file bridged in either direction, in MB", default: "50" },
  { env: "RETRY_CAP_SECONDS", help: "longest pause between two delivery attempts (retries go on for 72 h)", default: "60" },
  { env: "OFFLINE_GIVE_UP_MINUTES", help: "how long a message for Telegram waits for its number to come online", default: "15" },
  { env: "TELEGRAM_SERVER_KEYS", help: "PEM RSA public keys of private/test MTProto servers, trusted besides Telegram's own; off by default" },
];

export class SettingsError extends Error {}

const flagName = (env: string) => "--" + env.toLowerCase().replaceAll("_", "-");

export function helpText(): string {
  const lines = OPTIONS.map((o) => {
    const left = `  ${flagName(o.env)}, ${o.env}`;
    return `${left.padEnd(36)} ${o.help}${o.default ? ` (default ${o.default})` : ""}`;
  });
  return ["planfix-telegram — Telegram user accounts ⇄ Planfix chats", "", "Usage: planfix-telegram [--flag value]...", "", ...lines, "  --help                             this text", ""].join("\n");
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

const nonEmpty = (v: string | undefined) => (v && v.trim() ? v.trim() : null);

export function loadSettings(argv: readonly string[], env: Record<string, string | undefined>): Settings {
  const raw = readRawSettings(argv, env);
  const port = positiveNumber(raw, "PORT", 8080);
  if (port > 65535) throw new SettingsError(`PORT must be at most 65535, got ${port}`);
  const host = nonEmpty(raw.HOST) ?? "0.0.0.0";
  const dataDir = resolve(nonEmpty(raw.DATA_DIR) ?? "./data");
  const level = (nonEmpty(raw.LOG_LEVEL) ?? "info").toLowerCase();
  if (!["debug", "info", "warn", "error", "silent"].includes(level)) {
    throw new SettingsError(`LOG_LEVEL must be one of debug, info, warn, error, silent; got "${level}"`);
  }
  const apiIdText = nonEmpty(raw.TELEGRAM_API_ID);
  const apiId = apiIdText === null ? null : positiveNumber(raw, "TELEGRAM_API_ID", 0);
  const publicHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
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
    publicUrl: (nonEmpty(raw.PUBLIC_URL) ?? `http://${publicHost}:${port}`).replace(/\/+$/, ""),
    telegramApiId: apiId,
    telegramApiHash: nonEmpty(raw.TELEGRAM_API_HASH),
    adminToken: nonEmpty(raw.ADMIN_TOKEN),
    logLevel: level as LogLevel,
    telegramEndpoint: nonEmpty(raw.TELEGRAM_ENDPOINT),
    providerId: nonEmpty(raw.PROVIDER_ID) ?? "planfix-telegram",
    startTimeoutMs: positiveNumber(raw, "START_TIMEOUT", 10, false) * 1000,
    fileTtlDays: positiveNumber(raw, "FILE_TTL_DAYS", 30, false),
    maxFileBytes: Math.round(positiveNumber(raw, "MAX_FILE_MB", 50, false) * 1024 * 1024),
    retryCapMs: positiveNumber(raw, "RETRY_CAP_SECONDS", 60, false) * 1000,
    offlineGiveUpMs: positiveNumber(raw, "OFFLINE_GIVE_UP_MINUTES", 15, false) * 60_000,
    telegramServerKeys,
  };
}

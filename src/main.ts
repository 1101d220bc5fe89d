// Entry point: settings → store → account pool → HTTP; brings running numbers back; shuts down on signals.
import { chmodSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { AccountPool } from "./accounts/pool.ts";
import { bridgeHooks, ConnectionRegistry } from "./bridge/bridge.ts";
import { InboundBridge } from "./bridge/inbound.ts";
import { LookupLimiter } from "./bridge/lookup-limiter.ts";
import { OutboundBridge } from "./bridge/outbound.ts";
import { DEFAULT_RETRY } from "./bridge/retry.ts";
import { planfixRoutes } from "./http/planfix-routes.ts";
import { QueueService } from "./bridge/queues.ts";
import { queueRoutes } from "./http/queue-routes.ts";
import { FileStore } from "./store/files.ts";
import { JobStore } from "./store/jobs.ts";
import { OutboxStore } from "./store/outbox.ts";
import { ClientService } from "./accounts/service.ts";
import { AdminTokenError, loadAdminToken } from "./auth/admin-token.ts";
import { buildCommit } from "./build-commit.macro.ts" with { type: "macro" };
import { helpText, loadSettings, MIN_ADMIN_TOKEN_LENGTH, SettingsError, type Settings } from "./config.ts";
import { buildApp } from "./http/app.ts";
import { createLogger, errorText } from "./log.ts";
import { acquirePidLock, type PidLock } from "./pid-lock.ts";
import { NetGuard } from "./net/guarded-fetch.ts";
import { ClientStore } from "./store/clients.ts";
import { openDb, type Db } from "./store/db.ts";
import { DiskWatch, isDiskFull, mbOf } from "./store/disk.ts";
import { PeerStore } from "./store/peers.ts";
import { createGramjsConnector } from "./telegram/connector.ts";
import { trustServerKeys } from "./telegram/server-keys.ts";
import pkg from "../package.json" with { type: "json" };
import { runBackup } from "./backup-command.ts";
import { backupRoutes } from "./http/backup-routes.ts";
import { startHttps } from "./tls/listen.ts";
import { PromMetrics } from "./metrics/registry.ts";
import { metricsRoutes } from "./http/metrics-routes.ts";
import { runLogin } from "./login-command.ts";
import { LoginService } from "./accounts/logins.ts";
import { loginRoutes } from "./http/login-routes.ts";
import { consoleRoutes } from "./http/console-routes.ts";
import { createGramjsLogin } from "./telegram/login.ts";
import { deviceOf } from "./telegram/device.ts";

const argv = process.argv.slice(2);
if (argv[0] === "backup") process.exit(await runBackup(argv.slice(1), process.env));
if (argv[0] === "login") process.exit(await runLogin(argv.slice(1), process.env, pkg.version));
if (argv.includes("--help") || argv.includes("-h")) {
  process.stdout.write(helpText());
  process.exit(0);
}
const commit = buildCommit();
if (argv.includes("--version")) {
  process.stdout.write(`planfix-telegram ${pkg.version} (${commit})\n`);
  process.exit(0);
}

let settings: Settings;
try {
  settings = loadSettings(argv, process.env);
} catch (e) {
  if (!(e instanceof SettingsError)) throw e;
  process.stderr.write(`planfix-telegram: ${e.message}\n`);
  process.exit(2);
}

const log = createLogger(settings.logLevel);
const version = pkg.version;
// Everything written from here on (database, WAL, media, admin token) is for this user only.
process.umask(0o077);

let pidLock: PidLock;
try {
  pidLock = acquirePidLock(join(settings.dataDir, "appliance.pid"));
} catch (e) {
  log.error("cannot start", { error: errorText(e) });
  process.exit(1);
}
restrictModes(settings.dataDir);

// Downloads left half-done by a crash: their jobs fetch them again.
const downloadsDir = join(settings.dataDir, "downloads");
rmSync(downloadsDir, { recursive: true, force: true });

const disk = new DiskWatch(settings.dataDir, settings.minFreeDiskBytes);
let db: Db;
try {
  db = openDb(join(settings.dataDir, "planfix-telegram.db"));
} catch (e) {
  log.error(isDiskFull(e) ? `cannot open the database: the disk is full (${mbOf(disk.freeBytes() ?? 0)} MB free in ${settings.dataDir}); free some space and start again` : "cannot open the database", { error: errorText(e) });
  // e.g. a database a newer release has migrated (SchemaTooNewError): said in the error, and the file is left untouched.
  process.exit(1);
}
const clients = new ClientStore(db);
const peers = new PeerStore(db);
let adminToken: string;
try {
  adminToken = loadAdminToken(settings.adminToken, settings.dataDir, log, MIN_ADMIN_TOKEN_LENGTH);
} catch (e) {
  if (!(e instanceof AdminTokenError)) throw e;
  process.stderr.write(`planfix-telegram: ${e.message}\n`);
  process.exit(2);
}
// The folder session files go into exists from the first start, readable by this user only.
mkdirSync(settings.sessionsDir, { recursive: true, mode: 0o700 });

const jobs = new JobStore(db);
const outbox = new OutboxStore(db);
const files = new FileStore(db, join(settings.dataDir, "files"), settings.fileTtlDays * 86_400_000, { maxTotalBytes: settings.mediaMaxBytes, disk });
const registry = new ConnectionRegistry();
const retry = { ...DEFAULT_RETRY, capMs: settings.retryCapMs, pauseRetryMs: settings.planfixKeyRetryMs };
const connection = (id: number) => registry.get(id);
// Every outbound HTTP request (Planfix calls, attachment downloads) goes through this one guard.
const guard = new NetGuard({ allow: settings.allowPrivateNetworks, overrides: settings.resolveOverride });
// Counted from here on; the gauges read the stores (`queues` is set below, before any scrape) when scraped.
const metrics: PromMetrics = new PromMetrics({ numbersByState: () => clients.countByState(), queues: () => queues.totals() }, { version });
const inbound = new InboundBridge({ clients, peers, outbox, jobs, files, publicUrl: settings.publicUrl, defaultProviderId: settings.providerId, maxFileBytes: settings.maxFileBytes, planfixTimeoutMs: 15_000, guard, retry, language: settings.language, log, connection, metrics });
const outbound = new OutboundBridge({ clients, peers, jobs, inbound, limiter: new LookupLimiter(), maxFileBytes: settings.maxFileBytes, downloadTimeoutMs: 60_000, guard, tmpDir: downloadsDir, retry, offlineGiveUpMs: settings.offlineGiveUpMs, maxFloodWaitMs: 15 * 60_000, language: settings.language, log, connection, metrics });

if (settings.telegramServerKeys.length) log.info("trusting extra MTProto server keys", { fingerprints: trustServerKeys(settings.telegramServerKeys) });
const pool = new AccountPool(
  {
    connector: createGramjsConnector({ endpoint: settings.telegramEndpoint, device: deviceOf(settings.telegramDevice, version) }),
    clients,
    peers,
    sessionsDir: settings.sessionsDir,
    apiId: settings.telegramApiId,
    apiHash: settings.telegramApiHash,
    connectTimeoutMs: Math.min(settings.startTimeoutMs, 30_000),
    backoffBaseMs: 1000,
    log,
    hooks: (accountId) => bridgeHooks(accountId, { registry, inbound, outbound, jobs }),
    metrics,
  },
  log,
);
const queues = new QueueService({ outbox, jobs, inbound, outbound });
const service = new ClientService(clients, pool, { sessionsDir: settings.sessionsDir, apiId: settings.telegramApiId, apiHash: settings.telegramApiHash, startTimeoutMs: settings.startTimeoutMs, adminToken, filesDir: join(settings.dataDir, "files") }, log, queues);

const logins = new LoginService(
  createGramjsLogin({ apiId: settings.telegramApiId ?? 0, apiHash: settings.telegramApiHash ?? "", endpoint: settings.telegramEndpoint, device: deviceOf(settings.telegramDevice, version), log }),
  service,
  clients,
  settings.sessionsDir,
  log,
  {},
  !settings.telegramApiId || !settings.telegramApiHash ? "TELEGRAM_API_ID / TELEGRAM_API_HASH are not set on the appliance" : null,
);
const app = buildApp({ service, log, version, commit, warnings: settings.warnings, authFailuresPerMinute: settings.authFailuresPerMinute, extraRoutes: [loginRoutes(logins, service), consoleRoutes(), planfixRoutes({ clients, outbound, files, log }), queueRoutes(service, queues), backupRoutes({ db, dataDir: settings.dataDir, adminToken, log }), metricsRoutes({ render: () => metrics.render(), adminToken, metricsToken: settings.metricsToken })], disk: { report: () => disk.report(files.usage()), noteFull: () => disk.noteFull() } });
// The routes cap bodies themselves (1 MiB, declared or streamed, never buffered beyond that) and answer
// 413 in JSON. Bun's own limit would answer a bare 413 with no body before any route sees the request,
// so it is set out of the way.
// reusePort off: a second appliance on a taken port must fail, not silently share the requests.
let stopHttp = (): Promise<unknown> => app.stop();
if (settings.tls.kind === "off") {
  try {
    app.listen({ port: settings.port, hostname: settings.host, maxRequestBodySize: Number.MAX_SAFE_INTEGER, reusePort: false });
  } catch (e) {
    const inUse = (e as NodeJS.ErrnoException).code === "EADDRINUSE";
    log.error("cannot start", { error: inUse ? `address already in use: ${settings.host}:${settings.port} is taken by another process` : errorText(e) });
    process.exit(1);
  }
} else {
  try {
    // Elysia reads the client's address (server.requestIP) from app.server, which app.listen would set.
    stopHttp = (await startHttps(settings, { fetch: (req) => app.fetch(req), onServer: (s) => (app.server = s) }, log)).stop;
  } catch (e) {
    log.error("cannot start HTTPS", { error: errorText(e) });
    process.exit(1);
  }
}
log.info("listening", { host: settings.host, port: settings.port, https: settings.tls.kind !== "off", version, commit, dataDir: settings.dataDir, telegramEndpoint: settings.telegramEndpoint });
for (const warning of settings.warnings) log.warn(warning);
if (!settings.telegramApiId || !settings.telegramApiHash) log.warn("TELEGRAM_API_ID / TELEGRAM_API_HASH are not set: numbers cannot start until they are");

// On a full disk the restore cannot record anything: it is tried again until there is room (numbers
// not started yet leave their messages waiting in Telegram, so nothing is lost meanwhile).
const restore = (): void =>
  void pool.restore(clients.allAccounts()).catch((e) => {
    if (!isDiskFull(e)) return log.error("restore failed", { error: errorText(e) });
    disk.noteFull();
    log.error("numbers not started yet: the disk is full; trying again in 10 s", { error: errorText(e) });
    if (!stopping) setTimeout(restore, 10_000);
  });
restore();
// What was accepted before a stop or a crash is delivered now (Planfix-bound items need no Telegram).
inbound.resumeAll();
outbound.resumeAll();
const sweeper = setInterval(() => files.sweep(), 3600_000);

// The disk's state: one line at start when something is wrong, then one line whenever that changes.
let diskState = disk.status();
if (diskState.problem) log.error(diskState.problem, { dataDir: settings.dataDir });
const diskCheck = setInterval(() => {
  const now = disk.status();
  if (now.kind === diskState.kind) return;
  if (now.problem) log.error(now.problem, { dataDir: settings.dataDir });
  else log.info("disk space is sufficient again", { dataDir: settings.dataDir, freeMb: mbOf(disk.freeBytes() ?? 0) });
  diskState = now;
}, 30_000);

// A write that found the disk full (SQLite or a file) where nobody awaited it must not end the process:
// nothing was acknowledged, and it goes on once space is freed. Anything else still ends it.
const stray = (e: unknown) => {
  if (isDiskFull(e)) {
    disk.noteFull();
    log.error("a write failed: the disk is full; nothing unstored was acknowledged", { error: errorText(e) });
    return;
  }
  log.error("crashed", { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  process.exit(1);
};
process.on("uncaughtException", stray);
process.on("unhandledRejection", stray);

/** Resolves true when `p` settles within `ms`, false when it is still running then. */
const within = (ms: number, p: Promise<unknown>): Promise<boolean> =>
  Promise.race([p.then(() => true, () => true), Bun.sleep(ms).then(() => false)]);

// A stop waits a few seconds for deliveries in flight, not for as long as a stuck one could take (a
// Planfix that does not answer, a stalled Telegram connection, a slow attachment: 15–60 s each), so
// it ends well within a supervisor's grace period (Docker: 10 s). What is still running then is left
// pending and delivered after the next start, exactly as after a crash.
const STOP_HTTP_MS = 1_000;
const STOP_DELIVERIES_MS = 4_000;
const STOP_TELEGRAM_MS = 3_000;

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info("shutting down", { signal });
  clearInterval(sweeper);
  clearInterval(diskCheck);
  await within(STOP_HTTP_MS, stopHttp());
  await logins.stopAll();
  if (!(await within(STOP_DELIVERIES_MS, Promise.all([inbound.stop(), outbound.stop()])))) {
    log.warn("stopping with deliveries still in flight; they are retried after the next start", { waitedMs: STOP_DELIVERIES_MS });
  }
  if (!(await within(STOP_TELEGRAM_MS, pool.stopAll()))) log.warn("Telegram connections did not close in time; exiting anyway", { waitedMs: STOP_TELEGRAM_MS });
  try {
    db.$client.close();
  } catch (e) {
    // On a full disk the final checkpoint can fail: the WAL is replayed at the next start.
    log.warn("database not closed cleanly", { error: errorText(e) });
  }
  pidLock.release();
  log.info("stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));

/** Folders 0700 and secrets 0600, also when an older version (or a wider umask) created them. */
function restrictModes(dataDir: string): void {
  for (const [path, mode] of [
    [dataDir, 0o700],
    [join(dataDir, "files"), 0o700],
    [join(dataDir, "admin-token"), 0o600],
    [join(dataDir, "appliance.pid"), 0o600],
  ] as const) {
    try {
      if (existsSync(path)) chmodSync(path, mode);
    } catch (e) {
      log.warn("cannot restrict the mode of a file", { path, error: errorText(e) });
    }
  }
}

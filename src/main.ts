// Entry point: settings → store → account pool → HTTP; brings running numbers back; shuts down on signals.
import { join } from "node:path";
import { AccountPool } from "./accounts/pool.ts";
import { bridgeHooks, ConnectionRegistry } from "./bridge/bridge.ts";
import { InboundBridge } from "./bridge/inbound.ts";
import { LookupLimiter } from "./bridge/lookup-limiter.ts";
import { OutboundBridge } from "./bridge/outbound.ts";
import { DEFAULT_RETRY } from "./bridge/retry.ts";
import { planfixRoutes } from "./http/planfix-routes.ts";
import { FileStore } from "./store/files.ts";
import { JobStore } from "./store/jobs.ts";
import { OutboxStore } from "./store/outbox.ts";
import { ClientService } from "./accounts/service.ts";
import { loadAdminToken } from "./auth/admin-token.ts";
import { helpText, loadSettings, SettingsError, type Settings } from "./config.ts";
import { buildApp } from "./http/app.ts";
import { createLogger, errorText } from "./log.ts";
import { acquirePidLock } from "./pid-lock.ts";
import { ClientStore } from "./store/clients.ts";
import { openDb } from "./store/db.ts";
import { PeerStore } from "./store/peers.ts";
import { createGramjsConnector } from "./telegram/connector.ts";
import { trustServerKeys } from "./telegram/server-keys.ts";
import pkg from "../package.json" with { type: "json" };

const argv = process.argv.slice(2);
if (argv.includes("--help") || argv.includes("-h")) {
  process.stdout.write(helpText());
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

try {
  acquirePidLock(join(settings.dataDir, "appliance.pid"));
} catch (e) {
  log.error("cannot start", { error: errorText(e) });
  process.exit(1);
}

const db = openDb(join(settings.dataDir, "planfix-telegram.db"));
const clients = new ClientStore(db);
const peers = new PeerStore(db);
const adminToken = loadAdminToken(settings.adminToken, settings.dataDir, log);

const jobs = new JobStore(db);
const outbox = new OutboxStore(db);
const files = new FileStore(db, join(settings.dataDir, "files"), settings.fileTtlDays * 86_400_000);
const registry = new ConnectionRegistry();
const retry = { ...DEFAULT_RETRY, capMs: settings.retryCapMs };
const connection = (id: number) => registry.get(id);
const inbound = new InboundBridge({ clients, peers, outbox, jobs, files, publicUrl: settings.publicUrl, defaultProviderId: settings.providerId, maxFileBytes: settings.maxFileBytes, planfixTimeoutMs: 15_000, retry, log, connection });
const outbound = new OutboundBridge({ clients, peers, jobs, inbound, limiter: new LookupLimiter(), maxFileBytes: settings.maxFileBytes, downloadTimeoutMs: 60_000, retry, offlineGiveUpMs: settings.offlineGiveUpMs, maxFloodWaitMs: 15 * 60_000, log, connection });

if (settings.telegramServerKeys.length) log.info("trusting extra MTProto server keys", { fingerprints: trustServerKeys(settings.telegramServerKeys) });
const pool = new AccountPool(
  {
    connector: createGramjsConnector({ endpoint: settings.telegramEndpoint }),
    clients,
    peers,
    sessionsDir: settings.sessionsDir,
    apiId: settings.telegramApiId,
    apiHash: settings.telegramApiHash,
    connectTimeoutMs: Math.min(settings.startTimeoutMs, 30_000),
    backoffBaseMs: 1000,
    log,
    hooks: (accountId) => bridgeHooks(accountId, { registry, inbound, outbound, jobs }),
  },
  log,
);
const service = new ClientService(clients, pool, { sessionsDir: settings.sessionsDir, apiId: settings.telegramApiId, apiHash: settings.telegramApiHash, startTimeoutMs: settings.startTimeoutMs, adminToken }, log);

const app = buildApp({ service, log, version, extraRoutes: [planfixRoutes({ clients, outbound, files, log })] });
// The routes cap bodies themselves (1 MiB, declared or streamed, never buffered beyond that) and answer
// 413 in JSON. Bun's own limit would answer a bare 413 with no body before any route sees the request,
// so it is set out of the way.
app.listen({ port: settings.port, hostname: settings.host, maxRequestBodySize: Number.MAX_SAFE_INTEGER });
log.info("listening", { host: settings.host, port: settings.port, version, dataDir: settings.dataDir, telegramEndpoint: settings.telegramEndpoint });
if (!settings.telegramApiId || !settings.telegramApiHash) log.warn("TELEGRAM_API_ID / TELEGRAM_API_HASH are not set: numbers cannot start until they are");

void pool.restore(clients.allAccounts()).catch((e) => log.error("restore failed", { error: errorText(e) }));
// What was accepted before a stop or a crash is delivered now (Planfix-bound items need no Telegram).
inbound.resumeAll();
outbound.resumeAll();
const sweeper = setInterval(() => files.sweep(), 3600_000);

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
  await within(STOP_HTTP_MS, app.stop());
  if (!(await within(STOP_DELIVERIES_MS, Promise.all([inbound.stop(), outbound.stop()])))) {
    log.warn("stopping with deliveries still in flight; they are retried after the next start", { waitedMs: STOP_DELIVERIES_MS });
  }
  if (!(await within(STOP_TELEGRAM_MS, pool.stopAll()))) log.warn("Telegram connections did not close in time; exiting anyway", { waitedMs: STOP_TELEGRAM_MS });
  db.$client.close();
  log.info("stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));

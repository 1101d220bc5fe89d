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

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info("shutting down", { signal });
  clearInterval(sweeper);
  await app.stop().catch(() => {});
  await Promise.all([inbound.stop(), outbound.stop()]);
  await pool.stopAll();
  db.$client.close();
  log.info("stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));

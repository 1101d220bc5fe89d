// Entry point: settings → store → account pool → HTTP; brings running numbers back; shuts down on signals.
import { join } from "node:path";
import { AccountPool } from "./accounts/pool.ts";
import type { AccountHooks } from "./accounts/runner.ts";
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

const noBridge: AccountHooks = { onMessage: async () => {}, onReadOutbox: async () => {}, onOnline: () => {}, onOffline: () => {} };

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
    hooks: () => noBridge,
  },
  log,
);
const service = new ClientService(clients, pool, { sessionsDir: settings.sessionsDir, apiId: settings.telegramApiId, apiHash: settings.telegramApiHash, startTimeoutMs: settings.startTimeoutMs, adminToken }, log);

const app = buildApp({ service, log, version });
app.listen({ port: settings.port, hostname: settings.host, maxRequestBodySize: 8 * 1024 * 1024 });
log.info("listening", { host: settings.host, port: settings.port, version, dataDir: settings.dataDir, telegramEndpoint: settings.telegramEndpoint });
if (!settings.telegramApiId || !settings.telegramApiHash) log.warn("TELEGRAM_API_ID / TELEGRAM_API_HASH are not set: numbers cannot start until they are");

void pool.restore(clients.allAccounts()).catch((e) => log.error("restore failed", { error: errorText(e) }));

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info("shutting down", { signal });
  await app.stop().catch(() => {});
  await pool.stopAll();
  db.$client.close();
  log.info("stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));

// The one composition root: settings (and, for tests, a few overrides) in, a wired appliance out —
// store, account pool, both bridges, the HTTP app — with start() and stop(). main.ts runs it as a
// process; the tests run it in-process with a fake connector or shorter timeouts.
import { redactProxy, type ProxyHostCheck } from "./domain/proxy.ts";
import { chmodSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { LoginService } from "./accounts/logins.ts";
import { AccountPool } from "./accounts/pool.ts";
import { ClientService } from "./accounts/service.ts";
import { AdminTokenError, loadAdminToken } from "./auth/admin-token.ts";
import { bridgeHooks, ConnectionRegistry } from "./bridge/bridge.ts";
import { InboundBridge } from "./bridge/inbound.ts";
import { LookupLimiter } from "./bridge/lookup-limiter.ts";
import { OutboundBridge } from "./bridge/outbound.ts";
import type { OutcomeListener } from "./bridge/outcomes.ts";
import type { PlanfixPorts } from "./bridge/planfix-port.ts";
import { QueueService } from "./bridge/queues.ts";
import type { RetryPolicy } from "./bridge/retry.ts";
import { MIN_ADMIN_TOKEN_LENGTH, type Settings, TUNABLES, type Tunables } from "./config.ts";
import type { LoginConnector } from "./domain/login-port.ts";
import type { TelegramConnector } from "./domain/telegram-port.ts";
import { buildApp } from "./http/app.ts";
import { backupRoutes } from "./http/backup-routes.ts";
import { consoleRoutes } from "./http/console-routes.ts";
import { loginRoutes } from "./http/login-routes.ts";
import { metricsRoutes } from "./http/metrics-routes.ts";
import { planfixRoutes } from "./http/planfix-routes.ts";
import { queueRoutes } from "./http/queue-routes.ts";
import { createLogger, errorText, type Logger } from "./log.ts";
import { timedPlanfix } from "./metrics/planfix-timing.ts";
import { PromMetrics } from "./metrics/registry.ts";
import { DestinationRefused, NetGuard } from "./net/guarded-fetch.ts";
import { planfixClients } from "./planfix/client.ts";
import { ClientStore } from "./store/clients.ts";
import type { ClientRepository } from "./domain/repositories.ts";
import { type Db, openDb } from "./store/db.ts";
import { DiskWatch, isDiskFull, mbOf } from "./store/disk.ts";
import { FileStore } from "./store/files.ts";
import { JobStore } from "./store/jobs.ts";
import { OutboxStore } from "./store/outbox.ts";
import { PeerStore } from "./store/peers.ts";
import { sqliteTransaction } from "./store/transaction.ts";
import { createGramjsConnector } from "./telegram/connector.ts";
import { withTelegramStore } from "./telegram/store/connector.ts";
import { telegramSessionFormats } from "./telegram/session-file.ts";
import { TelegramStore } from "./telegram/store/store.ts";
import { deviceOf } from "./telegram/device.ts";
import { createGramjsLogin } from "./telegram/login.ts";
import { trustServerKeys } from "./telegram/server-keys.ts";
import { startHttps } from "./tls/listen.ts";

export interface ApplianceOverrides {
  log?: Logger;
  /** The messenger connector; GramJS against TELEGRAM_ENDPOINT when absent. */
  connector?: TelegramConnector;
  /** The Planfix each number talks to; the HTTP client when absent. */
  planfix?: PlanfixPorts;
  /** The login flows; GramJS against TELEGRAM_ENDPOINT when absent. */
  login?: LoginConnector;
  tunables?: Partial<Tunables>;
  /** Wraps the clients/accounts repository (tests: an adapter whose promises truly wait). */
  clients?: (sqlite: ClientRepository) => ClientRepository;
  /** Listen on this port instead of settings.port (0: any free one). */
  port?: number;
  version?: string;
  commit?: string;
}

/** The appliance could not start; `exitCode` 2 for a settings problem (said on stderr), 1 otherwise. */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** Resolves true when `p` settles within `ms`, false when it is still running then. */
const within = (ms: number, p: Promise<unknown>): Promise<boolean> =>
  Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    Bun.sleep(ms).then(() => false),
  ]);

export function createAppliance(settings: Settings, overrides: ApplianceOverrides = {}) {
  const log = overrides.log ?? createLogger(settings.logLevel);
  const t: Tunables = { ...TUNABLES, ...overrides.tunables };
  const version = overrides.version ?? "dev";
  const commit = overrides.commit ?? "unknown";
  restrictModes(settings.dataDir, log);

  // Downloads left half-done by a crash: their jobs fetch them again.
  const downloadsDir = join(settings.dataDir, "downloads");
  rmSync(downloadsDir, { recursive: true, force: true });

  const disk = new DiskWatch(settings.dataDir, settings.minFreeDiskBytes);
  let db: Db;
  let telegramStore: TelegramStore;
  try {
    db = openDb(join(settings.dataDir, "planfix-telegram.db"));
    // The connector's own tables (same file), migrated after the core's.
    try {
      telegramStore = new TelegramStore(db);
    } catch (e) {
      db.$client.close();
      throw e;
    }
  } catch (e) {
    // e.g. a database a newer release has migrated (SchemaTooNewError): said in the error, and the file is left untouched.
    throw new StartupError(
      isDiskFull(e)
        ? `cannot open the database: the disk is full (${mbOf(disk.freeBytes() ?? 0)} MB free in ${settings.dataDir}); free some space and start again`
        : "cannot open the database",
      1,
      errorText(e),
    );
  }
  const sqliteClients = new ClientStore(db);
  const clients: ClientRepository = overrides.clients?.(sqliteClients) ?? sqliteClients;
  const peers = new PeerStore(db);
  let adminToken: string;
  try {
    adminToken = loadAdminToken(settings.adminToken, settings.dataDir, log, MIN_ADMIN_TOKEN_LENGTH);
  } catch (e) {
    db.$client.close();
    if (e instanceof AdminTokenError) throw new StartupError(e.message, 2);
    throw e;
  }
  // The folder session files go into exists from the first start, readable by this user only.
  mkdirSync(settings.sessionsDir, { recursive: true, mode: 0o700 });

  const jobs = new JobStore(db);
  const outbox = new OutboxStore(db);
  const transaction = sqliteTransaction(db, { jobs, outbox });
  const files = new FileStore(db, join(settings.dataDir, "files"), settings.fileTtlDays * 86_400_000, { maxTotalBytes: settings.mediaMaxBytes, disk });
  if (!overrides.connector && settings.telegramServerKeys.length) log.info("trusting extra MTProto server keys", { fingerprints: trustServerKeys(settings.telegramServerKeys) });
  const device = deviceOf(settings.telegramDevice, version);
  const connector = withTelegramStore(overrides.connector ?? createGramjsConnector({ endpoint: settings.telegramEndpoint, device }), telegramStore);
  const registry = new ConnectionRegistry();
  const retry: RetryPolicy = {
    baseMs: t.retryBaseMs,
    capMs: settings.retryCapMs,
    giveUpAfterMs: t.retryGiveUpAfterMs,
    refusedTries: t.refusedTries,
    pauseRetryMs: settings.planfixKeyRetryMs,
  };
  const connection = (id: number) => registry.get(id);
  // Every outbound HTTP request (Planfix calls, attachment downloads) goes through this one guard.
  const guard = new NetGuard({ allow: settings.allowPrivateNetworks, overrides: settings.resolveOverride });
  // A number's own proxy may point only where outbound requests may go (the same guard's policy).
  const proxyHosts: ProxyHostCheck = async (host) => {
    try {
      return { address: await guard.address(host) };
    } catch (e) {
      if (e instanceof DestinationRefused) return { refused: e.message.replace(/^destination not allowed: /, "") };
      const code = (e as NodeJS.ErrnoException).code;
      return { failed: code === "ENOTFOUND" ? "host name not found" : code === "EAI_AGAIN" ? "host name lookup failed" : errorText(e) };
    }
  };
  // Counted from here on; the gauges read the stores (`queues` is set below, before any scrape) when scraped.
  const metrics: PromMetrics = new PromMetrics({ numbersByState: () => clients.countByState(), queues: () => queues.totals() }, { version });
  // Every message's outcome, from the one place each bridge decides it.
  const onOutcome: OutcomeListener = (o) => metrics.messageOutcome(o.direction, o.outcome);
  const planfixClient = overrides.planfix ?? planfixClients({ defaultProviderId: settings.providerId, timeoutMs: t.planfixTimeoutMs, guard });
  // Every Planfix call is timed for /metrics without the bridge or the client knowing.
  const planfixFor: PlanfixPorts = (account) => timedPlanfix(planfixClient(account), ["newMessage", "messageStatus", "updateContact"], metrics);
  const inbound = new InboundBridge({
    clients,
    peers,
    outbox,
    jobs,
    files,
    publicUrl: settings.publicUrl,
    maxFileBytes: settings.maxFileBytes,
    retry,
    language: settings.language,
    log,
    connection,
    isOwnSend: (accountId, peerUserId, messageId) => connector.isOwnSend(accountId, peerUserId, messageId),
    planfixFor,
    capabilities: connector.capabilities,
    onOutcome,
  });
  const outbound = new OutboundBridge({
    clients,
    peers,
    jobs,
    inbound,
    limiter: new LookupLimiter(t.lookupBurst, t.lookupEveryMs),
    maxFileBytes: settings.maxFileBytes,
    downloadTimeoutMs: t.downloadTimeoutMs,
    guard,
    tmpDir: downloadsDir,
    retry,
    offlineGiveUpMs: settings.offlineGiveUpMs,
    maxFloodWaitMs: t.maxFloodWaitMs,
    language: settings.language,
    log,
    connection,
    canAddress: (accountId, userId) => connector.knows(accountId, userId),
    capabilities: connector.capabilities,
    transaction,
    metrics,
    onOutcome,
  });

  const pool = new AccountPool(
    {
      connector,
      sessions: telegramSessionFormats,
      clients,
      peers,
      sessionsDir: settings.sessionsDir,
      apiId: settings.telegramApiId,
      apiHash: settings.telegramApiHash,
      connectTimeoutMs: Math.min(settings.startTimeoutMs, t.connectTimeoutCapMs),
      backoffBaseMs: t.reconnectBackoffBaseMs,
      defaultProxy: settings.telegramProxy,
      proxyHosts,
      probeIntervalMs: settings.livenessProbeMs ?? t.livenessProbeMs,
      log,
      hooks: (accountId) => bridgeHooks(accountId, { registry, inbound, outbound, transaction }),
      metrics,
    },
    log,
  );
  const queues = new QueueService({ outbox, jobs, inbound, outbound });
  const service = new ClientService(
    clients,
    pool,
    {
      sessionsDir: settings.sessionsDir,
      apiId: settings.telegramApiId,
      apiHash: settings.telegramApiHash,
      startTimeoutMs: settings.startTimeoutMs,
      adminToken,
      filesDir: join(settings.dataDir, "files"),
      proxyHosts,
    },
    log,
    queues,
  );
  const logins = new LoginService(
    overrides.login ??
      createGramjsLogin({
        apiId: settings.telegramApiId ?? 0,
        apiHash: settings.telegramApiHash ?? "",
        endpoint: settings.telegramEndpoint,
        proxy: settings.telegramProxy,
        device,
        log,
      }),
    service,
    clients,
    settings.sessionsDir,
    log,
    {},
    !settings.telegramApiId || !settings.telegramApiHash ? "TELEGRAM_API_ID / TELEGRAM_API_HASH are not set on the appliance" : null,
  );
  const app = buildApp({
    service,
    log,
    version,
    commit,
    warnings: settings.warnings,
    authFailuresPerMinute: settings.authFailuresPerMinute,
    extraRoutes: [
      loginRoutes(logins, service),
      consoleRoutes(),
      planfixRoutes({ clients, outbound, files, log }),
      queueRoutes(service, queues),
      backupRoutes({ db, dataDir: settings.dataDir, adminToken, log }),
      metricsRoutes({ render: () => metrics.render(), adminToken, metricsToken: settings.metricsToken }),
    ],
    disk: { report: () => disk.report(files.usage()), noteFull: () => disk.noteFull() },
  });

  let stopHttp = (): Promise<unknown> => app.stop();
  let stopping = false;
  const timers: ReturnType<typeof setInterval>[] = [];
  const port = overrides.port ?? settings.port;

  /** Listens, brings running numbers back and resumes deliveries; throws StartupError when it cannot listen. */
  async function start(): Promise<void> {
    // The routes cap bodies themselves (1 MiB, declared or streamed, never buffered beyond that) and answer
    // 413 in JSON. Bun's own limit would answer a bare 413 with no body before any route sees the request,
    // so it is set out of the way.
    // reusePort off: a second appliance on a taken port must fail, not silently share the requests.
    if (settings.tls.kind === "off") {
      try {
        app.listen({ port, hostname: settings.host, maxRequestBodySize: Number.MAX_SAFE_INTEGER, reusePort: false });
      } catch (e) {
        const inUse = (e as NodeJS.ErrnoException).code === "EADDRINUSE";
        throw new StartupError("cannot start", 1, inUse ? `address already in use: ${settings.host}:${port} is taken by another process` : errorText(e));
      }
    } else {
      try {
        // Elysia reads the client's address (server.requestIP) from app.server, which app.listen would set.
        stopHttp = (await startHttps({ ...settings, port }, { fetch: (req) => app.fetch(req), onServer: (s) => (app.server = s) }, log)).stop;
      } catch (e) {
        throw new StartupError("cannot start HTTPS", 1, errorText(e));
      }
    }
    log.info("listening", {
      host: settings.host,
      port: boundPort(),
      https: settings.tls.kind !== "off",
      version,
      commit,
      dataDir: settings.dataDir,
      telegramEndpoint: settings.telegramEndpoint,
      // Masked: the proxy's password or MTProxy secret never reaches the log.
      telegramProxy: settings.telegramProxy ? redactProxy(settings.telegramProxy) : null,
    });
    for (const warning of settings.warnings) log.warn(warning);
    if (!settings.telegramApiId || !settings.telegramApiHash) log.warn("TELEGRAM_API_ID / TELEGRAM_API_HASH are not set: numbers cannot start until they are");

    restore();
    // What was accepted before a stop or a crash is delivered now (Planfix-bound items need no Telegram).
    await inbound.resumeAll();
    await outbound.resumeAll();
    timers.push(setInterval(() => files.sweep(), t.mediaSweepMs));

    // The disk's state: one line at start when something is wrong, then one line whenever that changes.
    let diskState = disk.status();
    if (diskState.problem) log.error(diskState.problem, { dataDir: settings.dataDir });
    timers.push(
      setInterval(() => {
        const now = disk.status();
        if (now.kind === diskState.kind) return;
        if (now.problem) log.error(now.problem, { dataDir: settings.dataDir });
        else log.info("disk space is sufficient again", { dataDir: settings.dataDir, freeMb: mbOf(disk.freeBytes() ?? 0) });
        diskState = now;
      }, t.diskCheckMs),
    );
  }

  // On a full disk the restore cannot record anything: it is tried again until there is room (numbers
  // not started yet leave their messages waiting in Telegram, so nothing is lost meanwhile).
  function restore(): void {
    void (async () => pool.restore(await clients.allAccounts()))().catch((e) => {
      if (!isDiskFull(e)) return log.error("restore failed", { error: errorText(e) });
      disk.noteFull();
      log.error("numbers not started yet: the disk is full; trying again in 10 s", { error: errorText(e) });
      if (!stopping) setTimeout(restore, t.restoreRetryMs);
    });
  }

  const boundPort = (): number => app.server?.port ?? port;

  /**
   * A stop waits a few seconds for deliveries in flight, not for as long as a stuck one could take (a
   * Planfix that does not answer, a stalled Telegram connection, a slow attachment: 15–60 s each), so
   * it ends well within a supervisor's grace period (Docker: 10 s). What is still running then is left
   * pending and delivered after the next start, exactly as after a crash.
   */
  async function stop(): Promise<void> {
    if (stopping) return;
    stopping = true;
    for (const timer of timers) clearInterval(timer);
    await within(t.stopHttpMs, stopHttp());
    await logins.stopAll();
    if (!(await within(t.stopDeliveriesMs, Promise.all([inbound.stop(), outbound.stop()])))) {
      log.warn("stopping with deliveries still in flight; they are retried after the next start", { waitedMs: t.stopDeliveriesMs });
    }
    if (!(await within(t.stopTelegramMs, pool.stopAll()))) log.warn("Telegram connections did not close in time; exiting anyway", { waitedMs: t.stopTelegramMs });
    try {
      db.$client.close();
    } catch (e) {
      // On a full disk the final checkpoint can fail: the WAL is replayed at the next start.
      log.warn("database not closed cleanly", { error: errorText(e) });
    }
  }

  return {
    settings,
    log,
    app,
    db,
    disk,
    clients,
    peers,
    jobs,
    outbox,
    files,
    pool,
    logins,
    metrics,
    inbound,
    outbound,
    queues,
    service,
    connector,
    start,
    stop,
    /** The port it listens on (the real one when asked for 0). */
    get port(): number {
      return boundPort();
    },
  };
}

export type Appliance = ReturnType<typeof createAppliance>;

/** Folders 0700 and secrets 0600, also when an older version (or a wider umask) created them. */
function restrictModes(dataDir: string, log: Logger): void {
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

// Runs one number: connect, stay online, reconnect after losses with backoff, stop cleanly.
// Invariant: at most one Telegram connection per runner, and a new one is opened only after the
// previous one has fully closed — the same auth key live twice gets it killed (AUTH_KEY_DUPLICATED).
import {
  type ReadSession,
  type SessionFormats,
  type SessionHandle,
  TelegramFailure,
  TERMINAL_FAILURES,
  type TelegramConnection,
  type TelegramConnector,
  type TelegramEvents,
} from "../domain/telegram-port.ts";
import { errorText, type Logger } from "../log.ts";
import { confinementFolder } from "../sessions/confine.ts";
import { readRegisteredBytes } from "../sessions/locate.ts";
import type { ClientRepository, PeerRepository } from "../domain/repositories.ts";
import { backoffMs, interruptibleSleep } from "./backoff.ts";
import { checkProxy, DIRECT, effectiveProxy, parseNumberProxy, type NumberProxy, type ProxyHostCheck, type ProxySpec } from "../domain/proxy.ts";
import type { AccountState, StateChange } from "./states.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { countTelegramFailure } from "../metrics/telegram-failures.ts";

/** What the message bridge plugs into a running number. */
export interface AccountHooks {
  onMessage: TelegramEvents["onMessage"];
  onRead: TelegramEvents["onRead"];
  onContactChanged?: TelegramEvents["onContactChanged"];
  onOnline(conn: TelegramConnection): void;
  onOffline(): void;
}

export interface RunnerDeps {
  connector: TelegramConnector;
  /** What session files mean (the connector's formats); the runner reads their bytes itself. */
  sessions: SessionFormats;
  clients: ClientRepository;
  peers: PeerRepository;
  sessionsDir: string;
  apiId: number | null;
  apiHash: string | null;
  connectTimeoutMs: number;
  backoffBaseMs: number;
  /** Liveness: a number online is probed about this often (jittered ±25 %). */
  probeIntervalMs: number;
  log: Logger;
  hooks: (accountId: number) => AccountHooks;
  /** Claims the session's auth key for this runner; resolves to the number holding the same key, or null. */
  claimKey(accountId: number, session: SessionHandle): Promise<string | null>;
  releaseKey(accountId: number): void;
  /** The one report of a state: stored already; the pool logs it and tells its listeners. */
  onStateChange(change: StateChange): void;
  /** TELEGRAM_PROXY: the proxy of every number that does not set its own; null: none. */
  defaultProxy?: ProxySpec | null;
  /** Where a number's own proxy may point (the outbound address policy); unchecked when absent. */
  proxyHosts?: ProxyHostCheck;
  /** Where reconnects and Telegram errors are counted (/metrics); nothing counted when absent. */
  metrics?: Metrics;
}

/**
 * Reads a registered session file: the bytes confined to the client's folder (checked on every read,
 * not only at registration: a symlink or hard link swapped in later must never start another client's
 * account), their meaning from the connector. Throws SessionReadError.
 */
export function readSession(deps: Pick<RunnerDeps, "sessionsDir" | "sessions">, sessionPath: string, clientName: string): ReadSession {
  return deps.sessions.read(readRegisteredBytes(deps.sessionsDir, sessionPath, confinementFolder(sessionPath, clientName)));
}

const toFailure = (e: unknown): TelegramFailure => (e instanceof TelegramFailure ? e : new TelegramFailure("error", errorText(e)));

/** The state reason of a terminal failure: what happened and the way out, for the operator. */
export function terminalReason(f: TelegramFailure): string {
  if (f.kind === "frozen") {
    return `Telegram froze this account: ${f.reason}. It may still read but not send; messages for it wait and nothing is retried. Only an appeal to Telegram lifts a freeze; start the number again (PUT) once it is lifted`;
  }
  return f.reason;
}

export class AccountRunner {
  private wanted = false;
  private loop: Promise<void> | null = null;
  private conn: TelegramConnection | null = null;
  private wakeSleep: (() => void) | null = null;
  private signalLost: ((f: TelegramFailure | null) => void) | null = null;
  private cancelConnect: AbortController | null = null;
  state: AccountState = "stopped";
  /**
   * The state writes, one after the other: `state` changes at once (the loop goes on), each change is
   * stored and then reported. Awaited by stop and by the pool's waitDecided, so the answer that follows
   * reads the state it waited for.
   */
  get stored(): Promise<void> {
    return this.writes;
  }
  private writes: Promise<void> = Promise.resolve();

  constructor(
    readonly accountId: number,
    private readonly deps: RunnerDeps,
    private readonly log: Logger,
  ) {}

  get running(): boolean {
    return this.loop !== null;
  }

  get connection(): TelegramConnection | null {
    return this.state === "online" ? this.conn : null;
  }

  /** Starts the loop unless it runs already (starting a running number again is harmless). */
  start(): void {
    if (this.loop) return;
    this.wanted = true;
    this.setState("starting", null);
    this.loop = this.run().finally(() => {
      this.loop = null;
      this.deps.releaseKey(this.accountId);
    });
  }

  /** Stops and resolves only when the connection and every timer of it are gone. */
  async stop(finalState: AccountState = "stopped", reason: string | null = null): Promise<void> {
    this.wanted = false;
    this.wakeSleep?.();
    this.cancelConnect?.abort();
    this.signalLost?.(null);
    const conn = this.conn;
    if (conn) await conn.close().catch(() => {});
    if (this.loop) await this.loop;
    this.setState(finalState, reason);
    await this.stored;
  }

  private setState(state: AccountState, reason: string | null, floodUntil: number | null = null): void {
    const change: StateChange = { accountId: this.accountId, from: this.state, to: state, reason, floodUntil, at: Date.now() };
    this.state = state;
    this.writes = this.writes.then(async () => {
      try {
        await this.deps.clients.setState(this.accountId, { state, stateReason: reason, floodUntil });
      } catch (e) {
        // A full disk must not end the loop: it reconnects (and stores nothing it cannot) until space is freed.
        this.log.warn("state not stored", { state, error: errorText(e) });
      }
      this.deps.onStateChange(change);
    });
  }

  private async pause(ms: number): Promise<void> {
    const sleep = interruptibleSleep(ms);
    this.wakeSleep = sleep.wake;
    await sleep.done;
    this.wakeSleep = null;
  }

  /**
   * Probes the live connection every probeIntervalMs (jittered, so numbers do not probe in step) until
   * the returned function is called. Telegram announces neither a session terminated from the phone nor
   * a ban to an open connection: without this an idle number would show online until its next send.
   * A terminal failure ends the connection (the loop then settles the state); anything else — a dropped
   * socket, a timeout — is the keepalive's and the reconnect loop's business, not a state change.
   */
  private probeWhileOnline(conn: TelegramConnection): () => void {
    let timer: ReturnType<typeof setTimeout> | null = null;
    let stopped = false;
    const schedule = () => {
      if (stopped) return;
      timer = setTimeout(tick, Math.round(this.deps.probeIntervalMs * (0.75 + Math.random() * 0.5)));
    };
    const tick = async () => {
      timer = null;
      try {
        await conn.probe();
      } catch (e) {
        if (stopped) return; // this connection is over already; never end the next one
        const f = toFailure(e);
        if (TERMINAL_FAILURES.has(f.kind)) {
          this.log.warn("liveness probe: the account is gone", { kind: f.kind, reason: f.reason });
          this.signalLost?.(f);
          return;
        }
        this.log.debug("liveness probe failed", { kind: f.kind, reason: f.reason });
      }
      schedule();
    };
    schedule();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }

  private async run(): Promise<void> {
    let attempt = 0;
    let lastFailure: string | null = null;
    let proxyFailed = false;
    while (this.wanted) {
      if (attempt > 0) this.deps.metrics?.reconnect();
      // A dead proxy stays the state shown while it is tried again: the reason is still the proxy.
      if (proxyFailed) this.setState("proxy_failed", `${lastFailure}; trying again`);
      else this.setState(attempt === 0 ? "connecting" : "reconnecting", lastFailure);

      const account = await this.deps.clients.accountById(this.accountId);
      if (!account) return this.setState("error", "the number was removed");
      if (!this.deps.apiId || !this.deps.apiHash) {
        return this.setState("error", "TELEGRAM_API_ID and TELEGRAM_API_HASH are not set; set both and start the number again");
      }
      let file: ReadSession;
      try {
        // Confinement is checked again on every start (see readSession).
        const clientName = (await this.deps.clients.clientById(account.clientId))?.name ?? "";
        file = readSession(this.deps, account.sessionPath, clientName);
      } catch (e) {
        return this.setState("error", `session file "${account.sessionPath}" ${errorText(e)}`);
      }
      let own: NumberProxy;
      try {
        own = parseNumberProxy(account.proxy);
      } catch (e) {
        // Checked when it was set; a value broken since is not shown (it may hold a secret).
        return this.setState("error", `the number's proxy setting is invalid (${errorText(e)}); set it again with PUT`);
      }
      let proxy = effectiveProxy(own, this.deps.defaultProxy ?? null);
      // A number's own proxy is checked on every connect (TELEGRAM_PROXY is the operator's own).
      let proxyUnresolved: TelegramFailure | null = null;
      if (proxy && own !== null && own !== DIRECT && this.deps.proxyHosts) {
        const checked = await checkProxy(proxy, this.deps.proxyHosts);
        if ("refused" in checked) return this.setState("error", checked.refused);
        if ("failed" in checked) proxyUnresolved = new TelegramFailure("proxy", checked.failed);
        else proxy = checked.proxy;
      }
      const holder = await this.deps.claimKey(this.accountId, file.handle);
      if (holder) return this.setState("error", `the session's key is already in use by number ${holder}; one key may run only once`);

      let knownPeers = await this.deps.peers.all(this.accountId);
      if (knownPeers.length === 0 && file.knownPeers.length > 0) {
        // First start from a session file that carries access hashes (a Telethon file's entity table):
        // the connector keeps the hashes, the core the names only.
        knownPeers = file.knownPeers;
        await this.deps.peers.save(this.accountId, knownPeers);
      }
      // The connector resumes from the state it kept for this number; the session file's is for a first start.
      const updateState = file.updateState;

      const lost = new Promise<TelegramFailure | null>((resolve) => (this.signalLost = resolve));
      const hooks = this.deps.hooks(this.accountId);
      let failure: TelegramFailure | null;
      // sameAccount is asked synchronously (before catch-up): it compares with who the number was when this
      // attempt began (only this runner writes it), and the reset it starts is awaited before peers are
      // stored and before the new identity is: the new session's peers never land before the old ones go.
      const before = account.selfUserId;
      let reset: Promise<void> = Promise.resolve();
      this.cancelConnect = new AbortController();
      try {
        if (proxyUnresolved) throw proxyUnresolved;
        this.conn = await this.deps.connector.connect({
          signal: this.cancelConnect.signal,
          accountId: this.accountId,
          session: file.handle,
          apiId: this.deps.apiId,
          apiHash: this.deps.apiHash,
          timeoutMs: this.deps.connectTimeoutMs,
          proxy,
          updateState,
          knownPeers,
          sameAccount: (selfUserId) => {
            if (before === null || before === selfUserId) return true;
            this.log.warn("the session belongs to another Telegram account than before: its update state and peers are dropped", { before, now: selfUserId });
            reset = this.deps.clients.resetTelegramIdentity(this.accountId).catch((e) => this.log.warn("the former account's peers not forgotten", { error: errorText(e) }));
            return false;
          },
          log: this.log,
          events: {
            onMessage: hooks.onMessage,
            onRead: hooks.onRead,
            onContactChanged: hooks.onContactChanged,
            // Not awaited by the connector: a failed write (a full disk) keeps the older copy, and the
            // connector's own table has the access hashes too.
            onPeers: (list) => void reset.then(() => this.deps.peers.save(this.accountId, list)).catch((e) => this.log.warn("peers not stored", { error: errorText(e) })),
            onLost: (f) => this.signalLost?.(f),
          },
        });
        if (!this.wanted) {
          await this.conn.close();
          this.conn = null;
          break;
        }
        attempt = 0;
        await reset;
        await this.deps.clients.setSelf(this.accountId, this.conn.self.userId);
        this.setState("online", null);
        hooks.onOnline(this.conn);
        const stopProbing = this.probeWhileOnline(this.conn);
        failure = await lost;
        stopProbing();
        hooks.onOffline();
      } catch (e) {
        failure = toFailure(e);
      }
      this.signalLost = null;
      this.cancelConnect = null;
      if (this.conn) {
        const conn = this.conn;
        this.conn = null;
        await conn.close().catch(() => {});
      }
      if (!this.wanted || !failure) break;
      this.deps.releaseKey(this.accountId);
      proxyFailed = failure.kind === "proxy";
      // A proxy failure's reason names the proxy already ("proxy socks5://host:port unreachable: …").
      lastFailure = proxyFailed ? failure.reason : `${failure.kind}: ${failure.reason}`;
      countTelegramFailure(this.deps.metrics, failure);

      if (TERMINAL_FAILURES.has(failure.kind)) return this.setState(failure.kind as AccountState, terminalReason(failure));
      if (failure.kind === "flood_wait" && failure.floodSeconds) {
        const until = Date.now() + failure.floodSeconds * 1000;
        this.setState("flood_wait", failure.reason, until);
        await this.pause(failure.floodSeconds * 1000);
        attempt = 1;
        continue;
      }
      const delay = backoffMs(attempt++, this.deps.backoffBaseMs);
      this.setState(proxyFailed ? "proxy_failed" : "reconnecting", `${lastFailure}; retrying in ${Math.ceil(delay / 1000)} s`);
      await this.pause(delay);
    }
  }
}

// All running numbers. Every operation on one number runs after the previous one on it has finished,
// so rapid POST / PUT / DELETE sequences can never open two connections with the same key.
import type { ReadSession, SessionHandle } from "../domain/telegram-port.ts";
import { errorText, type Logger } from "../log.ts";
import type { Account } from "../domain/accounts.ts";
import { AccountRunner, readSession, type RunnerDeps } from "./runner.ts";
import { type AccountState, DECIDED_STATES, isTransition, type StateChange, type StateListener } from "./states.ts";

export type PoolDeps = Omit<RunnerDeps, "claimKey" | "releaseKey" | "onStateChange">;

export class AccountPool {
  private readonly runners = new Map<number, AccountRunner>();
  private readonly queues = new Map<number, Promise<unknown>>();
  private readonly waiters = new Map<number, Set<() => void>>();
  private readonly listeners = new Set<StateListener>();
  /** Each number's logger (client and number on every line). */
  private readonly loggers = new Map<number, Logger>();
  private readonly deps: RunnerDeps;

  constructor(
    deps: PoolDeps,
    private readonly log: Logger,
  ) {
    this.deps = {
      ...deps,
      claimKey: (id, key) => this.claimKey(id, key),
      releaseKey: (id) => this.releaseKey(id),
      onStateChange: (change) => this.report(change),
    };
  }

  /** Runs `op` after every earlier operation on this number has settled. */
  private serial<T>(accountId: number, op: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(accountId) ?? Promise.resolve();
    const next = prev.then(op, op);
    const tail = next.catch(() => {});
    this.queues.set(accountId, tail);
    void tail.then(() => {
      if (this.queues.get(accountId) === tail) this.queues.delete(accountId);
    });
    return next;
  }

  private runnerFor(account: Account): AccountRunner {
    let r = this.runners.get(account.id);
    if (!r) {
      const log = this.log.child({ client: account.clientId, number: account.number });
      this.loggers.set(account.id, log);
      r = new AccountRunner(account.id, this.deps, log);
      this.runners.set(account.id, r);
    }
    return r;
  }

  start(account: Account): Promise<void> {
    return this.serial(account.id, async () => {
      await this.deps.clients.setWanted(account.id, "running");
      this.runnerFor(account).start();
    });
  }

  stop(account: Account): Promise<void> {
    return this.serial(account.id, async () => {
      await this.deps.clients.setWanted(account.id, "stopped");
      const r = this.runners.get(account.id);
      if (r) {
        await r.stop();
        this.runners.delete(account.id);
      } else {
        await this.deps.clients.setState(account.id, { state: "stopped", stateReason: null });
      }
    });
  }

  /** Stops the number for good and runs `forget` (deleting its rows) while nothing of it runs. */
  remove(account: Account, forget: () => Promise<void>): Promise<void> {
    return this.serial(account.id, async () => {
      const r = this.runners.get(account.id);
      if (r) {
        await r.stop();
        this.runners.delete(account.id);
      }
      this.releaseKey(account.id);
      await forget();
      this.notify(account.id);
    });
  }

  /** Stops the number, applies `change` while nothing runs, then starts it again. */
  restart(account: Account, change: () => Promise<void>): Promise<void> {
    return this.serial(account.id, async () => {
      const r = this.runners.get(account.id);
      if (r) {
        await r.stop();
        this.runners.delete(account.id);
      }
      await change();
      await this.deps.clients.setWanted(account.id, "running");
      this.runnerFor(account).start();
    });
  }

  /** Resolves with the state once it is decided (online, a failure, flood wait) or `timeoutMs` passed. */
  async waitDecided(accountId: number, timeoutMs: number): Promise<void> {
    await (this.queues.get(accountId) ?? Promise.resolve());
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const runner = this.runners.get(accountId);
      // The state is decided in memory at once; the answer that follows reads it stored.
      if (DECIDED_STATES.has(runner?.state ?? "stopped")) return await runner?.stored;
      await new Promise<void>((resolve) => {
        const set = this.waiters.get(accountId) ?? new Set();
        this.waiters.set(accountId, set);
        const done = () => {
          clearTimeout(timer);
          set.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(1, deadline - Date.now()));
        set.add(done);
      });
    }
    await this.runners.get(accountId)?.stored;
  }

  stateOf(accountId: number): AccountState | null {
    return this.runners.get(accountId)?.state ?? null;
  }

  runner(accountId: number): AccountRunner | undefined {
    return this.runners.get(accountId);
  }

  /** Brings back every number that was running, a few at a time so Telegram sees no burst. */
  async restore(accounts: Account[], concurrency = 25, spacingMs = 20): Promise<void> {
    const wanted = accounts.filter((a) => a.wanted === "running");
    let next = 0;
    const worker = async () => {
      while (next < wanted.length) {
        const account = wanted[next++]!;
        await this.start(account);
        await this.waitDecided(account.id, this.deps.connectTimeoutMs + 1000);
        await Bun.sleep(spacingMs);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, wanted.length) }, worker));
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.runners.values()].map((r) => this.serial(r.accountId, () => r.stop())));
  }

  /**
   * Tells `listener` every state change of every number (metrics, Planfix statuses…), after it is
   * stored and logged. Returns the way to stop listening.
   */
  onStateChange(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The one place a number's state change is reported: the log line, the waiters, the listeners. */
  private report(change: StateChange): void {
    const log = this.loggers.get(change.accountId) ?? this.log;
    if (!isTransition(change.from, change.to)) log.warn("unexpected state change", { from: change.from, to: change.to });
    if (change.from !== change.to) {
      const fields: Record<string, unknown> = { state: change.to };
      if (change.reason) fields.reason = change.reason;
      if (change.floodUntil) fields.floodUntil = new Date(change.floodUntil).toISOString();
      log.info("state", fields);
    }
    this.notify(change.accountId);
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (e) {
        log.error("state listener failed", { error: errorText(e) });
      }
    }
  }

  private notify(accountId: number): void {
    for (const w of [...(this.waiters.get(accountId) ?? [])]) w();
  }

  /** A registered session file, read as a start reads it (see readSession). */
  readSession(sessionPath: string, clientName: string): ReadSession {
    return readSession(this.deps, sessionPath, clientName);
  }

  /** The running number (other than `exceptAccountId`) running this session, if any (the connector says what "this session" is). */
  keyHolder(session: SessionHandle, exceptAccountId: number | null): number | null {
    return this.deps.connector.claims.holder(session, exceptAccountId, this.isRunning);
  }

  private readonly isRunning = (accountId: number): boolean => this.runners.get(accountId)?.running ?? false;

  private async claimKey(accountId: number, session: SessionHandle): Promise<string | null> {
    const holder = this.deps.connector.claims.claim(accountId, session, this.isRunning);
    return holder === null ? null : ((await this.deps.clients.accountById(holder))?.number ?? String(holder));
  }

  private releaseKey(accountId: number): void {
    this.deps.connector.claims.release(accountId);
  }
}

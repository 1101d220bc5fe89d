// Failed token checks, throttled per source address: after `limit` failures within a minute that
// address gets 429 (with Retry-After) on every token-checked route until the oldest failure is a minute
// old. Failures are logged as one count at most once a minute — never the token tried.
import type { Logger } from "../log.ts";

export const WINDOW_MS = 60_000;
/** Addresses remembered at most; beyond it the quietest are forgotten, so a flood cannot grow memory. */
const MAX_ADDRESSES = 10_000;

export class AuthThrottle {
  private readonly failures = new Map<string, number[]>();
  private pending = 0;
  private pendingAddresses = new Set<string>();
  private refused = 0;
  private lastLogAt = -Infinity;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly limit: number,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.limit > 0;
  }

  /** Seconds the address must wait before its next token check; 0 when it may try now. */
  retryAfterSeconds(address: string): number {
    if (!this.enabled) return 0;
    const recent = this.recent(address);
    if (recent.length < this.limit) return 0;
    this.refused++;
    this.schedule();
    return Math.max(1, Math.ceil((recent[recent.length - this.limit]! + WINDOW_MS - this.now()) / 1000));
  }

  /** A failed check that is logged in the count but never throttled (see auth-guard.ts: /planfix). */
  count(address: string): void {
    this.pending++;
    this.pendingAddresses.add(address);
    this.schedule();
  }

  /** A token check from `address` failed (missing, malformed or unknown token). */
  fail(address: string): void {
    if (!this.enabled) return this.count(address);
    const recent = this.recent(address);
    recent.push(this.now());
    this.failures.delete(address); // re-insert: the map's order is "least recently failed first"
    this.failures.set(address, recent);
    if (this.failures.size > MAX_ADDRESSES) this.failures.delete(this.failures.keys().next().value!);
    this.count(address);
  }

  stop(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
  }

  private recent(address: string): number[] {
    const since = this.now() - WINDOW_MS;
    const list = (this.failures.get(address) ?? []).filter((t) => t > since);
    if (list.length) this.failures.set(address, list);
    else this.failures.delete(address);
    return list;
  }

  /** One warn line now if none was written in the last minute, else one when the minute is up. */
  private schedule(): void {
    if (this.flushTimer) return;
    const wait = this.lastLogAt + WINDOW_MS - this.now();
    if (wait <= 0) return this.flush();
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, wait);
    this.flushTimer.unref?.();
  }

  private flush(): void {
    if (this.pending === 0 && this.refused === 0) return;
    this.log.warn("failed token checks", {
      failures: this.pending,
      addresses: this.pendingAddresses.size,
      throttled: this.refused,
      sinceSeconds: Number.isFinite(this.lastLogAt) ? Math.round((this.now() - this.lastLogAt) / 1000) : undefined,
    });
    this.lastLogAt = this.now();
    this.pending = 0;
    this.refused = 0;
    this.pendingAddresses = new Set();
  }
}

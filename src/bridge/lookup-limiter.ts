// Username and phone lookups per number are rate-limited: bursts of resolveUsername / importContacts
// are a known cause of long FLOOD_WAITs and bans. A token bucket: `burst` at once, then one per `everyMs`.
export class LookupLimiter {
  private readonly buckets = new Map<number, { tokens: number; at: number }>();

  constructor(
    private readonly burst = 5,
    private readonly everyMs = 3000,
  ) {}

  /** Milliseconds to wait before a lookup may run (0: now); takes the token when 0. */
  take(accountId: number, now = Date.now()): number {
    const b = this.buckets.get(accountId) ?? { tokens: this.burst, at: now };
    const refill = Math.floor((now - b.at) / this.everyMs);
    if (refill > 0) {
      b.tokens = Math.min(this.burst, b.tokens + refill);
      b.at += refill * this.everyMs;
    }
    if (b.tokens === this.burst) b.at = now;
    this.buckets.set(accountId, b);
    if (b.tokens > 0) {
      b.tokens--;
      return 0;
    }
    return b.at + this.everyMs - now;
  }

  /** Waits for a token, up to `maxWaitMs`; false when that is not enough. */
  async acquire(accountId: number, maxWaitMs: number): Promise<boolean> {
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      const wait = this.take(accountId);
      if (wait === 0) return true;
      if (Date.now() + wait > deadline) return false;
      await Bun.sleep(wait);
    }
  }
}

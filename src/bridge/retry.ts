// When to try an item again: exponential with jitter, capped; and when to give up (park it).
export interface RetryPolicy {
  baseMs: number;
  capMs: number;
  /** Failures of every kind keep an item retried for this long, then it is parked (kept, listed, re-sendable). */
  giveUpAfterMs: number;
  /** A refusal of the item itself (Planfix 400) is tried this many times before it is parked. */
  refusedTries: number;
  /** A queue paused by a refused key (Planfix 401) is tried again this often (the key may be fixed inside Planfix). */
  pauseRetryMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 1000, capMs: 60_000, giveUpAfterMs: 72 * 3600_000, refusedTries: 3, pauseRetryMs: 5 * 60_000 };

export function nextAttemptAt(policy: RetryPolicy, attempts: number, now = Date.now(), random = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempts, 20));
  return now + Math.round(ceiling * (0.5 + random() * 0.5));
}

/** An item's age for the give-up: from its creation, or from the explicit resend that restarted it. */
export const retryAge = (row: { createdAt: number; retryFrom: number | null }, now: number) => now - (row.retryFrom ?? row.createdAt);

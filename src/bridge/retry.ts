// When to try an item again: exponential with jitter, capped; and when to give up.
export interface RetryPolicy {
  baseMs: number;
  capMs: number;
  /** Retryable failures keep being retried for at least this long (the brief: at least 24 h). */
  giveUpAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 1000, capMs: 60_000, giveUpAfterMs: 72 * 3600_000 };

export function nextAttemptAt(policy: RetryPolicy, attempts: number, now = Date.now(), random = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempts, 20));
  return now + Math.round(ceiling * (0.5 + random() * 0.5));
}

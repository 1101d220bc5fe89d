// Per-chat queues: only each chat's head may be worked on. Which heads are due now, and when the
// next one will be (a waiting head holds its chat back; items behind it are never "due").
export function dueAndNext<T extends { nextAttemptAt: number }>(heads: T[], now: number): { due: T[]; next: number | null } {
  const due = heads.filter((h) => h.nextAttemptAt <= now);
  const waiting = heads.filter((h) => h.nextAttemptAt > now).map((h) => h.nextAttemptAt);
  return { due, next: due.length > 0 ? now : waiting.length > 0 ? Math.min(...waiting) : null };
}

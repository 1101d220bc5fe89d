// The current delivery problem of each number and direction (Planfix down, a refused key, Telegram
// unreachable…), with since when. Logged once when it starts (warn) and once when it ends (info), not
// on every retry; shown on the number's status. Kept in memory: after a restart the first failed
// attempt finds it again. A limit (the number may not write first to new contacts) is shown for a
// fixed time instead: deliveries to others still go, and must not make it look over.
import type { Logger } from "../log.ts";

export type Direction = "to_planfix" | "to_telegram";

export interface Problem {
  message: string;
  since: number;
}

export class DeliveryHealth {
  private readonly problems = new Map<string, Problem>();
  private readonly limits = new Map<string, Problem & { until: number }>();

  constructor(
    private readonly log: Logger,
    /** Log fields naming the number (client, number), never secrets; read from the store, so the line is written once they are. */
    private readonly describe: (accountId: number) => Promise<Record<string, unknown>>,
    private readonly now: () => number = Date.now,
  ) {}

  /** A delivery failed in a way that concerns the whole queue; the first one of an episode is logged. */
  problem(accountId: number, direction: Direction, message: string): void {
    const key = `${accountId}:${direction}`;
    const known = this.problems.get(key);
    if (known) {
      known.message = message; // the latest reason, same episode
      return;
    }
    this.problems.set(key, { message, since: this.now() });
    const text = direction === "to_planfix" ? "delivery to Planfix is failing; items wait and are retried" : "delivery to Telegram is failing; items wait and are retried";
    void this.describe(accountId).then((fields) => this.log.warn(text, { ...fields, direction, error: message }));
  }

  /** A delivery went through: an ongoing problem is over. */
  ok(accountId: number, direction: Direction): void {
    const key = `${accountId}:${direction}`;
    const known = this.problems.get(key);
    if (!known) return;
    this.problems.delete(key);
    const text = direction === "to_planfix" ? "delivery to Planfix works again" : "delivery to Telegram works again";
    const lastedSeconds = Math.round((this.now() - known.since) / 1000);
    void this.describe(accountId).then((fields) => this.log.info(text, { ...fields, direction, lastError: known.message, lastedSeconds }));
  }

  /**
   * A limit of the number itself that successful deliveries do not end (they may go to other chats):
   * shown until `until` unless an ongoing problem is shown; logged when it starts, not when renewed.
   */
  limit(accountId: number, direction: Direction, message: string, until: number): void {
    const key = `${accountId}:${direction}`;
    const known = this.activeLimit(key);
    this.limits.set(key, { message, since: known?.since ?? this.now(), until });
    if (known) return;
    void this.describe(accountId).then((fields) =>
      this.log.warn("the number is limited; shown on its status", { ...fields, direction, error: message, until: new Date(until).toISOString() }),
    );
  }

  current(accountId: number, direction: Direction): Problem | null {
    const key = `${accountId}:${direction}`;
    const limit = this.activeLimit(key);
    return this.problems.get(key) ?? (limit && { message: limit.message, since: limit.since });
  }

  private activeLimit(key: string): (Problem & { until: number }) | null {
    const limit = this.limits.get(key);
    if (!limit) return null;
    if (limit.until > this.now()) return limit;
    this.limits.delete(key);
    return null;
  }
}

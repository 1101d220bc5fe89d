// The current delivery problem of each number and direction (Planfix down, a refused key, Telegram
// unreachable…), with since when. Logged once when it starts (warn) and once when it ends (info), not
// on every retry; shown on the number's status. Kept in memory: after a restart the first failed
// attempt finds it again.
import type { Logger } from "../log.ts";

export type Direction = "to_planfix" | "to_telegram";

export interface Problem {
  message: string;
  since: number;
}

export class DeliveryHealth {
  private readonly problems = new Map<string, Problem>();

  constructor(
    private readonly log: Logger,
    /** Log fields naming the number (client, number), never secrets. */
    private readonly describe: (accountId: number) => Record<string, unknown>,
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
    this.log.warn(direction === "to_planfix" ? "delivery to Planfix is failing; items wait and are retried" : "delivery to Telegram is failing; items wait and are retried", {
      ...this.describe(accountId),
      direction,
      error: message,
    });
  }

  /** A delivery went through: an ongoing problem is over. */
  ok(accountId: number, direction: Direction): void {
    const key = `${accountId}:${direction}`;
    const known = this.problems.get(key);
    if (!known) return;
    this.problems.delete(key);
    this.log.info(direction === "to_planfix" ? "delivery to Planfix works again" : "delivery to Telegram works again", {
      ...this.describe(accountId),
      direction,
      lastError: known.message,
      lastedSeconds: Math.round((this.now() - known.since) / 1000),
    });
  }

  current(accountId: number, direction: Direction): Problem | null {
    return this.problems.get(`${accountId}:${direction}`) ?? null;
  }
}

// SQL for the Planfix-bound outbox: Telegram messages and our status reports, delivered per chat in order.
import { and, asc, eq, inArray, lte, sql } from "drizzle-orm";
import type { Db } from "./db.ts";
import { planfixOutbox } from "./schema.ts";

export type OutboxRow = typeof planfixOutbox.$inferSelect;

export class OutboxStore {
  constructor(private readonly db: Db) {}

  /** Adds an item unless one with the same dedup key exists; true when it was new. */
  add(item: { accountId: number; chatKey: string; kind: "message" | "status"; dedupKey: string; event: unknown }): boolean {
    const r = this.db
      .insert(planfixOutbox)
      .values({ accountId: item.accountId, chatKey: item.chatKey, kind: item.kind, dedupKey: item.dedupKey, event: JSON.stringify(item.event) })
      .onConflictDoNothing({ target: planfixOutbox.dedupKey })
      .returning({ id: planfixOutbox.id })
      .get();
    return r !== undefined;
  }

  has(dedupKey: string): boolean {
    return !!this.db.select({ id: planfixOutbox.id }).from(planfixOutbox).where(eq(planfixOutbox.dedupKey, dedupKey)).get();
  }

  /**
   * The next deliverable item of each chat of an account: the oldest pending one per chat, if it is due.
   * A chat whose head waits for a retry holds back everything behind it (strict order).
   */
  dueHeads(accountId: number, now: number, limit: number): OutboxRow[] {
    const heads = this.db
      .select({ id: sql<number>`min(${planfixOutbox.id})` })
      .from(planfixOutbox)
      .where(and(eq(planfixOutbox.accountId, accountId), eq(planfixOutbox.state, "pending")))
      .groupBy(planfixOutbox.chatKey)
      .all()
      .map((r) => r.id);
    if (heads.length === 0) return [];
    return this.db
      .select()
      .from(planfixOutbox)
      .where(and(inArray(planfixOutbox.id, heads), lte(planfixOutbox.nextAttemptAt, now)))
      .orderBy(asc(planfixOutbox.id))
      .limit(limit)
      .all();
  }

  /** When the earliest pending item of the account becomes due (for the worker's sleep). */
  nextDueAt(accountId: number): number | null {
    const r = this.db
      .select({ at: sql<number | null>`min(${planfixOutbox.nextAttemptAt})` })
      .from(planfixOutbox)
      .where(and(eq(planfixOutbox.accountId, accountId), eq(planfixOutbox.state, "pending")))
      .get();
    return r?.at ?? null;
  }

  accountsWithPending(): number[] {
    return this.db
      .selectDistinct({ accountId: planfixOutbox.accountId })
      .from(planfixOutbox)
      .where(eq(planfixOutbox.state, "pending"))
      .all()
      .map((r) => r.accountId);
  }

  saveCommand(id: number, command: unknown): void {
    this.db.update(planfixOutbox).set({ command: JSON.stringify(command) }).where(eq(planfixOutbox.id, id)).run();
  }

  delivered(id: number): void {
    this.db.update(planfixOutbox).set({ state: "done", deliveredAt: Date.now(), lastError: null }).where(eq(planfixOutbox.id, id)).run();
  }

  retryLater(id: number, attempts: number, at: number, error: string): void {
    this.db.update(planfixOutbox).set({ attempts, nextAttemptAt: at, lastError: error }).where(eq(planfixOutbox.id, id)).run();
  }

  failed(id: number, error: string): void {
    this.db.update(planfixOutbox).set({ state: "failed", lastError: error }).where(eq(planfixOutbox.id, id)).run();
  }

  counts(accountId: number): { pending: number; failed: number } {
    const rows = this.db
      .select({ state: planfixOutbox.state, n: sql<number>`count(*)` })
      .from(planfixOutbox)
      .where(eq(planfixOutbox.accountId, accountId))
      .groupBy(planfixOutbox.state)
      .all();
    const get = (s: string) => rows.find((r) => r.state === s)?.n ?? 0;
    return { pending: get("pending"), failed: get("failed") };
  }
}

// SQL for the Planfix-bound outbox: Telegram messages and our status reports, delivered per chat in order.
import { and, asc, eq, inArray, sql } from "drizzle-orm";
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

  /** The oldest pending item of each chat of an account: only a chat's head may be delivered. */
  heads(accountId: number): OutboxRow[] {
    const ids = this.db
      .select({ id: sql<number>`min(${planfixOutbox.id})` })
      .from(planfixOutbox)
      .where(and(eq(planfixOutbox.accountId, accountId), eq(planfixOutbox.state, "pending")))
      .groupBy(planfixOutbox.chatKey)
      .all()
      .map((r) => r.id);
    if (ids.length === 0) return [];
    return this.db.select().from(planfixOutbox).where(inArray(planfixOutbox.id, ids)).orderBy(asc(planfixOutbox.id)).all();
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

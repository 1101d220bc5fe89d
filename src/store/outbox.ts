// SQL for the Planfix-bound outbox: Telegram messages and our status reports, delivered per chat in order.
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import { param as $, paramValue as $v, writeSoon, type Db } from "./db.ts";
import type { OutboxEntry, OutboxItem, OutboxRepository, QueueStats } from "../domain/repositories.ts";
import { planfixOutbox } from "./schema.ts";

export type { OutboxItem, QueueStats } from "../domain/repositories.ts";
type OutboxRow = typeof planfixOutbox.$inferSelect;
type Extends<T, _U extends T> = true;
export type RowIsDomain = Extends<OutboxEntry, OutboxRow>;

/**
 * The SQLite adapter of OutboxRepository. Reads and the writes not on the message path run at once
 * (each promise is already settled when returned); add and delivered share this turn's transaction.
 */
export class OutboxStore implements OutboxRepository {
  // Prepared once: every message runs these (building and preparing SQL each time cost more than running it).
  private readonly q;

  constructor(private readonly db: Db) {
    const pending = db
      .select({ id: sql<number>`min(${planfixOutbox.id})` })
      .from(planfixOutbox)
      .where(and(eq(planfixOutbox.accountId, $("accountId")), eq(planfixOutbox.state, "pending")))
      .groupBy(planfixOutbox.chatKey);
    this.q = {
      add: db
        .insert(planfixOutbox)
        .values({ accountId: $v("accountId"), chatKey: $v("chatKey"), kind: $v("kind"), dedupKey: $v("dedupKey"), event: $v("event") })
        .onConflictDoNothing({ target: planfixOutbox.dedupKey })
        .returning({ id: planfixOutbox.id })
        .prepare(),
      heads: db.select().from(planfixOutbox).where(inArray(planfixOutbox.id, pending)).orderBy(asc(planfixOutbox.id)).prepare(),
      saveCommand: db
        .update(planfixOutbox)
        .set({ command: $v("command") })
        .where(eq(planfixOutbox.id, $("id")))
        .prepare(),
      delivered: db
        .update(planfixOutbox)
        .set({ state: "done", deliveredAt: $v("at"), lastError: null })
        .where(eq(planfixOutbox.id, $("id")))
        .prepare(),
      // Every number's status answer runs this (GET /client, POST /client): built once.
      stats: db
        .select({ state: planfixOutbox.state, n: sql<number>`count(*)`, oldest: sql<number | null>`min(${planfixOutbox.createdAt})` })
        .from(planfixOutbox)
        .where(and(eq(planfixOutbox.accountId, $("accountId")), inArray(planfixOutbox.state, ["pending", "parked"])))
        .groupBy(planfixOutbox.state)
        .prepare(),
    };
  }

  /**
   * Adds an item unless one with the same dedup key exists; resolves true when it was new, once it is
   * committed (with the other writes of this event-loop turn, see writeSoon).
   */
  add(item: OutboxItem): Promise<boolean> {
    return writeSoon(this.db, () => this.insert(item));
  }

  /** The same inside a unit of work (transaction.ts): runs in the caller's transaction. */
  insert(item: OutboxItem): boolean {
    const r = this.q.add.get({ accountId: item.accountId, chatKey: item.chatKey, kind: item.kind, dedupKey: item.dedupKey, event: JSON.stringify(item.event) });
    return r !== undefined;
  }

  /** The oldest pending item of each chat of an account: only a chat's head may be delivered. */
  async heads(accountId: number): Promise<OutboxEntry[]> {
    return this.q.heads.all({ accountId });
  }

  async accountsWithPending(): Promise<number[]> {
    return this.db
      .selectDistinct({ accountId: planfixOutbox.accountId })
      .from(planfixOutbox)
      .where(eq(planfixOutbox.state, "pending"))
      .all()
      .map((r) => r.accountId);
  }

  /** Whether anything of this chat ever went (or is going) to Planfix: then Planfix knows the contact. */
  async hasChat(accountId: number, chatKey: string): Promise<boolean> {
    return !!this.db
      .select({ id: planfixOutbox.id })
      .from(planfixOutbox)
      .where(and(eq(planfixOutbox.accountId, accountId), eq(planfixOutbox.chatKey, chatKey)))
      .limit(1)
      .get();
  }

  async saveCommand(id: number, command: unknown): Promise<void> {
    this.q.saveCommand.run({ id, command: JSON.stringify(command) });
  }

  /** Marks an item delivered; resolves once committed (with the other writes of this event-loop turn). */
  delivered(id: number): Promise<void> {
    const at = Date.now();
    return writeSoon(this.db, () => void this.q.delivered.run({ id, at }));
  }

  async retryLater(id: number, attempts: number, at: number, error: string): Promise<void> {
    this.db.update(planfixOutbox).set({ attempts, nextAttemptAt: at, lastError: error }).where(eq(planfixOutbox.id, id)).run();
  }

  /** Given up after its retries: kept, counted and listed until resent or discarded; its chat moves on. */
  async park(id: number, attempts: number, error: string): Promise<void> {
    this.db.update(planfixOutbox).set({ state: "parked", attempts, lastError: error }).where(eq(planfixOutbox.id, id)).run();
  }

  /** Parked items of a number (one, or all) back in their queue, with fresh retries; how many. */
  async resend(accountId: number, id: number | null, now = Date.now()): Promise<number> {
    const which = and(eq(planfixOutbox.accountId, accountId), eq(planfixOutbox.state, "parked"), id === null ? undefined : eq(planfixOutbox.id, id));
    return this.db.update(planfixOutbox).set({ state: "pending", attempts: 0, nextAttemptAt: 0, retryFrom: now }).where(which).returning({ id: planfixOutbox.id }).all().length;
  }

  /** Drops one parked or waiting item for good (kept as a discarded row, so Telegram's copy is not bridged again); how many. */
  async discard(accountId: number, id: number): Promise<number> {
    const which = and(eq(planfixOutbox.accountId, accountId), eq(planfixOutbox.id, id), inArray(planfixOutbox.state, ["parked", "pending"]));
    return this.db.update(planfixOutbox).set({ state: "discarded" }).where(which).returning({ id: planfixOutbox.id }).all().length;
  }

  /** Items of a number in one state, oldest first. */
  async list(accountId: number, state: "pending" | "parked", limit: number): Promise<OutboxEntry[]> {
    return this.db
      .select()
      .from(planfixOutbox)
      .where(and(eq(planfixOutbox.accountId, accountId), eq(planfixOutbox.state, state)))
      .orderBy(asc(planfixOutbox.id))
      .limit(limit)
      .all();
  }

  /** What waits (and since when the oldest) and what is parked: one number's, or every number's together (null: /metrics). */
  async stats(accountId: number | null): Promise<QueueStats> {
    const rows =
      accountId !== null
        ? this.q.stats.all({ accountId })
        : this.db
            .select({ state: planfixOutbox.state, n: sql<number>`count(*)`, oldest: sql<number | null>`min(${planfixOutbox.createdAt})` })
            .from(planfixOutbox)
            .where(inArray(planfixOutbox.state, ["pending", "parked"]))
            .groupBy(planfixOutbox.state)
            .all();
    return statsOf(rows, "parked");
  }

  /** Every number's queue in one query (a listing of many numbers: not one query per number). */
  async statsByAccount(): Promise<Map<number, QueueStats>> {
    const rows = this.db
      .select({ accountId: planfixOutbox.accountId, state: planfixOutbox.state, n: sql<number>`count(*)`, oldest: sql<number | null>`min(${planfixOutbox.createdAt})` })
      .from(planfixOutbox)
      .where(inArray(planfixOutbox.state, ["pending", "parked"]))
      .groupBy(planfixOutbox.accountId, planfixOutbox.state)
      .all();
    return groupStats(rows, "parked");
  }
}

type StatsRow = { state: string; n: number; oldest: number | null };

/** Rows of (state, count, oldest) → QueueStats; `parkedState` names the parked rows (the two tables differ). */
export function statsOf(rows: StatsRow[], parkedState: string): QueueStats {
  const pending = rows.find((r) => r.state === "pending");
  return { waiting: pending?.n ?? 0, oldestWaitingAt: pending?.oldest ?? null, parked: rows.find((r) => r.state === parkedState)?.n ?? 0 };
}

/** The same per account, from rows grouped by account and state. */
export function groupStats(rows: (StatsRow & { accountId: number })[], parkedState: string): Map<number, QueueStats> {
  const byAccount = Map.groupBy(rows, (r) => r.accountId);
  return new Map([...byAccount].map(([id, rs]) => [id, statsOf(rs, parkedState)]));
}

// SQL for Planfix → Telegram jobs (the Telegram messages they produced are the connector's: telegram_sent_messages).
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import { param as $, paramValue as $v, writeSoon, type Db } from "./db.ts";
import type { Job, JobOutcome, JobRepository, NewJob, QueueStats } from "../domain/repositories.ts";
import { groupStats, statsOf } from "./outbox.ts";
import { outboundJobs } from "./schema.ts";

export type { JobOutcome, NewJob } from "../domain/repositories.ts";
type JobRow = typeof outboundJobs.$inferSelect;
type Extends<T, _U extends T> = true;
export type RowIsDomain = [Extends<Job, JobRow>, Extends<typeof outboundJobs.$inferInsert, NewJob & { lookup: string | null }>];

/**
 * The SQLite adapter of JobRepository. Reads and the writes not on the message path run at once (each
 * promise is already settled when returned); addOrGet and partSent share this turn's transaction. The
 * writes of a unit of work (finish, recordPart, the read marks) are here for store/transaction.ts.
 */
export class JobStore implements JobRepository {
  // Prepared once: every message runs these (building and preparing SQL each time cost more than running it).
  private readonly q;

  constructor(private readonly db: Db) {
    const pending = db
      .select({ id: sql<number>`min(${outboundJobs.id})` })
      .from(outboundJobs)
      .where(and(eq(outboundJobs.accountId, $("accountId")), eq(outboundJobs.state, "pending")))
      .groupBy(outboundJobs.chatId);
    const byMessage = and(eq(outboundJobs.clientId, $("clientId")), eq(outboundJobs.planfixMessageId, $("planfixMessageId")));
    this.q = {
      add: db
        .insert(outboundJobs)
        .values({
          clientId: $v("clientId"),
          planfixMessageId: $v("planfixMessageId"),
          accountId: $v("accountId"),
          chatId: $v("chatId"),
          contactId: $v("contactId"),
          peerUserId: $v("peerUserId"),
          lookup: $v("lookup"),
          text: $v("text"),
          attachments: $v("attachments"),
          randomSeed: $v("randomSeed"),
        })
        .onConflictDoNothing({ target: [outboundJobs.clientId, outboundJobs.planfixMessageId] })
        .returning()
        .prepare(),
      byMessage: db.select().from(outboundJobs).where(byMessage).prepare(),
      byId: db
        .select()
        .from(outboundJobs)
        .where(eq(outboundJobs.id, $("id")))
        .prepare(),
      heads: db.select().from(outboundJobs).where(inArray(outboundJobs.id, pending)).orderBy(asc(outboundJobs.id)).prepare(),
      hasPending: db
        .select({ id: outboundJobs.id })
        .from(outboundJobs)
        .where(and(eq(outboundJobs.accountId, $("accountId")), eq(outboundJobs.peerUserId, $("peerUserId")), eq(outboundJobs.state, "pending")))
        .prepare(),
      partsDone: db
        .update(outboundJobs)
        .set({ partsDone: $v("partsDone") })
        .where(eq(outboundJobs.id, $("id")))
        .prepare(),
      finish: db
        .update(outboundJobs)
        .set({ state: $v("state"), lastError: $v("error") })
        .where(eq(outboundJobs.id, $("id")))
        .prepare(),
      // Every number's status answer runs this (GET /client, POST /client): built once.
      stats: db
        .select({ state: outboundJobs.state, n: sql<number>`count(*)`, oldest: sql<number | null>`min(${outboundJobs.createdAt})` })
        .from(outboundJobs)
        .where(and(eq(outboundJobs.accountId, $("accountId")), inArray(outboundJobs.state, ["pending", "failed"])))
        .groupBy(outboundJobs.state)
        .prepare(),
    };
  }

  /**
   * Inserts the job, or returns the existing one for a repeated Planfix messageId; resolves once committed
   * (with the other writes of this event-loop turn, see writeSoon).
   */
  addOrGet(job: NewJob): Promise<{ job: Job; created: boolean }> {
    return writeSoon(this.db, () => {
      const inserted = this.q.add.get({ ...job, lookup: job.lookup ?? null });
      if (inserted) return { job: inserted, created: true };
      return { job: this.q.byMessage.get({ clientId: job.clientId, planfixMessageId: job.planfixMessageId })!, created: false };
    });
  }

  async byMessage(clientId: number, planfixMessageId: string): Promise<Job | undefined> {
    return this.q.byMessage.get({ clientId, planfixMessageId });
  }

  async byId(id: number): Promise<Job | undefined> {
    return this.q.byId.get({ id });
  }

  /** The oldest pending job of each chat of an account: chats are served in strict order. */
  async heads(accountId: number): Promise<Job[]> {
    return this.q.heads.all({ accountId });
  }

  async hasPending(accountId: number, peerUserId: string): Promise<boolean> {
    return !!this.q.hasPending.get({ accountId, peerUserId });
  }

  /** Records one sent part (the progress); resolves once committed. */
  partSent(job: Job, part: number): Promise<void> {
    return writeSoon(this.db, () => this.recordPart(job, part));
  }

  /** The same inside a unit of work (transaction.ts). */
  recordPart(job: Job, part: number): void {
    this.q.partsDone.run({ id: job.id, partsDone: part + 1 });
  }

  finish(id: number, state: JobOutcome, error: string | null = null): void {
    this.q.finish.run({ id, state, error });
  }

  async retryLater(id: number, attempts: number, at: number, error: string): Promise<void> {
    this.db.update(outboundJobs).set({ attempts, nextAttemptAt: at, lastError: error }).where(eq(outboundJobs.id, id)).run();
  }

  /**
   * The chat's jobs with these random seeds: the sent ones not yet reported read (marked by
   * markReadReported), oldest first, and the seeds whose job is still pending.
   */
  readable(accountId: number, peerUserId: string, seeds: readonly string[]): { jobs: Job[]; pending: string[] } {
    if (seeds.length === 0) return { jobs: [], pending: [] };
    // Through outbound_jobs_seed (account, seed): one index lookup per seed.
    const rows = this.db
      .select()
      .from(outboundJobs)
      .where(
        and(
          eq(outboundJobs.accountId, accountId),
          inArray(outboundJobs.state, ["sent", "pending"]),
          inArray(outboundJobs.randomSeed, [...new Set(seeds)]),
          eq(outboundJobs.peerUserId, peerUserId),
        ),
      )
      .all();
    return {
      jobs: rows.filter((j) => j.state === "sent" && !j.readReported).sort((a, b) => a.id - b.id),
      pending: rows.filter((j) => j.state === "pending").map((j) => j.randomSeed),
    };
  }

  markReadReported(ids: number[]): void {
    for (const id of ids) this.db.update(outboundJobs).set({ readReported: true }).where(eq(outboundJobs.id, id)).run();
  }

  /** Failed jobs of a number (one, or all) back in their queue, with fresh retries; how many. */
  async resend(accountId: number, id: number | null, now = Date.now()): Promise<number> {
    const which = and(eq(outboundJobs.accountId, accountId), eq(outboundJobs.state, "failed"), id === null ? undefined : eq(outboundJobs.id, id));
    return this.db.update(outboundJobs).set({ state: "pending", attempts: 0, nextAttemptAt: 0, retryFrom: now }).where(which).returning({ id: outboundJobs.id }).all().length;
  }

  /** Drops one failed or waiting job for good (the row stays, so a repeated messageId still sends nothing); how many. */
  async discard(accountId: number, id: number): Promise<number> {
    const which = and(eq(outboundJobs.accountId, accountId), eq(outboundJobs.id, id), inArray(outboundJobs.state, ["failed", "pending"]));
    return this.db.update(outboundJobs).set({ state: "discarded" }).where(which).returning({ id: outboundJobs.id }).all().length;
  }

  /** Jobs of a number in one state, oldest first. */
  async list(accountId: number, state: "pending" | "failed", limit: number): Promise<Job[]> {
    return this.db
      .select()
      .from(outboundJobs)
      .where(and(eq(outboundJobs.accountId, accountId), eq(outboundJobs.state, state)))
      .orderBy(asc(outboundJobs.id))
      .limit(limit)
      .all();
  }

  /** What waits (and since when the oldest) and what failed (parked): one number's, or every number's together (null: /metrics). */
  async stats(accountId: number | null): Promise<QueueStats> {
    const rows =
      accountId !== null
        ? this.q.stats.all({ accountId })
        : this.db
            .select({ state: outboundJobs.state, n: sql<number>`count(*)`, oldest: sql<number | null>`min(${outboundJobs.createdAt})` })
            .from(outboundJobs)
            .where(inArray(outboundJobs.state, ["pending", "failed"]))
            .groupBy(outboundJobs.state)
            .all();
    return statsOf(rows, "failed");
  }

  /** Every number's queue in one query (a listing of many numbers: not one query per number). */
  async statsByAccount(): Promise<Map<number, QueueStats>> {
    const rows = this.db
      .select({ accountId: outboundJobs.accountId, state: outboundJobs.state, n: sql<number>`count(*)`, oldest: sql<number | null>`min(${outboundJobs.createdAt})` })
      .from(outboundJobs)
      .where(inArray(outboundJobs.state, ["pending", "failed"]))
      .groupBy(outboundJobs.accountId, outboundJobs.state)
      .all();
    return groupStats(rows, "failed");
  }

  async accountsWithPending(): Promise<number[]> {
    return this.db
      .selectDistinct({ accountId: outboundJobs.accountId })
      .from(outboundJobs)
      .where(eq(outboundJobs.state, "pending"))
      .orderBy(asc(outboundJobs.accountId))
      .all()
      .map((r) => r.accountId);
  }
}

// SQL for Planfix → Telegram jobs and the Telegram messages they produced.
import { and, asc, eq, inArray, lte, sql } from "drizzle-orm";
import type { Db } from "./db.ts";
import { outboundJobs, sentMessages } from "./schema.ts";

export type JobRow = typeof outboundJobs.$inferSelect;
export type NewJob = Pick<typeof outboundJobs.$inferInsert, "clientId" | "planfixMessageId" | "accountId" | "chatId" | "contactId" | "peerUserId" | "lookup" | "text" | "attachments" | "randomSeed">;

export class JobStore {
  constructor(private readonly db: Db) {}

  /** Inserts the job, or returns the existing one for a repeated Planfix messageId. */
  addOrGet(job: NewJob): { job: JobRow; created: boolean } {
    const inserted = this.db.insert(outboundJobs).values(job).onConflictDoNothing({ target: [outboundJobs.clientId, outboundJobs.planfixMessageId] }).returning().get();
    if (inserted) return { job: inserted, created: true };
    const existing = this.db
      .select()
      .from(outboundJobs)
      .where(and(eq(outboundJobs.clientId, job.clientId), eq(outboundJobs.planfixMessageId, job.planfixMessageId)))
      .get()!;
    return { job: existing, created: false };
  }

  byMessage(clientId: number, planfixMessageId: string): JobRow | undefined {
    return this.db.select().from(outboundJobs).where(and(eq(outboundJobs.clientId, clientId), eq(outboundJobs.planfixMessageId, planfixMessageId))).get();
  }

  byId(id: number): JobRow | undefined {
    return this.db.select().from(outboundJobs).where(eq(outboundJobs.id, id)).get();
  }

  /** The oldest pending job of each chat of an account: chats are served in strict order. */
  heads(accountId: number): JobRow[] {
    const ids = this.db
      .select({ id: sql<number>`min(${outboundJobs.id})` })
      .from(outboundJobs)
      .where(and(eq(outboundJobs.accountId, accountId), eq(outboundJobs.state, "pending")))
      .groupBy(outboundJobs.chatId)
      .all()
      .map((r) => r.id);
    if (ids.length === 0) return [];
    return this.db.select().from(outboundJobs).where(inArray(outboundJobs.id, ids)).orderBy(asc(outboundJobs.id)).all();
  }

  hasPending(accountId: number, peerUserId: string): boolean {
    return !!this.db
      .select({ id: outboundJobs.id })
      .from(outboundJobs)
      .where(and(eq(outboundJobs.accountId, accountId), eq(outboundJobs.peerUserId, peerUserId), eq(outboundJobs.state, "pending")))
      .get();
  }

  /** Records one sent part: the Telegram message id and the progress, in one transaction. */
  partSent(job: JobRow, part: number, tgMessageId: number | null): void {
    this.db.transaction((tx) => {
      if (tgMessageId !== null) {
        tx.insert(sentMessages).values({ accountId: job.accountId, peerUserId: job.peerUserId, tgMessageId, jobId: job.id }).onConflictDoNothing().run();
      }
      tx.update(outboundJobs).set({ partsDone: part + 1 }).where(eq(outboundJobs.id, job.id)).run();
    });
  }

  finish(id: number, state: "sent" | "failed", error: string | null = null): void {
    this.db.update(outboundJobs).set({ state, lastError: error }).where(eq(outboundJobs.id, id)).run();
  }

  retryLater(id: number, attempts: number, at: number, error: string): void {
    this.db.update(outboundJobs).set({ attempts, nextAttemptAt: at, lastError: error }).where(eq(outboundJobs.id, id)).run();
  }

  isOurs(accountId: number, peerUserId: string, tgMessageId: number): boolean {
    return !!this.db
      .select({ j: sentMessages.jobId })
      .from(sentMessages)
      .where(and(eq(sentMessages.accountId, accountId), eq(sentMessages.peerUserId, peerUserId), eq(sentMessages.tgMessageId, tgMessageId)))
      .get();
  }

  /** Jobs of this chat sent at or before `maxId` and not yet reported read; marks them reported. */
  takeRead(accountId: number, peerUserId: string, maxId: number): JobRow[] {
    return this.db.transaction((tx) => {
      const ids = tx
        .selectDistinct({ jobId: sentMessages.jobId })
        .from(sentMessages)
        .innerJoin(outboundJobs, eq(outboundJobs.id, sentMessages.jobId))
        .where(and(eq(sentMessages.accountId, accountId), eq(sentMessages.peerUserId, peerUserId), lte(sentMessages.tgMessageId, maxId), eq(outboundJobs.readReported, false), eq(outboundJobs.state, "sent")))
        .all()
        .map((r) => r.jobId);
      const jobs = ids.map((id) => tx.select().from(outboundJobs).where(eq(outboundJobs.id, id)).get()!);
      for (const id of ids) tx.update(outboundJobs).set({ readReported: true }).where(eq(outboundJobs.id, id)).run();
      return jobs.sort((a, b) => a.id - b.id);
    });
  }

  accountsWithPending(): number[] {
    return this.db
      .selectDistinct({ accountId: outboundJobs.accountId })
      .from(outboundJobs)
      .where(eq(outboundJobs.state, "pending"))
      .orderBy(asc(outboundJobs.accountId))
      .all()
      .map((r) => r.accountId);
  }
}

// Units of work: several writes of different stores committed together or not at all (a job's outcome
// and the status that reports it to Planfix). The SQLite adapter runs the work inside the transaction
// of this event-loop turn's writes (see writeSoon), so no caller chooses between "now" and "batched".
// The work is synchronous: SQLite holds no transaction open across an await.
import { type Db, writeSoon } from "./db.ts";
import type { JobOutcome, JobRow, JobStore } from "./jobs.ts";
import type { OutboxItem, OutboxStore } from "./outbox.ts";

/** The writes a unit of work may make, scoped to its transaction. */
export interface WriteTx {
  jobs: {
    finish(id: number, state: JobOutcome, error?: string | null): void;
    recordPart(job: JobRow, part: number, tgMessageId: number | null): void;
    /** Marks the sent jobs of a chat up to `maxId` as read-reported and returns them. */
    takeRead(accountId: number, peerUserId: string, maxId: number): JobRow[];
  };
  outbox: {
    /** Adds an item unless one with its dedup key exists; true when it was new. */
    add(item: OutboxItem): boolean;
  };
}

export type Transaction = <T>(work: (tx: WriteTx) => T) => Promise<T>;

export function sqliteTransaction(db: Db, stores: { jobs: JobStore; outbox: OutboxStore }): Transaction {
  const tx: WriteTx = {
    jobs: {
      finish: (id, state, error = null) => stores.jobs.finish(id, state, error),
      recordPart: (job, part, tgMessageId) => stores.jobs.recordPart(job, part, tgMessageId),
      takeRead: (accountId, peerUserId, maxId) => stores.jobs.takeRead(accountId, peerUserId, maxId),
    },
    outbox: { add: (item) => stores.outbox.insert(item) },
  };
  return (work) => writeSoon(db, () => work(tx));
}

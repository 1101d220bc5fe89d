// Units of work: several writes of different stores committed together or not at all (a job's outcome
// and the status that reports it to Planfix). The SQLite adapter runs the work first, taking its writes
// into a list, and commits that list inside the transaction of the event-loop turn in which the work
// ended (see writeSoon): no caller chooses between "now" and "batched", and SQLite holds no transaction
// open across an await.
import type { Transaction, WriteTx } from "../domain/repositories.ts";
import { type Db, flushWrites, writeSoon } from "./db.ts";
import type { JobStore } from "./jobs.ts";
import type { OutboxStore } from "./outbox.ts";

export type { Transaction, WriteTx } from "../domain/repositories.ts";

const ENDED = "a unit of work's writes must be made before its work ends";

export function sqliteTransaction(db: Db, stores: { jobs: JobStore; outbox: OutboxStore }): Transaction {
  return async (work) => {
    const writes: (() => void)[] = [];
    const committed: (() => void)[] = [];
    let open = true;
    const take = async (write: () => void): Promise<void> => {
      if (!open) throw new Error(ENDED);
      writes.push(write);
    };
    const tx: WriteTx = {
      jobs: {
        finish: (id, state, error = null) => take(() => stores.jobs.finish(id, state, error)),
        recordPart: (job, part) => take(() => stores.jobs.recordPart(job, part)),
        takeRead: async (accountId, peerUserId, seeds) => {
          if (!open) throw new Error(ENDED);
          // A job's "sent" may still wait for this turn's commit: commit it first, so the read sees it.
          flushWrites(db);
          const read = stores.jobs.readable(accountId, peerUserId, seeds);
          if (read.jobs.length > 0) writes.push(() => stores.jobs.markReadReported(read.jobs.map((j) => j.id)));
          return read;
        },
      },
      outbox: { add: (item) => take(() => void stores.outbox.insert(item)) },
      afterCommit: (then) => {
        if (!open) throw new Error(ENDED);
        committed.push(then);
      },
    };
    let value: Awaited<ReturnType<typeof work>>;
    try {
      value = await work(tx);
    } finally {
      open = false;
    }
    if (writes.length > 0)
      await writeSoon(db, () => {
        for (const w of writes) w();
      });
    for (const then of committed) then();
    return value;
  };
}

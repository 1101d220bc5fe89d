// Units of work on the SQLite adapter, with a real database: a job's outcome and the status reporting it
// are committed together or not at all, and a read mark that arrives while a send's "sent" still waits
// for this turn's commit still reports the ✓✓.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClientStore } from "../../../src/store/clients.ts";
import { openDb } from "../../../src/store/db.ts";
import { JobStore } from "../../../src/store/jobs.ts";
import { OutboxStore } from "../../../src/store/outbox.ts";
import { sqliteTransaction } from "../../../src/store/transaction.ts";

const dir = mkdtempSync(join(tmpdir(), "pt-tx-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
async function setup() {
  const db = openDb(join(dir, `t${++n}.db`));
  const clients = new ClientStore(db);
  const jobs = new JobStore(db);
  const outbox = new OutboxStore(db);
  const client = await clients.createClient("acme", "hash");
  const account = await clients.insertAccount({ clientId: client.id, number: "380955821319", urlPlanfix: "http://x", tokenPlanfix: "k", sessionPath: "a.session" });
  const { job } = await jobs.addOrGet({
    clientId: client.id,
    planfixMessageId: "pf-1",
    accountId: account.id,
    chatId: "380955821319_7",
    contactId: "7",
    peerUserId: "7",
    text: "hello",
    attachments: "[]",
    randomSeed: "seed",
  });
  const status = (key: string) => ({ accountId: account.id, chatKey: "7", kind: "status" as const, dedupKey: key, event: { messageId: "pf-1", status: key } });
  return { db, jobs, outbox, job, account, status, transaction: sqliteTransaction(db, { jobs, outbox }) };
}

test("a unit whose work fails writes nothing: the job stays pending and no status goes to Planfix", async () => {
  const s = await setup();
  const failed = s.transaction(async (tx) => {
    await tx.jobs.finish(s.job.id, "sent");
    await tx.outbox.add(s.status("sent"));
    throw new Error("boom");
  });
  await expect(failed).rejects.toThrow("boom");
  expect((await s.jobs.byId(s.job.id))?.state).toBe("pending");
  expect(await s.outbox.list(s.account.id, "pending", 10)).toEqual([]);
  s.db.$client.close();
});

test("the job's outcome and its status are committed together, and afterCommit runs once they are", async () => {
  const s = await setup();
  let seenAfterCommit: string | undefined;
  const value = await s.transaction(async (tx) => {
    await tx.jobs.recordPart(s.job, 0);
    await tx.jobs.finish(s.job.id, "sent");
    await tx.outbox.add(s.status("sent"));
    tx.afterCommit(() => {
      seenAfterCommit = s.db.$client.query("SELECT state FROM outbound_jobs").get() as never;
    });
    return "done";
  });
  expect(value).toBe("done");
  expect(seenAfterCommit).toEqual({ state: "sent" } as never);
  expect((await s.outbox.list(s.account.id, "pending", 10)).map((r) => r.dedupKey)).toEqual(["sent"]);
  expect((await s.jobs.byId(s.job.id))?.partsDone).toBe(1);
  s.db.$client.close();
});

test("a read mark that comes while the send's \"sent\" waits for this turn's commit sees the job as sent, and marks it only once", async () => {
  const s = await setup();
  // The send's unit has ended and waits for this turn's commit when the read mark comes in.
  const sent = s.transaction(async (tx) => {
    await tx.jobs.recordPart(s.job, 0);
    await tx.jobs.finish(s.job.id, "sent");
  });
  const read = s.transaction(async (tx) => {
    for (let i = 0; i < 20; i++) await null;
    expect(s.db.$client.query("SELECT state FROM outbound_jobs").get()).toEqual({ state: "pending" });
    const taken = await tx.jobs.takeRead(s.account.id, "7", ["seed"]);
    for (const j of taken.jobs) await tx.outbox.add(s.status(`read:${j.id}`));
    return taken.jobs.map((j) => j.planfixMessageId);
  });
  await sent;
  expect(await read).toEqual(["pf-1"]);
  expect(await s.transaction(async (tx) => (await tx.jobs.takeRead(s.account.id, "7", ["seed"])).jobs.length)).toBe(0);
  expect((await s.outbox.list(s.account.id, "pending", 10)).map((r) => r.dedupKey)).toEqual([`read:${s.job.id}`]);
  s.db.$client.close();
});

test("a write after the unit's work ended is refused, not committed on its own", async () => {
  const s = await setup();
  let leaked: Parameters<Parameters<typeof s.transaction>[0]>[0] | undefined;
  await s.transaction(async (tx) => {
    leaked = tx;
  });
  await expect(leaked!.jobs.finish(s.job.id, "sent")).rejects.toThrow("before its work ends");
  expect((await s.jobs.byId(s.job.id))?.state).toBe("pending");
  s.db.$client.close();
});

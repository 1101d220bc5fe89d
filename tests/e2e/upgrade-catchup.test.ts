// An upgrade from a release that kept the Telegram update state in the core's accounts table (the
// compiled binary): the copy into the connector's own table is what the number catches up from, so what
// arrived while the appliance was stopped reaches Planfix, in order and once; and the copy of the
// sent-message ids is what a read after the upgrade of a message sent before it maps back by.
import { Database } from "bun:sqlite";
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { introduce, onlineWorld, texts, untilMessages, type World } from "./bridge-world.ts";

let w: World | undefined;

/**
 * The access hashes and sent-message ids where the previous release kept them (the core's peers and
 * sent_messages), and no Telegram tables. The update state is the caller's (accounts.pts/qts/upd_date).
 */
function asPreviousRelease(db: Database): void {
  db.exec(`UPDATE peers SET access_hash = (SELECT h.access_hash FROM telegram_access_hashes h WHERE h.account_id = peers.account_id AND h.user_id = peers.user_id);
    INSERT INTO sent_messages (account_id, peer_user_id, tg_message_id, job_id)
      SELECT s.account_id, s.peer_user_id, s.message_id, j.id FROM telegram_sent_messages s
        JOIN outbound_jobs j ON j.random_seed = substr(s.idempotency_key, 1, instr(s.idempotency_key, ':') - 1)`);
  db.exec("DROP TABLE telegram_update_state; DROP TABLE telegram_access_hashes; DROP TABLE telegram_sent_messages; DROP TABLE telegram_migrations");
}
afterEach(async () => {
  await w?.close();
  w = undefined;
});

test("a database with the update state only in accounts.pts/qts/upd_date: after the upgrade the number catches up from it", async () => {
  const o = await onlineWorld();
  w = o.w;
  const { anna, ivan, chatId } = o;
  await introduce(w, ivan, anna, chatId);
  await Bun.sleep(300); // the state after "hi" is saved with the next writes
  expect(await w.app.stop()).toBe(0);

  // Turn the database into what the previous release left: the state in the core's columns, no Telegram tables.
  const db = new Database(join(w.dataDir, "planfix-telegram.db"));
  const kept = db.query("SELECT account_id AS id, pts, qts, date FROM telegram_update_state").all() as { id: number; pts: number; qts: number; date: number }[];
  expect(kept).toHaveLength(1);
  const { id, pts, qts, date } = kept[0]!;
  db.query("UPDATE accounts SET pts = ?, qts = ?, upd_date = ? WHERE id = ?").run(pts, qts, date, id);
  asPreviousRelease(db);
  db.close();

  // Written while the appliance is down: only a resumed catch-up can bring these (a fresh state starts after them).
  for (let i = 0; i < 3; i++) w.tg.driver.sendText(ivan, anna, `while stopped ${i}`);
  await w.app.start();
  await untilMessages(w, 4, chatId, 20_000);
  await Bun.sleep(500);
  expect(texts(w, chatId)).toEqual(["hi", "while stopped 0", "while stopped 1", "while stopped 2"]);

  expect(await w.app.stop()).toBe(0);
  const after = new Database(join(w.dataDir, "planfix-telegram.db"));
  const state = after.query("SELECT pts FROM telegram_update_state WHERE account_id = ?").get(id) as { pts: number };
  expect(state.pts).toBeGreaterThan(pts);
  // The core's columns are left as the old release wrote them (kept for a downgrade).
  expect(after.query("SELECT pts FROM accounts WHERE id = ?").get(id)).toEqual({ pts });
  after.close();
});

test("a message sent from Planfix before the upgrade and read after it: the read still comes back as messageStatus", async () => {
  const o = await onlineWorld();
  w = o.w;
  const { anna, ivan, chatId, hook } = o;
  await introduce(w, ivan, anna, chatId);
  expect((await hook({ chatId, message: "Sent before the upgrade", messageId: "701" })).status).toBe(200);
  await w.tg.driver.waitForMessage(ivan, (m) => m.text === "Sent before the upgrade");
  await w.planfix.waitFor(() => w!.planfix.statuses("701").some((s) => s.fields.messageStatus === "sent"));
  expect(await w.app.stop()).toBe(0);

  const db = new Database(join(w.dataDir, "planfix-telegram.db"));
  const kept = db.query("SELECT account_id AS id, pts, qts, date FROM telegram_update_state").get() as { id: number; pts: number; qts: number; date: number };
  db.query("UPDATE accounts SET pts = ?, qts = ?, upd_date = ? WHERE id = ?").run(kept.pts, kept.qts, kept.date, kept.id);
  asPreviousRelease(db);
  expect(db.query("SELECT count(*) AS n FROM sent_messages").get()).toEqual({ n: 1 }); // as the previous release kept it
  db.close();

  await w.app.start();
  w.tg.driver.readHistory(ivan, anna);
  await w.planfix.waitFor(() => w!.planfix.statuses("701").some((s) => s.fields.messageStatus === "read"), 20_000);
  expect(w.planfix.statuses("701").map((s) => s.fields.messageStatus)).toEqual(["sent", "read"]);
});

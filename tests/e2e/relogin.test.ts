// Signing a number in again after Telegram ended its session, against the compiled binary: the new
// session (a new auth key of the same account) resumes where the old one stopped — what the customer
// wrote meanwhile reaches Planfix, the replies held for the number go out — while a session of another
// account does not inherit this number's state.
import { afterEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { WorldSession } from "../support/telegram/index.ts";
import { introduce, onlineWorld, texts, until, untilMessages, type World } from "./bridge-world.ts";

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

type Online = Awaited<ReturnType<typeof onlineWorld>>;

/** Writes a session file into the client's folder; returns path_session for it. */
function sessionFile(o: Online, session: WorldSession, name: string): string {
  writeFileSync(join(o.w.dataDir, "sessions", "acme", name), o.w.tg.sessionString(session));
  return `acme/${name}`;
}

const stateOf = async (o: Online) => (await o.w.app.call("GET", `/client?number=${o.anna.phone}`, undefined, o.token)).json;

test("signed in again after a revocation: what the customer wrote meanwhile reaches Planfix, the held reply goes out", async () => {
  const o = await onlineWorld();
  w = o.w;
  await introduce(o.w, o.ivan, o.anna, o.chatId);
  o.w.tg.revokeSession(o.anna, "SESSION_REVOKED");
  // The reply meets the revoked key: the number becomes unauthorized and the reply waits for it.
  const hook = await o.hook({ chatId: o.chatId, message: "our reply, held", messageId: "pf-held" });
  expect(hook.status).toBe(200);
  await until(async () => (await stateOf(o)).state === "unauthorized");
  o.w.tg.driver.sendText(o.ivan, o.anna, "written while the number was signed out");
  o.w.tg.driver.sendText(o.ivan, o.anna, "and one more");

  const fresh = o.w.tg.addSession(o.anna.id, "signed in again");
  const put = await o.w.app.call("PUT", "/client", { number: o.anna.phone, path_session: sessionFile(o, fresh, "again.session.txt") }, o.token);
  expect(put.json.state).toBe("online");

  await untilMessages(o.w, 3, o.chatId);
  expect(texts(o.w, o.chatId)).toEqual(["hi", "written while the number was signed out", "and one more"]);
  await o.w.tg.driver.waitForMessage(o.ivan, (m) => m.text === "our reply, held", 15_000);
  await o.w.planfix.waitFor(() => o.w.planfix.statuses("pf-held").find((s) => s.fields.messageStatus === "sent"), 15_000);
  expect(o.w.planfix.statuses("pf-held").filter((s) => s.fields.messageStatus === "error")).toHaveLength(0);
  // Exactly once each.
  await Bun.sleep(1000);
  expect(o.w.tg.driver.messages(o.ivan, o.anna).filter((m) => m.text === "our reply, held")).toHaveLength(1);
  expect(texts(o.w, o.chatId)).toHaveLength(3);
});

test("a session of another Telegram account under the same number starts from that account's present, not this one's past", async () => {
  const o = await onlineWorld();
  w = o.w;
  await introduce(o.w, o.ivan, o.anna, o.chatId);
  const other = o.w.tg.addUser({ firstName: "Oksana", phone: "380501234567" });
  // History of the other account from before it came here: not this number's to deliver.
  o.w.tg.driver.sendText(o.ivan, other, "old message to the other account");
  const put = await o.w.app.call("PUT", "/client", { number: o.anna.phone, path_session: sessionFile(o, other.sessions[0]!, "other.session.txt") }, o.token);
  expect(put.json.state).toBe("online");
  expect((await stateOf(o)).telegram_user_id).toBe(String(other.id));
  o.w.tg.driver.sendText(o.ivan, other, "new message to the other account");
  const chatId = `${o.anna.phone}_${o.ivan.id}`;
  await untilMessages(o.w, 2, chatId);
  await Bun.sleep(1000);
  expect(texts(o.w, chatId)).toEqual(["hi", "new message to the other account"]);
});

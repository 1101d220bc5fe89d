// Issue 9, "the customer's webhook as the task shows it": chat ids we did not hand out, no messageId,
// and only 200/400/401 as answers — against the compiled binary, loopback Telegram and fake Planfix.
import { afterEach, expect, test } from "bun:test";
import { introduce, onlineWorld, received, type World } from "./bridge-world.ts";

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

async function online() {
  const o = await onlineWorld();
  w = o.w;
  return o;
}

test("the task's own example (bare chatId 123456789, channel, telegramUserName, telegramUserId) is delivered and answers our chat id", async () => {
  const { w, anna, ivan, hook } = await online();
  // Exactly the task's field set; the number has never seen Ivan, so his username is looked up.
  const r = await hook({
    chatId: "123456789",
    message: "Текст повідомлення",
    messageId: "50345842",
    userName: "Андрій",
    userLastName: "Єршов",
    taskEmail: "task+8168@sniko.planfix.ua",
    contactPhone: ivan.phone,
    channel: anna.phone,
    telegramUserName: "ivan_p",
    telegramUserId: String(ivan.id),
  });
  expect(r.status).toBe(200);
  expect(r.body).toEqual({ chatId: `${anna.phone}_${ivan.id}`, contactId: String(ivan.id) });
  const got = await w.tg.driver.waitForMessage(ivan, (m) => m.text === "Текст повідомлення", 10_000);
  expect(got.fromId).toBe(anna.id);
  await w.planfix.waitFor(() => w.planfix.statuses("50345842").some((s) => s.fields.messageStatus === "sent"), 10_000);
});

test("a bare Telegram user id as chatId, without channel, goes from the client's only number", async () => {
  const { w, anna, ivan, chatId, hook } = await online();
  await introduce(w, ivan, anna, chatId);
  const r = await hook({ chatId: String(ivan.id), message: "by bare id", messageId: "bare-1" });
  expect(r.status).toBe(200);
  expect(r.body).toEqual({ chatId, contactId: String(ivan.id) });
  await w.tg.driver.waitForMessage(ivan, (m) => m.text === "by bare id", 10_000);
  // A chat id that names nobody reachable is still a 400 naming chatId.
  const lost = await hook({ chatId: "planfix-chat-77", message: "x", messageId: "bare-2" });
  expect(lost.status).toBe(400);
  expect(lost.body).toMatchObject({ field: "chatId" });
  expect((lost.body as { error: string }).error).toContain("telegramUserId");
});

test("a chat id of ours that names another number (another client's) is refused, never re-routed to this client's number", async () => {
  const { w, anna, ivan, chatId, hook } = await online();
  await introduce(w, ivan, anna, chatId);
  // Shaped like the chat ids we hand out, but for a number this client does not have: a reply meant for
  // another company's chat must not leave from this client's number, even with a usable telegramUserId.
  const r = await hook({ chatId: `380999999999_${ivan.id}`, telegramUserId: String(ivan.id), message: "misrouted", messageId: "other-1" });
  expect(r.status).toBe(400);
  expect(r.body).toMatchObject({ field: "chatId" });
  expect((r.body as { error: string }).error).toContain("not a chat of this client's numbers");
  await Bun.sleep(500);
  expect(w.tg.driver.messages(ivan).some((m) => m.text === "misrouted")).toBe(false);
});

test("without messageId the message is still sent (every time), no status goes back, and the log says why", async () => {
  const { w, anna, ivan, chatId, hook } = await online();
  await introduce(w, ivan, anna, chatId);
  const first = await hook({ chatId, message: "no id" });
  const again = await hook({ chatId, message: "no id" });
  expect(first.status).toBe(200);
  expect(again.status).toBe(200);
  expect(first.body).toEqual({ chatId, contactId: String(ivan.id) });
  await w.tg.driver.waitFor(() => received(w, ivan, anna).filter((m) => m.text === "no id").length === 2 || undefined, 10_000, "two sends");
  await Bun.sleep(500);
  expect(w.planfix.statuses()).toEqual([]);
  expect(w.app.logText()).toContain("Planfix sent no messageId");
});

test("a first message while the number is offline: 400 with a readable error; a known recipient is still accepted", async () => {
  const { w, anna, ivan, chatId, hook } = await online();
  const olga = w.tg.addUser({ firstName: "Olga", phone: "380501234567", username: "olga_k" });
  await introduce(w, ivan, anna, chatId);
  await w.app.call("DELETE", `/client?number=${anna.phone}`, undefined);
  const r = await hook({ message: "hello Olga", messageId: "off-1", telegramUserName: "olga_k", channel: anna.phone });
  expect(r.status).toBe(400);
  const body = r.body as { error: string; field: string };
  expect(body.error).toContain(anna.phone);
  expect(body.error).toMatch(/stopped/);
  expect(body.error).toContain("@olga_k");
  expect(body.field).toBe("channel");
  // Ivan is known to the number (his id and username): nothing to look up, so the message waits for it.
  const known = await hook({ message: "hello again", messageId: "off-2", telegramUserName: "ivan_p", channel: anna.phone });
  expect(known.status).toBe(200);
  expect(known.body).toEqual({ chatId, contactId: String(ivan.id) });
  expect(received(w, olga, anna)).toHaveLength(0);
});

test("a lookup Telegram does not answer: 400 within 5 s saying so; sent again later, it goes", async () => {
  const { w, anna, hook } = await online();
  const olga = w.tg.addUser({ firstName: "Olga", phone: "380501234567", username: "olga_k" });
  w.tg.stall(true);
  const t0 = Date.now();
  const r = await hook({ message: "hello Olga", messageId: "slow-1", telegramUserName: "olga_k", channel: anna.phone });
  const took = Date.now() - t0;
  expect(r.status).toBe(400);
  expect(took).toBeLessThan(5000);
  expect((r.body as { error: string }).error).toMatch(/did not answer the lookup of @olga_k within \d s/);
  w.tg.stall(false);
  // Planfix's employee sends again: once Telegram answers (the connection may first be re-made), it is accepted.
  let again = r;
  const deadline = Date.now() + 40_000;
  while (again.status !== 200 && Date.now() < deadline) {
    await Bun.sleep(500);
    again = await hook({ message: "hello Olga", messageId: "slow-1", telegramUserName: "olga_k", channel: anna.phone });
  }
  expect(again.status).toBe(200);
  expect(again.body).toEqual({ chatId: `${anna.phone}_${olga.id}`, contactId: String(olga.id) });
  await w.tg.driver.waitForMessage(olga, (m) => m.text === "hello Olga", 15_000);
});

// Held, never dropped, against the compiled binary with the loopback Telegram and the fake
// Planfix: a refused key holds the number's queue until the key works again; a refused item is parked,
// listed and re-sent by one call; a file gone in Telegram becomes a note; a message Telegram refused is
// listed and re-sendable.
import { afterEach, expect, test } from "bun:test";
import { introduce, onlineWorld, texts, until, untilMessages, type World } from "./bridge-world.ts";

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

test("a wrong token_planfix holds the message (status says so); PUT with the right key delivers it", async () => {
  const o = await onlineWorld();
  w = o.w;
  const status = async () => (await o.w.app.call("GET", `/client?number=${o.anna.phone}`, undefined, o.token)).json;
  await o.w.app.call("PUT", "/client", { number: o.anna.phone, token_planfix: "wrong-key" }, o.token);
  o.w.tg.driver.sendText(o.ivan, o.anna, "held, not lost");
  o.w.tg.driver.sendText(o.ivan, o.anna, "and this one behind it");
  const held = await until(async () => {
    const v = await status();
    return v.queues?.to_planfix.paused && v.queues.to_planfix.waiting === 2 ? v : null;
  });
  expect(held.queues.to_planfix.parked).toBe(0);
  expect(held.queues.to_planfix.problem).toContain("401");
  expect(held.queues.to_planfix.problem_since).toBeString();
  expect(JSON.stringify(held)).not.toContain("wrong-key");
  // Nothing was lost to the refusals: the items still wait after a while.
  await Bun.sleep(2000);
  expect((await status()).queues.to_planfix.waiting).toBe(2);
  expect(o.w.planfix.newMessages()).toHaveLength(0);

  await o.w.app.call("PUT", "/client", { number: o.anna.phone, token_planfix: "planfix-token" }, o.token);
  await untilMessages(o.w, 2, o.chatId);
  expect(texts(o.w, o.chatId)).toEqual(["held, not lost", "and this one behind it"]);
  const after = await until(async () => {
    const v = await status();
    return v.queues.to_planfix.waiting === 0 ? v : null;
  });
  expect(after.queues.to_planfix).toMatchObject({ paused: false, parked: 0, problem: null });
});

test("a key fixed inside Planfix (no call to us) is noticed by the periodic retry", async () => {
  const o = await onlineWorld({ env: { PLANFIX_KEY_RETRY_SECONDS: "2" } });
  w = o.w;
  o.w.planfix.failUnauthorized({ forMs: 3000 });
  o.w.tg.driver.sendText(o.ivan, o.anna, "after the key is fixed");
  await until(async () => (await o.w.app.call("GET", `/client?number=${o.anna.phone}`, undefined, o.token)).json.queues?.to_planfix.paused);
  const [cmd] = await untilMessages(o.w, 1, o.chatId, 20_000);
  expect(cmd!.fields.message).toBe("after the key is fixed");
  // Probes, not a hammering: a handful of refused attempts over ~3 s.
  expect(o.w.planfix.commands({ cmd: "newMessage" }).filter((c) => c.status === 401).length).toBeLessThanOrEqual(4);
});

test("a 400 for one item: retried, parked and listed with its error; the chat moves on; one call re-sends it; discard drops one", async () => {
  const o = await onlineWorld();
  w = o.w;
  await introduce(o.w, o.ivan, o.anna, o.chatId);
  o.w.planfix.fail("400", { cmd: "newMessage", calls: 3 });
  o.w.tg.driver.sendText(o.ivan, o.anna, "refused three times");
  await Bun.sleep(300);
  o.w.tg.driver.sendText(o.ivan, o.anna, "next in the chat");
  await until(async () => texts(o.w, o.chatId).includes("next in the chat"));
  const status = (await o.w.app.call("GET", `/client?number=${o.anna.phone}`, undefined, o.token)).json;
  expect(status.queues.to_planfix).toMatchObject({ parked: 1, waiting: 0 });

  const list = await o.w.app.call("GET", `/client/queue?number=${o.anna.phone}`, undefined, o.token);
  expect(list.status).toBe(200);
  expect(list.json.items).toHaveLength(1);
  expect(list.json.items[0]).toMatchObject({ state: "parked", chat_id: o.chatId, text: "refused three times", attempts: 3 });
  expect(list.json.items[0].error).toContain("400");

  // Another client's token sees nothing of this number.
  const other = await o.w.app.call("POST", "/client", o.w.startBody(o.w.tg.addUser({ firstName: "Olga", phone: "380501112233" }), { name: "other" }));
  expect((await o.w.app.call("GET", `/client/queue?number=${o.anna.phone}`, undefined, other.json.token)).status).toBe(404);
  expect((await o.w.app.call("POST", "/client/queue/resend", { number: o.anna.phone }, other.json.token)).status).toBe(404);
  expect((await o.w.app.call("POST", "/client/queue/resend", { number: o.anna.phone, id: "x" }, o.token)).status).toBe(400);

  const resent = await o.w.app.call("POST", "/client/queue/resend", { number: o.anna.phone }, o.token);
  expect(resent.json).toEqual({ resent: 1 });
  await until(async () => texts(o.w, o.chatId).includes("refused three times"));
  expect(texts(o.w, o.chatId).filter((t) => t === "refused three times")).toHaveLength(1);

  // Parked again, then dropped by the admin with one explicit call.
  o.w.planfix.fail("400", { cmd: "newMessage", calls: 3 });
  o.w.tg.driver.sendText(o.ivan, o.anna, "to be discarded");
  const parked = await until(async () => (await o.w.app.call("GET", `/client/queue?number=${o.anna.phone}`)).json.items[0]);
  const gone = await o.w.app.call("POST", "/client/queue/discard", { number: o.anna.phone, id: parked.id });
  expect(gone.json).toEqual({ discarded: 1 });
  expect((await o.w.app.call("GET", `/client?number=${o.anna.phone}`, undefined, o.token)).json.queues.to_planfix.parked).toBe(0);
  expect((await o.w.app.call("POST", "/client/queue/discard", { number: o.anna.phone, id: parked.id })).status).toBe(404);
});

test("a photo that can no longer be fetched from Telegram becomes a note; the text and the chat move on", async () => {
  const o = await onlineWorld();
  w = o.w;
  await introduce(o.w, o.ivan, o.anna, o.chatId);
  // Every fetch of the file is refused as expired, even after re-fetching the message: it is gone.
  o.w.tg.faults.fail("upload.GetFile", 400, "FILE_REFERENCE_EXPIRED", { times: "always", userId: o.anna.id });
  o.w.tg.driver.sendFile(o.ivan, o.anna, Buffer.alloc(2000, 9), "receipt.jpg", "image/jpeg", { caption: "my receipt" });
  o.w.tg.driver.sendText(o.ivan, o.anna, "did you get it?");
  const msgs = await untilMessages(o.w, 3, o.chatId);
  expect(msgs[1]!.fields.message).toContain("my receipt");
  expect(msgs[1]!.fields.message).toContain("receipt.jpg: no longer available in Telegram");
  expect(msgs[1]!.attachments).toEqual([]);
  expect(msgs[2]!.fields.message).toBe("did you get it?");
});

test("a message Telegram refused is listed for the number (to_telegram) and re-sent by one call", async () => {
  const o = await onlineWorld();
  w = o.w;
  await introduce(o.w, o.ivan, o.anna, o.chatId);
  // An error that parks (not a refusal for good, which is final: first-contact.test.ts).
  o.w.tg.faults.fail("messages.SendMessage", 403, "CHAT_WRITE_FORBIDDEN");
  await o.hook({ chatId: o.chatId, message: "try again later", messageId: "pf1" });
  await o.w.planfix.waitFor(() => o.w.planfix.statuses("pf1").find((s) => s.fields.messageStatus === "error"));
  const view = (await o.w.app.call("GET", `/client?number=${o.anna.phone}`, undefined, o.token)).json;
  expect(view.queues.to_telegram).toMatchObject({ waiting: 0, parked: 1 });
  const list = (await o.w.app.call("GET", `/client/queue?number=${o.anna.phone}&direction=to_telegram`, undefined, o.token)).json;
  expect(list.items[0]).toMatchObject({ message_id: "pf1", chat_id: o.chatId, text: "try again later" });
  expect(list.items[0].error).toContain("CHAT_WRITE_FORBIDDEN");

  const r = await o.w.app.call("POST", "/client/queue/resend", { number: o.anna.phone, direction: "to_telegram", id: list.items[0].id }, o.token);
  expect(r.json).toEqual({ resent: 1 });
  await o.w.tg.driver.waitForMessage(o.ivan, (m) => m.text === "try again later");
  await o.w.planfix.waitFor(() => o.w.planfix.statuses("pf1").find((s) => s.fields.messageStatus === "sent"));
  expect((await o.w.app.call("GET", `/client?number=${o.anna.phone}`, undefined, o.token)).json.queues.to_telegram.parked).toBe(0);
});

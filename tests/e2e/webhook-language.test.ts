// Issue 9: what the appliance itself writes into Planfix — the edit prefix, the caption of a media-only
// message, notes for files too big, contact cards, messageStatusText — is in the customer's language: LANGUAGE
// (default uk), overridable per number with `language` on POST/PUT /client.
import { afterEach, expect, test } from "bun:test";
import { tinyPng } from "../support/telegram/index.ts";
import { onlineWorld, texts, untilMessages, type World } from "./bridge-world.ts";

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

test("by default (no LANGUAGE) the notes are Ukrainian", async () => {
  const o = await onlineWorld({ env: { LANGUAGE: "", MAX_FILE_MB: "0.1" } });
  w = o.w;
  const m = o.w.tg.driver.sendText(o.ivan, o.anna, "ціна 100");
  o.w.tg.driver.sendPhoto(o.ivan, o.anna, tinyPng([1, 2, 3]));
  o.w.tg.driver.sendFile(o.ivan, o.anna, Buffer.alloc(200_000, 7), "scan.tiff", "image/tiff");
  o.w.tg.driver.sendContact(o.ivan, o.anna, { phone: "380500000001", firstName: "Olga" });
  await untilMessages(o.w, 4, o.chatId);
  o.w.tg.driver.editMessage(o.ivan, m.id, "ціна 120");
  await untilMessages(o.w, 5, o.chatId);
  expect(texts(o.w, o.chatId)).toEqual(["ціна 100", "📷 Фото", "[scan.tiff: 0.2 МБ, більше за ліміт 0.1 МБ — не передано]", "Контакт: Olga, +380500000001", "✏️ змінено: ціна 120"]);

  // A message Planfix sent that Telegram refuses: the reason shown in Planfix is Ukrainian too.
  o.w.tg.faults.fail("messages.SendMessage", 403, "CHAT_WRITE_FORBIDDEN");
  await o.hook({ chatId: o.chatId, message: "занадто часто", messageId: "uk-1" });
  const st = await o.w.planfix.waitFor(() => o.w.planfix.statuses("uk-1")[0], 10_000);
  expect(st.fields.messageStatus).toBe("error");
  expect(st.fields.messageStatusText).toBe("Telegram відхилив повідомлення: CHAT_WRITE_FORBIDDEN");
});

test("a number's own language wins over LANGUAGE, shows on its status, and changes with PUT", async () => {
  const o = await onlineWorld({ env: { LANGUAGE: "en" } });
  w = o.w;
  const boris = o.w.tg.addUser({ firstName: "Boris", phone: "380501112233" });
  const started = await o.w.app.call("POST", "/client", o.w.startBody(boris, { language: "ru" }), o.token);
  expect(started.json).toMatchObject({ state: "online", language: "ru" });
  const annaChat = o.chatId;
  const borisChat = `${boris.phone}_${o.ivan.id}`;
  const a = o.w.tg.driver.sendText(o.ivan, o.anna, "to anna");
  const b = o.w.tg.driver.sendText(o.ivan, boris, "to boris");
  await untilMessages(o.w, 2);
  o.w.tg.driver.editMessage(o.ivan, a.id, "to anna!");
  o.w.tg.driver.editMessage(o.ivan, b.id, "to boris!");
  await untilMessages(o.w, 4);
  expect(texts(o.w, annaChat)).toEqual(["to anna", "✏️ edited: to anna!"]);
  expect(texts(o.w, borisChat)).toEqual(["to boris", "✏️ изменено: to boris!"]);

  const changed = await o.w.app.call("PUT", "/client", { number: boris.phone, language: "uk" }, o.token);
  expect(changed.status).toBe(200);
  expect(changed.json.language).toBe("uk");
  const c = o.w.tg.driver.sendText(o.ivan, boris, "again");
  await o.w.planfix.waitFor(() => texts(o.w, borisChat).length >= 3, 15_000);
  o.w.tg.driver.editMessage(o.ivan, c.id, "again!");
  await o.w.planfix.waitFor(() => texts(o.w, borisChat).length >= 4, 15_000);
  expect(texts(o.w, borisChat).slice(2)).toEqual(["again", "✏️ змінено: again!"]);

  const bad = await o.w.app.call("PUT", "/client", { number: boris.phone, language: "de" }, o.token);
  expect(bad.status).toBe(400);
  expect(bad.text).toContain("language");
  expect(bad.text).toContain("uk, ru, en");
});

test("an unknown LANGUAGE stops the appliance at start with a clear message", async () => {
  const o = await onlineWorld();
  w = o.w;
  await o.w.app.stop();
  o.w.app.env.LANGUAGE = "de";
  const err = await o.w.app.start().catch((e: Error) => e);
  expect(err).toBeInstanceOf(Error);
  expect(o.w.app.logText()).toContain("LANGUAGE must be one of uk, ru, en");
});

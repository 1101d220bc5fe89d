// Issue 9: every newMessage names the person's Telegram username and id, and a contact's new name,
// username or photo reaches Planfix as updateContact at once — not only with their next message.
import { afterEach, expect, test } from "bun:test";
import { tinyPng } from "../support/telegram/index.ts";
import { introduce, onlineWorld, untilMessages, type World } from "./bridge-world.ts";

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const updates = (w: World) => w.planfix.commands({ cmd: "updateContact", accepted: true });

test("newMessage carries telegramUserName and telegramUserId, echoes included", async () => {
  const o = await onlineWorld();
  w = o.w;
  o.w.tg.driver.sendText(o.ivan, o.anna, "hello");
  o.w.tg.driver.sendText(o.anna, o.ivan, "typed on my phone");
  const [mine, echo] = await untilMessages(o.w, 2, o.chatId);
  expect(mine!.fields).toMatchObject({ telegramUserName: "ivan_p", telegramUserId: String(o.ivan.id) });
  expect(echo!.fields).toMatchObject({ isEcho: "true", telegramUserName: "ivan_p", telegramUserId: String(o.ivan.id) });
});

test("a new name, username and photo each reach Planfix as updateContact, and Planfix's card follows", async () => {
  const o = await onlineWorld();
  w = o.w;
  await introduce(o.w, o.ivan, o.anna, o.chatId);

  o.w.tg.driver.setName(o.ivan, "Ivan", "Kovalenko");
  const byName = await o.w.planfix.waitFor(() => updates(o.w)[0], 10_000);
  expect(byName.fields).toMatchObject({ contactId: String(o.ivan.id), contactName: "Ivan", contactLastName: "Kovalenko", contactData: "Telegram: https://t.me/ivan_p" });

  o.w.tg.driver.setUsername(o.ivan, "ivan_kov");
  const byUsername = await o.w.planfix.waitFor(() => updates(o.w)[1], 10_000);
  expect(byUsername.fields).toMatchObject({ contactId: String(o.ivan.id), contactLastName: "Kovalenko", contactData: "Telegram: https://t.me/ivan_kov" });

  const portrait = tinyPng([200, 10, 10]);
  o.w.tg.driver.setPhoto(o.ivan, portrait);
  const byPhoto = await o.w.planfix.waitFor(() => updates(o.w)[2], 10_000);
  const ico = await fetch(byPhoto.fields.contactIco!);
  expect(Buffer.from(await ico.arrayBuffer()).equals(Buffer.from(portrait))).toBe(true);

  const card = o.w.planfix.contacts().find((c) => c.contactId === String(o.ivan.id))!.card;
  expect(card).toMatchObject({ contactLastName: "Kovalenko", contactData: "Telegram: https://t.me/ivan_kov", contactIco: byPhoto.fields.contactIco });
  // The next message agrees with what Planfix was told.
  o.w.tg.driver.sendText(o.ivan, o.anna, "new me");
  const [, next] = await untilMessages(o.w, 2, o.chatId);
  expect(next!.fields).toMatchObject({ contactLastName: "Kovalenko", telegramUserName: "ivan_kov" });
});

test("someone Planfix has never heard of through this number gets no updateContact", async () => {
  const o = await onlineWorld();
  w = o.w;
  // Olga shares a group with Anna (not bridged) and is in her contacts: Anna's connection knows her and
  // hears of her rename, but nothing of hers ever went to Planfix.
  const olga = o.w.tg.addUser({ firstName: "Olga", phone: "380501234567", username: "olga_k" });
  const group = o.w.tg.world.addChat("Suppliers", [o.anna.id, olga.id]);
  o.w.tg.world.user(o.anna.id).contacts.add(olga.id);
  o.w.tg.driver.sendPhoto(olga, group, tinyPng([5, 5, 5]), "in the group");
  await introduce(o.w, o.ivan, o.anna, o.chatId);
  o.w.tg.driver.setName(olga, "Olha");
  o.w.tg.driver.setName(o.ivan, "Ivan", "Renamed");
  await o.w.planfix.waitFor(() => updates(o.w)[0], 10_000);
  await Bun.sleep(300);
  expect(updates(o.w).map((c) => c.fields.contactId)).toEqual([String(o.ivan.id)]);
  expect(o.w.planfix.newMessages().map((c) => c.fields.message)).toEqual(["hi"]);
});

// Issue 12, first contact, against the compiled binary with the loopback Telegram and the fake Planfix:
// a message Planfix sends to someone who refuses it (privacy) or from a number Telegram limits for new
// contacts (PEER_FLOOD) is tried once, ends as an error status with readable text in the customer's
// language, and holds nothing up; the number's status shows the limit.
import { afterEach, expect, test } from "bun:test";
import { introduce, onlineWorld, type World } from "./bridge-world.ts";

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

test("privacy and PEER_FLOOD: one attempt each, an error status in Ukrainian, the limit on the number's status; other chats still go", async () => {
  const o = await onlineWorld({ env: { LANGUAGE: "uk" } });
  w = o.w;
  const { tg, planfix, app } = o.w;
  await introduce(o.w, o.ivan, o.anna, o.chatId);
  const olga = tg.addUser({ firstName: "Olga", phone: "380501110001", username: "olga_private" });
  const petro = tg.addUser({ firstName: "Petro", phone: "380501110002", username: "petro_new" });
  tg.driver.restrictPrivacy(olga);
  const sends = () => tg.calls.get("messages.SendMessage") ?? 0;
  const status = async () => (await app.call("GET", `/client?number=${o.anna.phone}`, undefined, o.token)).json;
  const errorOf = (messageId: string) => planfix.waitFor(() => planfix.statuses(messageId).find((s) => s.fields.messageStatus === "error"), 15_000);

  // Olga's privacy refuses strangers: refused once, reported in the customer's language, not retried.
  const before = sends();
  const toOlga = await o.hook({ telegramUserName: "olga_private", message: "Добрий день, ваше замовлення готове", messageId: "fc-1" });
  expect(toOlga.status).toBe(200);
  const olgaChat = `${o.anna.phone}_${olga.id}`;
  const refused = await errorOf("fc-1");
  expect(refused.fields.messageStatusText).toBe(
    "не надіслано: налаштування приватності клієнта в Telegram не дозволяють писати йому з цього номера. Клієнт може написати першим — тоді відповідь дійде",
  );
  // The retry pause is 1 s here (RETRY_CAP_SECONDS): a few seconds would show any retry.
  await Bun.sleep(3000);
  expect(sends() - before).toBe(1);
  expect(planfix.statuses("fc-1").map((s) => s.fields.messageStatus)).toEqual(["error"]);
  expect(tg.driver.messages(olga, o.anna)).toEqual([]);
  const afterPrivacy = await status();
  expect(afterPrivacy.queues.to_telegram).toMatchObject({ waiting: 0, parked: 0, problem: null });

  // Once Olga writes first, the same chat works: nothing was left blocking it.
  tg.driver.sendText(olga, o.anna, "Я тут");
  await planfix.waitFor(() => planfix.newMessages(olgaChat).length >= 1, 15_000);
  await o.hook({ chatId: olgaChat, message: "Чудово, надсилаю", messageId: "fc-2" });
  await tg.driver.waitForMessage(olga, (m) => m.text === "Чудово, надсилаю", 15_000);

  // Anna's account is limited for new contacts: Petro (new) gets nothing, once; Ivan (who wrote first) still does.
  tg.driver.limitAccount(o.anna);
  const beforeFlood = sends();
  await o.hook({ telegramUserName: "petro_new", message: "Пропозиція для вас", messageId: "fc-3" });
  const flood = await errorOf("fc-3");
  expect(flood.fields.messageStatusText).toBe(
    "не надіслано: Telegram тимчасово заборонив цьому номеру писати першим новим контактам (обмеження на спам, зазвичай на добу або кілька). Клієнт може написати першим — тоді відповідь дійде",
  );
  const limited = await status();
  expect(limited.queues.to_telegram.problem).toContain("PEER_FLOOD");
  expect(limited.queues.to_telegram.problem).toContain("may not write first to new contacts");
  expect(limited.queues.to_telegram.problem_since).toBeString();
  expect(limited.queues.to_telegram).toMatchObject({ waiting: 0, parked: 0 });

  await o.hook({ chatId: o.chatId, message: "Іване, рахунок у вкладенні", messageId: "fc-4" });
  await tg.driver.waitForMessage(o.ivan, (m) => m.text === "Іване, рахунок у вкладенні", 15_000);
  await planfix.waitFor(() => planfix.statuses("fc-4").find((s) => s.fields.messageStatus === "sent"), 15_000);
  await Bun.sleep(2000);
  expect(sends() - beforeFlood).toBe(2); // Petro once, Ivan once
  expect(planfix.statuses("fc-3").map((s) => s.fields.messageStatus)).toEqual(["error"]);
  expect(tg.driver.messages(petro, o.anna)).toEqual([]);
  // A delivery to an existing chat does not hide the limit: it concerns new contacts.
  const still = await status();
  expect(still.queues.to_telegram.problem).toContain("PEER_FLOOD");
  expect(still.queues.to_telegram.problem_since).toBe(limited.queues.to_telegram.problem_since);

  // Neither refusal is parked: nothing to list or resend; /metrics counts them as refused.
  const parked = (await app.call("GET", `/client/queue?number=${o.anna.phone}&direction=to_telegram`, undefined, o.token)).json;
  expect(parked.items).toEqual([]);
  const metrics = await app.call("GET", "/metrics");
  expect(metrics.text).toContain('planfix_telegram_messages_total{direction="to_telegram",outcome="refused"} 2');
  expect(metrics.text).toContain('planfix_telegram_messages_total{direction="to_telegram",outcome="parked"} 0');
});

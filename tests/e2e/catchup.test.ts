// Catch-up end to end (the compiled binary): what a number missed while its connection was down
// reaches Planfix after the reconnect — through getDifference, or, when Telegram answers
// updates.differenceTooLong, rebuilt from the chats' histories — in order and once.
import { afterEach, describe, expect, test } from "bun:test";
import type { WorldUser } from "../support/telegram/index.ts";
import { introduce, onlineWorld, texts, untilMessages, type World } from "./bridge-world.ts";

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

/**
 * The number's connection goes down and `whileDown` happens meanwhile: the server is stalled (pushes
 * are dropped, so nothing reaches the old connection), every connection is cut, then the server
 * answers again and the appliance reconnects on its own.
 */
async function outage(w: World, whileDown: () => void): Promise<void> {
  w.tg.stall(true);
  whileDown();
  w.tg.dropAllConnections();
  w.tg.stall(false);
}

const calls = (w: World, method: string) => w.tg.metrics().calls[method] ?? 0;

describe("catch-up after a reconnect", () => {
  test("messages sent while the connection was down arrive after the reconnect, in order, once", async () => {
    const { w, anna, ivan, chatId } = await online();
    await introduce(w, ivan, anna, chatId);
    const differences = calls(w, "updates.GetDifference");
    await outage(w, () => {
      for (let i = 0; i < 5; i++) w.tg.driver.sendText(ivan, anna, `while down ${i}`);
    });
    await untilMessages(w, 6, chatId, 20_000);
    await Bun.sleep(500);
    expect(texts(w, chatId)).toEqual(["hi", "while down 0", "while down 1", "while down 2", "while down 3", "while down 4"]);
    expect(calls(w, "updates.GetDifference")).toBeGreaterThan(differences);
    expect(calls(w, "messages.GetHistory")).toBe(0);
  });
});

describe("catch-up after updates.differenceTooLong", () => {
  async function twoCustomers() {
    const o = await online();
    const olga = o.w.tg.addUser({ firstName: "Olga", lastName: "Koval", phone: "380661112233", username: "olga_k" });
    const olgaChat = `${o.anna.phone}_${olga.id}`;
    await introduce(o.w, o.ivan, o.anna, o.chatId);
    await introduce(o.w, olga, o.anna, olgaChat);
    return { ...o, olga, olgaChat };
  }

  /** An outage after which Telegram answers the number's next `times` getDifference with differenceTooLong. */
  const tooLong = (w: World, anna: WorldUser, whileDown: () => void, times = 1) =>
    outage(w, () => {
      whileDown();
      w.tg.driver.differenceTooLong(anna, times);
    });

  test("the missed messages of two chats are rebuilt from history: each chat in order, none twice", async () => {
    const { w, anna, ivan, olga, chatId, olgaChat } = await twoCustomers();
    // One short flood wait on the way: waited out, the rebuild goes on.
    const flood = w.tg.faults.floodWait("messages.GetHistory", 1);
    await tooLong(w, anna, () => {
      w.tg.driver.sendText(ivan, anna, "ivan 1");
      w.tg.driver.sendText(olga, anna, "olga 1");
      w.tg.driver.sendText(ivan, anna, "ivan 2");
      w.tg.driver.sendText(anna, olga, "answered from the phone");
      w.tg.driver.sendText(olga, anna, "olga 2");
      w.tg.driver.sendText(ivan, anna, "ivan 3");
    });
    await w.planfix.waitFor(() => texts(w, chatId).length >= 4 && texts(w, olgaChat).length >= 4, 20_000);
    // After the rebuild the number goes on from Telegram's new pts: live messages still arrive.
    w.tg.driver.sendText(olga, anna, "olga live");
    await w.planfix.waitFor(() => texts(w, olgaChat).includes("olga live"), 10_000);
    await Bun.sleep(500);
    expect(texts(w, chatId)).toEqual(["hi", "ivan 1", "ivan 2", "ivan 3"]);
    expect(texts(w, olgaChat)).toEqual(["hi", "olga 1", "answered from the phone", "olga 2", "olga live"]);
    const echo = w.planfix.newMessages(olgaChat)[2]!;
    expect(echo.fields.isEcho).toBe("true");
    expect(flood.hits).toBe(1);
    expect(calls(w, "messages.GetHistory")).toBeGreaterThanOrEqual(2);
  });

  test("updatesTooLong pushed to a live connection: the stretch is rebuilt without a reconnect", async () => {
    const { w, anna, ivan, olga, chatId, olgaChat } = await twoCustomers();
    const getMe = calls(w, "users.GetUsers"); // once per connect
    // Pushes lost on the way (the connection stays up), then Telegram says "too long".
    w.tg.stall(true);
    w.tg.driver.sendText(olga, anna, "olga lost push");
    w.tg.driver.sendText(ivan, anna, "ivan lost push");
    w.tg.stall(false);
    w.tg.driver.differenceTooLong(anna);
    w.tg.driver.updatesTooLong(anna);
    await w.planfix.waitFor(() => texts(w, chatId).length >= 2 && texts(w, olgaChat).length >= 2, 20_000);
    await Bun.sleep(500);
    expect(texts(w, chatId)).toEqual(["hi", "ivan lost push"]);
    expect(texts(w, olgaChat)).toEqual(["hi", "olga lost push"]);
    expect(calls(w, "messages.GetHistory")).toBeGreaterThanOrEqual(2);
    expect(calls(w, "users.GetUsers")).toBe(getMe);
  });

  test("messages delivered before the gap (the customer's and our own reply from Planfix) are not delivered again", async () => {
    const { w, anna, ivan, chatId, hook } = await online();
    await introduce(w, ivan, anna, chatId);
    w.tg.driver.sendText(ivan, anna, "before the gap");
    await untilMessages(w, 2, chatId);
    expect((await hook({ chatId, message: "our answer", messageId: "pf-1" })).status).toBe(200);
    await w.tg.driver.waitForMessage(ivan, (m) => m.text === "our answer");
    await w.planfix.waitFor(() => w.planfix.statuses("pf-1").length > 0);
    await tooLong(w, anna, () => {
      w.tg.driver.sendText(ivan, anna, "in the gap");
    });
    await untilMessages(w, 3, chatId, 20_000);
    await Bun.sleep(1000);
    expect(calls(w, "messages.GetHistory")).toBeGreaterThanOrEqual(1);
    expect(texts(w, chatId)).toEqual(["hi", "before the gap", "in the gap"]);
  });

  test("a flood wait over 30 s ends the rebuild: the number waits in flood_wait, then rebuilds again and delivers once", async () => {
    const { w, anna, ivan, chatId, olgaChat, token } = await twoCustomers();
    const flood = w.tg.faults.floodWait("messages.GetHistory", 31);
    const histories = calls(w, "messages.GetHistory");
    await tooLong(
      w,
      anna,
      () => {
        w.tg.driver.sendText(ivan, anna, "ivan 1");
        w.tg.driver.sendText(ivan, anna, "ivan 2");
      },
      2,
    );
    const deadline = Date.now() + 15_000;
    let view: any;
    while (Date.now() < deadline) {
      view = (await w.app.call("GET", `/client?number=${anna.phone}`, undefined, token)).json;
      if (view.state === "flood_wait") break;
      await Bun.sleep(100);
    }
    expect(view.state).toBe("flood_wait");
    expect(texts(w, chatId)).toEqual(["hi"]);
    await w.planfix.waitFor(() => texts(w, chatId).length >= 3, 60_000);
    await Bun.sleep(500);
    expect(texts(w, chatId)).toEqual(["hi", "ivan 1", "ivan 2"]);
    expect(texts(w, olgaChat)).toEqual(["hi"]);
    expect(flood.hits).toBe(1);
    // Both rounds read the history: the first stopped at the flood, the second went through.
    expect(calls(w, "messages.GetHistory") - histories).toBeGreaterThanOrEqual(3);
  }, 90_000);
});

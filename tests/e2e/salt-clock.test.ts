// Telegram's first-request corrections against the compiled binary: a server that answers each new
// MTProto session's first request with bad_server_salt, and one whose clock is an hour off (a message
// gets bad_msg_notification until the client takes the server's time). The appliance must come
// online and bridge both ways through them, once each — including after a reconnect, which is a new
// MTProto session that meets the salt check again.
import { afterEach, expect, test } from "bun:test";
import { introduce, onlineWorld, texts, untilMessages, type World } from "./bridge-world.ts";

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

// (Both at once would not test the clock: GramJS takes the server's time from the bad_server_salt answer.)
for (const skew of [0, 3600, -3600]) {
  const salt = skew === 0;
  const what = salt ? "a stale salt on each new session" : `a server clock ${skew > 0 ? "ahead" : "behind"} by an hour`;
  test(`${what}: the number comes online and messages go both ways once each, also after a reconnect`, async () => {
    const o = await onlineWorld({ telegram: { enforceSalt: salt, clockSkewSeconds: skew } });
    w = o.w;
    const corrections = () => (salt ? o.w.tg.corrections.badServerSalt : o.w.tg.corrections.badMsgTime);
    expect(corrections()).toBeGreaterThan(0);

    await introduce(o.w, o.ivan, o.anna, o.chatId);
    const hook = await o.hook({ chatId: o.chatId, message: "reply through the corrections", messageId: "pf-1" });
    expect(hook.status).toBe(200);
    await o.w.tg.driver.waitForMessage(o.ivan, (m) => m.text === "reply through the corrections", 15_000);

    // A dropped connection: GramJS reconnects with a new MTProto session, which meets the salt check again.
    const before = corrections();
    o.w.tg.dropAllConnections();
    o.w.tg.driver.sendText(o.ivan, o.anna, "after the reconnect");
    await untilMessages(o.w, 2, o.chatId, 30_000);
    if (salt) expect(corrections()).toBeGreaterThan(before);

    await Bun.sleep(500);
    expect(texts(o.w, o.chatId)).toEqual(["hi", "after the reconnect"]);
    expect(o.w.tg.driver.messages(o.ivan, o.anna).filter((m) => m.text === "reply through the corrections")).toHaveLength(1);
    const number = (await o.w.app.call("GET", `/client?number=${o.anna.phone}`, undefined, o.token)).json;
    expect(number.state).toBe("online");
  });
}

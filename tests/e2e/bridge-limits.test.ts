// Limits and waiting: file size caps both ways, flood waits waited out, a number that is offline.
import { afterEach, expect, test } from "bun:test";
import { introduce, onlineWorld, received, texts, untilMessages, type World } from "./bridge-world.ts";

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

test("files over MAX_FILE_MB: a note to Planfix instead of a failure, an error status to Planfix", async () => {
  const o = await onlineWorld({ env: { MAX_FILE_MB: "0.01" } });
  w = o.w;
  const big = Buffer.alloc(20_000, 7);
  o.w.tg.driver.sendFile(o.ivan, o.anna, big, "scan.tiff", "image/tiff", { caption: "my scan" });
  const [cmd] = await untilMessages(o.w, 1, o.chatId);
  expect(cmd!.fields.message).toContain("my scan");
  expect(cmd!.fields.message).toContain("scan.tiff");
  expect(cmd!.fields.message).toMatch(/limit/);
  expect(cmd!.attachments).toEqual([]);

  const url = o.w.planfix.hostFile("huge.zip", big, "application/zip");
  await o.hook({ chatId: o.chatId, message: "", messageId: "big1" }, [{ name: "huge.zip", url }]);
  const st = await o.w.planfix.waitFor(() => o.w.planfix.statuses("big1")[0]);
  expect(st.fields.messageStatus).toBe("error");
  expect(st.fields.messageStatusText).toContain("huge.zip");
  expect(st.fields.messageStatusText).toMatch(/larger/);
});

test("a voice message reaches Planfix as a file named after it", async () => {
  const o = await onlineWorld();
  w = o.w;
  const ogg = Buffer.from("OggS fake voice");
  o.w.tg.driver.sendFile(o.ivan, o.anna, ogg, "voice.ogg", "audio/ogg", { kind: "voice", duration: 3 });
  const [cmd] = await untilMessages(o.w, 1, o.chatId);
  expect(cmd!.attachments).toHaveLength(1);
  const file = await fetch(cmd!.attachments[0]!.url);
  expect(Buffer.from(await file.arrayBuffer()).equals(ogg)).toBe(true);
  expect(cmd!.fields.message!.length).toBeGreaterThan(0);
});

test("a short FLOOD_WAIT on sending is waited out and the message still goes", async () => {
  const o = await onlineWorld();
  w = o.w;
  await introduce(o.w, o.ivan, o.anna, o.chatId);
  o.w.tg.faults.floodWait("messages.SendMessage", 2, { times: 1 });
  const started = Date.now();
  await o.hook({ chatId: o.chatId, message: "patience", messageId: "fw1" });
  await o.w.tg.driver.waitForMessage(o.ivan, (m) => m.text === "patience", 15_000);
  expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
  const st = await o.w.planfix.waitFor(() => o.w.planfix.statuses("fw1")[0]);
  expect(st.fields.messageStatus).toBe("sent");
});

test("a message for a stopped number waits and goes once the number is back", async () => {
  const o = await onlineWorld();
  w = o.w;
  await introduce(o.w, o.ivan, o.anna, o.chatId);
  await o.w.app.call("DELETE", `/client?number=${o.anna.phone}`, undefined, o.token);
  const r = await o.hook({ chatId: o.chatId, message: "queued while offline", messageId: "off1" });
  expect(r.status).toBe(200);
  await Bun.sleep(1000);
  expect(received(o.w, o.ivan, o.anna)).toHaveLength(0);
  await o.w.app.call("POST", "/client", o.w.startBody(o.anna), o.token);
  await o.w.tg.driver.waitForMessage(o.ivan, (m) => m.text === "queued while offline", 10_000);
  expect(texts(o.w, o.chatId)).toEqual(["hi"]);
});

test("a number offline longer than OFFLINE_GIVE_UP_MINUTES reports an error", async () => {
  const o = await onlineWorld({ env: { OFFLINE_GIVE_UP_MINUTES: "0.03" } });
  w = o.w;
  await introduce(o.w, o.ivan, o.anna, o.chatId);
  await o.w.app.call("DELETE", `/client?number=${o.anna.phone}`, undefined, o.token);
  await o.hook({ chatId: o.chatId, message: "nobody home", messageId: "off2" });
  const st = await o.w.planfix.waitFor(() => o.w.planfix.statuses("off2")[0], 15_000);
  expect(st.fields.messageStatus).toBe("error");
  expect(st.fields.messageStatusText).toMatch(/offline/);
});

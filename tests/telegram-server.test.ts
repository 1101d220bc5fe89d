// The loopback Telegram server against real GramJS clients over real TCP with real MTProto encryption:
// connecting, messaging both ways, files, updates and catch-up through updates.getDifference.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { Api, type TelegramClient } from "telegram";
import { NewMessage, type NewMessageEvent } from "telegram/events";
import { Raw } from "telegram/events/Raw";
import { CustomFile } from "telegram/client/uploads";
import { connectClient, stopClient, TelegramServer, tinyPng, waitFor, type Builtins, type WorldUser } from "./support/telegram/index.ts";

let server: TelegramServer;
let b: Builtins;
const clients: TelegramClient[] = [];

beforeAll(async () => {
  server = await TelegramServer.start();
  b = server.builtins!;
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map(stopClient));
});

afterAll(async () => {
  await server.stop();
  // No handler crashed and no key was ever used twice in this file.
  expect(server.internalErrors).toEqual([]);
  expect(server.metrics().duplicateEvents).toBe(0);
});

async function connect(who: WorldUser | Parameters<typeof connectClient>[1]): Promise<TelegramClient> {
  const c = await connectClient(server, who);
  clients.push(c);
  return c;
}

/** Every raw update the client dispatches (short updates as they come, `updates` unpacked). */
function rawUpdates(client: TelegramClient): Api.TypeUpdate[] {
  const list: Api.TypeUpdate[] = [];
  client.addEventHandler((u: Api.TypeUpdate) => void list.push(u), new Raw({}));
  return list;
}

function newMessages(client: TelegramClient): NewMessageEvent[] {
  const list: NewMessageEvent[] = [];
  client.addEventHandler((e: NewMessageEvent) => void list.push(e), new NewMessage({}));
  return list;
}

/** A user with one session, unknown to everybody else. */
let n = 0;
function freshUser(extra: Partial<Parameters<TelegramServer["addUser"]>[0]> = {}): WorldUser {
  n++;
  return server.addUser({ firstName: `User${n}`, lastName: "Test", username: `test_user_${n}`, ...extra });
}

describe("connecting", () => {
  test("connect() and getMe() return the session's own user", async () => {
    const c = await connect(b.alice);
    const me = (await c.getMe()) as Api.User;
    expect(me.id.toString()).toBe(String(b.alice.id));
    expect(me.self).toBe(true);
    expect(me.firstName).toBe("Alice");
    expect(me.username).toBe("alice");
    expect(me.phone).toBe(b.alice.phone);
    expect(server.calls.get("help.GetConfig")).toBeGreaterThanOrEqual(1);
    expect(server.liveConnections({ userId: b.alice.id })).toBe(1);
  });

  test("help.getConfig points every DC back at the loopback server", async () => {
    const c = await connect(b.alice);
    const cfg = await c.invoke(new Api.help.GetConfig());
    const ids = new Set(cfg.dcOptions.map((o) => o.id));
    expect([...ids].sort()).toEqual([1, 2, 3, 4, 5]);
    for (const o of cfg.dcOptions) {
      expect(o.ipAddress).toBe("127.0.0.1");
      expect(o.port).toBe(server.port);
    }
    expect(cfg.dcOptions.some((o) => o.mediaOnly)).toBe(true);
    expect(cfg.thisDc).toBe(server.world.dcId);
  });

  test("an unknown method gets an rpc_error, not silence", async () => {
    const c = await connect(b.alice);
    const err = await c.invoke(new Api.help.GetTermsOfServiceUpdate()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 400, errorMessage: "METHOD_NOT_SUPPORTED_BY_LOOPBACK" });
  });

  test("users, usernames, phones and privacy", async () => {
    const c = await connect(b.alice);
    const bob = (await c.getEntity("bob_example")) as Api.User;
    expect(bob.id.toString()).toBe(String(b.bob.id));
    expect(bob.phone ?? undefined).toBeUndefined(); // Bob hides his phone
    const planfix = (await c.getEntity("planfix_bot")) as Api.User;
    expect(planfix.firstName).toBe("Planfix");
    const err = await c.invoke(new Api.contacts.ResolveUsername({ username: "nobody_here" })).catch((e: unknown) => e);
    expect(err).toMatchObject({ errorMessage: "USERNAME_NOT_OCCUPIED" });

    const imported = await c.invoke(
      new Api.contacts.ImportContacts({
        contacts: [
          new Api.InputPhoneContact({ clientId: BigInt(1) as never, phone: `+${b.bob.phone}`, firstName: "B", lastName: "" }),
          new Api.InputPhoneContact({ clientId: BigInt(2) as never, phone: "+10000000000", firstName: "X", lastName: "" }),
        ],
      }),
    );
    expect(imported.imported.map((i) => i.userId.toString())).toEqual([String(b.bob.id)]);
    expect((imported.users[0] as Api.User).accessHash).toBeDefined();

    // The service user and the bot exist.
    const [service] = await c.invoke(
      new Api.users.GetUsers({ id: [new Api.InputUser({ userId: BigInt(777000) as never, accessHash: server.world.accessHash(b.alice.id, 777000) as never })] }),
    );
    expect((service as Api.User).firstName).toBe("Telegram");
    const bot = (await c.getEntity("loopback_bot")) as Api.User;
    expect(bot.bot).toBe(true);
  });

  test("a wrong access hash gets PEER_ID_INVALID; hashes differ per viewer", async () => {
    const carol = freshUser();
    const c = await connect(b.alice);
    const ownHash = server.world.accessHash(b.alice.id, carol.id);
    const bobsHash = server.world.accessHash(b.bob.id, carol.id);
    expect(ownHash).not.toBe(bobsHash);
    const send = (hash: bigint) =>
      c.invoke(
        new Api.messages.SendMessage({
          peer: new Api.InputPeerUser({ userId: BigInt(carol.id) as never, accessHash: hash as never }),
          message: "hello",
          randomId: BigInt(Date.now()) as never,
        }),
      );
    expect(await send(bobsHash).catch((e: unknown) => e)).toMatchObject({ code: 400, errorMessage: "PEER_ID_INVALID" });
    expect(await send(ownHash + 1n).catch((e: unknown) => e)).toMatchObject({ code: 400, errorMessage: "PEER_ID_INVALID" });
    expect(server.driver.messages(carol)).toHaveLength(0);
    await send(ownHash);
    expect(server.driver.messages(carol)).toHaveLength(1);
  });
});

describe("messages", () => {
  test("text both ways between two GramJS clients", async () => {
    const alice = await connect(b.alice);
    const bob = await connect(b.bob);
    const bobGot = newMessages(bob);
    const aliceGot = newMessages(alice);

    const sent = await alice.sendMessage("bob_example", { message: "hi Bob" });
    expect(sent.out).toBe(true);
    const ev = await waitFor(() => bobGot.find((e) => e.message.message === "hi Bob"), 5000, "Bob's event");
    expect(ev.message.out).toBe(false);
    expect(ev.message.senderId?.toString()).toBe(String(b.alice.id));
    expect(ev.isPrivate).toBe(true);

    await bob.sendMessage("alice", { message: "hi Alice" });
    const back = await waitFor(() => aliceGot.find((e) => e.message.message === "hi Alice"), 5000, "Alice's event");
    expect(back.message.senderId?.toString()).toBe(String(b.bob.id));

    // Both mailboxes hold both messages, each with its own ids and out flags.
    const aliceBox = server.driver.messages(b.alice, b.bob).slice(-2);
    expect(aliceBox.map((m) => [m.text, m.out])).toEqual([
      ["hi Bob", true],
      ["hi Alice", false],
    ]);
    expect(aliceBox[0]!.id).toBe(sent.id);
    expect(aliceBox[0]!.randomId).toBeDefined();
    const bobBox = server.driver.messages(b.bob, b.alice).slice(-2);
    expect(bobBox.map((m) => [m.text, m.out])).toEqual([
      ["hi Bob", false],
      ["hi Alice", true],
    ]);
  });

  test("plain text arrives as updateShortMessage with pts; our own send returns updateShortSentMessage", async () => {
    const dave = freshUser();
    const alice = await connect(b.alice);
    const d = await connect(dave);
    const got = rawUpdates(d);
    const stateBefore = await d.invoke(new Api.updates.GetState());
    const peer = (await alice.getInputEntity(dave.username!)) as Api.InputPeerUser;
    const result = await alice.invoke(new Api.messages.SendMessage({ peer, message: "short", randomId: BigInt(42) as never }));
    expect(result).toBeInstanceOf(Api.UpdateShortSentMessage);
    expect((result as Api.UpdateShortSentMessage).out).toBe(true);
    const u = await waitFor(() => got.find((x) => x instanceof Api.UpdateShortMessage) as Api.UpdateShortMessage | undefined);
    expect(u.message).toBe("short");
    expect(u.userId.toString()).toBe(String(b.alice.id));
    expect(u.pts).toBe(stateBefore.pts + 1);
    expect(u.ptsCount).toBe(1);
  });

  test("the same random_id twice gives the same message, not a second one", async () => {
    const erin = freshUser();
    const alice = await connect(b.alice);
    const peer = await alice.getInputEntity(erin.username!);
    const randomId = BigInt("1234567890123") as never;
    const r1 = (await alice.invoke(new Api.messages.SendMessage({ peer, message: "once", randomId }))) as Api.UpdateShortSentMessage;
    const r2 = (await alice.invoke(new Api.messages.SendMessage({ peer, message: "once", randomId }))) as Api.UpdateShortSentMessage;
    expect(r2.id).toBe(r1.id);
    expect(r2.pts).toBe(r1.pts);
    expect(server.driver.messages(erin).map((m) => m.text)).toEqual(["once"]);
    // A different random_id is a new message.
    await alice.invoke(new Api.messages.SendMessage({ peer, message: "once", randomId: BigInt(7) as never }));
    expect(server.driver.messages(erin)).toHaveLength(2);
  });

  test("the sender's other session gets updateNewMessage with out = true", async () => {
    const frank = freshUser();
    const second = server.addSession(b.alice.id, "alice-phone");
    const main = await connect(b.alice);
    const phone = await connect(second);
    const phoneGot = rawUpdates(phone);
    const mainGot = rawUpdates(main);
    await main.sendMessage(frank.username!, { message: "from the bridge" });
    const echo = await waitFor(
      () => phoneGot.find((u) => u instanceof Api.UpdateNewMessage && (u.message as Api.Message).message === "from the bridge"),
      5000,
      "echo on the other session",
    );
    const msg = (echo as Api.UpdateNewMessage).message as Api.Message;
    expect(msg.out).toBe(true);
    expect((msg.peerId as Api.PeerUser).userId.toString()).toBe(String(frank.id));
    // The sending session itself gets no echo: its RPC result is the answer.
    await Bun.sleep(100);
    expect(mainGot.some((u) => u instanceof Api.UpdateNewMessage)).toBe(false);
  });

  test("reading a chat gives the other side updateReadHistoryOutbox", async () => {
    const gina = freshUser();
    const alice = await connect(b.alice);
    const got = rawUpdates(alice);
    const sent = await alice.sendMessage(gina.username!, { message: "please read" });
    server.driver.readHistory(gina, b.alice);
    const u = await waitFor(() => got.find((x) => x instanceof Api.UpdateReadHistoryOutbox) as Api.UpdateReadHistoryOutbox | undefined);
    expect(u.maxId).toBe(sent.id);
    expect((u.peer as Api.PeerUser).userId.toString()).toBe(String(gina.id));

    // And the other way round: the client reads, the driver-side sender sees its outbox read.
    const m = server.driver.sendText(gina, b.alice, "your turn");
    const aliceCopy = m.copies[b.alice.id]!;
    await waitFor(() => server.driver.messages(b.alice, gina).some((x) => x.id === aliceCopy));
    const peer = await alice.getInputEntity(gina.username!);
    const affected = await alice.invoke(new Api.messages.ReadHistory({ peer, maxId: aliceCopy }));
    expect(affected.ptsCount).toBe(1);
    expect(server.world.user(gina.id).mailbox.readOutboxMaxId.get(`u${b.alice.id}`)).toBe(m.id);
  });

  test("a driver edit reaches the recipient as updateEditMessage; name changes show in later users", async () => {
    const hank = freshUser();
    const alice = await connect(b.alice);
    const got = rawUpdates(alice);
    const m = server.driver.sendText(hank, b.alice, "draft");
    server.driver.editMessage(hank, m.id, "final");
    const u = await waitFor(() => got.find((x) => x instanceof Api.UpdateEditMessage) as Api.UpdateEditMessage | undefined);
    const edited = u.message as Api.Message;
    expect(edited.message).toBe("final");
    expect(edited.id).toBe(m.copies[b.alice.id]!);
    expect(edited.editDate).toBeGreaterThan(0);

    server.driver.setName(hank, "Henry", "Renamed");
    const [fresh] = await alice.invoke(
      new Api.users.GetUsers({ id: [new Api.InputUser({ userId: BigInt(hank.id) as never, accessHash: server.world.accessHash(b.alice.id, hank.id) as never })] }),
    );
    expect((fresh as Api.User).firstName).toBe("Henry");
    expect((fresh as Api.User).lastName).toBe("Renamed");
  });

  test("group messages reach members as updateShortChatMessage", async () => {
    const bob = await connect(b.bob);
    const got = rawUpdates(bob);
    server.driver.sendText(b.alice, b.group, "hello group");
    const u = await waitFor(() => got.find((x) => x instanceof Api.UpdateShortChatMessage) as Api.UpdateShortChatMessage | undefined);
    expect(u.message).toBe("hello group");
    expect(u.chatId.toString()).toBe(String(b.group.id));
    expect(u.fromId.toString()).toBe(String(b.alice.id));
    expect(server.driver.lastMessage(b.planfixBot, b.group)?.text).toBe("hello group");
  });

  test("messages.getMessages returns stored messages and messageEmpty for unknown ids", async () => {
    const ivan = freshUser();
    const alice = await connect(b.alice);
    const m = server.driver.sendText(ivan, b.alice, "fetch me");
    const res = (await alice.invoke(
      new Api.messages.GetMessages({ id: [new Api.InputMessageID({ id: m.copies[b.alice.id]! }), new Api.InputMessageID({ id: 999999 })] }),
    )) as Api.messages.Messages;
    expect((res.messages[0] as Api.Message).message).toBe("fetch me");
    expect(res.messages[1]).toBeInstanceOf(Api.MessageEmpty);
    expect(res.users.some((u) => u.id.toString() === String(ivan.id))).toBe(true);
  });
  test("contacts and locations from the driver; history; entity by phone after importing the contact", async () => {
    const lena = freshUser({ phone: "+7 (912) 555-00-11" });
    const alice = await connect(b.alice);
    const got = newMessages(alice);
    server.driver.sendContact(lena, b.alice, { phone: b.bob.phone, firstName: "Bob" });
    server.driver.sendLocation(lena, b.alice, 55.75, 37.62);
    await waitFor(() => got.length >= 2);
    const contact = got[0]!.message.media as Api.MessageMediaContact;
    expect(contact).toBeInstanceOf(Api.MessageMediaContact);
    expect(contact.userId.toString()).toBe(String(b.bob.id));
    const geo = (got[1]!.message.media as Api.MessageMediaGeo).geo as Api.GeoPoint;
    expect([geo.lat, geo.long]).toEqual([55.75, 37.62]);

    await alice.invoke(
      new Api.contacts.ImportContacts({ contacts: [new Api.InputPhoneContact({ clientId: BigInt(9) as never, phone: "79125550011", firstName: "L", lastName: "" })] }),
    );
    const byPhone = (await alice.getEntity("+79125550011")) as Api.User;
    expect(byPhone.id.toString()).toBe(String(lena.id));
    const contacts = await alice.invoke(new Api.contacts.GetContacts({ hash: BigInt(0) as never }));
    expect((contacts as Api.contacts.Contacts).users.some((u) => u.id.toString() === String(lena.id))).toBe(true);

    const history = (await alice.invoke(
      new Api.messages.GetHistory({ peer: byPhone, offsetId: 0, offsetDate: 0, addOffset: 0, limit: 10, maxId: 0, minId: 0, hash: BigInt(0) as never }),
    )) as Api.messages.Messages;
    expect(history.messages.map((m) => (m as Api.Message).media?.className)).toEqual(["MessageMediaGeo", "MessageMediaContact"]);
  });
});

describe("files", () => {
  test("a photo sent by one client downloads byte-identical on the other", async () => {
    const alice = await connect(b.alice);
    const bob = await connect(b.bob);
    const bobGot = newMessages(bob);
    const photo = tinyPng([10, 200, 30]);
    const sent = await alice.sendFile("bob_example", { file: new CustomFile("pic.png", photo.length, "", photo), caption: "look" });
    expect(sent.media).toBeInstanceOf(Api.MessageMediaPhoto);
    const ev = await waitFor(() => bobGot.find((e) => e.message.message === "look"), 5000, "photo event");
    expect(ev.message.media).toBeInstanceOf(Api.MessageMediaPhoto);
    const downloaded = await bob.downloadMedia(ev.message, {});
    expect(Buffer.compare(downloaded as Buffer, photo)).toBe(0);
    const stored = server.driver.lastMessage(b.bob, b.alice)!;
    expect(stored.media?.kind).toBe("photo");
    expect(Buffer.compare(stored.media!.bytes!, photo)).toBe(0);
  });

  test("a multi-part document (> 512 KB) keeps its bytes, name and mime type", async () => {
    const alice = await connect(b.alice);
    const bob = await connect(b.bob);
    const bobGot = newMessages(bob);
    const data = randomBytes(1_300_000);
    await alice.sendFile("bob_example", {
      file: new CustomFile("report.bin", data.length, "", data),
      caption: "big file",
      forceDocument: true,
    });
    const ev = await waitFor(() => bobGot.find((e) => e.message.message === "big file"), 10000, "document event");
    const doc = (ev.message.media as Api.MessageMediaDocument).document as Api.Document;
    expect(Number(doc.size)).toBe(data.length);
    const name = doc.attributes.find((a) => a instanceof Api.DocumentAttributeFilename) as Api.DocumentAttributeFilename;
    expect(name.fileName).toBe("report.bin");
    const downloaded = (await bob.downloadMedia(ev.message, {})) as Buffer;
    expect(downloaded.length).toBe(data.length);
    expect(Buffer.compare(downloaded, data)).toBe(0);
    const stored = server.driver.lastMessage(b.bob, b.alice)!;
    expect(stored.media).toMatchObject({ kind: "document", fileName: "report.bin", docKind: "document" });
    expect(server.calls.get("upload.SaveFilePart")).toBeGreaterThanOrEqual(3);
  });

  test("a driver-sent voice note and file download as sent", async () => {
    const bob = await connect(b.bob);
    const got = newMessages(bob);
    const ogg = randomBytes(5000);
    server.driver.sendFile(b.alice, b.bob, ogg, "note.ogg", "audio/ogg", { kind: "voice" });
    const ev = await waitFor(() => got.find((e) => e.message.media instanceof Api.MessageMediaDocument));
    expect((ev.message.media as Api.MessageMediaDocument).voice).toBe(true);
    expect(ev.message.voice).toBeDefined();
    expect(Buffer.compare((await bob.downloadMedia(ev.message, {})) as Buffer, ogg)).toBe(0);
  });

  test("a profile photo downloads as Telegram serves it", async () => {
    const bob = await connect(b.bob);
    const alice = (await bob.getEntity("alice")) as Api.User;
    expect(alice.photo).toBeInstanceOf(Api.UserProfilePhoto);
    const bytes = (await bob.downloadProfilePhoto(alice, {})) as Buffer;
    expect(Buffer.compare(bytes, b.alice.photo!.bytes)).toBe(0);
    const full = await bob.invoke(new Api.users.GetFullUser({ id: alice }));
    expect(full.fullUser.profilePhoto).toBeInstanceOf(Api.Photo);
  });
});

describe("catching up", () => {
  test("messages that arrived while away come back through updates.getDifference", async () => {
    const jack = freshUser();
    let c = await connect(jack);
    const before = await c.invoke(new Api.updates.GetState());
    await stopClient(clients.pop()!);
    server.driver.sendText(b.alice, jack, "while you were away 1");
    server.driver.sendPhoto(b.bob, jack, tinyPng(), "and a photo");
    c = await connect(jack);
    const diff = await c.invoke(new Api.updates.GetDifference({ pts: before.pts, date: before.date, qts: 0 }));
    expect(diff).toBeInstanceOf(Api.updates.Difference);
    const d = diff as Api.updates.Difference;
    expect(d.newMessages.map((m) => (m as Api.Message).message)).toEqual(["while you were away 1", "and a photo"]);
    expect(d.state.pts).toBe(before.pts + 2);
    expect(d.users.map((u) => u.id.toString())).toEqual(expect.arrayContaining([String(b.alice.id), String(b.bob.id)]));
    const again = await c.invoke(new Api.updates.GetDifference({ pts: d.state.pts, date: d.state.date, qts: 0 }));
    expect(again).toBeInstanceOf(Api.updates.DifferenceEmpty);
  });

  test("a long backlog comes as differenceSlice pages that together hold every message once", async () => {
    const kate = freshUser();
    server.world.differenceLimit = 10;
    try {
      for (let i = 0; i < 35; i++) server.driver.sendText(i % 2 ? b.alice : b.bob, kate, `backlog ${i}`);
      const c = await connect(kate);
      let pts = 0;
      const seen: string[] = [];
      let slices = 0;
      for (let round = 0; round < 20; round++) {
        const diff = await c.invoke(new Api.updates.GetDifference({ pts, date: 0, qts: 0 }));
        if (diff instanceof Api.updates.DifferenceSlice) {
          slices++;
          seen.push(...diff.newMessages.map((m) => (m as Api.Message).message));
          pts = diff.intermediateState.pts;
        } else if (diff instanceof Api.updates.Difference) {
          seen.push(...diff.newMessages.map((m) => (m as Api.Message).message));
          pts = diff.state.pts;
          break;
        } else break;
      }
      expect(slices).toBe(3);
      expect(seen).toEqual(Array.from({ length: 35 }, (_, i) => `backlog ${i}`));
      expect(pts).toBe(35);
    } finally {
      server.world.differenceLimit = 100;
    }
  });
});

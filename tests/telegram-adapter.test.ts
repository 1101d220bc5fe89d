// The GramJS adapter (src/telegram/) against the loopback MTProto server: real GramJS, real sockets.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { createServer } from "node:net";
import {
  TelegramFailure,
  type ChatMessage,
  type ConnectOptions,
  type PeerInfo,
  type TelegramConnection,
  type TelegramEvents,
  type UpdateState,
} from "../src/domain/telegram-port.ts";
import { createLogger } from "../src/log.ts";
import { parseStringSession } from "../src/telegram/session-file.ts";
import { createGramjsConnector, type GramjsConnectorOptions } from "../src/telegram/connector.ts";
import { TelegramServer, tinyPng, waitFor, type WorldUser } from "./support/telegram/index.ts";

const log = createLogger("silent");

interface Recorder extends TelegramEvents {
  messages: ChatMessage[];
  reads: { peer: string; maxId: number }[];
  peers: PeerInfo[];
  states: UpdateState[];
  lost: TelegramFailure[];
  /** Delay each onMessage (to see that the state waits for it). */
  delayMs: number;
}

function recorder(): Recorder {
  const r: Recorder = {
    messages: [],
    reads: [],
    peers: [],
    states: [],
    lost: [],
    delayMs: 0,
    async onMessage(m) {
      if (r.delayMs) await Bun.sleep(r.delayMs);
      r.messages.push(m);
    },
    async onReadOutbox(peer, maxId) {
      r.reads.push({ peer, maxId });
    },
    onPeers(p) {
      r.peers.push(...p);
    },
    onUpdateState(s) {
      r.states.push(s);
    },
    onLost(f) {
      r.lost.push(f);
    },
  };
  return r;
}

let server: TelegramServer;
const open: TelegramConnection[] = [];

beforeAll(async () => {
  server = await TelegramServer.start({ differenceLimit: 10 });
});

afterEach(async () => {
  server.stall(false);
  server.faults.clear();
  await Promise.all(open.splice(0).map((c) => c.close()));
  // Whatever a test did, nothing of ours stays connected.
  await waitFor(() => server.metrics().sockets === 0, 3000, "every socket to close");
});

afterAll(async () => {
  await server.stop();
});

let counter = 0;
function newUser(name = "Owner"): WorldUser {
  counter++;
  return server.addUser({ firstName: `${name}${counter}`, username: `${name.toLowerCase()}_${counter}_${Date.now() % 100000}` });
}

function connector(extra: Partial<GramjsConnectorOptions> = {}) {
  return createGramjsConnector({ endpoint: `${server.host}:${server.port}`, ...extra });
}

async function connect(user: WorldUser, events: TelegramEvents, extra: Partial<ConnectOptions> = {}, conn: Partial<GramjsConnectorOptions> = {}) {
  const c = await connector(conn).connect({
    session: parseStringSession(server.sessionString(user)),
    apiId: 1,
    apiHash: "loopback",
    timeoutMs: 3000,
    updateState: null,
    knownPeers: [],
    events,
    log,
    ...extra,
  });
  open.push(c);
  return c;
}

async function connectFails(user: WorldUser, extra: Partial<ConnectOptions> = {}, conn: Partial<GramjsConnectorOptions> = {}): Promise<TelegramFailure> {
  try {
    await connect(user, recorder(), extra, conn);
  } catch (e) {
    expect(e).toBeInstanceOf(TelegramFailure);
    return e as TelegramFailure;
  }
  throw new Error("connect succeeded");
}

const noConnections = (user: WorldUser) => waitFor(() => server.liveConnections({ userId: user.id }) === 0, 3000, "connections to close");

function peerOf(owner: WorldUser, other: WorldUser): PeerInfo {
  return {
    userId: String(other.id),
    accessHash: String(server.world.accessHash(owner.id, other.id)),
    username: other.username ?? null,
    phone: null,
    firstName: other.firstName,
    lastName: null,
    isBot: false,
    hasPhoto: false,
  };
}

describe("connect", () => {
  test("connects, reports self and the initial update state; close leaves no connection", async () => {
    const owner = newUser();
    const ev = recorder();
    const c = await connect(owner, ev);
    expect(c.self.userId).toBe(String(owner.id));
    expect(c.self.firstName).toBe(owner.firstName);
    expect(c.self.username).toBe(owner.username!);
    expect(c.self.phone).toBe(owner.phone);
    expect(ev.states.length).toBe(1);
    expect(server.liveConnections({ userId: owner.id })).toBe(1);
    await c.close();
    await c.close(); // idempotent
    await noConnections(owner);
    expect(ev.lost).toEqual([]);
  });

  test("revoked session → unauthorized, nothing left open", async () => {
    const owner = newUser();
    server.revokeSession(owner);
    const f = await connectFails(owner);
    expect(f.kind).toBe("unauthorized");
    expect(f.reason).toBe("SESSION_REVOKED");
    await noConnections(owner);
  });

  test("AUTH_KEY_UNREGISTERED → unauthorized", async () => {
    const owner = newUser();
    server.revokeSession(owner, "AUTH_KEY_UNREGISTERED");
    expect((await connectFails(owner)).kind).toBe("unauthorized");
  });

  test("a key the server does not know (transport error -404) → unauthorized", async () => {
    const owner = newUser();
    const session = { ...parseStringSession(server.sessionString(owner)), authKey: new Uint8Array(256).fill(7) };
    const t0 = Date.now();
    const f = await connectFails(owner, { session });
    expect(f.kind).toBe("unauthorized");
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  test("banned account → banned", async () => {
    const owner = newUser();
    server.banUser(owner.id);
    const f = await connectFails(owner);
    expect(f.kind).toBe("banned");
    expect(f.reason).toBe("USER_DEACTIVATED_BAN");
    await noConnections(owner);
  });

  test("FLOOD_WAIT on connect → flood_wait with the seconds", async () => {
    const owner = newUser();
    server.faults.floodWait("users.GetUsers", 42, { userId: owner.id });
    const f = await connectFails(owner);
    expect(f.kind).toBe("flood_wait");
    expect(f.floodSeconds).toBe(42);
    await noConnections(owner);
  });

  test("stalled server → timeout within the bound, socket closed", async () => {
    const owner = newUser();
    server.stall(true);
    const t0 = Date.now();
    const f = await connectFails(owner, { timeoutMs: 700 });
    const took = Date.now() - t0;
    expect(f.kind).toBe("timeout");
    expect(took).toBeGreaterThanOrEqual(650);
    expect(took).toBeLessThan(2000);
    await noConnections(owner);
    server.stall(false);
  });

  test("refused connection → network", async () => {
    const owner = newUser();
    // A port nobody listens on.
    const probe = createServer();
    const port = await new Promise<number>((r) => probe.listen(0, "127.0.0.1", () => r((probe.address() as { port: number }).port)));
    await new Promise<void>((r) => probe.close(() => r()));
    const f = await connectFails(owner, {}, { endpoint: `127.0.0.1:${port}` });
    expect(f.kind).toBe("network");
  });

  test("a key used twice at once → duplicated", async () => {
    const owner = newUser();
    const first = await connect(owner, recorder());
    const f = await connectFails(owner);
    expect(f.kind).toBe("duplicated");
    await first.close();
  });
});

describe("losing the connection", () => {
  test("dropped connection → onLost once (network), everything closed, no reconnect", async () => {
    const owner = newUser();
    const ev = recorder();
    await connect(owner, ev);
    server.dropAllConnections();
    await waitFor(() => ev.lost.length > 0, 3000, "onLost");
    expect(ev.lost[0]!.kind).toBe("network");
    await Bun.sleep(1500); // GramJS would reconnect after 1 s; we must not
    expect(ev.lost.length).toBe(1);
    expect(server.liveConnections({ userId: owner.id })).toBe(0);
  });

  test("a healthy connection survives many keepalive rounds; updates.getState runs periodically", async () => {
    const owner = newUser();
    const ev = recorder();
    const states = server.calls.get("updates.GetState") ?? 0;
    await connect(owner, ev, {}, { pingIntervalMs: 50, pingTimeoutMs: 500, stateCheckEvery: 3 });
    await Bun.sleep(1000);
    expect(ev.lost).toEqual([]);
    expect(server.calls.get("updates.GetState")! - states).toBeGreaterThanOrEqual(3);
  });

  test("stalled server mid-session → keepalive notices: onLost timeout", async () => {
    const owner = newUser();
    const ev = recorder();
    await connect(owner, ev, {}, { pingIntervalMs: 200, pingTimeoutMs: 300 });
    server.stall(true);
    await waitFor(() => ev.lost.length > 0, 3000, "onLost");
    expect(ev.lost[0]!.kind).toBe("timeout");
    await noConnections(owner);
    expect(ev.lost.length).toBe(1);
  });

  test("key revoked mid-session → the call fails unauthorized and onLost(unauthorized) once", async () => {
    const owner = newUser();
    const alice = server.builtins!.alice;
    const ev = recorder();
    const c = await connect(owner, ev);
    server.revokeSession(owner);
    const err = await c.sendText(peerOf(owner, alice), "hi", "1").catch((e) => e);
    expect(err).toBeInstanceOf(TelegramFailure);
    expect(err.kind).toBe("unauthorized");
    await waitFor(() => ev.lost.length > 0, 3000, "onLost");
    expect(ev.lost.map((f) => f.kind)).toEqual(["unauthorized"]);
    await noConnections(owner);
    const after = await c.sendText(peerOf(owner, alice), "again", "2").catch((e) => e);
    expect(after).toBeInstanceOf(TelegramFailure);
  });
});

describe("messages", () => {
  test("incoming text from an unknown user arrives with the sender's access hash", async () => {
    const owner = newUser();
    const alice = server.builtins!.alice;
    const ev = recorder();
    await connect(owner, ev);
    const differences = server.calls.get("updates.GetDifference") ?? 0;
    const sent = server.driver.sendText(alice, owner, "hello owner");
    await waitFor(() => ev.messages.length === 1, 3000, "message");
    const m = ev.messages[0]!;
    expect(m.text).toBe("hello owner");
    expect(m.out).toBe(false);
    expect(m.kind).toBe("text");
    expect(m.messageId).toBe(sent.copies[owner.id]!);
    expect(m.peer.userId).toBe(String(alice.id));
    expect(m.peer.accessHash).toBe(String(server.world.accessHash(owner.id, alice.id)));
    expect(m.peer.isBot).toBe(false);
    expect(ev.peers.some((p) => p.userId === String(alice.id) && p.accessHash === m.peer.accessHash)).toBe(true);
    expect(ev.peers.some((p) => p.userId === String(owner.id))).toBe(false); // not ourselves
    // The short update named the sender by id only: getDifference fetched the user.
    expect(server.calls.get("updates.GetDifference")).toBe(differences + 1);
    const last = ev.states[ev.states.length - 1]!;
    expect(last.pts).toBe(owner.mailbox.pts);
  });

  test("incoming text from a known user; bots are flagged", async () => {
    const owner = newUser();
    const { alice, bot } = server.builtins!;
    const ev = recorder();
    await connect(owner, ev, { knownPeers: [peerOf(owner, alice)] });
    server.driver.sendText(alice, owner, "one");
    server.driver.sendText(bot, owner, "beep");
    await waitFor(() => ev.messages.length === 2, 3000, "messages");
    expect(ev.messages.map((m) => m.text)).toEqual(["one", "beep"]);
    expect(ev.messages[1]!.peer.isBot).toBe(true);
  });

  test("sendText delivers to the peer, returns the message id, is not echoed as an incoming message", async () => {
    const owner = newUser();
    const alice = server.builtins!.alice;
    const ev = recorder();
    const c = await connect(owner, ev);
    const r = await c.sendText(peerOf(owner, alice), "hi Alice", "12345");
    const mine = server.driver.lastMessage(owner, alice)!;
    expect(r.messageId).toBe(mine.id);
    expect(mine.text).toBe("hi Alice");
    expect(server.driver.lastMessage(alice, owner)!.text).toBe("hi Alice");
    // The pts of our own send is applied (no gap on the next update) and nothing is echoed.
    server.driver.sendText(alice, owner, "reply");
    await waitFor(() => ev.messages.length === 1, 3000, "reply");
    await Bun.sleep(100);
    expect(ev.messages.map((m) => m.text)).toEqual(["reply"]);
    expect(ev.states[ev.states.length - 1]!.pts).toBe(owner.mailbox.pts);
  });

  test("the same randomId twice makes one message at the receiver", async () => {
    const owner = newUser();
    const alice = server.builtins!.alice;
    const c = await connect(owner, recorder());
    const before = server.driver.messages(alice, owner).length;
    const a = await c.sendText(peerOf(owner, alice), "only once", "777");
    const b = await c.sendText(peerOf(owner, alice), "only once", "777");
    expect(b.messageId).toBe(a.messageId);
    expect(server.driver.messages(alice, owner).length).toBe(before + 1);
  });

  test("a message the owner sends from another device arrives with out=true", async () => {
    const owner = newUser();
    const alice = server.builtins!.alice;
    const ev = recorder();
    await connect(owner, ev, { knownPeers: [peerOf(owner, alice)] });
    server.driver.sendText(owner, alice, "from my phone");
    await waitFor(() => ev.messages.length === 1, 3000, "message");
    expect(ev.messages[0]!.out).toBe(true);
    expect(ev.messages[0]!.peer.userId).toBe(String(alice.id));
    expect(ev.messages[0]!.text).toBe("from my phone");
  });

  test("edits arrive with editDate; read outbox is reported", async () => {
    const owner = newUser();
    const alice = server.builtins!.alice;
    const ev = recorder();
    const c = await connect(owner, ev);
    const sent = server.driver.sendText(alice, owner, "typo");
    await waitFor(() => ev.messages.length === 1, 3000, "message");
    server.driver.editMessage(alice, sent.id, "fixed");
    await waitFor(() => ev.messages.length === 2, 3000, "edit");
    expect(ev.messages[1]!.text).toBe("fixed");
    expect(ev.messages[1]!.messageId).toBe(ev.messages[0]!.messageId);
    expect(ev.messages[1]!.editDate).toBeGreaterThan(0);

    const out = await c.sendText(peerOf(owner, alice), "did you read this?", "99");
    server.driver.readHistory(alice, owner);
    await waitFor(() => ev.reads.length === 1, 3000, "read outbox");
    expect(ev.reads[0]).toEqual({ peer: String(alice.id), maxId: out.messageId });
  });

  test("contacts and locations are rendered as text", async () => {
    const owner = newUser();
    const alice = server.builtins!.alice;
    const ev = recorder();
    await connect(owner, ev);
    server.driver.sendContact(alice, owner, { phone: "+15550001", firstName: "Carol", lastName: "Doe" });
    server.driver.sendLocation(alice, owner, 55.751244, 37.618423);
    await waitFor(() => ev.messages.length === 2, 3000, "messages");
    expect(ev.messages[0]!.kind).toBe("contact");
    expect(ev.messages[0]!.text).toContain("Carol Doe");
    expect(ev.messages[0]!.text).toContain("+15550001");
    expect(ev.messages[1]!.kind).toBe("location");
    expect(ev.messages[1]!.text).toContain("55.751244, 37.618423");
  });
});

describe("files", () => {
  const pdf = Buffer.concat([Buffer.from("%PDF-1.4\n"), Buffer.alloc(700 * 1024, 7)]); // > one 512 KB part

  test("incoming photo and document download byte for byte; kinds and names", async () => {
    const owner = newUser();
    const alice = server.builtins!.alice;
    const ev = recorder();
    const c = await connect(owner, ev);
    const png = tinyPng([1, 2, 3]);
    server.driver.sendPhoto(alice, owner, png, "a photo");
    server.driver.sendFile(alice, owner, pdf, "report.pdf", "application/pdf", { caption: "the report" });
    server.driver.sendFile(alice, owner, Buffer.from("OggS-voice"), "voice.ogg", "audio/ogg", { kind: "voice" });
    server.driver.sendFile(alice, owner, Buffer.from("mp4-round"), "round.mp4", "video/mp4", { kind: "video_note" });
    server.driver.sendFile(alice, owner, Buffer.from("webp"), "sticker.webp", "image/webp", { kind: "sticker" });
    await waitFor(() => ev.messages.length === 5, 3000, "media messages");
    const [photo, doc, voice, round, sticker] = ev.messages as [ChatMessage, ChatMessage, ChatMessage, ChatMessage, ChatMessage];

    expect(photo.kind).toBe("media");
    expect(photo.text).toBe("a photo");
    expect(photo.media!.kind).toBe("photo");
    expect(photo.media!.fileName).toMatch(/^photo_-?\d+\.jpg$/);
    expect(Buffer.from(await c.downloadMedia(photo.media!, 1 << 20)).equals(png)).toBe(true);

    expect(doc.media!.kind).toBe("document");
    expect(doc.media!.fileName).toBe("report.pdf");
    expect(doc.media!.mimeType).toBe("application/pdf");
    expect(doc.media!.size).toBe(pdf.length);
    expect(doc.text).toBe("the report");
    expect(Buffer.from(await c.downloadMedia(doc.media!, 10 << 20)).equals(pdf)).toBe(true);

    expect(voice.media!.kind).toBe("voice");
    expect(round.media!.kind).toBe("video_note");
    expect(sticker.media!.kind).toBe("sticker");

    // The handle survives a JSON round trip (the domain may store it).
    const stored = JSON.parse(JSON.stringify(doc.media));
    expect(Buffer.from(await c.downloadMedia(stored, 10 << 20)).equals(pdf)).toBe(true);

    // Too large: refused before downloading.
    const calls = server.calls.get("upload.GetFile") ?? 0;
    const err = await c.downloadMedia(doc.media!, 1000).catch((e) => e);
    expect(err).toBeInstanceOf(TelegramFailure);
    expect(err.reason).toMatch(/^FILE_TOO_LARGE/);
    expect(server.calls.get("upload.GetFile") ?? 0).toBe(calls);
  });

  test("sendFile: PNG goes as a photo, PDF as a named document; bytes identical at the receiver", async () => {
    const owner = newUser();
    const alice = server.builtins!.alice;
    const ev = recorder();
    const c = await connect(owner, ev);
    const png = tinyPng([9, 9, 9]);
    const p = await c.sendFile(peerOf(owner, alice), { name: "pic.png", mimeType: "image/png", bytes: png }, "look", "5001");
    const d = await c.sendFile(peerOf(owner, alice), { name: "report.pdf", mimeType: "application/pdf", bytes: pdf }, "", "5002");
    const atAlice = server.driver.messages(alice, owner);
    const photoMsg = atAlice.find((m) => m.copies[owner.id] === p.messageId)!;
    const docMsg = atAlice.find((m) => m.copies[owner.id] === d.messageId)!;
    expect(photoMsg.media!.kind).toBe("photo");
    expect(photoMsg.text).toBe("look");
    expect(Buffer.from(photoMsg.media!.bytes!).equals(png)).toBe(true);
    expect(docMsg.media!.kind).toBe("document");
    expect(docMsg.media!.fileName).toBe("report.pdf");
    expect(docMsg.media!.mimeType).toBe("application/pdf");
    expect(Buffer.from(docMsg.media!.bytes!).equals(pdf)).toBe(true);
    await Bun.sleep(100);
    expect(ev.messages).toEqual([]); // our own sends are not echoed
    expect(ev.states[ev.states.length - 1]!.pts).toBe(owner.mailbox.pts);
  });

  test("a file on another DC: the file connection fails in bounded time and leaves nothing behind", async () => {
    // The loopback server does no key exchange, so a connection to "another DC" (a new auth key)
    // fails; GramJS's own exported-sender code would retry that forever, even after destroy().
    const owner = newUser();
    const alice = server.builtins!.alice;
    const ev = recorder();
    const session = { ...parseStringSession(server.sessionString(owner)), dcId: server.world.dcId === 1 ? 3 : 1 };
    const c = await connect(owner, ev, { session });
    server.driver.sendPhoto(alice, owner, tinyPng(), "");
    await waitFor(() => ev.messages.length === 1, 3000, "photo");
    const t0 = Date.now();
    const err = await c.downloadMedia(ev.messages[0]!.media!, 1 << 20).catch((e) => e);
    expect(err).toBeInstanceOf(TelegramFailure);
    expect(err.kind).toBe("network");
    expect(Date.now() - t0).toBeLessThan(3000);
    for (let i = 0; i < 5; i++) {
      await Bun.sleep(300);
      expect(server.metrics().sockets).toBe(1); // only the main connection: no retry loop
    }
    expect(ev.lost).toEqual([]);
  });

  test("FILE_REFERENCE_EXPIRED: the message is fetched again and the download goes on", async () => {
    const owner = newUser();
    const alice = server.builtins!.alice;
    const ev = recorder();
    const c = await connect(owner, ev);
    const bytes = Buffer.from("some document bytes");
    server.driver.sendFile(alice, owner, bytes, "notes.txt", "text/plain");
    await waitFor(() => ev.messages.length === 1, 3000, "document");
    server.faults.fail("upload.GetFile", 400, "FILE_REFERENCE_EXPIRED", { userId: owner.id });
    const got = await c.downloadMedia(ev.messages[0]!.media!, 1 << 20);
    expect(Buffer.from(got).equals(bytes)).toBe(true);
    expect(server.calls.get("messages.GetMessages")).toBeGreaterThanOrEqual(1);
  });

  test("a picture Telegram refuses as a photo is sent as a document", async () => {
    const owner = newUser();
    const alice = server.builtins!.alice;
    const c = await connect(owner, recorder());
    server.faults.fail("messages.SendMedia", 400, "PHOTO_INVALID_DIMENSIONS", { userId: owner.id });
    const png = tinyPng([4, 5, 6]);
    const r = await c.sendFile(peerOf(owner, alice), { name: "wide.png", mimeType: "image/png", bytes: png }, "", "6001");
    const m = server.driver.messages(alice, owner).find((x) => x.copies[owner.id] === r.messageId)!;
    expect(m.media!.kind).toBe("document");
    expect(m.media!.fileName).toBe("wide.png");
    expect(Buffer.from(m.media!.bytes!).equals(png)).toBe(true);
  });

  test("profile photo: Alice's bytes; Bob has none", async () => {
    const owner = newUser();
    const { alice, bob } = server.builtins!;
    const c = await connect(owner, recorder());
    const bytes = await c.downloadProfilePhoto(peerOf(owner, alice));
    expect(Buffer.from(bytes!).equals(alice.photo!.bytes)).toBe(true);
    expect(await c.downloadProfilePhoto(peerOf(owner, bob))).toBeNull();
  });
});

describe("lookups", () => {
  test("resolveUsername, resolvePhone, getUser", async () => {
    const owner = newUser();
    const { alice, bob } = server.builtins!;
    const c = await connect(owner, recorder());
    const a = await c.resolveUsername("@alice");
    expect(a).toMatchObject({ userId: String(alice.id), accessHash: String(server.world.accessHash(owner.id, alice.id)), hasPhoto: true });
    expect(await c.resolveUsername("nobody_here_at_all")).toBeNull();
    expect(await c.resolveUsername("x!")).toBeNull();

    const byPhone = await c.resolvePhone(`+${bob.phone}`);
    expect(byPhone?.userId).toBe(String(bob.id));
    expect(await c.resolvePhone("+10000000000")).toBeNull();

    const fresh = await c.getUser(peerOf(owner, alice));
    expect(fresh?.firstName).toBe(alice.firstName);
    expect(await c.getUser({ ...peerOf(owner, alice), accessHash: "1" })).toBeNull();
  });

  test("PEER_FLOOD and FLOOD_WAIT on send", async () => {
    const owner = newUser();
    const alice = server.builtins!.alice;
    const ev = recorder();
    const c = await connect(owner, ev);
    server.faults.peerFlood("messages.SendMessage", { userId: owner.id });
    const pf = await c.sendText(peerOf(owner, alice), "x", "1").catch((e) => e);
    expect(pf).toBeInstanceOf(TelegramFailure);
    expect([pf.kind, pf.reason]).toEqual(["error", "PEER_FLOOD"]);
    server.faults.floodWait("messages.SendMessage", 17, { userId: owner.id });
    const fw = await c.sendText(peerOf(owner, alice), "x", "2").catch((e) => e);
    expect([fw.kind, fw.floodSeconds]).toEqual(["flood_wait", 17]);
    const bad = await c.sendText({ ...peerOf(owner, alice), accessHash: "5" }, "x", "3").catch((e) => e);
    expect([bad.kind, bad.reason]).toEqual(["error", "PEER_ID_INVALID"]);
    expect(ev.lost).toEqual([]); // none of these drops the connection
  });
});

describe("catch-up", () => {
  test("messages sent while offline arrive after reconnect, in order, once — across difference slices", async () => {
    const owner = newUser();
    const alice = server.builtins!.alice;
    const ev1 = recorder();
    const c1 = await connect(owner, ev1);
    const saved = ev1.states[ev1.states.length - 1]!;
    await c1.close();
    await noConnections(owner);

    const texts = Array.from({ length: 25 }, (_, i) => `offline ${i + 1}`);
    for (const t of texts) server.driver.sendText(alice, owner, t);
    server.driver.sendText(owner, alice, "sent from the phone meanwhile");

    const ev2 = recorder();
    ev2.delayMs = 2;
    let resolved = false;
    const p = connect(owner, ev2, { updateState: saved }).then((c) => {
      resolved = true;
      return c;
    });
    const c2 = await p;
    expect(resolved).toBe(true);
    // Catch-up ran before connect resolved.
    expect(ev2.messages.map((m) => m.text)).toEqual([...texts, "sent from the phone meanwhile"]);
    expect(ev2.messages[25]!.out).toBe(true);
    const ids = ev2.messages.map((m) => m.messageId);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(ev2.messages[0]!.peer.accessHash).toBe(String(server.world.accessHash(owner.id, alice.id)));
    expect((server.calls.get("updates.GetDifference") ?? 0) >= 3).toBe(true);
    expect(ev2.states[ev2.states.length - 1]!.pts).toBe(owner.mailbox.pts);

    // Live updates go on from there without doubles.
    server.driver.sendText(alice, owner, "live again");
    await waitFor(() => ev2.messages.length === 27, 3000, "live message");
    await Bun.sleep(100);
    expect(ev2.messages.length).toBe(27);
    await c2.close();
  });

  test("the state is reported only after onMessage finished", async () => {
    const owner = newUser();
    const alice = server.builtins!.alice;
    const ev = recorder();
    ev.delayMs = 150;
    await connect(owner, ev);
    const initial = ev.states.length;
    server.driver.sendText(alice, owner, "slow store");
    await Bun.sleep(60);
    expect(ev.states.length).toBe(initial); // still storing
    await waitFor(() => ev.messages.length === 1, 3000, "message");
    await waitFor(() => ev.states.length === initial + 1, 3000, "state");
  });

  test("a burst larger than the update queue: every message once, in order", async () => {
    const owner = newUser();
    const alice = server.builtins!.alice;
    const ev = recorder();
    ev.delayMs = 1;
    await connect(owner, ev, { knownPeers: [peerOf(owner, alice)] });
    const differences = server.calls.get("updates.GetDifference") ?? 0;
    const texts = Array.from({ length: 400 }, (_, i) => `burst ${i}`);
    for (const t of texts) server.driver.sendText(alice, owner, t);
    await waitFor(() => ev.messages.length >= 400, 10_000, "burst");
    await Bun.sleep(100);
    expect(ev.messages.map((m) => m.text)).toEqual(texts);
    expect(ev.states[ev.states.length - 1]!.pts).toBe(owner.mailbox.pts);
    // The queue overflowed: the rest came through getDifference.
    expect(server.calls.get("updates.GetDifference")!).toBeGreaterThan(differences);
  }, 15_000);

  test("a failing onMessage drops the connection without advancing the state; reconnecting redelivers", async () => {
    const owner = newUser();
    const alice = server.builtins!.alice;
    const ev = recorder();
    let fail = true;
    const stored: string[] = [];
    ev.onMessage = async (m) => {
      if (fail && m.text === "poison") throw new Error("database is locked");
      stored.push(m.text);
    };
    await connect(owner, ev, { knownPeers: [peerOf(owner, alice)] });
    server.driver.sendText(alice, owner, "before");
    await waitFor(() => stored.length === 1, 3000, "first");
    server.driver.sendText(alice, owner, "poison");
    await waitFor(() => ev.lost.length === 1, 3000, "onLost");
    expect(ev.lost[0]!.kind).toBe("error");
    await noConnections(owner);
    const saved = ev.states[ev.states.length - 1]!;
    expect(saved.pts).toBe(owner.mailbox.pts - 1);

    fail = false;
    server.driver.sendText(alice, owner, "after");
    const ev2 = recorder();
    await connect(owner, ev2, { updateState: saved, knownPeers: [peerOf(owner, alice)] });
    expect(ev2.messages.map((m) => m.text)).toEqual(["poison", "after"]);
  });

  test("a pts gap is filled with getDifference", async () => {
    const owner = newUser();
    const alice = server.builtins!.alice;
    const ev = recorder();
    await connect(owner, ev, { knownPeers: [peerOf(owner, alice)] });
    const differences = server.calls.get("updates.GetDifference") ?? 0;
    // Pushes are dropped while stalled; the next push after it reveals the gap.
    server.stall(true);
    server.driver.sendText(alice, owner, "lost push 1");
    server.driver.sendText(alice, owner, "lost push 2");
    server.stall(false);
    server.driver.sendText(alice, owner, "visible");
    await waitFor(() => ev.messages.length === 3, 3000, "messages");
    expect(ev.messages.map((m) => m.text)).toEqual(["lost push 1", "lost push 2", "visible"]);
    expect(server.calls.get("updates.GetDifference")).toBe(differences + 1);
  });
});

// Pure parts of the GramJS adapter: error mapping, message rendering, photo detection, update engine.
import { describe, expect, test } from "bun:test";
import { Api, errors } from "telegram";
import { TelegramFailure, type ChatMessage, type PeerInfo, type UpdateState } from "../src/domain/telegram-port.ts";
import { createLogger } from "../src/log.ts";
import { toFailure } from "../src/telegram/errors.ts";
import { toLong } from "../src/telegram/gram.ts";
import { sendsAsPhoto } from "../src/telegram/media.ts";
import { contentOf, toChatMessage } from "../src/telegram/messages.ts";
import { PeerBook, bareUser } from "../src/telegram/peers.ts";
import { UpdateEngine } from "../src/telegram/updates.ts";

const rpc = (name: string, code = 400) => new errors.RPCError(name, new Api.help.GetConfig(), code);

describe("errors", () => {
  test("RPC names map to failure kinds", () => {
    expect(toFailure(rpc("AUTH_KEY_UNREGISTERED", 401)).kind).toBe("unauthorized");
    expect(toFailure(rpc("SESSION_REVOKED", 401)).kind).toBe("unauthorized");
    expect(toFailure(rpc("SESSION_EXPIRED", 401)).kind).toBe("unauthorized");
    expect(toFailure(rpc("AUTH_KEY_INVALID", 401)).kind).toBe("unauthorized");
    expect(toFailure(rpc("USER_DEACTIVATED_BAN", 401)).kind).toBe("banned");
    expect(toFailure(rpc("USER_DEACTIVATED", 401)).kind).toBe("banned");
    expect(toFailure(rpc("AUTH_KEY_DUPLICATED", 406)).kind).toBe("duplicated");
    const pf = toFailure(rpc("PEER_FLOOD"));
    expect([pf.kind, pf.reason]).toEqual(["error", "PEER_FLOOD"]);
    for (const n of ["PEER_ID_INVALID", "USER_IS_BLOCKED", "INPUT_USER_DEACTIVATED"]) {
      expect([toFailure(rpc(n)).kind, toFailure(rpc(n)).reason]).toEqual(["error", n]);
    }
  });

  test("FloodWaitError carries its seconds", () => {
    const e = new errors.FloodWaitError({ request: new Api.help.GetConfig(), capture: 33 });
    const f = toFailure(e);
    expect([f.kind, f.floodSeconds]).toEqual(["flood_wait", 33]);
  });

  test("FileMigrateError keeps Telegram's name FILE_MIGRATE_n (GramJS turns it into a sentence), so downloads follow it", () => {
    const f = toFailure(
      new errors.FileMigrateError({
        request: new Api.upload.GetFile({
          location: new Api.InputPhotoFileLocation({ id: toLong("1"), accessHash: toLong("2"), fileReference: Buffer.alloc(0), thumbSize: "y" }),
          offset: toLong("0"),
          limit: 1024,
        }),
        capture: 4,
      }),
    );
    expect([f.kind, f.reason]).toEqual(["error", "FILE_MIGRATE_4"]);
  });

  test("socket errors are network, our timeouts stay timeouts", () => {
    expect(toFailure(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" })).kind).toBe("network");
    expect(toFailure(new Error("Cannot send requests while disconnected. Please reconnect.")).kind).toBe("network");
    const t = new TelegramFailure("timeout", "x");
    expect(toFailure(t)).toBe(t);
    expect(toFailure(new Error("something odd")).kind).toBe("error");
  });
});

function msg(fields: Partial<ConstructorParameters<typeof Api.Message>[0]>): Api.Message {
  return new Api.Message({ id: 5, peerId: new Api.PeerUser({ userId: toLong("42") }), date: 1000, message: "", ...fields });
}

describe("messages", () => {
  test("polls, venues, live locations, dice and unsupported media become readable text", () => {
    const poll = contentOf(
      msg({
        media: new Api.MessageMediaPoll({
          poll: new Api.Poll({
            id: toLong("1"),
            question: new Api.TextWithEntities({ text: "Lunch?", entities: [] }),
            answers: [
              new Api.PollAnswer({ text: new Api.TextWithEntities({ text: "Pizza", entities: [] }), option: Buffer.from([0]) }),
              new Api.PollAnswer({ text: new Api.TextWithEntities({ text: "Sushi", entities: [] }), option: Buffer.from([1]) }),
            ],
          }),
          results: new Api.PollResults({}),
        }),
      }),
      "42",
    );
    expect(poll).toEqual({
      kind: "poll",
      text: "Poll: Lunch?\n- Pizza\n- Sushi",
      media: null,
      caption: "",
      rendering: { kind: "poll", question: "Lunch?", answers: ["Pizza", "Sushi"] },
    });

    const geo = new Api.GeoPoint({ lat: 1.5, long: 2.25, accessHash: toLong("0") });
    const venue = contentOf(msg({ media: new Api.MessageMediaVenue({ geo, title: "Cafe", address: "Main st 1", provider: "", venueId: "", venueType: "" }) }), "42");
    expect(venue.kind).toBe("location");
    expect(venue.text).toContain("Cafe, Main st 1");
    expect(venue.text).toContain("1.500000, 2.250000");
    const live = contentOf(msg({ media: new Api.MessageMediaGeoLive({ geo, period: 60 }) }), "42");
    expect(live.text).toStartWith("Location (live):");

    const dice = contentOf(msg({ media: new Api.MessageMediaDice({ value: 6, emoticon: "🎲" }) }), "42");
    expect(dice).toEqual({ kind: "other", text: "🎲 6", media: null });

    const other = contentOf(msg({ media: new Api.MessageMediaUnsupported(), message: "caption" }), "42");
    expect(other).toEqual({
      kind: "other",
      text: "[unsupported message: unsupported]\ncaption",
      media: null,
      caption: "caption",
      rendering: { kind: "unsupported", type: "unsupported" },
    });

    const link = contentOf(msg({ media: new Api.MessageMediaWebPage({ webpage: new Api.WebPageEmpty({ id: toLong("1") }) }), message: "https://x.y" }), "42");
    expect(link).toEqual({ kind: "text", text: "https://x.y", media: null });
  });

  test("documents without a file name get one from kind and MIME type; photos use their largest size", () => {
    const doc = new Api.Document({
      id: toLong("77"),
      accessHash: toLong("-5"),
      fileReference: Buffer.from([1, 2]),
      date: 1,
      mimeType: "audio/ogg",
      size: toLong("1234"),
      dcId: 2,
      attributes: [new Api.DocumentAttributeAudio({ voice: true, duration: 3 })],
    });
    const voice = contentOf(msg({ media: new Api.MessageMediaDocument({ document: doc, voice: true }) }), "42");
    expect(voice.media).toMatchObject({ kind: "voice", fileName: "voice_77.ogg", mimeType: "audio/ogg", size: 1234 });

    const photo = new Api.Photo({
      id: toLong("9"),
      accessHash: toLong("1"),
      fileReference: Buffer.alloc(0),
      date: 1,
      dcId: 2,
      sizes: [
        new Api.PhotoStrippedSize({ type: "i", bytes: Buffer.alloc(3) }),
        new Api.PhotoSize({ type: "m", w: 320, h: 240, size: 10 }),
        new Api.PhotoSizeProgressive({ type: "y", w: 1280, h: 960, sizes: [100, 500, 900] }),
      ],
    });
    const p = contentOf(msg({ media: new Api.MessageMediaPhoto({ photo }) }), "42");
    expect(p.media).toMatchObject({ kind: "photo", fileName: "photo_9.jpg", size: 900, handle: { thumbSize: "y", dcId: 2, messageId: 5 } });
  });

  test("only one-to-one chats with users are messages", () => {
    const peer = bareUser("42");
    expect(toChatMessage(msg({ message: "hi" }), peer)?.text).toBe("hi");
    expect(toChatMessage(msg({ peerId: new Api.PeerChat({ chatId: toLong("1") }) }), peer)).toBeNull();
    expect(toChatMessage(new Api.MessageService({ id: 1, peerId: new Api.PeerUser({ userId: toLong("42") }), date: 1, action: new Api.MessageActionEmpty() }), peer)).toBeNull();
  });
});

describe("photo detection", () => {
  const f = (name: string, mimeType: string, size = 100) => ({ name, mimeType, bytes: new Uint8Array(size) });
  test("JPEG and PNG up to 10 MB go as photos; everything else as documents", () => {
    expect(sendsAsPhoto(f("a.jpg", "image/jpeg"))).toBe(true);
    expect(sendsAsPhoto(f("a.png", "image/png"))).toBe(true);
    expect(sendsAsPhoto(f("a.png", "application/octet-stream"))).toBe(true);
    expect(sendsAsPhoto(f("a.gif", "image/gif"))).toBe(false);
    expect(sendsAsPhoto(f("a.webp", "image/webp"))).toBe(false);
    expect(sendsAsPhoto(f("a.pdf", "application/pdf"))).toBe(false);
    expect(sendsAsPhoto(f("big.jpg", "image/jpeg", 11 * 1024 * 1024))).toBe(false);
  });
});

describe("peer book", () => {
  test("is bounded and never forgets a hash because of a min user", () => {
    const book = new PeerBook([], 3);
    const user = (id: string, hash: string | null, min = false) => new Api.User({ id: toLong(id), accessHash: hash === null ? undefined : toLong(hash), min, firstName: `u${id}` });
    expect(book.learn([user("1", "11")]).length).toBe(1);
    expect(book.learn([user("1", "11")]).length).toBe(0); // unchanged: not reported again
    book.learn([user("1", null, true)]);
    expect(book.get("1")?.accessHash).toBe("11");
    book.learn([user("2", "22"), user("3", "33"), user("4", "44")]);
    expect(book.size).toBe(3);
  });
});

describe("update engine", () => {
  function engine(diffs: Api.updates.TypeDifference[]) {
    const delivered: ChatMessage[] = [];
    const states: UpdateState[] = [];
    const e = new UpdateEngine({
      getState: async () => new Api.updates.State({ pts: 10, qts: 0, date: 1, seq: 0, unreadCount: 0 }),
      getDifference: async () => diffs.shift() ?? new Api.updates.DifferenceEmpty({ date: 2, seq: 0 }),
      call: async () => {
        throw new TelegramFailure("error", "no other calls here");
      },
      events: {
        onMessage: async (m) => void delivered.push(m),
        onReadOutbox: async () => {},
        onPeers: () => {},
        onUpdateState: (s) => void states.push(s),
        onLost: () => {},
      },
      peers: new PeerBook([{ ...bareUser("42"), accessHash: "1" } satisfies PeerInfo]),
      selfId: () => "1",
      log: createLogger("silent"),
      fail: () => {},
    });
    return { e, delivered, states };
  }
  const short = (id: number, pts: number) => new Api.UpdateShortMessage({ id, userId: toLong("42"), message: `m${id}`, pts, ptsCount: 1, date: 5 });

  test("in-order updates are applied, duplicates dropped, a gap triggers getDifference", async () => {
    const diff = new Api.updates.Difference({
      newMessages: [msg({ id: 3, message: "m3" }), msg({ id: 4, message: "m4" })],
      newEncryptedMessages: [],
      otherUpdates: [],
      chats: [],
      users: [],
      state: new Api.updates.State({ pts: 14, qts: 0, date: 6, seq: 0, unreadCount: 0 }),
    });
    const { e, delivered, states } = engine([diff]);
    await e.start(null);
    e.push(short(1, 11));
    e.push(short(1, 11)); // duplicate
    e.push(short(2, 12));
    e.push(short(4, 14)); // gap: 13 missing → getDifference returns 3 and 4
    e.push(short(5, 15));
    await e.idle();
    expect(delivered.map((m) => m.text)).toEqual(["m1", "m2", "m3", "m4", "m5"]);
    expect(states[states.length - 1]!.pts).toBe(15);
  });

  test("our own sends are not delivered but their pts is applied", async () => {
    const { e, delivered, states } = engine([]);
    await e.start(null);
    const id = e.acceptOwnResult(new Api.UpdateShortSentMessage({ out: true, id: 9, pts: 11, ptsCount: 1, date: 7 }), "1");
    expect(id).toBe(9);
    e.push(short(10, 12));
    await e.idle();
    expect(delivered.map((m) => m.messageId)).toEqual([10]);
    expect(states[states.length - 1]!.pts).toBe(12);
  });
});

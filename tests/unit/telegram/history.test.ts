// The history rebuild after updates.differenceTooLong (src/telegram/history.ts) against an in-memory
// Telegram that answers messages.getDialogs / getHistory as Telegram pages them; and the update
// engine around it (pts moves only after a rebuild that went through).
import { describe, expect, test } from "bun:test";
import { Api } from "telegram";
import { TelegramFailure, type ChatMessage, type UpdateState } from "../../../src/domain/telegram-port.ts";
import { createLogger } from "../../../src/log.ts";
import { toLong } from "../../../src/telegram/gram.ts";
import { HISTORY_LIMITS, rebuildFromHistory, type HistoryLimits } from "../../../src/telegram/history.ts";
import { PeerBook } from "../../../src/telegram/peers.ts";
import { UpdateEngine } from "../../../src/telegram/updates.ts";

const NOW = 1_800_000_000;
const SELF = 1;

interface Msg {
  id: number;
  user: number;
  date: number;
  out?: boolean;
  editDate?: number;
}

/**
 * One account's private chats; `floods` are FLOOD_WAIT seconds thrown by the next calls, in turn (null:
 * none). `overlap`: pages include their offset item again (as when something arrives while paging).
 */
function fakeTelegram(msgs: Msg[], overlap = false) {
  const calls: string[] = [];
  const floods: (number | null)[] = [];
  const user = (id: number) => new Api.User({ id: toLong(String(id)), accessHash: toLong(String(id * 7)), firstName: `U${id}`, self: id === SELF });
  const render = (m: Msg) =>
    new Api.Message({ id: m.id, peerId: new Api.PeerUser({ userId: toLong(String(m.user)) }), date: m.date, message: `m${m.id}`, out: m.out, editDate: m.editDate });
  const call = async <R>(r: Api.AnyRequest): Promise<R> => {
    calls.push(r.className);
    const f = floods.shift();
    if (f !== undefined && f !== null) throw new TelegramFailure("flood_wait", `FLOOD_WAIT_${f}`, f);
    if (r instanceof Api.messages.GetDialogs) {
      const tops = new Map<number, Msg>();
      for (const m of msgs) if ((tops.get(m.user)?.id ?? 0) < m.id) tops.set(m.user, m);
      const all = [...tops.values()].sort((a, b) => b.id - a.id).filter((t) => !r.offsetId || t.id < r.offsetId || (overlap && t.id === r.offsetId));
      const page = all.slice(0, r.limit);
      const body = {
        dialogs: page.map(
          (t) =>
            new Api.Dialog({
              peer: new Api.PeerUser({ userId: toLong(String(t.user)) }),
              topMessage: t.id,
              readInboxMaxId: 0,
              readOutboxMaxId: 0,
              unreadCount: 0,
              unreadMentionsCount: 0,
              unreadReactionsCount: 0,
              notifySettings: new Api.PeerNotifySettings({}),
            }),
        ),
        messages: page.map(render),
        chats: [],
        users: page.map((t) => user(t.user)),
      };
      return (page.length < all.length ? new Api.messages.DialogsSlice({ ...body, count: tops.size }) : new Api.messages.Dialogs(body)) as R;
    }
    if (r instanceof Api.messages.GetHistory) {
      const peer = Number((r.peer as Api.InputPeerUser).userId.toString());
      const all = msgs
        .filter((m) => m.user === peer)
        .sort((a, b) => b.id - a.id)
        .filter((m) => !r.offsetId || m.id < r.offsetId || (overlap && m.id === r.offsetId));
      const page = all.slice(0, r.limit);
      const body = { messages: page.map(render), chats: [], users: [user(peer)], topics: [] };
      return (page.length < all.length ? new Api.messages.MessagesSlice({ ...body, count: all.length }) : new Api.messages.Messages(body)) as R;
    }
    throw new TelegramFailure("error", `unexpected ${r.className}`);
  };
  return { call, calls, floods };
}

function run(msgs: Msg[], stateDate: number, limits: Partial<HistoryLimits> = {}, overlap = false) {
  const tg = fakeTelegram(msgs, overlap);
  const delivered: { id: number; user: number; edited: boolean }[] = [];
  const sleeps: number[] = [];
  const go = () =>
    rebuildFromHistory(
      {
        call: tg.call,
        learn: () => {},
        deliver: async (m, edited) => void delivered.push({ id: m.id, user: Number((m.peerId as Api.PeerUser).userId.toString()), edited }),
        stopped: () => false,
        log: createLogger("silent"),
        limits,
        sleep: async (ms) => void sleeps.push(ms),
        now: () => NOW,
      },
      stateDate,
    );
  return { tg, delivered, sleeps, go };
}

describe("history rebuild", () => {
  test("the stretch since the saved date: each chat oldest first, most recently active chat first, nothing older", async () => {
    const gapStart = NOW - 3600;
    const msgs: Msg[] = [
      { id: 1, user: 20, date: gapStart - 2 * 86_400 }, // long before the gap: not again
      { id: 2, user: 30, date: gapStart - 86_400 },
      { id: 3, user: 20, date: gapStart + 10 },
      { id: 4, user: 30, date: gapStart + 20, out: true },
      { id: 5, user: 20, date: gapStart + 30, editDate: gapStart + 40 },
      { id: 6, user: 30, date: gapStart + 50 },
      { id: 7, user: 40, date: gapStart - 86_400 }, // a chat quiet since before the gap: not read at all
    ];
    const { tg, delivered, go } = run(msgs, gapStart);
    const r = await go();
    expect(delivered).toEqual([
      { id: 4, user: 30, edited: false },
      { id: 6, user: 30, edited: false },
      { id: 3, user: 20, edited: false },
      { id: 5, user: 20, edited: true },
    ]);
    expect(r).toMatchObject({ chats: 2, messages: 4, truncated: false });
    expect(tg.calls.filter((c) => c === "messages.GetHistory")).toHaveLength(2);
  });

  test("bounds: at most maxChats chats, the newest maxMessagesPerChat of a chat, nothing older than maxAgeDays", async () => {
    const msgs: Msg[] = [];
    let id = 1;
    // 700 messages in one chat (three history pages and more), then 250 more chats with one message each.
    for (let i = 0; i < 700; i++) msgs.push({ id: id++, user: 2, date: NOW - 1000 + i });
    for (let u = 0; u < 250; u++) msgs.push({ id: id++, user: 100 + u, date: NOW - 200 });
    const { delivered, go } = run(msgs, NOW - 2000);
    const r = await go();
    expect(r.truncated).toBe(true);
    expect(r.chats).toBe(HISTORY_LIMITS.maxChats);
    const big = delivered.filter((d) => d.user === 2).map((d) => d.id);
    expect(big).toHaveLength(0); // the busy chat's last message is older than 200 others: past the 200 chats
    expect(delivered).toHaveLength(HISTORY_LIMITS.maxChats);

    const one = run(
      msgs.filter((m) => m.user === 2),
      NOW - 2000,
    );
    const r1 = await one.go();
    const ids = one.delivered.map((d) => d.id);
    expect(ids).toHaveLength(HISTORY_LIMITS.maxMessagesPerChat);
    expect(ids).toEqual(Array.from({ length: 500 }, (_, i) => 201 + i)); // the newest 500, oldest first
    expect(r1.truncated).toBe(true);

    // A state saved a month ago: only the last 7 days are read.
    const old = run(
      [
        { id: 1, user: 5, date: NOW - 20 * 86_400 },
        { id: 2, user: 5, date: NOW - 6 * 86_400 },
      ],
      NOW - 30 * 86_400,
    );
    const r2 = await old.go();
    expect(old.delivered.map((d) => d.id)).toEqual([2]);
    expect(r2.since).toBe(NOW - 7 * 86_400);
    expect(r2.truncated).toBe(true);
  });

  test("pages that overlap list a chat or a message twice: each is read and offered once", async () => {
    const msgs: Msg[] = [];
    // 150 chats (two dialog pages), the newest with 250 messages (three history pages).
    for (let u = 0; u < 150; u++) msgs.push({ id: u + 1, user: 100 + u, date: NOW - 100 });
    for (let i = 0; i < 250; i++) msgs.push({ id: 1000 + i, user: 7, date: NOW - 50 });
    const { tg, delivered, go } = run(msgs, NOW - 60, {}, true);
    await go();
    const ids = delivered.map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(400);
    expect(ids.slice(0, 250)).toEqual(Array.from({ length: 250 }, (_, i) => 1000 + i));
    expect(tg.calls.filter((c) => c === "messages.GetHistory")).toHaveLength(3 + 150);
  });

  test("paced: a pause after every 20 calls", async () => {
    const msgs: Msg[] = Array.from({ length: 43 }, (_, i) => ({ id: i + 1, user: 100 + i, date: NOW - 10 }));
    const { tg, sleeps, delivered, go } = run(msgs, NOW - 60);
    await go();
    expect(delivered).toHaveLength(43);
    expect(tg.calls).toHaveLength(44); // one getDialogs page, 43 histories
    expect(sleeps).toEqual([HISTORY_LIMITS.pauseMs, HISTORY_LIMITS.pauseMs]);
  });

  test("a short flood wait is waited out and the call repeated; a long one ends the rebuild", async () => {
    const msgs: Msg[] = [
      { id: 1, user: 10, date: NOW - 10 },
      { id: 2, user: 11, date: NOW - 5 },
    ];
    const short = run(msgs, NOW - 60);
    short.tg.floods.push(5);
    await short.go();
    expect(short.sleeps).toEqual([5000]);
    expect(short.delivered.map((d) => d.id)).toEqual([2, 1]);

    const long = run(msgs, NOW - 60);
    long.tg.floods.push(HISTORY_LIMITS.maxFloodWaitSeconds + 1);
    const e = await long.go().catch((x) => x);
    expect(e).toBeInstanceOf(TelegramFailure);
    expect([e.kind, e.floodSeconds]).toEqual(["flood_wait", 31]);
    expect(long.delivered).toEqual([]);
    expect(long.tg.calls).toHaveLength(1);

    // Short ones that keep coming also end it (a bounded number of waits per call).
    const stubborn = run(msgs, NOW - 60);
    stubborn.tg.floods.push(1, 1, 1, 1, 1);
    expect(await stubborn.go().catch((x) => x)).toBeInstanceOf(TelegramFailure);
    expect(stubborn.sleeps).toEqual([1000, 1000, 1000]);
  });
});

describe("update engine on differenceTooLong", () => {
  const now = Math.floor(Date.now() / 1000);
  const peerMsg = (id: number, user: number, date: number, out = false) =>
    new Api.Message({ id, peerId: new Api.PeerUser({ userId: toLong(String(user)) }), date, message: `m${id}`, out });

  function engine(msgs: Msg[], floods: (number | null)[] = []) {
    const tg = fakeTelegram(msgs);
    tg.floods.push(...floods);
    const diffs: Api.updates.TypeDifference[] = [
      new Api.updates.DifferenceTooLong({ pts: 500 }),
      new Api.updates.Difference({
        newMessages: [peerMsg(90, 20, now)],
        newEncryptedMessages: [],
        otherUpdates: [],
        chats: [],
        users: [],
        state: new Api.updates.State({ pts: 501, qts: 0, date: now, seq: 0, unreadCount: 0 }),
      }),
    ];
    const delivered: ChatMessage[] = [];
    const states: UpdateState[] = [];
    const failures: TelegramFailure[] = [];
    const e = new UpdateEngine({
      getState: async () => new Api.updates.State({ pts: 10, qts: 0, date: 1, seq: 0, unreadCount: 0 }),
      getDifference: async () => diffs.shift() ?? new Api.updates.DifferenceEmpty({ date: now, seq: 0 }),
      call: tg.call,
      events: {
        onMessage: async (m) => void delivered.push(m),
        onReadOutbox: async () => {},
        onPeers: () => {},
        onUpdateState: (s) => void states.push(s),
        onLost: () => {},
      },
      peers: new PeerBook([]),
      selfId: () => String(SELF),
      log: createLogger("silent"),
      fail: (f) => void failures.push(f),
    });
    return { e, delivered, states, failures, tg };
  }

  test("the stretch is delivered from history, then pts jumps and getDifference goes on from there", async () => {
    const { e, delivered, states } = engine([
      { id: 80, user: 20, date: now - 30 },
      { id: 81, user: 21, date: now - 20 },
      { id: 82, user: 20, date: now - 10 },
    ]);
    await e.start({ pts: 10, qts: 0, date: now - 60 });
    expect(delivered.map((m) => [m.messageId, m.peer.userId])).toEqual([
      [80, "20"],
      [82, "20"],
      [81, "21"],
      [90, "20"],
    ]);
    // The rebuilt messages carry the peers' access hashes (from the history answers).
    expect(delivered[0]!.peer.accessHash).toBe("140");
    expect(states.map((s) => s.pts)).toEqual([500, 501]);
  });

  test("our own sends found in history are not handed on", async () => {
    const { e, delivered } = engine([
      { id: 80, user: 20, date: now - 30 },
      { id: 81, user: 20, date: now - 20, out: true },
    ]);
    expect(e.acceptOwnResult(new Api.UpdateShortSentMessage({ out: true, id: 81, pts: 5, ptsCount: 1, date: now - 20 }), "1")).toBe(81);
    await e.start({ pts: 10, qts: 0, date: now - 60 });
    expect(delivered.map((m) => m.messageId)).toEqual([80, 90]);
  });

  test("a long flood wait during the rebuild fails the catch-up without moving the saved state", async () => {
    const { e, delivered, states } = engine([{ id: 80, user: 20, date: now - 30 }], [null, 120]);
    const err = await e.start({ pts: 10, qts: 0, date: now - 60 }).catch((x) => x);
    expect(err).toBeInstanceOf(TelegramFailure);
    expect([err.kind, err.floodSeconds]).toEqual(["flood_wait", 120]);
    expect(delivered).toEqual([]);
    expect(states).toEqual([]);
  });
});

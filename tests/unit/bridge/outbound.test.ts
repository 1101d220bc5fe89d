// The Telegram-bound delivery policies under fake time, with a fake Telegram connection and real SQLite:
// a number offline too long gives the message up as an error status for Planfix, a short flood wait is
// waited out, a long one is reported, a part Telegram already has counts as sent, a long text goes as
// several parts in order. Rounds are driven by hand (no pump timers).
import { afterAll, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InboundBridge } from "../../../src/bridge/inbound.ts";
import { LookupLimiter } from "../../../src/bridge/lookup-limiter.ts";
import { OutboundBridge, PEER_FLOOD_SHOWN_MS } from "../../../src/bridge/outbound.ts";
import { DEFAULT_RETRY } from "../../../src/bridge/retry.ts";
import { textsFor } from "../../../src/bridge/texts.ts";
import { type PeerInfo, TelegramFailure, type TelegramConnection } from "../../../src/domain/telegram-port.ts";
import { createLogger } from "../../../src/log.ts";
import { NetGuard } from "../../../src/net/guarded-fetch.ts";
import { ClientStore } from "../../../src/store/clients.ts";
import { openDb } from "../../../src/store/db.ts";
import { FileStore } from "../../../src/store/files.ts";
import { JobStore } from "../../../src/store/jobs.ts";
import { OutboxStore } from "../../../src/store/outbox.ts";
import { PeerStore } from "../../../src/store/peers.ts";
import { sqliteTransaction } from "../../../src/store/transaction.ts";
import { telegramCapabilities } from "../../../src/telegram/capabilities.ts";

const dir = mkdtempSync(join(tmpdir(), "pt-outbound-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const en = textsFor("en");
const OFFLINE_GIVE_UP_MS = 15 * 60_000;

let n = 0;
async function setup() {
  const db = openDb(join(dir, `o${++n}.db`));
  const clients = new ClientStore(db);
  const outbox = new OutboxStore(db);
  const jobs = new JobStore(db);
  const peers = new PeerStore(db);
  const files = new FileStore(db, join(dir, `files${n}`), 86_400_000);
  const client = await clients.createClient("acme", "hash");
  const account = await clients.insertAccount({
    clientId: client.id,
    number: "380955821319",
    urlPlanfix: "http://127.0.0.1:1/webchat/api",
    tokenPlanfix: "key",
    sessionPath: "a.session",
    language: "en",
  });
  const peer: PeerInfo = { userId: "6800630955", accessHash: "42", username: null, phone: null, firstName: "Olena", lastName: null, isBot: false, hasPhoto: false };
  void peers.save(account.id, [peer]);
  // The connector's access hashes (telegram_access_hashes in the appliance): this number got Olena's.
  const hashes = new Set([`${account.id}:${peer.userId}`]);
  let t = Date.now();
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  const log = createLogger("silent");
  const sent: { text: string; key: string }[] = [];
  let onSend: (text: string, key: string) => void = () => {};
  let online = true;
  let nextId = 100;
  const ownSends = new Set<number>();
  const conn = {
    sendText: async (_p: PeerInfo, text: string, key: string) => {
      onSend(text, key);
      sent.push({ text, key });
      ownSends.add(++nextId); // as the connector keeps its sends (telegram_sent_messages)
      return { messageId: nextId };
    },
  } as unknown as TelegramConnection;
  const connection = () => (online ? conn : null);
  const retry = { ...DEFAULT_RETRY };
  const outcomes: string[] = [];
  const onOutcome = (o: { direction: string; outcome: string }) => outcomes.push(`${o.direction}:${o.outcome}`);
  const ok = async () => ({ ok: true as const });
  const inbound = new InboundBridge({
    clients,
    peers,
    outbox,
    jobs,
    files,
    publicUrl: "http://files.test",
    maxFileBytes: 1_000_000,
    retry,
    language: "en",
    log,
    connection,
    isOwnSend: (_accountId: number, _peer: string, messageId: number) => ownSends.has(messageId),
    capabilities: telegramCapabilities,
    now: clock.now,
    onOutcome,
    planfixFor: () => ({ newMessage: ok, messageStatus: ok, updateContact: ok }),
  });
  const outbound = new OutboundBridge({
    clients,
    peers,
    jobs,
    inbound,
    limiter: new LookupLimiter(),
    maxFileBytes: 1_000_000,
    downloadTimeoutMs: 1000,
    guard: new NetGuard(),
    tmpDir: join(dir, `downloads${n}`),
    retry,
    offlineGiveUpMs: OFFLINE_GIVE_UP_MS,
    maxFloodWaitMs: 15 * 60_000,
    language: "en",
    log,
    connection,
    canAddress: (accountId: number, userId: string) => hashes.has(`${accountId}:${userId}`),
    capabilities: telegramCapabilities,
    transaction: sqliteTransaction(db, { jobs, outbox }),
    now: clock.now,
    onOutcome,
  });
  // Rounds are driven by hand: a send's end must not start the real pump beside them.
  const manual = Object.assign(Object.create(outbound) as OutboundBridge, { kick: () => {} });
  Object.assign(inbound, { kick: () => {} });
  /** Runs rounds (and waits for their sends) until nothing is due at the fake now. */
  const drain = async () => {
    for (let i = 0; i < 50; i++) {
      const next = await manual.round(account.id);
      await outbound.settled();
      if (next === null || next > clock.now()) return;
    }
  };
  let messageId = 0;
  const accept = (text: string) =>
    outbound.accept(client, { cmd: "newMessage", token: "t", chatId: `380955821319_${peer.userId}`, message: text, messageId: String(++messageId), attachments: [] });
  /** The messageStatus items queued for Planfix, oldest first. */
  const statuses = async () =>
    (await outbox.list(account.id, "pending", 100))
      .map((r) => ({ kind: r.kind, ...(JSON.parse(r.event) as { messageId: string; status: string; text?: string }) }))
      .filter((r) => r.kind === "status");
  const job = async (planfixId: string) => (await jobs.byMessage(client.id, planfixId))!;
  return {
    clock,
    sent,
    drain,
    accept,
    statuses,
    job,
    jobs,
    account,
    outcomes,
    health: inbound.health,
    offline: () => (online = false),
    onSend: (f: typeof onSend) => (onSend = f),
  };
}

let s: Awaited<ReturnType<typeof setup>>;
beforeEach(async () => {
  s = await setup();
});

test("offline: the message waits for its number, then is given up as an error status in the customer's language", async () => {
  s.offline();
  await s.accept("hello");
  await s.drain();
  expect((await s.job("1")).state).toBe("pending");
  s.clock.advance(OFFLINE_GIVE_UP_MS - 60_000);
  await s.drain();
  expect((await s.job("1")).state).toBe("pending");
  expect(await s.statuses()).toEqual([]);
  s.clock.advance(120_000);
  await s.drain();
  expect((await s.job("1")).state).toBe("failed");
  expect(await s.statuses()).toEqual([{ kind: "status", messageId: "1", status: "error", text: en.offlineTooLong("380955821319", "stopped") }]);
  expect(s.sent).toEqual([]);
});

test("a short flood wait is waited out, then the message goes and Planfix gets sent", async () => {
  let first = true;
  s.onSend(() => {
    if (first) {
      first = false;
      throw new TelegramFailure("flood_wait", "FLOOD_WAIT_30", 30);
    }
  });
  await s.accept("hello");
  await s.drain();
  expect(s.sent).toEqual([]);
  s.clock.advance(20_000);
  await s.drain();
  expect(s.sent).toEqual([]);
  s.clock.advance(11_000);
  await s.drain();
  expect(s.sent.map((x) => x.text)).toEqual(["hello"]);
  expect((await s.job("1")).state).toBe("sent");
  expect(await s.statuses()).toEqual([{ kind: "status", messageId: "1", status: "sent" }]);
});

test("a flood wait longer than the limit is reported to Planfix as an error at once, not waited out", async () => {
  s.onSend(() => {
    throw new TelegramFailure("flood_wait", "FLOOD_WAIT_86400", 86_400);
  });
  await s.accept("hello");
  await s.drain();
  expect((await s.job("1")).state).toBe("failed");
  expect(await s.statuses()).toEqual([{ kind: "status", messageId: "1", status: "error", text: en.flood("FLOOD_WAIT_86400", 86_400) }]);
});

test("a long text goes as parts in order; a part Telegram already has (its idempotency key seen) counts as sent", async () => {
  const long = `${"a".repeat(4000)}\n\n${"b".repeat(4000)}\n\n${"c".repeat(100)}`;
  s.onSend((text) => {
    if (text.startsWith("b")) throw new TelegramFailure("error", "RANDOM_ID_DUPLICATE");
  });
  await s.accept(long);
  await s.drain();
  expect(s.sent.map((x) => x.text[0])).toEqual(["a", "c"]);
  expect(new Set(s.sent.map((x) => x.key)).size).toBe(2);
  expect(await s.job("1")).toMatchObject({ state: "sent", partsDone: 3 });
  expect(await s.statuses()).toEqual([{ kind: "status", messageId: "1", status: "sent" }]);
});

test("Telegram refusing the message (not a wait, not the network) is an error status, and the chat moves on", async () => {
  s.onSend((text) => {
    if (text === "first") throw new TelegramFailure("error", "CHAT_WRITE_FORBIDDEN");
  });
  await s.accept("first");
  await s.accept("second");
  await s.drain();
  expect((await s.job("1")).state).toBe("failed");
  expect((await s.job("2")).state).toBe("sent");
  expect(s.sent.map((x) => x.text)).toEqual(["second"]);
  expect((await s.statuses()).map((x) => [x.messageId, x.status, x.text])).toEqual([
    ["1", "error", en.refused("CHAT_WRITE_FORBIDDEN")],
    ["2", "sent", undefined],
  ]);
});

test("each message's outcome is told once through the one hook: a failed attempt, then sent; a refusal parked", async () => {
  let first = true;
  s.onSend((text) => {
    if (text === "refused") throw new TelegramFailure("error", "CHAT_WRITE_FORBIDDEN");
    if (first) {
      first = false;
      throw new TelegramFailure("network", "connection reset");
    }
  });
  await s.accept("hello");
  await s.drain();
  expect(s.outcomes).toEqual(["to_telegram:failed"]);
  s.clock.advance(DEFAULT_RETRY.capMs);
  await s.drain();
  expect(s.outcomes).toEqual(["to_telegram:failed", "to_telegram:sent"]);
  await s.accept("refused");
  await s.drain();
  expect(s.outcomes).toEqual(["to_telegram:failed", "to_telegram:sent", "to_telegram:parked"]);
});

// First contact: the other side refuses for good. One attempt, a final state (not parked, not re-sendable),
// a readable error status in the customer's language, the chat's next message goes.
for (const [error, kind] of [
  ["PEER_FLOOD", "peer_flood"],
  ["USER_PRIVACY_RESTRICTED", "privacy"],
  ["USER_NOT_MUTUAL_CONTACT", "privacy"],
  ["PRIVACY_PREMIUM_REQUIRED", "privacy"],
  ["USER_IS_BLOCKED", "blocked"],
  ["YOU_BLOCKED_USER", "blocked"],
  ["INPUT_USER_DEACTIVATED", "deactivated"],
] as const) {
  test(`${error}: refused after one attempt, reported as "${kind}" in the customer's language, never retried; the chat moves on`, async () => {
    let attempts = 0;
    s.onSend((text) => {
      if (text !== "first") return;
      attempts++;
      throw new TelegramFailure("error", error);
    });
    await s.accept("first");
    await s.accept("second");
    await s.drain();
    expect(attempts).toBe(1);
    expect(await s.job("1")).toMatchObject({ state: "refused", attempts: 0 });
    expect((await s.job("1")).lastError).toContain(error);
    expect((await s.job("2")).state).toBe("sent");
    expect(s.sent.map((x) => x.text)).toEqual(["second"]);
    expect((await s.statuses()).map((x) => [x.messageId, x.status, x.text])).toEqual([
      ["1", "error", en.refusal(kind)],
      ["2", "sent", undefined],
    ]);
    expect(s.outcomes).toEqual(["to_telegram:refused", "to_telegram:sent"]);
    // Not parked: nothing listed, nothing a resend would bring back; and a day later still one attempt.
    expect(await s.jobs.stats(s.account.id)).toMatchObject({ waiting: 0, parked: 0 });
    expect(await s.jobs.resend(s.account.id, null, s.clock.now())).toBe(0);
    s.clock.advance(72 * 3600_000);
    await s.drain();
    expect(attempts).toBe(1);
    expect((await s.job("1")).state).toBe("refused");
  });
}

test("PEER_FLOOD shows on the number's to_telegram status for 24 h, through later successful sends; a privacy refusal does not", async () => {
  s.onSend((text) => {
    if (text === "private") throw new TelegramFailure("error", "USER_PRIVACY_RESTRICTED");
    if (text === "new contact") throw new TelegramFailure("error", "PEER_FLOOD");
  });
  await s.accept("private");
  await s.drain();
  expect(s.health.current(s.account.id, "to_telegram")).toBeNull();

  await s.accept("new contact");
  await s.drain();
  const since = s.clock.now();
  const shown = s.health.current(s.account.id, "to_telegram");
  expect(shown?.message).toContain("PEER_FLOOD");
  expect(shown?.message).toContain("may not write first to new contacts");
  expect(shown?.since).toBe(since);

  s.clock.advance(3600_000);
  await s.accept("an existing chat still works");
  await s.drain();
  expect((await s.job("3")).state).toBe("sent");
  expect(s.health.current(s.account.id, "to_telegram")).toEqual(shown);

  s.clock.advance(PEER_FLOOD_SHOWN_MS - 3600_000 - 1000);
  expect(s.health.current(s.account.id, "to_telegram")?.message).toContain("PEER_FLOOD");
  s.clock.advance(2000);
  expect(s.health.current(s.account.id, "to_telegram")).toBeNull();
});

test("the refusal texts are readable in each language, without Telegram's error names", () => {
  for (const lang of ["uk", "ru", "en"] as const) {
    const t = textsFor(lang);
    const all = (["peer_flood", "privacy", "blocked", "deactivated"] as const).map((k) => t.refusal(k));
    expect(new Set(all).size).toBe(4);
    for (const text of all) expect(text).not.toMatch(/[A-Z]{2,}_[A-Z_]+/);
  }
  expect(textsFor("uk").refusal("privacy")).toContain("приватності");
  expect(textsFor("ru").refusal("blocked")).toContain("заблокир");
  expect(textsFor("en").refusal("peer_flood")).toContain("new contacts");
});

// The Planfix-bound delivery policies under fake time: a refused key holds the whole queue, a refused
// item is parked after a few tries, every failure kind counts towards the give-up, a file gone in
// Telegram becomes a note, and a problem is logged once when it starts and once when it ends.
// Real SQLite file, fake Planfix port, fake clock; rounds are driven by hand (no timers).
import { afterAll, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TelegramFailure, type ChatMessage, type MediaRef, type TelegramConnection } from "../../../src/domain/telegram-port.ts";
import { InboundBridge } from "../../../src/bridge/inbound.ts";
import { OutboundBridge } from "../../../src/bridge/outbound.ts";
import { LookupLimiter } from "../../../src/bridge/lookup-limiter.ts";
import { NetGuard } from "../../../src/net/guarded-fetch.ts";
import { QueueService } from "../../../src/bridge/queues.ts";
import { DEFAULT_RETRY } from "../../../src/bridge/retry.ts";
import { telegramCapabilities } from "../../../src/telegram/capabilities.ts";
import { createLogger } from "../../../src/log.ts";
import type { PlanfixOutcome, NewMessageCommand } from "../../../src/planfix/index.ts";
import { ClientStore, type Account } from "../../../src/store/clients.ts";
import { openDb } from "../../../src/store/db.ts";
import { FileStore } from "../../../src/store/files.ts";
import { JobStore } from "../../../src/store/jobs.ts";
import { OutboxStore } from "../../../src/store/outbox.ts";
import { PeerStore } from "../../../src/store/peers.ts";
import { sqliteTransaction } from "../../../src/store/transaction.ts";

const dir = mkdtempSync(join(tmpdir(), "pt-queues-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ok: PlanfixOutcome = { ok: true };
const unauthorized: PlanfixOutcome = { ok: false, retry: false, kind: "unauthorized", status: 401, message: "Planfix answered newMessage with 401: Invalid token" };
const invalid: PlanfixOutcome = { ok: false, retry: false, kind: "rejected", status: 400, message: "Planfix answered newMessage with 400: Invalid parameters" };
const down: PlanfixOutcome = { ok: false, retry: true, kind: "server", status: 502, message: "Planfix answered newMessage with 502" };

let n = 0;
async function setup() {
  const db = openDb(join(dir, `q${++n}.db`));
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
    tokenPlanfix: "wrong-key",
    sessionPath: "a.session",
  });
  let t = Date.now();
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  const sent: { token: string; text: string }[] = [];
  let answer: (cmd: NewMessageCommand, account: Account) => PlanfixOutcome = () => ok;
  const lines: { level: string; msg: string }[] = [];
  const log = createLogger("info", {}, (l) => lines.push(JSON.parse(l)));
  let download: (m: MediaRef) => Promise<Uint8Array> = async () => new Uint8Array([1, 2, 3]);
  const conn = { downloadMedia: (m: MediaRef) => download(m), downloadProfilePhoto: async () => null } as unknown as TelegramConnection;
  const retry = { ...DEFAULT_RETRY, pauseRetryMs: 300_000 };
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
    connection: () => conn,
    isOwnSend: () => false,
    capabilities: telegramCapabilities,
    now: clock.now,
    planfixFor: (a) => ({
      newMessage: async (cmd: NewMessageCommand) => {
        const out = answer(cmd, (await clients.accountById(a.id))!);
        if (out.ok) sent.push({ token: a.tokenPlanfix, text: cmd.message });
        return out;
      },
      messageStatus: async () => ok,
      updateContact: async () => ok,
    }),
  });
  const outbound = new OutboundBridge({
    clients,
    peers,
    jobs,
    inbound,
    limiter: new LookupLimiter(),
    maxFileBytes: 1,
    downloadTimeoutMs: 1,
    retry,
    offlineGiveUpMs: 1,
    maxFloodWaitMs: 1,
    guard: new NetGuard(),
    tmpDir: join(dir, `downloads${n}`),
    language: "en",
    log,
    connection: () => null,
    canAddress: () => false,
    capabilities: telegramCapabilities,
    transaction: sqliteTransaction(db, { jobs, outbox }),
  });
  // Rounds are driven by hand here: the queue calls' kick must not start the real pump beside them.
  const manual = <T extends object>(bridge: T): T => Object.assign(Object.create(bridge) as T, { kick: () => {} });
  const queues = new QueueService({ outbox, jobs, inbound: manual(inbound), outbound: manual(outbound), now: clock.now });
  let msgId = 0;
  const add = (peer: string, text: string, media: MediaRef | null = null) => {
    const message: ChatMessage = {
      peer: { userId: peer, accessHash: "1", username: null, phone: null, firstName: `User ${peer}`, lastName: null, isBot: false, hasPhoto: false },
      messageId: ++msgId,
      out: false,
      date: 0,
      text,
      media,
      kind: media ? "media" : "text",
      editDate: null,
    };
    outbox.insert({ accountId: account.id, chatKey: peer, kind: "message", dedupKey: `m:${msgId}`, event: { message } });
  };
  /** Runs rounds until nothing is due at the fake now. */
  const drain = async () => {
    for (let i = 0; i < 50; i++) {
      const next = await inbound.round(account.id);
      if (next === null || next > clock.now()) return;
    }
  };
  return {
    clients,
    outbox,
    inbound,
    queues,
    account,
    clock,
    sent,
    lines,
    add,
    drain,
    answer: (f: typeof answer) => (answer = f),
    download: (f: typeof download) => (download = f),
    status: async () => (await queues.status(account.id)).to_planfix,
    warns: () => lines.filter((l) => l.level === "warn"),
  };
}

let s: Awaited<ReturnType<typeof setup>>;
beforeEach(async () => {
  s = await setup();
});

test("401: the whole queue waits in order, is probed every pauseRetryMs, and resumes at once after the key changes", async () => {
  s.answer((_cmd, a) => (a.tokenPlanfix === "good-key" ? ok : unauthorized));
  s.add("1", "a1");
  s.add("2", "b1");
  s.add("1", "a2");
  await s.drain();
  expect(s.sent).toEqual([]);
  expect(await s.status()).toMatchObject({ waiting: 3, parked: 0, paused: true });
  expect((await s.status()).problem).toContain("401");
  expect((await s.status()).problem).not.toContain("wrong-key");
  // Hours of probes later nothing was parked or dropped: a 401 is about the key, not the items.
  for (let i = 0; i < 20; i++) {
    s.clock.advance(300_000);
    await s.drain();
  }
  expect(await s.status()).toMatchObject({ waiting: 3, parked: 0, paused: true });
  expect(s.warns()).toHaveLength(1);

  // The key is fixed (PUT /client): the next round goes, without waiting for the probe interval.
  await s.clients.updateAccount(s.account.id, { tokenPlanfix: "good-key" });
  s.clock.advance(1000);
  await s.drain();
  expect(s.sent.map((x) => x.text).sort()).toEqual(["a1", "a2", "b1"]);
  expect(s.sent.filter((x) => x.text.startsWith("a")).map((x) => x.text)).toEqual(["a1", "a2"]);
  expect(await s.status()).toMatchObject({ waiting: 0, parked: 0, paused: false, problem: null });
  expect(s.lines.filter((l) => l.level === "info" && /works again/.test(l.msg))).toHaveLength(1);
});

test("401 fixed inside Planfix (no call to us): the probe after pauseRetryMs resumes the queue", async () => {
  let fixed = false;
  s.answer(() => (fixed ? ok : unauthorized));
  s.add("1", "x");
  await s.drain();
  fixed = true;
  s.clock.advance(299_000);
  await s.drain();
  expect(s.sent).toEqual([]);
  s.clock.advance(1000);
  await s.drain();
  expect(s.sent.map((x) => x.text)).toEqual(["x"]);
});

test("400 for one item: retried a few times, then parked; its chat moves on; resend delivers it; discard drops one", async () => {
  s.answer((cmd) => (cmd.message === "bad" ? invalid : ok));
  s.add("1", "bad");
  s.add("1", "after");
  for (let i = 0; i < 10; i++) {
    s.clock.advance(60_000);
    await s.drain();
  }
  expect(s.sent.map((x) => x.text)).toEqual(["after"]);
  expect(await s.status()).toMatchObject({ waiting: 0, parked: 1 });
  const [item] = await s.queues.list(s.account.id, s.account.number, "to_planfix", "parked");
  expect(item).toMatchObject({ chat_id: "380955821319_1", attempts: DEFAULT_RETRY.refusedTries, text: "bad" });
  expect(item!.error).toContain("400");

  s.answer(() => ok);
  expect(await s.queues.resend(s.account.id, "to_planfix", null)).toBe(1);
  await s.drain();
  expect(s.sent.map((x) => x.text)).toEqual(["after", "bad"]);
  expect(await s.status()).toMatchObject({ waiting: 0, parked: 0 });

  s.answer(() => invalid);
  s.add("2", "doomed");
  for (let i = 0; i < 10; i++) {
    s.clock.advance(60_000);
    await s.drain();
  }
  const parked = await s.queues.list(s.account.id, s.account.number, "to_planfix", "parked");
  expect(parked).toHaveLength(1);
  expect(await s.queues.discard(s.account.id, "to_planfix", parked[0]!.id)).toBe(1);
  expect(await s.status()).toMatchObject({ waiting: 0, parked: 0 });
  expect(await s.outbox.list(s.account.id, "parked", 10)).toEqual([]);
});

test("a preparation that keeps throwing counts towards the 72 h give-up: parked, and the chat moves on", async () => {
  s.download(async () => {
    throw new TelegramFailure("network", "connection reset");
  });
  const media: MediaRef = { kind: "photo", fileName: "photo.jpg", mimeType: "image/jpeg", size: 10, handle: {} };
  s.add("1", "with photo", media);
  s.add("1", "next");
  await s.drain();
  expect(s.sent).toEqual([]);
  expect((await s.status()).problem).toContain("connection reset");
  s.clock.advance(71 * 3600_000);
  await s.drain();
  expect(await s.status()).toMatchObject({ waiting: 2, parked: 0 });
  s.clock.advance(2 * 3600_000);
  await s.drain();
  expect(await s.status()).toMatchObject({ waiting: 0, parked: 1 });
  expect(s.sent.map((x) => x.text)).toEqual(["next"]);
  expect((await s.queues.list(s.account.id, s.account.number, "to_planfix", "parked"))[0]!.error).toContain("gave up after 72 h");
});

test("a file gone in Telegram (MEDIA_GONE) becomes a note; the text still reaches Planfix at once", async () => {
  s.download(async () => {
    throw new TelegramFailure("error", "MEDIA_GONE");
  });
  s.add("1", "look at this", { kind: "photo", fileName: "photo.jpg", mimeType: "image/jpeg", size: 10, handle: {} });
  s.add("1", "and this");
  await s.drain();
  expect(s.sent.map((x) => x.text)).toEqual(["look at this\n[photo.jpg: no longer available in Telegram — not transferred]", "and this"]);
  expect(await s.status()).toMatchObject({ waiting: 0, parked: 0 });
});

test("Planfix down: waiting, oldest age and the problem show; one warn when it starts, one info when it ends", async () => {
  s.answer(() => down);
  s.add("1", "m1");
  s.add("2", "m2");
  const started = s.clock.now();
  for (let i = 0; i < 10; i++) {
    s.clock.advance(60_000);
    await s.drain();
  }
  const st = await s.status();
  expect(st).toMatchObject({ waiting: 2, parked: 0, paused: false });
  expect(st.oldest_waiting_seconds).toBeGreaterThanOrEqual(600);
  expect(st.problem).toContain("502");
  expect(Date.parse(st.problem_since!)).toBe(started + 60_000);
  expect(s.warns()).toHaveLength(1);
  s.answer(() => ok);
  s.clock.advance(60_000);
  await s.drain();
  expect(await s.status()).toMatchObject({ waiting: 0, problem: null, problem_since: null });
  expect(s.lines.filter((l) => l.level === "info" && /works again/.test(l.msg))).toHaveLength(1);
  expect(s.warns()).toHaveLength(1);
});

test("a wrong url_planfix (404) holds the queue like a wrong key; a 5xx that lasts past 72 h parks the item instead of dropping it", async () => {
  s.answer(() => ({ ok: false, retry: false, kind: "other", status: 404, message: "Planfix answered newMessage with 404" }));
  s.add("1", "wrong url");
  await s.drain();
  expect(await s.status()).toMatchObject({ waiting: 1, parked: 0, paused: true });
  await s.clients.updateAccount(s.account.id, { urlPlanfix: "http://127.0.0.1:2/webchat/api" });
  s.answer(() => down);
  s.clock.advance(1000);
  await s.drain();
  expect(await s.status()).toMatchObject({ waiting: 1, parked: 0, paused: false });
  for (let h = 0; h < 73; h++) {
    s.clock.advance(3600_000);
    await s.drain();
  }
  expect(await s.status()).toMatchObject({ waiting: 0, parked: 1 });
  expect((await s.queues.list(s.account.id, s.account.number, "to_planfix", "parked"))[0]!.error).toContain("502");
});

test("ordering: a failing head holds only its own chat; the other chats go on; the held chat keeps its order", async () => {
  let planfixUp = false;
  s.answer((cmd) => (cmd.chatId === "380955821319_1" && !planfixUp ? down : ok));
  s.add("1", "a1");
  s.add("2", "b1");
  s.add("1", "a2");
  s.add("2", "b2");
  await s.drain();
  expect(s.sent.map((x) => x.text)).toEqual(["b1", "b2"]);
  expect(await s.status()).toMatchObject({ waiting: 2, parked: 0 });
  planfixUp = true;
  s.clock.advance(DEFAULT_RETRY.capMs);
  await s.drain();
  expect(s.sent.map((x) => x.text)).toEqual(["b1", "b2", "a1", "a2"]);
  expect(await s.status()).toMatchObject({ waiting: 0, parked: 0 });
});

test("retries: a failed item is not offered again before its pause, and the pauses grow up to the cap", async () => {
  const tries: number[] = [];
  s.answer(() => {
    tries.push(s.clock.now());
    return down;
  });
  s.add("1", "a1");
  await s.drain();
  expect(tries).toHaveLength(1);
  // Within the first pause (base 1 s, jittered to 0.5–1 s… doubled per attempt): nothing is sent again.
  s.clock.advance(400);
  await s.drain();
  expect(tries).toHaveLength(1);
  for (let i = 0; i < 2000 && tries.length < 12; i++) {
    s.clock.advance(500);
    await s.drain();
  }
  const gaps = tries.slice(1).map((t, i) => t - tries[i]!);
  expect(gaps.length).toBeGreaterThanOrEqual(6);
  // Exponential: the sixth pause is several times the first; none is longer than the cap.
  expect(gaps[5]!).toBeGreaterThan(gaps[0]! * 4);
  expect(Math.max(...gaps)).toBeLessThanOrEqual(DEFAULT_RETRY.capMs + 500);
  expect(Math.max(...gaps)).toBeGreaterThan(DEFAULT_RETRY.capMs / 2);
  expect(await s.status()).toMatchObject({ waiting: 1, parked: 0 });
});

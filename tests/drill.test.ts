// A short drill inside make test: ~35 s of load both ways against the compiled binary with at least
// two kill -9 restarts, a Planfix outage, a Telegram drop, a stall, a flood wait, a revoked session, a
// frozen account and expired file references; then every message counted. The long form is `make drill` (docs/drill.md).
import { describe, expect, test } from "bun:test";
import { analyzePlanfixToTelegram, analyzeTelegramToPlanfix } from "../bench/drill/analyze.ts";
import { formatReport, runDrill, type DrillResult } from "../bench/drill/index.ts";
import { sha, type PtItem, type TpItem } from "../bench/drill/load.ts";
import { ensureBinary } from "./e2e/harness.ts";
import type { ReceivedCommand } from "./support/planfix/server.ts";
import type { StoredMessage } from "./support/telegram/world.ts";

test("drill: kills, outages, drops, flood waits, revocations, freezes and expired file references under load lose nothing, double nothing unexplained, keep order", async () => {
  ensureBinary();
  const seed = Number(process.env.DRILL_SEED) || undefined;
  const r: DrillResult = await runDrill({
    seconds: 35,
    ...(seed ? { seed } : {}),
    numbersPerClient: [2, 1],
    customersPerNumber: 3,
    drainSeconds: 60,
    // Only the minimum of each fault (spread at random over the load), so the run stays short.
    every: { kill: 0, term: 0, planfix: 0, tgDrop: 0, tgStall: 0, flood: 0, revoke: 0, freeze: 0, fileRef: 0 },
    min: { kill: 2, term: 1, planfix: 1, tgDrop: 1, tgStall: 1, flood: 2, revoke: 1, freeze: 1, fileRef: 1 },
  });
  const report = formatReport(r);
  if (r.failures.length) console.log(report);
  expect(r.failures).toEqual([]);
  // The run really did what it claims.
  expect(r.kills).toBeGreaterThanOrEqual(2);
  expect(r.faults.planfix).toBeGreaterThanOrEqual(1);
  expect(r.faults.tgDrop).toBeGreaterThanOrEqual(1);
  expect(r.faults.flood).toBeGreaterThanOrEqual(1);
  expect(r.faults.revoke + r.faults.freeze).toBeGreaterThanOrEqual(1);
  expect(r.faults.fileRef).toBeGreaterThanOrEqual(1);
  expect(r.operatorFailures).toEqual([]);
  expect(r.tp.sent).toBeGreaterThan(50);
  expect(r.pt.sent).toBeGreaterThan(30);
  // The pass conditions, spelled out.
  expect(r.tp.lost + r.tp.heldAtEnd).toBe(0);
  expect(r.pt.lost + r.pt.heldAtEnd).toBe(0);
  expect(r.pt.duplicated).toBe(0);
  expect(r.tp.unexplainedDuplicates).toBe(0);
  expect(r.tp.orderViolations + r.pt.orderViolations).toBe(0);
  expect(r.drained).toBe(true);
  // Nothing held or parked at the end, as the appliance itself reports it; the report says so.
  expect(r.queues).toEqual({ held: { to_planfix: 0, to_telegram: 0 }, parked: { to_planfix: 0, to_telegram: 0 } });
  expect(report).toContain("held at the end (waiting): 0 to Planfix, 0 to Telegram · parked: 0 to Planfix, 0 to Telegram");
}, 180_000);

// The counting itself, on hand-made records: what is a loss, a redelivery after a kill, an unexplained
// duplicate, an order violation.
describe("drill counting", () => {
  const chatIds = ["380950000000_1", "380950000000_2"];
  // Planfix took the in-flight item at most 3 s before the kill and at most 1 s after the process was gone.
  const kill = { at: 10_000, exitedAt: 10_050, startAt: 10_100, restartedAt: 10_500, onlineAt: 11_000 };
  let seq = 0;
  const cmd = (chat: number, message: string, at: number, extra: Partial<ReceivedCommand> = {}): ReceivedCommand => ({
    seq: ++seq,
    at,
    path: "/a",
    method: "POST",
    contentType: "",
    pairs: [],
    cmd: "newMessage",
    status: 200,
    accepted: true,
    attachments: [],
    fields: { chatId: chatIds[chat]!, message },
    ...extra,
  });
  const tp = (tag: string, chat: number, s: number): TpItem => ({ tag: `DRLTx-${tag}`, chat, seq: s, sentAt: 0, kind: "text" });
  const run = (sent: TpItem[], commands: ReceivedCommand[], kills = [kill]) => analyzeTelegramToPlanfix({ runId: "x", chatIds, sent, commands, kills, fetched: new Map() });

  test("the item in flight at a kill, repeated right after itself, is a redelivery; anything else is unexplained", () => {
    const sent = [tp("000001", 0, 0), tp("000002", 0, 1), tp("000003", 1, 0)];
    const ok = run(sent, [cmd(0, "DRLTx-000001 a", 9_000), cmd(0, "DRLTx-000002 b", 10_020), cmd(0, "DRLTx-000002 b", 11_000), cmd(1, "DRLTx-000003", 12_000)]);
    expect(ok).toMatchObject({ sent: 3, delivered: 3, lost: 0, duplicated: 1, redeliveredAfterKill: 1, unexplainedDuplicates: 0, orderViolations: 0 });
    // Not next to its first copy, or with no kill in between: unexplained.
    const apart = run(sent, [cmd(0, "DRLTx-000001 a", 9_000), cmd(0, "DRLTx-000002 b", 9_500), cmd(0, "DRLTx-000001 a", 11_000), cmd(1, "DRLTx-000003", 12_000)]);
    expect(apart).toMatchObject({ redeliveredAfterKill: 0, unexplainedDuplicates: 1 });
    const longBefore = run(sent, [cmd(0, "DRLTx-000001 a", 1_000), cmd(0, "DRLTx-000001 a", 11_000), cmd(0, "DRLTx-000002 b", 12_000), cmd(1, "DRLTx-000003", 12_000)]);
    expect(longBefore).toMatchObject({ redeliveredAfterKill: 0, unexplainedDuplicates: 1 });
    const noKill = run(sent, [cmd(0, "DRLTx-000001 a", 1_000), cmd(0, "DRLTx-000001 a", 2_000), cmd(0, "DRLTx-000002 b", 3_000), cmd(1, "DRLTx-000003", 4_000)]);
    expect(noKill).toMatchObject({ redeliveredAfterKill: 0, unexplainedDuplicates: 1 });
    // One kill explains one repeat per chat, not two.
    const twice = run(sent, [
      cmd(0, "DRLTx-000001 a", 10_000),
      cmd(0, "DRLTx-000001 a", 11_000),
      cmd(0, "DRLTx-000001 a", 11_500),
      cmd(0, "DRLTx-000002 b", 12_000),
      cmd(1, "DRLTx-000003", 12_000),
    ]);
    expect(twice).toMatchObject({ redeliveredAfterKill: 1, unexplainedDuplicates: 1 });
  });

  test("losses, order violations and strangers are counted", () => {
    const sent = [tp("000001", 0, 0), tp("000002", 0, 1), tp("000003", 1, 0)];
    const r = run(sent, [cmd(0, "DRLTx-000002 b", 1_000), cmd(0, "DRLTx-000001 a", 2_000), cmd(1, "hello", 3_000), cmd(1, "DRLTx-000001 wrong chat", 3_000)]);
    expect(r).toMatchObject({ delivered: 2, lost: 1, orderViolations: 1, unknown: 2 });
  });

  test("Planfix → Telegram: parts recognised by text, file name and photo bytes; every repeat is a duplicate", () => {
    const png = Buffer.from("png-bytes");
    const doc = Buffer.from("doc-bytes");
    const item = (tag: string, s: number, parts: PtItem["parts"]): PtItem => ({
      tag,
      chat: 0,
      seq: s,
      messageId: tag,
      text: "",
      attachments: [],
      parts,
      firstAttemptAt: 0,
      acceptedAt: 1,
      attempts: [{ at: 0, outcome: "200", ms: 1 }],
      repeats: [],
    });
    const a = item("A", 0, [
      { kind: "text", text: "A hello" },
      { kind: "photo", name: "A-1.png", sha: sha(png) },
      { kind: "document", name: "A-2.pdf", sha: sha(doc) },
    ]);
    const b = item("B", 1, [{ kind: "text", text: "B bye" }]);
    const msg = (text: string, media?: StoredMessage["media"]) => ({ chat: 0, seenAt: 5, msg: { text, out: false, media } as StoredMessage });
    const photo = { kind: "photo", bytes: png } as StoredMessage["media"];
    const file = { kind: "document", bytes: doc, fileName: "A-2.pdf" } as StoredMessage["media"];
    const status = (id: string) => cmd(0, "", 6, { cmd: "messageStatus", fields: { messageId: id, messageStatus: "sent" } });
    const go = (seen: ReturnType<typeof msg>[]) => analyzePlanfixToTelegram({ chatIds, sent: [a, b], seen: [seen, []], commands: [status("A"), status("B")], kills: [] });
    expect(go([msg("A hello"), msg("", photo), msg("", file), msg("B bye")])).toMatchObject({
      delivered: 2,
      lost: 0,
      duplicated: 0,
      orderViolations: 0,
      partsDelivered: 4,
      statusMissing: 0,
    });
    expect(go([msg("A hello"), msg("", photo), msg("B bye")])).toMatchObject({ delivered: 1, lost: 1 });
    expect(go([msg("A hello"), msg("", photo), msg("", file), msg("A hello"), msg("B bye")])).toMatchObject({ duplicated: 1, unexplainedDuplicates: 1 });
    expect(go([msg("A hello"), msg("", file), msg("", photo), msg("B bye")])).toMatchObject({ orderViolations: 1 });
    expect(go([msg("B bye"), msg("A hello"), msg("", photo), msg("", file)])).toMatchObject({ orderViolations: 3 });

    // Not delivered but still listed by the appliance (waiting or parked): held, not lost.
    const listed = analyzePlanfixToTelegram({ chatIds, sent: [a, b], seen: [[msg("B bye")], []], commands: [status("B")], kills: [], held: new Set(["A"]) });
    expect(listed).toMatchObject({ delivered: 1, lost: 0, heldAtEnd: 1 });
    // Parked while its number was frozen (an error status), re-sent by the operator: arrives after B, explained.
    const error = cmd(0, "", 6, { cmd: "messageStatus", fields: { messageId: "A", messageStatus: "error", messageStatusText: "FROZEN_METHOD_INVALID" } });
    const seen = [msg("B bye"), msg("A hello"), msg("", photo), msg("", file)];
    const resent = analyzePlanfixToTelegram({ chatIds, sent: [a, b], seen: [seen, []], commands: [error, status("A"), status("B")], kills: [], resent: new Set(["A"]) });
    expect(resent).toMatchObject({ delivered: 2, orderViolations: 0, statusErrors: 0, parkedWhileImpaired: 1, parkedWhileImpairedDelivered: 1 });
    // The same without the operator's re-send is an error status and an order violation.
    expect(analyzePlanfixToTelegram({ chatIds, sent: [a, b], seen: [seen, []], commands: [error, status("A"), status("B")], kills: [] })).toMatchObject({
      statusErrors: 1,
      orderViolations: 3,
    });
  });

  test("Telegram → Planfix: a message the appliance still lists is held, not lost", () => {
    const sent = [tp("000001", 0, 0), tp("000002", 0, 1)];
    const r = analyzeTelegramToPlanfix({ runId: "x", chatIds, sent, commands: [cmd(0, "DRLTx-000001 a", 1_000)], kills: [], fetched: new Map(), heldTexts: ["DRLTx-000002 b"] });
    expect(r).toMatchObject({ delivered: 1, lost: 0, heldAtEnd: 1 });
    expect(run(sent, [cmd(0, "DRLTx-000001 a", 1_000)])).toMatchObject({ delivered: 1, lost: 1, heldAtEnd: 0 });
  });
});

// Counting after the drain: every tagged message on both sides, classified. Pure functions over what
// was sent (Load), what Planfix recorded, what the customers' mailboxes hold, and when kills happened.
import type { ReceivedCommand } from "../../tests/support/planfix/server.ts";
import type { KillRecord } from "./faults.ts";
import type { StoredMessage } from "../../tests/support/telegram/world.ts";
import { sha, type PtItem, type PtPart, type TpItem } from "./load.ts";
import type { SeenMessage } from "./observe.ts";
import { DEFAULT_LANGUAGE, textsFor } from "../../src/bridge/texts.ts";

/** The drill runs the appliance with its default LANGUAGE: edits carry that language's mark. */
const EDIT_MARK = textsFor(DEFAULT_LANGUAGE).editPrefix;

/** When a repeat counts as the redelivery of the item in flight at a kill: Planfix took the first copy
 *  no earlier than `beforeMs` before the kill (its answer, `latency` later, never reached a process that
 *  had been alive and recording answers) and no later than `afterMs` after the process was gone (the
 *  request sat in a socket buffer of the drill's own process); the repeat came after the kill. */
export interface RedeliveryWindow {
  beforeMs: number;
  afterMs: number;
}

export const DEFAULT_WINDOW: RedeliveryWindow = { beforeMs: 3000, afterMs: 1000 };

export interface DirectionStats {
  sent: number;
  delivered: number;
  /** Neither delivered nor still held or parked by the appliance (as it lists them at the end). */
  lost: number;
  /** Not delivered, but the appliance still lists them as waiting or parked at the end: not lost, yet a failure of the drain. */
  heldAtEnd: number;
  /** Messages that arrived more than once (any part, any number of extra copies). */
  duplicated: number;
  /** Of those: the one item per chat that was in flight at a kill (at-least-once at the crash instant). */
  redeliveredAfterKill: number;
  unexplainedDuplicates: number;
  orderViolations: number;
  /** Messages on the far side that match nothing sent, or arrived in the wrong chat. */
  unknown: number;
  maxDelayMs: number;
  p50DelayMs: number;
  p99DelayMs: number;
  /** Readable examples of every problem, a few per kind. */
  problems: string[];
}

export interface TpStats extends DirectionStats {
  /** Redeliveries per restart record (kills in order; graceful restarts and crashes stay 0). */
  redeliveredByKill: number[];
  /** For each redelivery: how long before the kill Planfix had taken the first copy (negative: after). */
  firstCopyBeforeKillMs: number[];
  media: number;
  edits: number;
  /** Edits that arrived without the "edited" mark. */
  badEdits: number;
  /** Media whose link is missing or serves other bytes. */
  badAttachments: number;
}

export interface PtStats extends DirectionStats {
  parts: number;
  partsDelivered: number;
  /** Webhooks still without a 200 at the end (Planfix would still be retrying them); not in lost. */
  neverAccepted: number;
  /** Every webhook request, repeats of answered ones included. */
  webhookAttempts: number;
  webhookOutcomes: Record<string, number>;
  /** Webhooks answered with a 4xx although they were valid. */
  refused: number;
  /** 200 answers naming another chat/contact. */
  wrongAnswers: number;
  repeats: number;
  maxAcceptDelayMs: number;
  /** Attachments that arrived with other bytes. */
  corrupt: number;
  /** messageStatus "sent" for delivered items. */
  statusSent: number;
  statusMissing: number;
  statusRedeliveredAfterKill: number;
  statusUnexplainedDuplicates: number;
  statusErrors: number;
  /** Messages parked (and reported to Planfix as errors) while their number was frozen or signed out, re-sent by the operator afterwards. */
  parkedWhileImpaired: number;
  /** Of those, delivered in the end (with a "sent" status after the error). */
  parkedWhileImpairedDelivered: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function note(problems: string[], counts: Map<string, number>, kind: string, text: string): void {
  const n = (counts.get(kind) ?? 0) + 1;
  counts.set(kind, n);
  if (n <= 5) problems.push(`${kind}: ${text}`);
}

/** A kill that can explain a repeat: the first copy reached Planfix before the process was gone
 *  (plus slack), the second after the kill. Each kill explains at most one repeat per chat. */
function explainingKill(kills: KillRecord[], win: RedeliveryWindow, firstAt: number, againAt: number, used: Set<string>, scope: string): number | null {
  for (const [i, k] of kills.entries()) {
    if (k.crash || k.termStopMs !== undefined) continue;
    const key = `${i}:${scope}`;
    if (used.has(key)) continue;
    if (firstAt >= k.at - win.beforeMs && firstAt <= k.exitedAt + win.afterMs && againAt >= k.at) {
      used.add(key);
      return i;
    }
  }
  return null;
}

export function analyzeTelegramToPlanfix(input: {
  runId: string;
  chatIds: string[];
  sent: TpItem[];
  commands: ReceivedCommand[];
  kills: KillRecord[];
  window?: RedeliveryWindow;
  /** sha of the bytes each attachment link served at the end (or an error text). */
  fetched: Map<string, string>;
  /** Texts of the items the appliance still lists (waiting or parked) for Planfix at the end. */
  heldTexts?: string[];
}): TpStats {
  const win = input.window ?? DEFAULT_WINDOW;
  const problems: string[] = [];
  const counts = new Map<string, number>();
  const tagRe = new RegExp(`DRLT${input.runId}-\\d{6}`);
  const byTag = new Map(input.sent.map((i) => [i.tag, i]));
  const chatOf = new Map(input.chatIds.map((id, i) => [id, i]));
  const perChat: { tag: string; cmd: ReceivedCommand }[][] = input.chatIds.map(() => []);
  const occurrences = new Map<string, ReceivedCommand[]>();
  let unknown = 0;
  const received = input.commands.filter((c) => c.accepted && c.cmd === "newMessage").sort((a, b) => a.seq - b.seq);
  for (const cmd of received) {
    const tag = tagRe.exec(cmd.fields.message ?? "")?.[0];
    const item = tag ? byTag.get(tag) : undefined;
    const chat = chatOf.get(cmd.fields.chatId ?? "");
    if (!item || chat === undefined || item.chat !== chat) {
      unknown++;
      note(problems, counts, "unknown message in Planfix", `chat ${cmd.fields.chatId} isEcho=${cmd.fields.isEcho ?? "-"} "${(cmd.fields.message ?? "").slice(0, 60)}"`);
      continue;
    }
    perChat[chat]!.push({ tag: tag!, cmd });
    const list = occurrences.get(tag!) ?? [];
    list.push(cmd);
    occurrences.set(tag!, list);
  }

  // Duplicates: a repeat right after its first copy in its chat, around a kill, is the redelivery the
  // design allows; anything else is unexplained.
  const used = new Set<string>();
  const dupTags = new Set<string>();
  let redelivered = 0;
  let unexplained = 0;
  const byKill: number[] = input.kills.map(() => 0);
  const firstCopyBeforeKill: number[] = [];
  for (const [chat, list] of perChat.entries()) {
    const seenTags = new Set<string>();
    for (const [i, r] of list.entries()) {
      if (!seenTags.has(r.tag)) {
        seenTags.add(r.tag);
        continue;
      }
      dupTags.add(r.tag);
      const prev = list[i - 1];
      const kill = prev && prev.tag === r.tag ? explainingKill(input.kills, win, prev.cmd.at, r.cmd.at, used, `tp:${chat}`) : null;
      if (kill !== null) {
        redelivered++;
        byKill[kill] = (byKill[kill] ?? 0) + 1;
        // How long before the kill Planfix took the first copy: within its answer delay, if the rule is right.
        firstCopyBeforeKill.push(input.kills[kill]!.at - prev!.cmd.at);
      } else {
        unexplained++;
        note(problems, counts, "unexplained duplicate (Telegram → Planfix)", `${r.tag} in chat ${input.chatIds[chat]} again at +${r.cmd.at - occurrences.get(r.tag)![0]!.at} ms`);
      }
    }
  }

  // Order: first copies in each chat in the order the customer wrote them. Edits are left out: after a
  // restart, getDifference hands over the new messages and the edits of a gap separately.
  let orderViolations = 0;
  for (const list of perChat) {
    let max = -1;
    const first = new Set<string>();
    for (const r of list) {
      if (first.has(r.tag)) continue;
      first.add(r.tag);
      if (byTag.get(r.tag)!.kind === "edit") continue;
      const seq = byTag.get(r.tag)!.seq;
      if (seq < max) {
        orderViolations++;
        note(problems, counts, "order (Telegram → Planfix)", `${r.tag} (#${seq}) after #${max} in chat ${r.cmd.fields.chatId}`);
      }
      max = Math.max(max, seq);
    }
  }

  const delays: number[] = [];
  let lost = 0;
  let heldAtEnd = 0;
  let badAttachments = 0;
  let badEdits = 0;
  let media = 0;
  for (const item of input.sent) {
    const occ = occurrences.get(item.tag);
    if (!occ) {
      if (input.heldTexts?.some((t) => t.includes(item.tag))) {
        heldAtEnd++;
        note(problems, counts, "still held by the appliance (Telegram → Planfix)", `${item.tag} (${item.kind}) in chat ${input.chatIds[item.chat]}`);
        continue;
      }
      lost++;
      note(problems, counts, "lost (Telegram → Planfix)", `${item.tag} (${item.kind}) in chat ${input.chatIds[item.chat]}`);
      continue;
    }
    delays.push(occ[0]!.at - item.sentAt);
    if (item.kind === "edit" && !(occ[0]!.fields.message ?? "").startsWith(EDIT_MARK)) {
      badEdits++;
      note(problems, counts, "edit not marked as edited", `${item.tag}: "${(occ[0]!.fields.message ?? "").slice(0, 40)}"`);
    }
    if (item.kind === "photo" || item.kind === "file") {
      media++;
      const att = occ[0]!.attachments;
      const got = att.length === 1 ? input.fetched.get(att[0]!.url) : `${att.length} attachments`;
      if (got !== item.sha) {
        badAttachments++;
        note(problems, counts, "bad attachment (Telegram → Planfix)", `${item.tag}: expected ${item.sha}, link gave ${got ?? "nothing"}`);
      }
    }
  }
  delays.sort((a, b) => a - b);
  return {
    sent: input.sent.length,
    delivered: input.sent.length - lost - heldAtEnd,
    lost,
    heldAtEnd,
    duplicated: dupTags.size,
    redeliveredAfterKill: redelivered,
    redeliveredByKill: byKill,
    firstCopyBeforeKillMs: firstCopyBeforeKill,
    unexplainedDuplicates: unexplained,
    orderViolations,
    unknown,
    maxDelayMs: delays.at(-1) ?? 0,
    p50DelayMs: percentile(delays, 50),
    p99DelayMs: percentile(delays, 99),
    media,
    edits: input.sent.filter((i) => i.kind === "edit").length,
    badEdits,
    badAttachments,
    problems,
  };
}

/** How a Telegram message sent by a number is recognised: exact text, document name, or photo bytes. */
export function partKey(m: { text: string; media?: { kind: string; bytes?: Buffer; fileName?: string } }): string {
  if (!m.media) return `text:${m.text}`;
  if (m.media.kind === "photo") return `photo:${m.media.bytes ? sha(m.media.bytes) : "?"}`;
  if (m.media.kind === "document") return `doc:${m.media.fileName ?? "?"}`;
  return `other:${m.media.kind}`;
}

/** The key of a part as sent, matching partKey of the Telegram message it becomes. */
export function expectedKey(p: PtPart): string {
  return p.kind === "text" ? `text:${p.text}` : p.kind === "photo" ? `photo:${p.sha}` : `doc:${p.name}`;
}

/** partKey of a message in a loopback mailbox. */
export function seenKey(m: StoredMessage): string {
  const media =
    m.media?.kind === "photo" || m.media?.kind === "document"
      ? { kind: m.media.kind, bytes: m.media.bytes, fileName: m.media.kind === "document" ? m.media.fileName : undefined }
      : m.media
        ? { kind: m.media.kind }
        : undefined;
  return partKey({ text: m.text, media });
}

export function analyzePlanfixToTelegram(input: {
  chatIds: string[];
  sent: PtItem[];
  seen: SeenMessage[][];
  commands: ReceivedCommand[];
  kills: KillRecord[];
  window?: RedeliveryWindow;
  /** messageIds the appliance parked while their number was frozen or signed out, which the operator re-sent. */
  resent?: ReadonlySet<string>;
  /** messageIds the appliance still lists (waiting or parked) at the end. */
  held?: ReadonlySet<string>;
}): PtStats {
  const win = input.window ?? DEFAULT_WINDOW;
  const problems: string[] = [];
  const counts = new Map<string, number>();
  const index = new Map<string, { item: PtItem; part: number }>();
  for (const item of input.sent) {
    for (const [p, part] of item.parts.entries()) {
      index.set(expectedKey(part), { item, part: p });
    }
  }
  const occ = new Map<string, SeenMessage[]>(); // `${tag}#${part}` → copies
  let unknown = 0;
  let corrupt = 0;
  let orderViolations = 0;
  for (const [chat, list] of input.seen.entries()) {
    let maxItem = -1;
    let maxPart = -1;
    for (const s of list) {
      const m = s.msg;
      const ref = index.get(seenKey(m));
      if (!ref || ref.item.chat !== chat) {
        unknown++;
        note(problems, counts, "unknown message in Telegram", `chat ${input.chatIds[chat]} "${m.text.slice(0, 60)}" ${m.media?.kind ?? ""}`);
        continue;
      }
      const part = ref.item.parts[ref.part]!;
      // A message re-sent by the operator after its number's freeze or sign-out arrives after later ones: not an order violation.
      const resent = input.resent?.has(ref.item.messageId) ?? false;
      if (part.kind === "document" && m.media?.kind === "document" && sha(m.media.bytes) !== part.sha) {
        corrupt++;
        note(problems, counts, "corrupt attachment (Planfix → Telegram)", `${part.name}`);
      }
      const key = `${ref.item.tag}#${ref.part}`;
      const copies = occ.get(key) ?? [];
      copies.push(s);
      occ.set(key, copies);
      if (copies.length > 1 || resent) continue;
      // Order: items of a chat in acceptance order, each item's parts in order (text first, then files).
      const after = ref.item.seq > maxItem || (ref.item.seq === maxItem && ref.part > maxPart);
      if (!after) {
        orderViolations++;
        note(problems, counts, "order (Planfix → Telegram)", `${key} after ${maxItem}#${maxPart} in chat ${input.chatIds[chat]}`);
      } else {
        maxItem = ref.item.seq;
        maxPart = ref.part;
      }
    }
  }

  const statuses = new Map<string, ReceivedCommand[]>();
  for (const c of input.commands) {
    if (!c.accepted || c.cmd !== "messageStatus") continue;
    const list = statuses.get(c.fields.messageId ?? "") ?? [];
    list.push(c);
    statuses.set(c.fields.messageId ?? "", list);
  }

  const delays: number[] = [];
  const acceptDelays: number[] = [];
  let lost = 0;
  let duplicated = 0;
  let neverAccepted = 0;
  let parts = 0;
  let partsDelivered = 0;
  let statusSent = 0;
  let statusMissing = 0;
  let statusRedelivered = 0;
  let statusUnexplained = 0;
  let statusErrors = 0;
  let parkedWhileImpaired = 0;
  let parkedWhileImpairedDelivered = 0;
  let heldAtEnd = 0;
  const used = new Set<string>();
  const outcomes: Record<string, number> = {};
  let attempts = 0;
  let refused = 0;
  let wrongAnswers = 0;
  let repeats = 0;
  for (const item of input.sent) {
    for (const a of [...item.attempts, ...item.repeats]) {
      outcomes[a.outcome] = (outcomes[a.outcome] ?? 0) + 1;
      if (/^4\d\d$/.test(a.outcome)) {
        refused++;
        note(problems, counts, "webhook refused", `${item.tag} answered ${a.outcome}`);
      }
    }
    attempts += item.attempts.length;
    repeats += item.repeats.length;
    if (item.wrongAnswer) {
      wrongAnswers++;
      note(problems, counts, "wrong webhook answer", `${item.tag}: ${item.wrongAnswer}`);
    }
    parts += item.parts.length;
    const firsts = item.parts.map((_, p) => occ.get(`${item.tag}#${p}`)?.[0]);
    const got = firsts.filter(Boolean).length;
    partsDelivered += got;
    if (item.parts.some((_, p) => (occ.get(`${item.tag}#${p}`)?.length ?? 0) > 1)) {
      duplicated++;
      note(problems, counts, "duplicate (Planfix → Telegram)", `${item.tag} (messageId ${item.messageId})`);
    }
    if (item.acceptedAt === null) {
      neverAccepted++;
      note(problems, counts, "never accepted", `${item.tag} after ${item.attempts.length} attempts (${item.attempts.at(-1)?.outcome})`);
      continue;
    }
    acceptDelays.push(item.acceptedAt - item.firstAttemptAt);
    const resent = input.resent?.has(item.messageId) ?? false;
    if (resent) parkedWhileImpaired++;
    if (got < item.parts.length) {
      if (input.held?.has(item.messageId)) {
        heldAtEnd++;
        note(
          problems,
          counts,
          "still held by the appliance (Planfix → Telegram)",
          `${item.tag} (messageId ${item.messageId}): ${got}/${item.parts.length} parts in chat ${input.chatIds[item.chat]}`,
        );
        continue;
      }
      lost++;
      note(problems, counts, "lost (Planfix → Telegram)", `${item.tag} (messageId ${item.messageId}): ${got}/${item.parts.length} parts in chat ${input.chatIds[item.chat]}`);
      continue;
    }
    delays.push(Math.max(...firsts.map((s) => s!.seenAt)) - item.firstAttemptAt);
    const st = statuses.get(item.messageId) ?? [];
    const errors = st.filter((s) => s.fields.messageStatus === "error");
    if (resent) parkedWhileImpairedDelivered++;
    else if (errors.length) {
      statusErrors++;
      note(problems, counts, "error status", `${item.tag}: ${errors[0]!.fields.messageStatusText}`);
    }
    const sent = st.filter((s) => s.fields.messageStatus === "sent");
    if (sent.length === 0) {
      statusMissing++;
      note(problems, counts, "missing sent status", `${item.tag} (messageId ${item.messageId})`);
    } else statusSent++;
    for (const again of sent.slice(1)) {
      if (explainingKill(input.kills, win, sent[0]!.at, again.at, used, `st:${item.chat}`) !== null) statusRedelivered++;
      else {
        statusUnexplained++;
        note(problems, counts, "unexplained duplicate status", `${item.tag} sent ×${sent.length}`);
      }
    }
  }
  delays.sort((a, b) => a - b);
  return {
    sent: input.sent.length,
    delivered: input.sent.length - neverAccepted - lost - heldAtEnd,
    lost,
    heldAtEnd,
    duplicated,
    redeliveredAfterKill: 0,
    unexplainedDuplicates: duplicated,
    orderViolations,
    unknown,
    maxDelayMs: delays.at(-1) ?? 0,
    p50DelayMs: percentile(delays, 50),
    p99DelayMs: percentile(delays, 99),
    problems,
    parts,
    partsDelivered,
    neverAccepted,
    webhookAttempts: attempts + repeats,
    webhookOutcomes: outcomes,
    refused,
    wrongAnswers,
    repeats,
    maxAcceptDelayMs: Math.max(0, ...acceptDelays),
    corrupt,
    statusSent,
    statusMissing,
    statusRedeliveredAfterKill: statusRedelivered,
    statusUnexplainedDuplicates: statusUnexplained,
    statusErrors,
    parkedWhileImpaired,
    parkedWhileImpairedDelivered,
  };
}

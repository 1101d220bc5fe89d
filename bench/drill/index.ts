// The drill: mixed load both ways while the appliance is killed and its neighbours fail, then a
// bounded drain, then every tagged message counted. `runDrill` is used by bench/drill.ts (make drill)
// and by tests/drill.test.ts (a short run inside make test).
import { rmSync } from "node:fs";
import { analyzePlanfixToTelegram, analyzeTelegramToPlanfix, type PtStats, type TpStats } from "./analyze.ts";
import { FAULT_KINDS, FaultRunner, planFaults, type FaultKind, type PlannedFault } from "./faults.ts";
import { Load, sha } from "./load.ts";
import { MailboxWatcher } from "./observe.ts";
import { settledQueues, type QueueTotals } from "./queues.ts";
import { Rng, randomSeed } from "../../tests/support/rng.ts";
import { ADMIN_TOKEN, startWorld, type DrillWorld } from "./setup.ts";
import { expectedKey, seenKey } from "./analyze.ts";

export interface DrillOptions {
  /** The appliance binary; default dist/planfix-telegram (DRILL_BINARY: e.g. a deliberately broken build, to see the drill catch it). */
  binary?: string;
  /** Length of the load phase. */
  seconds: number;
  seed: number;
  numbersPerClient: number[];
  customersPerNumber: number;
  /** Telegram → Planfix messages per second (all chats). */
  tpRate: number;
  /** Planfix → Telegram messages per second (all chats). */
  ptRate: number;
  /** Longest wait for the system to drain after every fault is healed. */
  drainSeconds: number;
  retryCapSeconds: number;
  /** Planfix answers this long after it has processed a command (as over the internet): a kill in
   *  that window is what makes the one redelivery Telegram → Planfix. */
  planfixLatencyMs: number;
  /** Telegram's answers reach the appliance this much later: a kill in that window leaves a message sent
   *  that the appliance never heard about (the derived random_id must keep the resend from doubling it). */
  telegramLatencyMs: number;
  /** File references older than this expire (FILE_REFERENCE_EXPIRED), besides the fileRef faults that expire all at once. */
  fileReferenceTtlMs: number;
  /** Mean seconds between faults of each kind, and the minimum number of each. */
  every: Record<FaultKind, number>;
  min: Record<FaultKind, number>;
  /** Keep the data directory and the appliance log even when the drill passes. */
  keep: boolean;
  logLevel: string;
  log: (line: string) => void;
}

export const DEFAULTS: DrillOptions = {
  seconds: 300,
  seed: 0,
  numbersPerClient: [2, 1],
  customersPerNumber: 4,
  tpRate: 4,
  ptRate: 3,
  drainSeconds: 120,
  retryCapSeconds: 5,
  planfixLatencyMs: 150,
  telegramLatencyMs: 60,
  fileReferenceTtlMs: 20_000,
  every: { kill: 40, term: 90, planfix: 35, tgDrop: 45, tgStall: 60, flood: 20, revoke: 60, freeze: 60, fileRef: 30 },
  min: { kill: 2, term: 0, planfix: 1, tgDrop: 1, tgStall: 1, flood: 1, revoke: 0, freeze: 0, fileRef: 0 },
  keep: false,
  logLevel: "info",
  log: () => {},
};

/** What runDrill takes: any option, and any fault kinds' rates and minimums (the rest from DEFAULTS). */
export type DrillInput = Partial<Omit<DrillOptions, "every" | "min">> & { every?: Partial<Record<FaultKind, number>>; min?: Partial<Record<FaultKind, number>> };

export interface DrillResult {
  seed: number;
  options: Omit<DrillOptions, "log">;
  numbers: number;
  clients: number;
  chats: number;
  loadMs: number;
  drainMs: number;
  /** The drain ended because everything arrived (false: the bounded wait ran out). */
  drained: boolean;
  plan: PlannedFault[];
  faults: Record<FaultKind, number>;
  faultLog: { at: number; kind: FaultKind; detail: string }[];
  kills: number;
  /** What each restart record was: a kill -9, a graceful restart (term) or a crash. */
  killKinds: ("kill" | "term" | "crash")[];
  /** Graceful restarts (SIGTERM under load), and the longest of their stops. */
  terms: number;
  maxTermStopMs: number | null;
  /** Restarts after which the numbers were not all online again within 60 s (with no new restart meanwhile). */
  notBackOnline: number;
  crashes: number;
  restartFailures: string[];
  /** Longest start → /health answering, and start → every number online again, after a kill. */
  maxRestartMs: number;
  maxBackOnlineMs: number;
  /** SIGTERM at the end: how long the clean stop took (null: it had to be killed). */
  cleanStopMs: number | null;
  tp: TpStats;
  pt: PtStats;
  /** What the appliance still held (waiting) and parked at the end, per direction (null: not readable). */
  queues: QueueTotals | null;
  /** Revocations and freezes: how long each number could not send (from the fault to the operator's fix). */
  impaired: { kind: "revoke" | "freeze"; number: string; ms: number | null }[];
  /** Messages for Telegram parked while their number was frozen or signed out, re-sent by the operator. */
  operatorResends: number;
  operatorFailures: string[];
  /** Downloads Telegram answered FILE_REFERENCE_EXPIRED (each followed by fetching the message again). */
  fileReferencesExpired: number;
  telegramDuplicateKeys: number;
  loopbackInternalErrors: number;
  applianceErrorLines: number;
  applianceErrorSamples: string[];
  dir: string;
  kept: boolean;
  failures: string[];
}

const sleep = (ms: number) => Bun.sleep(Math.max(0, ms));

export async function runDrill(partial: DrillInput = {}): Promise<DrillResult> {
  const o: DrillOptions = { ...DEFAULTS, ...partial, every: { ...DEFAULTS.every, ...partial.every }, min: { ...DEFAULTS.min, ...partial.min } };
  if (!o.seed) o.seed = randomSeed();
  const log = o.log;
  const rng = new Rng(o.seed, "drill");
  const runId = o.seed.toString(36);
  log(
    `drill seed ${o.seed} (DRILL_SEED=${o.seed} repeats this plan) · ${o.seconds} s of load · numbers per client ${o.numbersPerClient.join("+")} · ${o.customersPerNumber} customers each`,
  );

  const w = await startWorld({
    binary: o.binary,
    numbersPerClient: o.numbersPerClient,
    customersPerNumber: o.customersPerNumber,
    retryCapSeconds: o.retryCapSeconds,
    telegramLatencyMs: o.telegramLatencyMs,
    fileReferenceTtlMs: o.fileReferenceTtlMs,
    logLevel: o.logLevel,
  });
  log(`appliance pid ${w.app.pid} on ${w.app.url}, data and log in ${w.dir}`);
  const load = new Load(w, rng.fork("load"), { tpRate: o.tpRate, ptRate: o.ptRate, webhookTimeoutMs: 10_000 }, runId);
  const watcher = new MailboxWatcher(w);
  const faults = new FaultRunner(w, (line) => log(`  [${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}`));
  let t0 = Date.now();
  let fatal: Error | null = null;
  let cleanStopMs: number | null = null;
  let drained = false;
  let loadMs = 0;
  let drainMs = 0;
  const plan = planFaults(rng.fork("faults"), o.seconds * 1000, { every: o.every, min: o.min, numbers: w.numbers.length });
  try {
    w.planfix.setLatency(o.planfixLatencyMs);
    watcher.start();
    // Each customer writes first, as in every chat Planfix knows: the number learns who they are.
    const introRng = rng.fork("intro");
    for (const chat of w.chats) load.customerWrites(chat, introRng, "text");
    await waitUntil(() => w.chats.every((c) => w.planfix.newMessages(c.chatId).length > 0), 60_000, "the first message of every chat to reach Planfix");

    t0 = Date.now();
    const loadEnd = t0 + o.seconds * 1000;
    const hardDeadline = loadEnd + o.drainSeconds * 1000;
    log(`load for ${o.seconds} s; faults planned: ${summarize(plan.map((p) => p.kind))}`);
    faults.startWatchdog();
    const inPlanfix = planfixTags(w, runId);
    const customers = w.chats.map((c) => load.customerLoop(c, loadEnd, inPlanfix));
    const planfixSide = w.chats.map((c) => load.planfixLoop(c, loadEnd, () => hardDeadline));
    const faultRun = faults.run(plan, t0, loadEnd).catch((e: Error) => {
      fatal = e;
    });
    const progress = setInterval(() => log(`  [${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${progressLine(w, load, watcher)}`), 15_000);
    try {
      while (Date.now() < loadEnd && !fatal) await sleep(Math.min(250, loadEnd - Date.now()));
      await faultRun;
    } finally {
      clearInterval(progress);
    }
    load.stop();
    if (fatal) throw fatal;
    loadMs = Date.now() - t0;

    // Heal everything, then wait (bounded) until every message has arrived on the other side.
    await faults.healAll();
    const healedAt = Date.now();
    log(`load over after ${(loadMs / 1000).toFixed(1)} s; every fault healed; draining (at most ${o.drainSeconds} s)`);
    await Promise.all(customers);
    /** What the drain still waits for, or null when everything has arrived. */
    const missing = (): string | null => {
      watcher.poll();
      const unaccepted = load.unaccepted().length;
      if (unaccepted > 0) return `${unaccepted} webhook(s) not yet answered 200`;
      const inPlanfix = new Set<string>();
      const tagRe = new RegExp(`DRLT${runId}-\\d{6}`);
      for (const c of w.planfix.newMessages()) {
        const t = tagRe.exec(c.fields.message ?? "")?.[0];
        if (t) inPlanfix.add(t);
      }
      const tpMissing = load.tp.filter((i) => !inPlanfix.has(i.tag)).length;
      if (tpMissing > 0) return `${tpMissing} Telegram message(s) not yet in Planfix`;
      const seenKeys = new Set(watcher.seen.flat().map((x) => seenKey(x.msg)));
      const ptMissing = load.pt.filter((item) => item.parts.some((p) => !seenKeys.has(expectedKey(p)))).length;
      if (ptMissing > 0) return `${ptMissing} Planfix message(s) not yet (fully) in Telegram`;
      const withStatus = new Set(w.planfix.statuses().map((c) => c.fields.messageId));
      const noStatus = load.pt.filter((item) => !withStatus.has(item.messageId)).length;
      if (noStatus > 0) return `${noStatus} "sent" status(es) not yet in Planfix`;
      return null;
    };
    const drainDeadline = Math.min(hardDeadline, healedAt + o.drainSeconds * 1000);
    let lastLog = Date.now();
    let waitingFor: string | null = "";
    while (Date.now() < drainDeadline && (waitingFor = missing()) !== null) {
      if (Date.now() - lastLog > 5_000) {
        lastLog = Date.now();
        log(`  draining ${((Date.now() - healedAt) / 1000).toFixed(0)} s: waiting for ${waitingFor}`);
        // The operator looks again for messages parked while a number could not send.
        await faults.resendLateParked();
      }
      await sleep(250);
    }
    drained = waitingFor === null;
    await Promise.race([Promise.all(planfixSide), sleep(Math.max(0, drainDeadline - Date.now()))]);
    drainMs = Date.now() - healedAt;
    // A quiet moment, so a late duplicate would still be counted.
    await sleep(3000);
    await load.settleRepeats();
    log(drained ? `drained in ${(drainMs / 1000).toFixed(1)} s` : `NOT drained within ${o.drainSeconds} s: still waiting for ${waitingFor}`);
  } catch (e) {
    fatal = fatal ?? (e as Error);
    log(`drill aborted: ${(e as Error).message}`);
  } finally {
    load.stop();
    faults.stop();
    watcher.stop();
  }

  let result: DrillResult;
  try {
    // Links to Telegram media handed to Planfix must serve the same bytes (checked while the appliance runs).
    const fetched = new Map<string, string>();
    if (w.app.running) {
      const urls = [...new Set(w.planfix.newMessages().flatMap((c) => c.attachments.map((a) => a.url)))];
      await inParallel(urls, 6, async (url) => {
        try {
          const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
          fetched.set(url, r.ok ? sha(new Uint8Array(await r.arrayBuffer())) : `HTTP ${r.status}`);
        } catch (e) {
          fetched.set(url, `fetch failed: ${(e as Error).message}`);
        }
      });
    }
    // Nothing may stay held or parked once everything has arrived (the last statuses get a few seconds).
    const queues = w.app.running ? await settledQueues(w, 30_000) : null;
    // What the appliance still lists item by item: what is not delivered but listed there is held, not lost.
    const listed = w.app.running ? await listedItems(w) : { toPlanfixTexts: [], toTelegramIds: new Set<string>() };
    // (Not running here means the drill was aborted; that is reported as such, not as a stop failure.)
    cleanStopMs = w.app.running ? await w.app.stop(15_000) : 0;

    const commands = w.planfix.commands();
    const chatIds = w.chats.map((c) => c.chatId);
    const window = { beforeMs: o.planfixLatencyMs + 3000, afterMs: 1000 };
    const tp = analyzeTelegramToPlanfix({ runId, chatIds, sent: load.tp, commands, kills: faults.kills, window, fetched, heldTexts: listed.toPlanfixTexts });
    const resent = new Set(faults.resent.map((r) => r.messageId));
    const pt = analyzePlanfixToTelegram({ chatIds, sent: load.pt, seen: watcher.seen, commands, kills: faults.kills, window, resent, held: listed.toTelegramIds });
    const faultCounts = Object.fromEntries(FAULT_KINDS.map((k) => [k, faults.events.filter((e) => e.kind === k).length])) as Record<FaultKind, number>;
    const kills = faults.kills.filter((k) => !k.crash && k.termStopMs === undefined);
    const terms = faults.kills.filter((k) => k.termStopMs !== undefined);
    const notBackOnline = faults.kills.filter((k, i) => k.onlineAt === null && (faults.kills[i + 1]?.at ?? Number.POSITIVE_INFINITY) > k.restartedAt + 60_000).length;
    let duplicateKeys = 0;
    for (const n of w.tg.duplicates.values()) duplicateKeys += n;

    result = {
      seed: o.seed,
      options: { ...o, log: undefined } as unknown as Omit<DrillOptions, "log">,
      numbers: w.numbers.length,
      clients: w.clients.length,
      chats: w.chats.length,
      loadMs,
      drainMs,
      drained,
      plan,
      faults: faultCounts,
      faultLog: faults.events.map((e) => ({ ...e, at: e.at - t0 })),
      kills: kills.length,
      killKinds: faults.kills.map((k) => (k.crash ? "crash" : k.termStopMs !== undefined ? "term" : "kill")),
      terms: terms.length,
      maxTermStopMs: terms.some((t) => t.termStopMs === null) ? null : Math.max(0, ...terms.map((t) => t.termStopMs!)),
      notBackOnline,
      crashes: w.app.crashes().length,
      restartFailures: faults.restartFailures,
      maxRestartMs: Math.max(0, ...faults.kills.map((k) => k.restartedAt - k.startAt)),
      maxBackOnlineMs: Math.max(0, ...faults.kills.map((k) => (k.onlineAt ?? Number.POSITIVE_INFINITY) - k.startAt)),
      cleanStopMs,
      tp,
      pt,
      queues,
      impaired: faults.windows.map((x) => ({ kind: x.kind, number: x.number, ms: x.to === null ? null : x.to - x.from })),
      operatorResends: faults.resent.length,
      operatorFailures: faults.operatorFailures,
      fileReferencesExpired: w.tg.world.edges.fileReferencesExpired,
      telegramDuplicateKeys: duplicateKeys,
      loopbackInternalErrors: w.tg.internalErrors.length,
      applianceErrorLines: w.app.errorCount,
      applianceErrorSamples: w.app.errorLines.slice(0, 5),
      dir: w.dir,
      kept: false,
      failures: [],
    };
    if (fatal) result.failures.push(`the drill could not run to the end: ${(fatal as Error).message.split("\n")[0]}`);
    result.failures.push(...verdict(result));
  } finally {
    // Whatever happened above, nothing the drill started outlives it.
    if (w.app.running) await w.app.stop(15_000).catch(() => {});
    await w.proxy.stop().catch(() => {});
    await w.planfix.stop().catch(() => {});
    await w.tg.stop().catch(() => {});
  }
  result.kept = o.keep || result.failures.length > 0;
  if (!result.kept) rmSync(w.dir, { recursive: true, force: true });
  return result;
}

/** The pass conditions; every failed one as a sentence. */
export function verdict(r: DrillResult): string[] {
  const f: string[] = [];
  if (!r.drained) f.push(`the system did not drain within ${r.options.drainSeconds} s of healing`);
  if (r.tp.lost) f.push(`${r.tp.lost} Telegram → Planfix message(s) lost`);
  if (r.pt.lost) f.push(`${r.pt.lost} Planfix → Telegram message(s) lost`);
  if (r.tp.heldAtEnd || r.pt.heldAtEnd)
    f.push(`${r.tp.heldAtEnd} Telegram → Planfix and ${r.pt.heldAtEnd} Planfix → Telegram message(s) not delivered, still held or parked by the appliance`);
  if (r.pt.parkedWhileImpaired > r.pt.parkedWhileImpairedDelivered)
    f.push(
      `${r.pt.parkedWhileImpaired - r.pt.parkedWhileImpairedDelivered} message(s) parked while their number could not send were not delivered after the operator re-sent them`,
    );
  if (r.operatorFailures.length) f.push(`${r.operatorFailures.length} operator action(s) failed: ${r.operatorFailures[0]}`);
  if (!r.queues) f.push("the appliance's queue status (GET /admin/clients) could not be read at the end");
  else {
    const { held, parked } = r.queues;
    if (held.to_planfix || held.to_telegram) f.push(`items still held at the end: ${held.to_planfix} to Planfix, ${held.to_telegram} to Telegram`);
    if (parked.to_planfix || parked.to_telegram) f.push(`items parked: ${parked.to_planfix} to Planfix, ${parked.to_telegram} to Telegram`);
  }
  if (r.pt.duplicated) f.push(`${r.pt.duplicated} Planfix → Telegram message(s) duplicated (must be exactly once)`);
  if (r.tp.unexplainedDuplicates) f.push(`${r.tp.unexplainedDuplicates} unexplained Telegram → Planfix duplicate(s)`);
  if (r.tp.orderViolations) f.push(`${r.tp.orderViolations} order violation(s) Telegram → Planfix`);
  if (r.pt.orderViolations) f.push(`${r.pt.orderViolations} order violation(s) Planfix → Telegram`);
  if (r.tp.unknown) f.push(`${r.tp.unknown} unexpected message(s) in Planfix`);
  if (r.pt.unknown) f.push(`${r.pt.unknown} unexpected message(s) in Telegram`);
  if (r.tp.badAttachments) f.push(`${r.tp.badAttachments} Telegram media link(s) missing or serving other bytes`);
  if (r.tp.badEdits) f.push(`${r.tp.badEdits} edit(s) reached Planfix without the edited mark`);
  if (r.pt.corrupt) f.push(`${r.pt.corrupt} Planfix attachment(s) arrived with other bytes`);
  if (r.pt.neverAccepted) f.push(`${r.pt.neverAccepted} webhook(s) never answered 200 after healing`);
  if (r.pt.refused) f.push(`${r.pt.refused} valid webhook(s) refused with a 4xx`);
  if (r.pt.wrongAnswers) f.push(`${r.pt.wrongAnswers} webhook answer(s) naming the wrong chat`);
  if (r.pt.statusErrors) f.push(`${r.pt.statusErrors} message(s) reported to Planfix as not delivered`);
  if (r.pt.statusMissing) f.push(`${r.pt.statusMissing} delivered message(s) without a "sent" status in Planfix`);
  if (r.pt.statusUnexplainedDuplicates) f.push(`${r.pt.statusUnexplainedDuplicates} unexplained duplicate status(es)`);
  if (r.maxTermStopMs === null) f.push("a graceful restart hung: the appliance did not stop within 15 s of SIGTERM");
  if (r.notBackOnline) f.push(`${r.notBackOnline} restart(s) after which the numbers were not all online within 60 s`);
  if (r.crashes) f.push(`the appliance crashed ${r.crashes} time(s)`);
  if (r.restartFailures.length) f.push(`${r.restartFailures.length} restart(s) failed: ${r.restartFailures[0]}`);
  if (r.cleanStopMs === null) f.push("the appliance did not stop within 15 s of SIGTERM at the end");
  if (r.telegramDuplicateKeys) f.push(`Telegram saw an auth key connected twice ${r.telegramDuplicateKeys} time(s)`);
  if (r.kills < r.options.min.kill) f.push(`only ${r.kills} kill(s) happened (wanted ${r.options.min.kill})`);
  return f;
}

function summarize(kinds: string[]): string {
  const m = new Map<string, number>();
  for (const k of kinds) m.set(k, (m.get(k) ?? 0) + 1);
  return [...m].map(([k, n]) => `${n} ${k}`).join(", ");
}

function progressLine(w: DrillWorld, load: Load, watcher: MailboxWatcher): string {
  watcher.poll();
  const accepted = load.pt.filter((i) => i.acceptedAt !== null).length;
  const inTelegram = watcher.seen.reduce((n, l) => n + l.length, 0);
  return `T→P written ${load.tp.length}, in Planfix ${w.planfix.newMessages().length} · P→T sent ${load.pt.length}, accepted ${accepted}, Telegram messages ${inTelegram} · appliance ${w.app.running ? "up" : "DOWN"}`;
}

/** tag → seen in Planfix, reading only the commands that arrived since the last call. */
function planfixTags(w: DrillWorld, runId: string): (tag: string) => boolean {
  const tags = new Set<string>();
  const re = new RegExp(`DRLT${runId}-\\d{6}`);
  let cursor = 0;
  return (tag) => {
    if (!tags.has(tag)) {
      const all = w.planfix.commands();
      for (; cursor < all.length; cursor++) {
        const c = all[cursor]!;
        if (!c.accepted || c.cmd !== "newMessage") continue;
        const t = re.exec(c.fields.message ?? "")?.[0];
        if (t) tags.add(t);
      }
    }
    return tags.has(tag);
  };
}

/** Every item the appliance still lists, waiting or parked, both directions, all numbers. */
async function listedItems(w: DrillWorld): Promise<{ toPlanfixTexts: string[]; toTelegramIds: Set<string> }> {
  const toPlanfixTexts: string[] = [];
  const toTelegramIds = new Set<string>();
  for (const n of w.numbers) {
    for (const direction of ["to_planfix", "to_telegram"] as const) {
      for (const state of ["waiting", "parked"] as const) {
        const r = await w.app.call("GET", `/client/queue?number=${n.phone}&direction=${direction}&state=${state}`, ADMIN_TOKEN).catch(() => null);
        for (const item of (r?.json?.items ?? []) as { text?: string; message_id?: string }[]) {
          if (direction === "to_planfix") toPlanfixTexts.push(item.text ?? "");
          else if (item.message_id) toTelegramIds.add(item.message_id);
        }
      }
    }
  }
  return { toPlanfixTexts, toTelegramIds };
}

async function waitUntil(pred: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

async function inParallel<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

export { formatReport } from "./report.ts";

// The whole benchmark: floor and appliance, inbound and outbound, at each number count; memory per
// idle number; time for a restart to bring every number back. Returns the result; bench/run.ts
// writes it out. Bounded in time: every wait has a limit and the whole run has a deadline.
import { resolve } from "node:path";
import { BenchAppliance } from "./appliance.ts";
import { now, sleep } from "./clock.ts";
import type { FloorSetup } from "./floor-child.ts";
import { IpcChild } from "./ipc.ts";
import type { BenchOptions } from "./options.ts";
import { PLANFIX_TOKEN, PROVIDER_ID, PlanfixSink } from "./planfix-sink.ts";
import { cpuMs, machine, rssBytes } from "./proc.ts";
import { round } from "./stats.ts";
import type { BenchUser } from "./telegram-core.ts";
import { startTelegram } from "./telegram-side.ts";
import { runPhase, type Chat, type Mode, type PhaseResult, type Target, type TrafficContext } from "./traffic.ts";

export interface DirectionResult {
  saturation: PhaseResult | null;
  paced: PhaseResult | null;
}

export interface ScenarioResult {
  numbers: number;
  chats: number;
  /** Floor: connecting the bare clients; appliance: POST /client for the numbers added in this scenario. */
  setupSeconds: number | null;
  /** Appliance only: RSS with these numbers online and idle, before their traffic. */
  rssBytes?: number | null;
  bytesPerNumber?: number | null;
  rssAfterTrafficBytes?: number | null;
  intro: PhaseResult | null;
  inbound: DirectionResult;
  outbound: DirectionResult;
}

export interface TargetCheck {
  name: string;
  value: number | null;
  limit: string;
  met: boolean | null;
}

export interface BenchResult {
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  machine: ReturnType<typeof machine>;
  bun: string;
  options: BenchOptions;
  floor: ScenarioResult[];
  appliance: ScenarioResult[];
  memory: { baselineRssBytes: number | null; afterRestart: { numbers: number; rssBytes: number | null; bytesPerNumber: number | null } | null };
  start: { numbers: number; secondsToOnline: number | null; cpuSeconds: number | null } | null;
  /** Every headline figure by name (null when it could not be measured; see notes). */
  figures: Record<string, number | null>;
  targets: TargetCheck[];
  notes: string[];
}

const WEBHOOK_TOKEN_FLOOR = "bench-floor-token";

/** Chats of the first `n` numbers: chat (i, k) is number i with customer (i·K + k) mod M, numbers cycling fastest. */
export function chatsFor(numbers: BenchUser[], n: number, perNumber: number, customers: BenchUser[]): Chat[] {
  const chats: Chat[] = [];
  for (let k = 0; k < perNumber; k++) {
    for (let i = 0; i < n; i++) {
      const number = numbers[i]!;
      const customer = customers[(i * perNumber + k) % customers.length]!;
      chats.push({ numberId: number.id, numberPhone: number.phone, customerId: customer.id, chatId: `${number.phone}_${customer.id}` });
    }
  }
  return chats;
}

export async function runBench(o: BenchOptions, log: (line: string) => void = (l) => console.log(l)): Promise<BenchResult> {
  const startedAt = new Date();
  const t0 = now();
  const deadline = t0 + o.deadlineSeconds * 1000;
  const notes: string[] = [];
  const maxN = o.numbers[o.numbers.length - 1]!;
  const customersCount = Math.max(o.chatsPerNumber, Math.min(maxN * o.chatsPerNumber, o.maxCustomers));
  const result: BenchResult = {
    startedAt: startedAt.toISOString(),
    finishedAt: "",
    durationSeconds: 0,
    machine: machine(),
    bun: Bun.version,
    options: o,
    floor: [],
    appliance: [],
    memory: { baselineRssBytes: null, afterRestart: null },
    start: null,
    figures: {},
    targets: [],
    notes,
  };

  log(`bench: numbers ${o.numbers.join(",")}, ${o.chatsPerNumber} chats/number, ${customersCount} customers, ${o.seconds} s phases, telegram ${o.telegram}`);
  const tg = await startTelegram({ numbers: maxN, floorNumbers: o.floor ? maxN : 0, customers: customersCount }, o.telegram);
  const planfix = await PlanfixSink.start();
  let phaseNo = 0;
  const ctx: TrafficContext = { tg, planfix, nextPhase: () => ++phaseNo, deadline, log };
  const left = () => deadline - now();
  /** A phase, unless the deadline is too near (then null and a note). */
  const phase = async (target: Target, direction: "inbound" | "outbound", chats: Chat[], mode: Mode): Promise<PhaseResult | null> => {
    const need = (mode.kind === "once" ? 5 : mode.seconds + 5) * 1000;
    if (left() < need) {
      notes.push(`skipped ${target.name} ${direction} ${mode.kind} at ${chats.length / o.chatsPerNumber} numbers: deadline`);
      return null;
    }
    try {
      let r = await runPhase(ctx, target, direction, chats, mode);
      // Other people's processes on this machine skew a measurement: once more, keep the quieter run.
      const busy = (x: PhaseResult) => x.cpu.others.cores ?? 0;
      if (mode.kind !== "once" && busy(r) > o.contendedCores && left() > need * 2) {
        log(`  (other processes used ${busy(r)} cores: measuring once more)`);
        const again = await runPhase(ctx, target, direction, chats, mode);
        if (busy(again) < busy(r)) r = again;
      }
      if (mode.kind !== "once" && busy(r) > o.contendedCores)
        notes.push(`${target.name} ${direction} ${mode.kind} at ${chats.length / o.chatsPerNumber} numbers: other processes used ${busy(r)} cores meanwhile`);
      return r;
    } catch (e) {
      notes.push(`${target.name} ${direction} ${mode.kind} failed: ${e instanceof Error ? e.message : String(e)}`);
      return null;
    }
  };
  const halfOf = (sat: PhaseResult | null) => Math.max(10, Math.floor(Math.min(o.latencyRate, (sat?.throughput ?? 0) / 2)));
  /** Introduce every chat (the customer writes first), then both directions, saturated and paced. */
  const scenario = async (target: Target, chats: Chat[], s: ScenarioResult) => {
    s.intro = await phase(target, "inbound", chats, { kind: "once" });
    if (s.intro && s.intro.delivered < chats.length) notes.push(`${target.name} at ${s.numbers}: only ${s.intro.delivered}/${chats.length} chats introduced`);
    for (const direction of o.directions) {
      const sat = await phase(target, direction, chats, { kind: "saturation", window: o.window, seconds: o.seconds });
      const paced = sat ? await phase(target, direction, chats, { kind: "paced", rate: halfOf(sat), seconds: o.seconds }) : null;
      s[direction] = { saturation: sat, paced };
    }
  };
  const emptyScenario = (n: number, chats: number): ScenarioResult => ({
    numbers: n,
    chats,
    setupSeconds: null,
    intro: null,
    inbound: { saturation: null, paced: null },
    outbound: { saturation: null, paced: null },
  });

  try {
    // ── the floor: bare GramJS clients + a bare HTTP poster, in their own process ──
    if (o.floor) {
      for (const n of o.numbers) {
        const chats = chatsFor(tg.info.floorNumbers, n, o.chatsPerNumber, tg.info.customers);
        const s = emptyScenario(n, chats.length);
        result.floor.push(s);
        if (left() < (o.seconds * 4 + 30) * 1000) {
          notes.push(`skipped the floor at ${n} numbers: deadline`);
          continue;
        }
        log(`floor: ${n} numbers`);
        const pairs = chats.flatMap((c) => [c.numberId, c.customerId]);
        const hashes = await tg.accessHashes(pairs);
        const index = new Map(tg.info.floorNumbers.map((u, i) => [u.id, i]));
        const setup: FloorSetup = {
          host: "127.0.0.1",
          port: tg.info.port,
          numbers: tg.info.floorNumbers.slice(0, n),
          customers: tg.info.customers,
          chats: chats.map((c, i) => ({ numberIndex: index.get(c.numberId)!, customerId: c.customerId, accessHash: hashes[i]! })),
          planfix: { url: planfix.url, token: PLANFIX_TOKEN, providerId: PROVIDER_ID },
          webhookToken: WEBHOOK_TOKEN_FLOOR,
        };
        const prof = o.cpuProfileDir ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${o.cpuProfileDir}`, "--cpu-prof-name=floor.cpuprofile"] : [];
        const child = new IpcChild(resolve(import.meta.dir, "floor-child.ts"), () => {}, prof);
        try {
          const ready = await Promise.race([
            child.call<{ url: string; connectMs: number }>("start", setup),
            sleep(Math.max(1000, Math.min(120_000, left()))).then(() => {
              throw new Error("the floor's clients did not connect in time");
            }),
          ]);
          s.setupSeconds = round(ready.connectMs / 1000, 2);
          await scenario({ name: "floor", pid: child.pid, webhookUrl: ready.url, webhookToken: WEBHOOK_TOKEN_FLOOR }, chats, s);
        } catch (e) {
          notes.push(`floor at ${n} numbers failed: ${e instanceof Error ? e.message : String(e)}`);
        } finally {
          await child.stop(15_000);
        }
      }
    }

    // ── the appliance ──
    const app = BenchAppliance.create(tg.info.port, {
      from: o.applianceFrom,
      binary: o.binary ?? undefined,
      cpuProfileDir: o.cpuProfileDir ?? undefined,
      preload: o.preload ?? undefined,
      env: { LOG_LEVEL: o.logLevel, ...o.applianceEnv },
    });
    try {
      await app.start();
      await sleep(Math.min(1000, o.settleMs));
      result.memory.baselineRssBytes = rssBytes(app.pid);
      log(`appliance: baseline RSS ${mb(result.memory.baselineRssBytes)} MB`);
      for (const n of o.numbers) {
        const chats = chatsFor(tg.info.numbers, n, o.chatsPerNumber, tg.info.customers);
        const s = emptyScenario(n, chats.length);
        result.appliance.push(s);
        if (left() < (o.seconds * 4 + 30) * 1000) {
          notes.push(`skipped the appliance at ${n} numbers: deadline`);
          continue;
        }
        const fresh = tg.info.numbers.slice(app.added, n);
        const a0 = now();
        const { failed } = await app.addNumbers(fresh, planfix.url);
        s.setupSeconds = round((now() - a0) / 1000, 2);
        if (failed.length) notes.push(`appliance at ${n}: ${failed.length} numbers did not come online (${failed.slice(0, 3).join("; ")})`);
        const online = await app.waitOnline(n, now(), 30_000);
        if (online === null) notes.push(`appliance at ${n}: not every number was online within 30 s`);
        await sleep(o.settleMs); // idle: handshakes done, nothing in flight
        s.rssBytes = rssBytes(app.pid);
        s.bytesPerNumber = s.rssBytes !== null && result.memory.baselineRssBytes !== null ? Math.round((s.rssBytes - result.memory.baselineRssBytes) / n) : null;
        log(`appliance: ${n} numbers online (added in ${s.setupSeconds} s), RSS ${mb(s.rssBytes)} MB, ${kb(s.bytesPerNumber)} KB per number`);
        await scenario({ name: "appliance", pid: app.pid, webhookUrl: `${app.url}/planfix`, webhookToken: app.clientToken! }, chats, s);
        s.rssAfterTrafficBytes = rssBytes(app.pid);
      }

      // ── restart with every number running: exec → all online ──
      const n = app.added;
      if (o.restart && n > 0) {
        if (left() < 90_000) notes.push("skipped the restart: deadline");
        else {
          log(`appliance: restart with ${n} numbers`);
          await app.stop();
          const r0 = now();
          await app.start();
          const pid = app.pid;
          const tookMs = await app.waitOnline(n, r0, Math.min(120_000, left() - 10_000), 100);
          const cpu = cpuMs(pid);
          result.start = { numbers: n, secondsToOnline: tookMs === null ? null : round(tookMs / 1000, 2), cpuSeconds: cpu === null ? null : round(cpu / 1000, 1) };
          if (tookMs === null) notes.push(`restart: not all ${n} numbers came online in time`);
          await sleep(o.settleMs);
          const rss = rssBytes(pid);
          result.memory.afterRestart = {
            numbers: n,
            rssBytes: rss,
            bytesPerNumber: rss !== null && result.memory.baselineRssBytes !== null ? Math.round((rss - result.memory.baselineRssBytes) / n) : null,
          };
          log(`appliance: ${n} numbers online ${result.start.secondsToOnline} s after exec; RSS ${mb(rss)} MB`);
        }
      }
    } finally {
      await app.dispose(o.keepData);
      if (o.keepData) notes.push(`appliance data kept in ${app.dataDir}`);
    }
    const m = await tg.metrics();
    if (m.duplicateEvents > 0) notes.push(`the loopback Telegram saw ${m.duplicateEvents} AUTH_KEY_DUPLICATED events`);
    if (m.internalErrors > 0) notes.push(`the loopback Telegram had ${m.internalErrors} internal errors`);
    if (planfix.rejected > 0) notes.push(`the fake Planfix refused ${planfix.rejected} commands`);
  } finally {
    await tg.stop().catch(() => {});
    await planfix.stop().catch(() => {});
  }

  result.finishedAt = new Date().toISOString();
  result.durationSeconds = round((now() - t0) / 1000, 1);
  computeFigures(result);
  return result;
}

const mb = (b: number | null | undefined) => (b == null ? "?" : (b / 1048576).toFixed(1));
const kb = (b: number | null | undefined) => (b == null ? "?" : (b / 1024).toFixed(0));

/** The headline figures and the target checks. */
export function computeFigures(r: BenchResult): void {
  const f: Record<string, number | null> = {};
  const targets: TargetCheck[] = [];
  const check = (name: string, value: number | null, limit: string, ok: (v: number) => boolean) => targets.push({ name, value, limit, met: value === null ? null : ok(value) });
  for (const s of r.appliance) {
    const n = s.numbers;
    const floor = r.floor.find((x) => x.numbers === n);
    for (const d of ["inbound", "outbound"] as const) {
      const sat = s[d].saturation;
      const paced = s[d].paced;
      const fsat = floor?.[d].saturation ?? null;
      const fpaced = floor?.[d].paced ?? null;
      const key = `${d}.n${n}`;
      f[`${key}.msgPerSec`] = sat?.throughput ?? null;
      f[`${key}.floorMsgPerSec`] = fsat?.throughput ?? null;
      f[`${key}.floorRatio`] = sat && fsat && fsat.throughput > 0 ? round(sat.throughput / fsat.throughput, 2) : null;
      f[`${key}.latencyRate`] = paced?.rate ?? null;
      f[`${key}.p50Ms`] = paced?.latency.p50Ms ?? null;
      f[`${key}.p99Ms`] = paced?.latency.p99Ms ?? null;
      f[`${key}.floorP50Ms`] = fpaced?.latency.p50Ms ?? null;
      f[`${key}.floorP99Ms`] = fpaced?.latency.p99Ms ?? null;
      f[`${key}.addedP99Ms`] = paced?.latency.p99Ms != null && fpaced?.latency.p99Ms != null ? round(paced.latency.p99Ms - fpaced.latency.p99Ms, 1) : null;
      f[`${key}.usPerMsg`] = sat?.cpu.target.usPerMsg ?? null;
      f[`${key}.floorUsPerMsg`] = fsat?.cpu.target.usPerMsg ?? null;
      check(`${d} msg/s at ${n} numbers`, f[`${key}.msgPerSec`] ?? null, "≥ 1000", (v) => v >= 1000);
      check(`${d} throughput / floor at ${n} numbers`, f[`${key}.floorRatio`] ?? null, "≥ 0.5", (v) => v >= 0.5);
      check(`${d} p99 added latency at ${paced?.rate ?? "?"} msg/s, ${n} numbers (ms)`, f[`${key}.addedP99Ms`] ?? null, "≤ 50", (v) => v <= 50);
    }
    f[`memory.n${n}.bytesPerNumber`] = s.bytesPerNumber ?? null;
    check(`RSS per idle number at ${n} numbers (KB)`, s.bytesPerNumber == null ? null : round(s.bytesPerNumber / 1024, 0), "≤ 1024", (v) => v <= 1024);
  }
  f["memory.baselineRssBytes"] = r.memory.baselineRssBytes;
  f["memory.afterRestart.bytesPerNumber"] = r.memory.afterRestart?.bytesPerNumber ?? null;
  f["start.secondsToOnline"] = r.start?.secondsToOnline ?? null;
  f["start.numbers"] = r.start?.numbers ?? null;
  check(`restart: ${r.start?.numbers ?? "?"} numbers online (s)`, f["start.secondsToOnline"] ?? null, "≤ 60", (v) => v <= 60);
  r.figures = f;
  r.targets = targets;
}

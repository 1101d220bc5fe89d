// Drives one phase of traffic through a target (the appliance or the floor) and measures it.
//   inbound:  customers write to numbers in the loopback Telegram → newMessage at the fake Planfix
//   outbound: webhooks POSTed to the target → messages stored in the customers' Telegram mailboxes
// Modes: "saturation" keeps `window` messages in flight (closed loop) and measures the delivered rate;
// "paced" sends at a fixed rate (open loop) and measures latency; "once" sends one message per chat.
import { encodeForm } from "../../src/planfix/form.ts";
import { now, sleep } from "./clock.ts";
import { PROVIDER_ID, type PlanfixSink } from "./planfix-sink.ts";
import { cpuMs, machineBusyMs } from "./proc.ts";
import { round, summarize, type LatencySummary } from "./stats.ts";
import { benchText } from "./telegram-core.ts";
import type { TelegramSide } from "./telegram-side.ts";

export interface Chat {
  numberId: number;
  numberPhone: string;
  customerId: number;
  chatId: string;
}

export interface Target {
  name: "appliance" | "floor";
  pid: number;
  webhookUrl: string;
  webhookToken: string;
}

export type Mode = { kind: "saturation"; window: number; seconds: number } | { kind: "paced"; rate: number; seconds: number } | { kind: "once" };

export interface PhaseResult {
  direction: "inbound" | "outbound";
  target: Target["name"];
  mode: Mode["kind"];
  chats: number;
  window?: number;
  /** Offered rate (paced), msg/s. */
  rate?: number;
  seconds: number;
  sent: number;
  delivered: number;
  /** Delivered per second inside the measuring window (after warm-up). */
  throughput: number;
  /** Send → receipt, for messages sent inside the measuring window. */
  latency: LatencySummary;
  /** How long until everything sent had arrived (or the drain gave up). */
  drainMs: number;
  /** CPU of each process: per delivered message over the whole phase (µs), and cores in use during the measuring window. */
  cpu: { target: CpuUse; telegram: CpuUse; bench: CpuUse /** Everything else on the machine (other people's work skews the figures). */; others: CpuUse };
  errors: number;
}

export interface CpuUse {
  usPerMsg: number | null;
  cores: number | null;
}

export interface TrafficContext {
  tg: TelegramSide;
  planfix: PlanfixSink;
  nextPhase(): number;
  /** Hard stop for the whole bench (ms epoch): phases shorten their drain to respect it. */
  deadline: number;
  tickMs?: number;
  /** Webhook requests in flight at most. */
  httpConcurrency?: number;
  drainTimeoutMs?: number;
  log?: (line: string) => void;
}

const benchCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

interface Probe {
  target: number | null;
  telegram: number | null;
  bench: number;
  others: number | null;
}

function probe(ctx: TrafficContext, target: Target): Probe {
  const p = { target: cpuMs(target.pid), telegram: ctx.tg.pid === null ? null : cpuMs(ctx.tg.pid), bench: benchCpu() };
  const all = machineBusyMs();
  const others = all === null || p.target === null ? null : all - p.target - (p.telegram ?? 0) - p.bench;
  return { ...p, others };
}

const perMsg = (a: number | null, b: number | null, n: number) => (a === null || b === null || n === 0 ? null : round(((b - a) * 1000) / n, 0));

export async function runPhase(ctx: TrafficContext, target: Target, direction: "inbound" | "outbound", chats: Chat[], mode: Mode): Promise<PhaseResult> {
  const phase = ctx.nextPhase();
  const tick = ctx.tickMs ?? 2;
  const seconds = mode.kind === "once" ? 0 : mode.seconds;
  const warmMs = Math.min(1000, seconds * 200);
  let errors = 0;

  // ── how this direction sends and counts ──
  const postAt: number[] = [];
  let inFlightHttp = 0;
  const queue: number[] = [];
  const concurrency = ctx.httpConcurrency ?? 32;
  const webhookBody = (seq: number) => {
    const chat = chats[seq % chats.length]!;
    return encodeForm([
      ["cmd", "newMessage"],
      ["providerId", PROVIDER_ID],
      ["token", target.webhookToken],
      ["chatId", chat.chatId],
      ["message", benchText(phase, seq)],
      ["messageId", `${phase}-${seq}`],
      ["userName", "Bench"],
    ]);
  };
  const pumpHttp = () => {
    while (inFlightHttp < concurrency && queue.length > 0) {
      const seq = queue.shift()!;
      inFlightHttp++;
      postAt[seq] = now();
      fetch(target.webhookUrl, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: webhookBody(seq) })
        .then(async (r) => {
          await r.arrayBuffer();
          if (r.status !== 200) errors++;
        })
        .catch(() => void errors++)
        .finally(() => {
          inFlightHttp--;
          pumpHttp();
        });
    }
  };
  let sent = 0;
  const send = (k: number) => {
    if (k <= 0) return;
    if (direction === "inbound") {
      const items: number[] = [];
      for (let i = 0; i < k; i++) {
        const chat = chats[(sent + i) % chats.length]!;
        items.push(chat.customerId, chat.numberId, sent + i);
      }
      ctx.tg.send(phase, items);
    } else {
      for (let i = 0; i < k; i++) queue.push(sent + i);
      pumpHttp();
    }
    sent += k;
  };
  const delivered = () => (direction === "inbound" ? ctx.planfix.count(phase) : ctx.tg.arrived(phase));

  // ── send ──
  const before = probe(ctx, target);
  const t0 = now();
  let warm: Probe | null = null;
  let windowEnd: Probe | null = null;
  if (mode.kind === "once") {
    send(chats.length);
  } else {
    const end = t0 + seconds * 1000;
    for (;;) {
      const t = now();
      if (!warm && t >= t0 + warmMs) warm = probe(ctx, target);
      if (t >= end) break;
      if (mode.kind === "saturation") send(mode.window - (sent - delivered()));
      else send(Math.floor(((t - t0) * mode.rate) / 1000) - sent);
      await sleep(tick);
    }
    windowEnd = probe(ctx, target);
  }
  const tEnd = now();

  // ── drain: everything sent must arrive (bounded) ──
  const drainLimit = Math.min(ctx.drainTimeoutMs ?? 60_000, Math.max(1000, ctx.deadline - now()));
  const drainStart = now();
  while (delivered() < sent && now() - drainStart < drainLimit) await sleep(10);
  const drainMs = Math.round(now() - tEnd);
  if (direction === "outbound") {
    // Let the messageStatus reports of this phase land too, so they do not spill into the next phase.
    const s0 = now();
    while (ctx.planfix.statuses(phase) < delivered() && now() - s0 < Math.min(10_000, drainLimit)) await sleep(10);
  }
  const after = probe(ctx, target);
  const got = delivered();

  // ── figures ──
  const [sentTimes, recvTimes] = direction === "inbound" ? [await ctx.tg.sentTimes(phase), ctx.planfix.times(phase)] : [postAt, await ctx.tg.arrivalTimes(phase)];
  const from = t0 + warmMs;
  const to = mode.kind === "once" ? Infinity : t0 + seconds * 1000;
  const latencies: number[] = [];
  const slow: [number, number][] = [];
  let inWindow = 0;
  for (let seq = 0; seq < sent; seq++) {
    const s = sentTimes[seq];
    const r = recvTimes[seq];
    if (r && r >= from && r < to) inWindow++;
    if (s && r && s >= from && s < to) {
      latencies.push(r - s);
      if (process.env.BENCH_DEBUG) slow.push([Math.round(s - t0), Math.round(r - s)]);
    }
  }
  if (process.env.BENCH_DEBUG && mode.kind === "paced") {
    slow.sort((a, b) => b[1] - a[1]);
    ctx.log?.(
      `    slowest (sent at ms → latency ms): ${slow
        .slice(0, 30)
        .map(([a, b]) => `${a}→${b}`)
        .join(" ")}`,
    );
  }
  const windowSec = mode.kind === "once" ? (now() - t0) / 1000 : (to - from) / 1000;
  const throughput = mode.kind === "once" ? got / windowSec : inWindow / windowSec;
  const use = (k: keyof Probe): CpuUse => {
    const a = warm?.[k] ?? null;
    const b = windowEnd?.[k] ?? null;
    return { usPerMsg: perMsg(before[k], after[k], got), cores: a === null || b === null ? null : round((b - a) / (to - from), 2) };
  };
  ctx.tg.forget(phase);
  ctx.planfix.forget(phase);
  const result: PhaseResult = {
    direction,
    target: target.name,
    mode: mode.kind,
    chats: chats.length,
    ...(mode.kind === "saturation" ? { window: mode.window } : {}),
    ...(mode.kind === "paced" ? { rate: mode.rate } : {}),
    seconds: round(mode.kind === "once" ? (tEnd - t0) / 1000 : seconds, 2),
    sent,
    delivered: got,
    throughput: round(throughput, 0),
    latency: summarize(latencies),
    drainMs,
    cpu: { target: use("target"), telegram: use("telegram"), bench: use("bench"), others: use("others") },
    errors: errors + (sent - got),
  };
  ctx.log?.(
    `  ${target.name} ${direction} ${mode.kind}${result.rate ? `@${result.rate}/s` : ""}: ${got}/${sent} delivered, ${result.throughput} msg/s, p50 ${result.latency.p50Ms} ms, p99 ${result.latency.p99Ms} ms, cpu µs/msg (cores): ${target.name} ${cpuText(result.cpu.target)}, telegram ${cpuText(result.cpu.telegram)}, bench ${cpuText(result.cpu.bench)}, others ${cpuText(result.cpu.others)}`,
  );
  return result;
}

const cpuText = (c: CpuUse) => `${c.usPerMsg ?? "?"} (${c.cores ?? "?"})`;

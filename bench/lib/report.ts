// The Markdown summary of a bench result.
import type { BenchResult, ScenarioResult } from "./bench.ts";
import type { PhaseResult } from "./traffic.ts";

const v = (x: number | null | undefined, unit = "") => (x == null ? "—" : `${x}${unit}`);
const mb = (b: number | null | undefined) => (b == null ? "—" : `${(b / 1048576).toFixed(1)} MB`);
const kb = (b: number | null | undefined) => (b == null ? "—" : `${Math.round(b / 1024)} KB`);

function throughputCell(app: PhaseResult | null, floor: PhaseResult | null): string {
  if (!app) return "—";
  const ratio = floor && floor.throughput > 0 ? ` = ${(app.throughput / floor.throughput).toFixed(2)} × floor (${floor.throughput})` : "";
  return `**${app.throughput}**${ratio}`;
}

function latencyCell(app: PhaseResult | null, floor: PhaseResult | null): string {
  if (!app) return "—";
  const f = floor ? ` (floor ${v(floor.latency.p50Ms)} / ${v(floor.latency.p99Ms)} @ ${floor.rate})` : "";
  return `${v(app.latency.p50Ms)} / **${v(app.latency.p99Ms)}** @ ${app.rate}/s${f}`;
}

function cpuCell(app: PhaseResult | null, floor: PhaseResult | null): string {
  if (!app) return "—";
  const c = app.cpu;
  return `${v(c.target.usPerMsg)} µs/msg, ${v(c.target.cores)} cores (floor ${v(floor?.cpu.target.usPerMsg)} µs/msg, ${v(floor?.cpu.target.cores)} cores); telegram ${v(c.telegram.usPerMsg)} µs/msg, ${v(c.telegram.cores)} cores; bench ${v(c.bench.usPerMsg)} µs/msg, ${v(c.bench.cores)} cores; other processes ${v(c.others.cores)} cores`;
}

export function markdown(r: BenchResult): string {
  const lines: string[] = [];
  const m = r.machine;
  lines.push(`# planfix-telegram bench — ${r.startedAt}`, "");
  lines.push(
    `${m.cores} × ${m.cpu}, ${m.memoryGb} GB, Linux ${m.kernel}, Bun ${r.bun}. ${r.options.seconds} s phases, ${r.options.chatsPerNumber} chats per number, ` +
      `window ${r.options.window} in flight, loopback Telegram ${r.options.telegram === "child" ? "in a child process" : "in the bench process"}; ${r.durationSeconds} s in all.`,
    "",
  );
  const header = ["", ...r.appliance.map((s) => `${s.numbers} numbers`)];
  lines.push(`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`);
  const floorOf = (s: ScenarioResult) => r.floor.find((f) => f.numbers === s.numbers);
  const row = (name: string, cell: (s: ScenarioResult, f: ScenarioResult | undefined) => string) =>
    lines.push(`| ${name} | ${r.appliance.map((s) => cell(s, floorOf(s))).join(" | ")} |`);
  row("inbound msg/s (TG → Planfix)", (s, f) => throughputCell(s.inbound.saturation, f?.inbound.saturation ?? null));
  row("inbound latency p50 / p99 ms", (s, f) => latencyCell(s.inbound.paced, f?.inbound.paced ?? null));
  row("inbound CPU", (s, f) => cpuCell(s.inbound.saturation, f?.inbound.saturation ?? null));
  row("outbound msg/s (Planfix → TG)", (s, f) => throughputCell(s.outbound.saturation, f?.outbound.saturation ?? null));
  row("outbound latency p50 / p99 ms", (s, f) => latencyCell(s.outbound.paced, f?.outbound.paced ?? null));
  row("outbound CPU", (s, f) => cpuCell(s.outbound.saturation, f?.outbound.saturation ?? null));
  row("RSS idle (per number)", (s) => `${mb(s.rssBytes)} (${kb(s.bytesPerNumber)})`);
  row("numbers added via POST /client", (s) => v(s.setupSeconds, " s"));
  lines.push("");
  lines.push(`Baseline RSS with no numbers: ${mb(r.memory.baselineRssBytes)}.`);
  if (r.memory.afterRestart)
    lines.push(`After the restart: ${mb(r.memory.afterRestart.rssBytes)} with ${r.memory.afterRestart.numbers} numbers (${kb(r.memory.afterRestart.bytesPerNumber)} per number).`);
  if (r.start) lines.push(`Restart: ${r.start.numbers} numbers online ${v(r.start.secondsToOnline, " s")} after exec (${v(r.start.cpuSeconds, " s")} CPU).`);
  lines.push("", "## What limits us", "");
  for (const line of limits(r)) lines.push(`- ${line}`);
  lines.push("", "## Targets", "");
  for (const t of r.targets) lines.push(`- ${t.met === null ? "❔" : t.met ? "✅" : "❌"} ${t.name}: ${v(t.value)} (target ${t.limit})`);
  if (r.notes.length) {
    lines.push("", "## Notes", "");
    for (const n of r.notes) lines.push(`- ${n}`);
  }
  lines.push("");
  return lines.join("\n");
}

/** Reads the saturation phases: which process ran out of CPU, or whether the machine did. */
function limits(r: BenchResult): string[] {
  const out: string[] = [];
  const cores = r.machine.cores || 2;
  for (const s of r.appliance) {
    for (const d of ["inbound", "outbound"] as const) {
      const p = s[d].saturation;
      if (!p) continue;
      const c = p.cpu;
      const busy = (c.target.cores ?? 0) + (c.telegram.cores ?? 0) + (c.bench.cores ?? 0) + (c.others.cores ?? 0);
      const ceiling = c.target.usPerMsg ? Math.round(1e6 / c.target.usPerMsg) : null;
      let why: string;
      if ((c.target.cores ?? 0) >= 0.85) {
        why = `the appliance's JavaScript thread is saturated (${c.target.cores} cores at ${c.target.usPerMsg} µs/msg: one thread tops out near ${ceiling} msg/s)`;
      } else if (busy >= cores * 0.9) {
        why = `the machine is full (${round2(busy)} of ${cores} cores: appliance ${c.target.cores}, loopback Telegram ${c.telegram.cores ?? "in the bench"}, bench ${c.bench.cores}, other processes ${c.others.cores})`;
      } else {
        why = `neither the appliance (${c.target.cores} cores) nor the machine (${round2(busy)} of ${cores} cores) is saturated: the ${p.window} messages in flight wait in queues (p50 ${p.latency.p50Ms} ms)`;
      }
      out.push(`${d} at ${s.numbers} numbers (${p.throughput} msg/s): ${why}.`);
    }
  }
  out.push("Where the appliance's CPU goes per message (SQLite commits, GramJS's MTProto, HTTP): docs/performance.md.");
  return out;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

// make drill: mixed load both ways for DRILL_SECONDS (default 300) while the appliance is killed with
// kill -9 and restarted, Planfix fails and hangs, Telegram drops, stalls and asks to wait — then
// every message is counted. Exit 0 only when nothing was lost, nothing doubled that may not be, and
// per-chat order held. See docs/drill.md.
//
// Settings (environment): DRILL_SECONDS, DRILL_SEED, DRILL_NUMBERS (numbers per client, e.g. "2,1"),
// DRILL_CUSTOMERS (per number), DRILL_TP_RATE / DRILL_PT_RATE (messages per second each way),
// DRILL_DRAIN_SECONDS, DRILL_PLANFIX_LATENCY_MS / DRILL_TELEGRAM_LATENCY_MS (answer delays), DRILL_RETRY_CAP (the appliance's RETRY_CAP_SECONDS),
// DRILL_FILE_REF_TTL (seconds a file reference stays valid), DRILL_KEEP=1 (keep the
// data directory), DRILL_BINARY (another build to drill), DRILL_LOG_LEVEL (the appliance's LOG_LEVEL), DRILL_JSON=path (write the result).
import { writeFileSync } from "node:fs";
import { killAllAppliances } from "./drill/appliance.ts";
import { DEFAULTS, formatReport, runDrill } from "./drill/index.ts";

function num(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v.trim() === "") return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`${name} must be a non-negative number, got "${v}"\n`);
    process.exit(2);
  }
  return n;
}

const numbers = (process.env.DRILL_NUMBERS ?? "").trim();
const numbersPerClient = numbers ? numbers.split(",").map((x) => Number(x.trim())) : DEFAULTS.numbersPerClient;
if (numbersPerClient.length < 1 || numbersPerClient.length > 5 || numbersPerClient.some((n) => !Number.isInteger(n) || n < 1 || n > 10)) {
  process.stderr.write(`DRILL_NUMBERS must be 1–5 comma-separated counts of 1–10, got "${numbers}"\n`);
  process.exit(2);
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    const n = killAllAppliances();
    process.stderr.write(`\ndrill interrupted (${sig}); killed ${n} appliance process(es)\n`);
    process.exit(130);
  });
}
process.on("exit", () => void killAllAppliances());

const started = Date.now();
const result = await runDrill({
  binary: process.env.DRILL_BINARY || undefined,
  seconds: num("DRILL_SECONDS", DEFAULTS.seconds),
  seed: Math.floor(num("DRILL_SEED", 0)),
  numbersPerClient,
  customersPerNumber: Math.max(1, Math.floor(num("DRILL_CUSTOMERS", DEFAULTS.customersPerNumber))),
  tpRate: num("DRILL_TP_RATE", DEFAULTS.tpRate) || DEFAULTS.tpRate,
  ptRate: num("DRILL_PT_RATE", DEFAULTS.ptRate) || DEFAULTS.ptRate,
  drainSeconds: num("DRILL_DRAIN_SECONDS", DEFAULTS.drainSeconds),
  planfixLatencyMs: num("DRILL_PLANFIX_LATENCY_MS", DEFAULTS.planfixLatencyMs),
  telegramLatencyMs: num("DRILL_TELEGRAM_LATENCY_MS", DEFAULTS.telegramLatencyMs),
  retryCapSeconds: Math.max(1, Math.floor(num("DRILL_RETRY_CAP", DEFAULTS.retryCapSeconds))),
  fileReferenceTtlMs: Math.max(1, num("DRILL_FILE_REF_TTL", DEFAULTS.fileReferenceTtlMs / 1000)) * 1000,
  keep: process.env.DRILL_KEEP === "1",
  logLevel: process.env.DRILL_LOG_LEVEL || DEFAULTS.logLevel,
  log: (line) => console.log(line),
});
console.log("");
console.log(formatReport(result));
console.log(`(whole drill: ${((Date.now() - started) / 1000).toFixed(0)} s)`);
if (process.env.DRILL_JSON) writeFileSync(process.env.DRILL_JSON, JSON.stringify(result, null, 2));
process.exit(result.failures.length === 0 ? 0 : 1);

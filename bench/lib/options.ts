// Bench settings, from the environment (BENCH_*) with defaults for `make bench`.
import { resolve } from "node:path";

export interface BenchOptions {
  /** Numbers online per scenario, ascending (BENCH_NUMBERS=100,1000). */
  numbers: number[];
  /** Length of each measured phase in seconds (BENCH_SECONDS). */
  seconds: number;
  /** Chats (distinct customers) per number (BENCH_CHATS). */
  chatsPerNumber: number;
  /** Customers in the world; they are shared between numbers (BENCH_CUSTOMERS). */
  maxCustomers: number;
  /** Messages in flight in saturation phases (BENCH_WINDOW). */
  window: number;
  /** Offered load of the latency phases, msg/s; halved further when a target sustains less than twice it (BENCH_RATE). */
  latencyRate: number;
  /** Where the loopback Telegram runs (BENCH_TELEGRAM=child|inproc). */
  telegram: "child" | "inproc";
  /** How long numbers sit idle before their memory is read (BENCH_SETTLE_MS). */
  settleMs: number;
  /** A phase during which other processes used more cores than this is measured once more (BENCH_CONTENDED). */
  contendedCores: number;
  /** Which directions to measure (BENCH_DIRECTIONS=inbound,outbound). */
  directions: ("inbound" | "outbound")[];
  /** Run the floor (BENCH_FLOOR=0 skips it). */
  floor: boolean;
  /** Measure the restart of the largest scenario (BENCH_RESTART=0 skips it). */
  restart: boolean;
  /** The whole bench stops by itself after this long (BENCH_DEADLINE seconds). */
  deadlineSeconds: number;
  /** Appliance LOG_LEVEL (BENCH_LOG_LEVEL). */
  logLevel: string;
  /** Run the compiled binary (default) or `bun src/main.ts` (BENCH_APPLIANCE=binary|source). */
  applianceFrom: "binary" | "source";
  /** A compiled binary other than dist/planfix-telegram (BENCH_BINARY=path). */
  binary: string | null;
  /** With source: CPU profiles of the appliance go here (BENCH_CPU_PROF=dir). */
  cpuProfileDir: string | null;
  /** With source: `bun --preload` this script into the appliance (BENCH_PRELOAD=file). */
  preload: string | null;
  /** Extra environment for the appliance (BENCH_APPLIANCE_ENV="K=V,K2=V2", e.g. BUN_JSC_logGC=1). */
  applianceEnv: Record<string, string>;
  /** Keep the appliance's data directory (BENCH_KEEP=1). */
  keepData: boolean;
  outDir: string;
}

export function optionsFromEnv(env: Record<string, string | undefined> = process.env): BenchOptions {
  const num = (name: string, def: number, min = 0) => {
    const v = env[name];
    if (v === undefined || v === "") return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number ≥ ${min}, got ${v}`);
    return n;
  };
  const numbers = (env.BENCH_NUMBERS ?? "100,1000")
    .split(",")
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => a - b);
  if (numbers.length === 0) throw new Error("BENCH_NUMBERS must list positive integers, e.g. 100,1000");
  if (env.BENCH_APPLIANCE && env.BENCH_APPLIANCE !== "binary" && env.BENCH_APPLIANCE !== "source") throw new Error("BENCH_APPLIANCE must be binary or source");
  const telegram = env.BENCH_TELEGRAM ?? "child";
  if (telegram !== "child" && telegram !== "inproc") throw new Error("BENCH_TELEGRAM must be child or inproc");
  return {
    numbers,
    seconds: num("BENCH_SECONDS", 8, 0.2),
    chatsPerNumber: Math.round(num("BENCH_CHATS", 4, 1)),
    maxCustomers: Math.round(num("BENCH_CUSTOMERS", 1000, 1)),
    window: Math.round(num("BENCH_WINDOW", 1000, 1)),
    latencyRate: num("BENCH_RATE", 500, 1),
    telegram,
    settleMs: num("BENCH_SETTLE_MS", 3000, 0),
    contendedCores: num("BENCH_CONTENDED", 0.25, 0),
    directions: (["inbound", "outbound"] as const).filter((d) => (env.BENCH_DIRECTIONS ?? "inbound,outbound").split(",").includes(d)),
    floor: env.BENCH_FLOOR !== "0",
    restart: env.BENCH_RESTART !== "0",
    deadlineSeconds: num("BENCH_DEADLINE", 570, 10),
    logLevel: env.BENCH_LOG_LEVEL ?? "info",
    applianceFrom: env.BENCH_APPLIANCE === "source" || env.BENCH_CPU_PROF || env.BENCH_PRELOAD ? "source" : "binary",
    preload: env.BENCH_PRELOAD ? resolve(env.BENCH_PRELOAD) : null,
    binary: env.BENCH_BINARY ? resolve(env.BENCH_BINARY) : null,
    cpuProfileDir: env.BENCH_CPU_PROF ? resolve(env.BENCH_CPU_PROF) : null,
    applianceEnv: Object.fromEntries(
      (env.BENCH_APPLIANCE_ENV ?? "")
        .split(",")
        .filter((kv) => kv.includes("="))
        .map((kv) => [kv.slice(0, kv.indexOf("=")).trim(), kv.slice(kv.indexOf("=") + 1)]),
    ),
    keepData: env.BENCH_KEEP === "1",
    outDir: resolve(env.BENCH_OUT ?? resolve(import.meta.dir, "../results")),
  };
}

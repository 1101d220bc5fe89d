// `make bench`: throughput, latency, memory and start time of the compiled appliance on loopback
// (our own Telegram and fake Planfix), beside a floor of bare GramJS clients and a bare HTTP poster.
// Writes bench/results/<timestamp>.json and .md and prints the summary. Settings: bench/lib/options.ts
// (BENCH_NUMBERS, BENCH_SECONDS, BENCH_TELEGRAM, …); docs/performance.md has the figures and how to read them.
import { runBench } from "./lib/bench.ts";
import { optionsFromEnv } from "./lib/options.ts";
import { writeResults } from "./lib/output.ts";

const options = optionsFromEnv();
// A hard stop in case anything hangs despite the bounded waits.
const guard = setTimeout(
  () => {
    console.error(`bench: still running ${options.deadlineSeconds + 60} s after start; giving up`);
    process.exit(3);
  },
  (options.deadlineSeconds + 60) * 1000,
);
guard.unref();

const result = await runBench(options);
const { json, md, summary } = writeResults(result, options.outDir);
console.log(`\n${summary}`);
console.log(`written: ${json}\n         ${md}`);
process.exit(0);

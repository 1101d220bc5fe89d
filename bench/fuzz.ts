// `make fuzz`: malformed requests against every route of the compiled binary, with two clients and
// their numbers online on the loopback Telegram. Reproducible by seed:
//   FUZZ_SEED=<n>    the seed (printed on every run; random when unset)
//   FUZZ_COUNT=<n>   how many cases (default 20000; a burst case sends 2-6 copies at once)
//   FUZZ_ONLY=<i,j>  only these cases of the seed (replaying a failure)
//   FUZZ_CONCURRENCY=<n>  requests in flight (default 6)
//   FUZZ_VERBOSE=1   a line per request
// Exits 0 only when nothing failed. See docs/fuzz.md.
import { parseSeed } from "../tests/support/rng.ts";
import { formatReport, runFuzz } from "./fuzz/runner.ts";

const env = process.env;
let seed: number;
try {
  seed = parseSeed(env.FUZZ_SEED);
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(2);
}
const count = env.FUZZ_COUNT ? Number(env.FUZZ_COUNT) : 20_000;
const concurrency = env.FUZZ_CONCURRENCY ? Number(env.FUZZ_CONCURRENCY) : 6;
const only = env.FUZZ_ONLY ? env.FUZZ_ONLY.split(",").map((s) => Number(s.trim())) : undefined;
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(concurrency) || concurrency < 1 || only?.some((i) => !Number.isInteger(i) || i < 0)) {
  process.stderr.write("FUZZ_COUNT and FUZZ_CONCURRENCY must be positive integers, FUZZ_ONLY a list of case numbers\n");
  process.exit(2);
}

// Ctrl-C: stop sending, check and clean up (the appliance and the test servers are stopped); twice: now.
const stop = new AbortController();
process.on("SIGINT", () => {
  if (stop.signal.aborted) process.exit(130);
  console.log("fuzz: interrupted — checking and cleaning up (Ctrl-C again to quit at once)");
  stop.abort();
});

console.log(`fuzz seed: ${seed}  (reproduce with FUZZ_SEED=${seed})`);
const report = await runFuzz({ seed, count, concurrency, ...(only ? { only } : {}), verbose: env.FUZZ_VERBOSE === "1", signal: stop.signal, progress: (l) => console.log(l) });
console.log("");
console.log(formatReport(report));
process.exit(report.interrupted ? 130 : report.ok ? 0 : 1);

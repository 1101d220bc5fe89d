// `make bench` end to end with tiny parameters (5 numbers, half-second phases), so the bench cannot rot:
// every figure must come out as a number. Nothing here judges the figures themselves.
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBench } from "../bench/lib/bench.ts";
import { optionsFromEnv } from "../bench/lib/options.ts";
import { writeResults } from "../bench/lib/output.ts";

test("the bench measures every figure and writes its result files", async () => {
  const out = mkdtempSync(join(tmpdir(), "pt-bench-smoke-"));
  try {
    const options = {
      ...optionsFromEnv({}),
      numbers: [5],
      seconds: 0.5,
      window: 40,
      latencyRate: 40,
      settleMs: 200,
      contendedCores: Number.POSITIVE_INFINITY,
      deadlineSeconds: 120,
      outDir: out,
    };
    const result = await runBench(options, () => {});
    const { json, md } = writeResults(result, out);

    const saved = JSON.parse(readFileSync(json, "utf8")) as typeof result;
    for (const d of ["inbound", "outbound"]) {
      for (const f of ["msgPerSec", "floorMsgPerSec", "floorRatio", "latencyRate", "p50Ms", "p99Ms", "floorP50Ms", "floorP99Ms", "addedP99Ms", "usPerMsg", "floorUsPerMsg"]) {
        expect(saved.figures).toHaveProperty([`${d}.n5.${f}`]);
      }
    }
    for (const f of ["memory.n5.bytesPerNumber", "memory.baselineRssBytes", "memory.afterRestart.bytesPerNumber", "start.secondsToOnline", "start.numbers"]) {
      expect(saved.figures).toHaveProperty([f]);
    }
    const missing = Object.entries(saved.figures).filter(([, v]) => typeof v !== "number" || !Number.isFinite(v));
    expect(missing).toEqual([]);
    expect(saved.notes).toEqual([]);
    expect(saved.targets.length).toBeGreaterThan(0);
    expect(saved.start?.numbers).toBe(5);
    expect(readFileSync(md, "utf8")).toContain("## Targets");
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 60_000);

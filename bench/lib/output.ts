// Writes a bench result as <outDir>/<timestamp>.json and .md.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BenchResult } from "./bench.ts";
import { markdown } from "./report.ts";

export function writeResults(result: BenchResult, outDir: string): { json: string; md: string; summary: string } {
  mkdirSync(outDir, { recursive: true });
  const stamp = result.startedAt.replace(/[:.]/g, "-");
  const json = join(outDir, `${stamp}.json`);
  const md = join(outDir, `${stamp}.md`);
  writeFileSync(json, JSON.stringify(result, null, 2));
  const summary = markdown(result);
  writeFileSync(md, summary);
  return { json, md, summary };
}

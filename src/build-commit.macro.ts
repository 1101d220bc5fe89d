// Bun macro: runs at build time and inlines the short git commit the binary was built from, so
// `--version` names the exact source. "unknown" when built outside a git checkout.
import { spawnSync } from "node:child_process";

export function buildCommit(): string {
  try {
    const r = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: import.meta.dir, encoding: "utf8", timeout: 10_000 });
    const hash = r.status === 0 ? r.stdout.trim() : "";
    return /^[0-9a-f]{4,40}$/.test(hash) ? hash : "unknown";
  } catch {
    return "unknown";
  }
}

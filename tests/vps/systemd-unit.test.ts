// deploy/planfix-telegram.service passes `systemd-analyze verify` (Debian's systemd) and carries the
// hardening docs/deploy.md promises. verify also checks that ExecStart exists and is executable, so it
// runs on a copy whose ExecStart points at the compiled binary instead of /usr/local/bin.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BINARY, run } from "./support.ts";
import { ensureBinary } from "../e2e/harness.ts";

const UNIT = resolve(import.meta.dir, "../../deploy/planfix-telegram.service");
const dir = mkdtempSync(join(tmpdir(), "pt-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const text = readFileSync(UNIT, "utf8");

function verify(unitText: string) {
  const file = join(dir, "planfix-telegram.service");
  writeFileSync(file, unitText.replace(/^ExecStart=\/usr\/local\/bin\/planfix-telegram$/m, `ExecStart=${BINARY}`));
  return run(["systemd-analyze", "verify", file]);
}

test("systemd-analyze verify accepts the unit with no warnings", () => {
  ensureBinary();
  expect(text).toMatch(/^ExecStart=\/usr\/local\/bin\/planfix-telegram$/m);
  const r = verify(text);
  expect(r.err + r.out).toBe("");
  expect(r.code).toBe(0);
});

test("verify catches a broken unit (so the check above means something)", () => {
  const r = verify(text.replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"));
  expect(r.err).toContain("Unknown key 'NoNewPrivilege'");
});

test("hardened: own user, read-only system, only the data directory writable, no new privileges, restarts, stop timeout above ~8 s", () => {
  const get = (key: string) => [...text.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].map((m) => m[1]);
  expect(get("User")).toEqual(["planfix-telegram"]);
  expect(get("Group")).toEqual(["planfix-telegram"]);
  expect(get("ProtectSystem")).toEqual(["strict"]);
  expect(get("StateDirectory")).toEqual(["planfix-telegram"]);
  expect(get("ReadWritePaths")).toEqual(["/var/lib/planfix-telegram"]);
  expect(get("Environment")).toContain("DATA_DIR=/var/lib/planfix-telegram");
  expect(get("NoNewPrivileges")).toEqual(["yes"]);
  expect(get("Restart")).toEqual(["on-failure"]);
  expect(Number(get("TimeoutStopSec")[0])).toBeGreaterThan(10);
  expect(get("KillSignal")).toEqual(["SIGTERM"]);
  // SIGHUP re-reads TLS_CERT/TLS_KEY (tests/vps/tls-files.test.ts).
  expect(get("ExecReload")[0]).toContain("-HUP $MAINPID");
  // Bun's JIT needs writable+executable memory: MemoryDenyWriteExecute would kill it.
  expect(text).not.toMatch(/^MemoryDenyWriteExecute=yes/m);
});

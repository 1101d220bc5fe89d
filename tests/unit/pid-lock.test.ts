// The data-directory lock is an OS lock (flock) that dies with its process, not a
// pid check that a reused pid can fool.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { acquirePidLock } from "../../src/pid-lock.ts";

const dir = mkdtempSync(join(tmpdir(), "pt-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const BUN = process.execPath;

test("a pid file naming a live unrelated process (pid 1) does not block; ours replaces it", () => {
  const file = join(dir, "stale.pid");
  writeFileSync(file, "1\n");
  const lock = acquirePidLock(file);
  expect(readFileSync(file, "utf8")).toBe(`${process.pid}\n`);
  lock.release();
});

test("held: a second taker is refused, naming the holder; released: it may take it", () => {
  const file = join(dir, "held.pid");
  const lock = acquirePidLock(file);
  expect(() => acquirePidLock(file)).toThrow(`another planfix-telegram (pid ${process.pid}) is running on this data directory (${dir}); stop it first`);
  lock.release();
  acquirePidLock(file).release();
});

test("a lock held by another live process refuses us; it is gone the moment that process is killed", async () => {
  const file = join(dir, "child.pid");
  const src = resolve(import.meta.dir, "../../src/pid-lock.ts");
  const child = Bun.spawn([BUN, "-e", `require(${JSON.stringify(src)}).acquirePidLock(${JSON.stringify(file)}); console.log("locked"); setInterval(() => {}, 1000);`], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = child.stdout.getReader();
  const first = await reader.read();
  expect(new TextDecoder().decode(first.value)).toContain("locked");
  expect(() => acquirePidLock(file)).toThrow(`another planfix-telegram (pid ${child.pid})`);
  child.kill("SIGKILL");
  await child.exited;
  // The file (with the dead pid) is still there: it no longer matters.
  expect(readFileSync(file, "utf8").trim()).toBe(String(child.pid));
  acquirePidLock(file).release();
});

// `planfix-telegram backup` when something is missing: a clear message and a non-zero exit, no file.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BINARY, freePort, run } from "./support.ts";
import { ensureBinary } from "../e2e/harness.ts";

const dir = mkdtempSync(join(tmpdir(), "pt-backup-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("no FILE, no token, nothing listening: exit codes 2, 2, 1 with messages saying which", async () => {
  ensureBinary();
  const env = { PATH: process.env.PATH ?? "", HOME: dir };
  const noFile = run([BINARY, "backup", "--data-dir", dir], { env });
  expect(noFile.code).toBe(2);
  expect(noFile.err).toContain("FILE is missing");

  const empty = join(dir, "empty");
  mkdirSync(empty);
  const noToken = Bun.spawnSync([BINARY, "backup", join(dir, "a.db"), "--data-dir", empty], { env });
  expect(noToken.exitCode).toBe(2);
  expect(noToken.stderr.toString()).toContain("no admin token");

  // The token is read from DATA_DIR/admin-token; nothing listens on the port.
  writeFileSync(join(dir, "admin-token"), "file-admin-token-0123456789abcdef0123456789\n");
  const port = await freePort();
  const down = Bun.spawnSync([BINARY, "backup", join(dir, "b.db"), "--data-dir", dir, "--port", String(port)], { env });
  expect(down.exitCode).toBe(1);
  expect(down.stderr.toString()).toContain(`cannot reach the appliance at http://127.0.0.1:${port}`);
  expect(down.stderr.toString()).not.toContain("file-admin-token");
  expect(existsSync(join(dir, "a.db")) || existsSync(join(dir, "b.db")) || existsSync(join(dir, "b.db.partial"))).toBe(false);
});

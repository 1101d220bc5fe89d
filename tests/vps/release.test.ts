// `make release`: linux-x64 and linux-arm64 binaries with SHA256SUMS in dist/release/. The x64 one runs
// here; the arm64 one is an aarch64 ELF and runs under qemu-user (Debian's qemu-user-static with the
// arm64 C library from libc6-arm64-cross), answering /health like the x64 one.
import { beforeAll, expect, test } from "bun:test";
import { appendFileSync, closeSync, copyFileSync, mkdtempSync, openSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, Proc, run, until } from "./support.ts";

const ROOT = resolve(import.meta.dir, "../..");
const REL = join(ROOT, "dist/release");

beforeAll(() => {
  const r = run(["make", "release"], { cwd: ROOT });
  if (r.code !== 0) throw new Error(`make release failed:\n${r.out}\n${r.err}`);
}, 240_000);

/** e_machine of an ELF executable: 0x3e x86-64, 0xb7 AArch64. */
function elfMachine(file: string): number {
  const fd = openSync(file, "r");
  const head = Buffer.alloc(20);
  readSync(fd, head, 0, 20, 0);
  closeSync(fd);
  expect(head.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
  expect(head[4]).toBe(2); // 64-bit
  return head.readUInt16LE(18);
}

async function answersHealth(cmd: string[], ms: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "pt-release-"));
  const port = await freePort();
  const [bin, ...args] = cmd;
  const app = new Proc([...args, "--port", String(port), "--host", "127.0.0.1", "--data-dir", join(dir, "data")], { ADMIN_TOKEN: "release-admin-token-0123456789abcdef0123" }, bin);
  try {
    const body = await until(
      () => `/health from ${bin}:\n${app.text()}`,
      async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => null))?.json(),
      ms,
    );
    expect(body).toMatchObject({ status: "ok" });
    expect(await app.stop()).toBe(0);
  } finally {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

test("SHA256SUMS lists both binaries and verifies with sha256sum -c", () => {
  const sums = run(["cat", "SHA256SUMS"], { cwd: REL }).out;
  expect(sums).toMatch(/^[0-9a-f]{64}  planfix-telegram-linux-arm64$/m);
  expect(sums).toMatch(/^[0-9a-f]{64}  planfix-telegram-linux-x64$/m);
  const check = run(["sha256sum", "-c", "SHA256SUMS"], { cwd: REL });
  expect(check.code).toBe(0);
  expect(check.out).toContain("planfix-telegram-linux-x64: OK");
  // docs/deploy.md: only the binary for this box is copied next to SHA256SUMS.
  const box = mkdtempSync(join(tmpdir(), "pt-sums-"));
  try {
    copyFileSync(join(REL, "SHA256SUMS"), join(box, "SHA256SUMS"));
    copyFileSync(join(REL, "planfix-telegram-linux-x64"), join(box, "planfix-telegram-linux-x64"));
    const docs = run(["sha256sum", "--ignore-missing", "-c", "SHA256SUMS"], { cwd: box });
    expect(docs.code).toBe(0);
    expect(docs.out.trim()).toBe("planfix-telegram-linux-x64: OK");
    // A damaged download fails the check.
    appendFileSync(join(box, "planfix-telegram-linux-x64"), "x");
    expect(run(["sha256sum", "--ignore-missing", "-c", "SHA256SUMS"], { cwd: box }).code).not.toBe(0);
  } finally {
    rmSync(box, { recursive: true, force: true });
  }
});

test("the linux-x64 binary is an x86-64 ELF that runs and answers /health", async () => {
  expect(elfMachine(join(REL, "planfix-telegram-linux-x64"))).toBe(0x3e);
  await answersHealth([join(REL, "planfix-telegram-linux-x64")], 20_000);
});

test("the linux-arm64 binary is an AArch64 ELF that runs under qemu-user and answers /health", async () => {
  const bin = join(REL, "planfix-telegram-linux-arm64");
  expect(elfMachine(bin)).toBe(0xb7);
  expect(run(["file", bin]).out).toContain("ARM aarch64");
  const help = run(["qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu", bin, "--help"]);
  expect(help.code).toBe(0);
  expect(help.out).toContain("Usage: planfix-telegram");
  await answersHealth(["qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu", bin], 90_000);
}, 120_000);

// The compiled appliance and TELEGRAM_SERVER_KEYS: the loopback's PEM (as the standalone server prints
// it) is accepted and trusted at start, in one env line; a bad value stops the start with the setting named.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Appliance, BINARY, ensureBinary } from "./e2e/harness.ts";
import { TelegramServer } from "./support/telegram/index.ts";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "pt-keys-"));
  dirs.push(d);
  return d;
};

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("the appliance trusts the loopback's key from TELEGRAM_SERVER_KEYS and says which (by fingerprint)", async () => {
  ensureBinary();
  const tg = await TelegramServer.start({ builtins: false });
  const app = new Appliance(tempDir(), {
    TELEGRAM_ENDPOINT: `127.0.0.1:${tg.port}`,
    TELEGRAM_SERVER_KEYS: tg.rsaPublicKeyPem!.replaceAll("\n", "\\n"),
    LOG_LEVEL: "info",
  });
  try {
    await app.start();
    const line = app.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "trusting extra MTProto server keys");
    expect(line).toBeDefined();
    expect(line!.fingerprints).toEqual([tg.rsaKey!.fingerprint.toString()]);
    expect(await app.stop()).toBe(0);
  } finally {
    await app.kill9();
    await tg.stop();
  }
});

test("without the setting nothing extra is trusted", async () => {
  ensureBinary();
  const app = new Appliance(tempDir(), { LOG_LEVEL: "info" });
  try {
    await app.start();
    expect(app.logText()).not.toContain("trusting extra MTProto server keys");
    expect(await app.stop()).toBe(0);
  } finally {
    await app.kill9();
  }
});

test("a value that is not a PEM public key stops the start, naming the setting and the reason", async () => {
  ensureBinary();
  const proc = Bun.spawn([BINARY], {
    env: { PATH: process.env.PATH ?? "", DATA_DIR: tempDir(), TELEGRAM_SERVER_KEYS: "/etc/telegram/test-server.pem" },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(await proc.exited).toBe(2);
  expect(await new Response(proc.stderr).text()).toContain("TELEGRAM_SERVER_KEYS: expected PEM public keys");
  const help = Bun.spawn([BINARY, "--help"], { stdout: "pipe" });
  expect(await new Response(help.stdout).text()).toContain("TELEGRAM_SERVER_KEYS");
});

// The test kit's one way to run the compiled appliance: where the binary is, building it when missing,
// a free loopback port, and the one environment block every world starts it with (tests/e2e, bench,
// drill, fuzz). bench/ imports from tests/support/ only; nothing in tests/support/ imports bench/.
import { spawnSync } from "bun";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { resolve } from "node:path";

export const BINARY = resolve(import.meta.dir, "../../dist/planfix-telegram");
export const ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef";

export function ensureBinary(): void {
  if (existsSync(BINARY)) return;
  const r = spawnSync(["make", "build"], { cwd: resolve(import.meta.dir, "../..") });
  if (r.exitCode !== 0) throw new Error(`make build failed: ${r.stderr.toString()}`);
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

/**
 * The settings every test world gives the appliance: Telegram credentials and the loopback Telegram's
 * address, and loopback allowed for outbound HTTP (the fake Planfix and its files live there, which
 * the fetch guard refuses by default). `extra` adds to or overrides them.
 */
export function worldEnv(telegramAddress: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    TELEGRAM_API_ID: "12345",
    TELEGRAM_API_HASH: "0123456789abcdef0123456789abcdef",
    TELEGRAM_ENDPOINT: telegramAddress,
    LOG_LEVEL: "debug",
    START_TIMEOUT: "10",
    ALLOW_PRIVATE_NETWORKS: "127.0.0.0/8",
    ...extra,
  };
}

/** The process environment of one appliance child: nothing inherited but PATH and HOME. */
export function processEnv(port: number, dataDir: string, env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", PORT: String(port), HOST: "127.0.0.1", DATA_DIR: dataDir, ADMIN_TOKEN, ...env };
}

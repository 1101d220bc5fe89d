// Runs the compiled binary (dist/planfix-telegram) against the loopback Telegram server and the fake
// Planfix, in a fresh data directory. `make test` builds the binary first; a missing one is built here.
import { spawnSync, type Subprocess } from "bun";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { TelegramServer, type ServerOptions, type WorldUser } from "../support/telegram/index.ts";
import { callJson } from "../support/call-json.ts";
import { startFakePlanfix } from "../support/planfix/server.ts";

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

export interface ApplianceOptions {
  env?: Record<string, string>;
}

/** One running appliance process, restartable on the same data directory. */
export class Appliance {
  proc: Subprocess<"ignore", "pipe", "pipe"> | null = null;
  readonly lines: string[] = [];
  port = 0;

  constructor(
    readonly dataDir: string,
    readonly env: Record<string, string>,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port = await freePort();
    const proc = Bun.spawn([BINARY], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", PORT: String(this.port), HOST: "127.0.0.1", DATA_DIR: this.dataDir, ADMIN_TOKEN, ...this.env },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    this.proc = proc;
    void this.collect(proc.stdout);
    void this.collect(proc.stderr);
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        const r = await fetch(`${this.url}/health`);
        if (r.ok) return;
      } catch {}
      if (proc.exitCode !== null) throw new Error(`appliance exited with ${proc.exitCode}:\n${this.lines.join("\n")}`);
      if (Date.now() > deadline) throw new Error(`appliance did not answer /health:\n${this.lines.join("\n")}`);
      await Bun.sleep(50);
    }
  }

  private async collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of stream) {
      rest += decoder.decode(chunk, { stream: true });
      const parts = rest.split("\n");
      rest = parts.pop()!;
      this.lines.push(...parts.filter(Boolean));
    }
  }

  /** SIGTERM and wait for a clean exit. */
  async stop(): Promise<number | null> {
    if (!this.proc) return null;
    this.proc.kill("SIGTERM");
    const code = await Promise.race([this.proc.exited, Bun.sleep(15_000).then(() => "timeout" as const)]);
    if (code === "timeout") {
      this.proc.kill("SIGKILL");
      await this.proc.exited;
      throw new Error("appliance did not stop within 15 s of SIGTERM");
    }
    this.proc = null;
    return code;
  }

  async kill9(): Promise<void> {
    if (!this.proc) return;
    this.proc.kill("SIGKILL");
    await this.proc.exited;
    this.proc = null;
  }

  call(method: string, path: string, body?: unknown, token: string | null = ADMIN_TOKEN, headers: Record<string, string> = {}) {
    return callJson(this.url, method, path, body, token, headers);
  }

  logText(): string {
    return this.lines.join("\n");
  }
}

/** Loopback Telegram + fake Planfix + a data dir with a sessions folder; the appliance not yet started. */
export async function world(opts: { telegram?: ServerOptions; env?: Record<string, string> } = {}) {
  ensureBinary();
  const tg = await TelegramServer.start(opts.telegram ?? {});
  const planfix = await startFakePlanfix();
  const dir = mkdtempSync(join(tmpdir(), "pt-e2e-"));
  const dataDir = join(dir, "data");
  mkdirSync(join(dataDir, "sessions"), { recursive: true });
  const env = {
    TELEGRAM_API_ID: "12345",
    TELEGRAM_API_HASH: "0123456789abcdef0123456789abcdef",
    TELEGRAM_ENDPOINT: `127.0.0.1:${tg.port}`,
    LOG_LEVEL: "debug",
    START_TIMEOUT: "10",
    RETRY_CAP_SECONDS: "1",
    // The fake Planfix and its files live on loopback, which the fetch guard refuses by default.
    ALLOW_PRIVATE_NETWORKS: "127.0.0.0/8",
    ...opts.env,
  };
  const app = new Appliance(dataDir, env);
  /** Writes a user's session string into the client's folder (a client token may name only files there); returns the path relative to the sessions directory. */
  const sessionFor = (user: WorldUser | number, name?: string, client = "acme") => {
    const id = typeof user === "number" ? user : user.id;
    const file = `${client}/${name ?? `${id}.session.txt`}`;
    mkdirSync(join(dataDir, "sessions", client), { recursive: true });
    writeFileSync(join(dataDir, "sessions", file), tg.sessionString(user));
    return file;
  };
  /** A start body for a number backed by `user`. */
  const startBody = (user: WorldUser, extra: Record<string, unknown> = {}) => ({
    name: "acme",
    number: user.phone,
    url_planfix: planfix.url,
    token_planfix: "planfix-token",
    path_session: sessionFor(user, undefined, typeof extra.name === "string" ? extra.name : "acme"),
    ...extra,
  });
  return {
    tg,
    planfix,
    app,
    dir,
    dataDir,
    sessionFor,
    startBody,
    async close() {
      await app.stop().catch(async () => app.kill9());
      await tg.stop();
      await planfix.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

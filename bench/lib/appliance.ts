// The appliance as the bench runs it: the compiled binary (or `bun src/main.ts`, optionally under the
// CPU profiler) on a fresh data directory; numbers added through the management API, readiness polled
// through GET /admin/clients.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ApplianceProcess } from "../../tests/support/appliance-process.ts";
import { ADMIN_TOKEN, BINARY, ensureBinary, freePort, processEnv, worldEnv } from "../../tests/support/kit.ts";
import { callJson, type JsonAnswer } from "../../tests/support/call-json.ts";
import { now, sleep } from "./clock.ts";
import { PLANFIX_TOKEN } from "./planfix-sink.ts";
import type { BenchUser } from "./telegram-core.ts";

export const CLIENT_NAME = "bench";
const ROOT = resolve(import.meta.dir, "../..");

export interface ApplianceRun {
  /** "binary" (dist/planfix-telegram, the default) or "source" (bun src/main.ts). */
  from: "binary" | "source";
  /** Another compiled binary than dist/planfix-telegram (comparing builds). */
  binary?: string;
  /** With from = "source": write a CPU profile (.cpuprofile and .md) into this directory on exit. */
  cpuProfileDir?: string;
  /** With from = "source": a script for `bun --preload` (instrumentation while investigating). */
  preload?: string;
  env?: Record<string, string>;
}

export class BenchAppliance {
  clientToken: string | null = null;
  added = 0;
  port = 0;
  private proc: ApplianceProcess | null = null;

  private constructor(
    readonly dir: string,
    readonly dataDir: string,
    private readonly run: ApplianceRun,
    private readonly env: Record<string, string>,
  ) {}

  static create(telegramPort: number, run: ApplianceRun): BenchAppliance {
    if (run.from === "binary") ensureBinary();
    const dir = mkdtempSync(join(tmpdir(), "pt-bench-"));
    const dataDir = join(dir, "data");
    mkdirSync(join(dataDir, "sessions"), { recursive: true });
    return new BenchAppliance(dir, dataDir, run, worldEnv(`127.0.0.1:${telegramPort}`, { LOG_LEVEL: "info", START_TIMEOUT: "30", ...run.env }));
  }

  get pid(): number {
    if (!this.proc) throw new Error("the appliance is not running");
    return this.proc.pid;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port = await freePort();
    const prof = this.run.cpuProfileDir ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${this.run.cpuProfileDir}`] : [];
    if (this.run.preload) prof.push("--preload", this.run.preload);
    const command = this.run.from === "binary" ? [this.run.binary ?? BINARY] : [process.execPath, ...prof, join(ROOT, "src/main.ts")];
    this.proc = new ApplianceProcess({ command, cwd: ROOT, env: processEnv(this.port, this.dataDir, this.env), keepLines: 200 });
    await this.proc.waitHealthy(this.url, 20_000);
  }

  /** SIGTERM and wait (SIGKILL after 30 s). */
  async stop(): Promise<void> {
    await this.proc?.stop(30_000);
    this.proc = null;
  }

  call(method: string, path: string, body?: unknown, token: string | null = ADMIN_TOKEN): Promise<JsonAnswer> {
    return callJson(this.url, method, path, body, token);
  }

  /** Adds numbers (up to `concurrency` POST /client at a time); each answer must say online. */
  async addNumbers(numbers: BenchUser[], planfixUrl: string, concurrency = 16): Promise<{ failed: string[] }> {
    const failed: string[] = [];
    const body = (u: BenchUser) => {
      // In the client's own folder: a client token may name only files there.
      const file = `${CLIENT_NAME}/${u.id}.session.txt`;
      mkdirSync(join(this.dataDir, "sessions", CLIENT_NAME), { recursive: true });
      writeFileSync(join(this.dataDir, "sessions", file), u.session);
      return { name: CLIENT_NAME, number: u.phone, url_planfix: planfixUrl, token_planfix: PLANFIX_TOKEN, path_session: file };
    };
    let list = numbers;
    if (!this.clientToken && list.length > 0) {
      // The first number creates the client (admin token); its token adds the rest.
      const r = await this.call("POST", "/client", body(list[0]!));
      if (r.status !== 201 || typeof r.json?.token !== "string") throw new Error(`creating the client failed: ${r.status} ${r.text}`);
      this.clientToken = r.json.token as string;
      if (r.json.state !== "online") failed.push(`${list[0]!.phone}: ${r.json.state}`);
      this.added++;
      list = list.slice(1);
    }
    let next = 0;
    const worker = async () => {
      while (next < list.length) {
        const u = list[next++]!;
        const r = await this.call("POST", "/client", body(u), this.clientToken);
        if (r.status !== 201 || r.json?.state !== "online") failed.push(`${u.phone}: ${r.status} ${r.json?.state ?? r.text}`);
        this.added++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
    return { failed };
  }

  /** Numbers online according to GET /admin/clients. */
  async online(): Promise<number> {
    const r = await this.call("GET", "/admin/clients");
    if (r.status !== 200) return 0;
    let n = 0;
    for (const c of (r.json?.clients ?? []) as { numbers: { state: string }[] }[]) for (const x of c.numbers) if (x.state === "online") n++;
    return n;
  }

  /** Polls until `count` numbers are online; the time that took (ms since `since`), or null at timeout. */
  async waitOnline(count: number, since: number, timeoutMs: number, everyMs = 250): Promise<number | null> {
    while (now() - since < timeoutMs) {
      try {
        if ((await this.online()) >= count) return now() - since;
      } catch {}
      await sleep(everyMs);
    }
    return null;
  }

  async dispose(keep = false): Promise<void> {
    await this.stop().catch(() => {});
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
  }
}

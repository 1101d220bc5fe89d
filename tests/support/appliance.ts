// One running appliance process (the compiled binary), restartable on the same data directory: the
// test kit's appliance for tests/e2e and the fuzzer, on a fresh free port at each start.
import type { Subprocess } from "bun";
import { ApplianceProcess } from "./appliance-process.ts";
import { callJson } from "./call-json.ts";
import { ADMIN_TOKEN, BINARY, freePort, processEnv } from "./kit.ts";

export interface ApplianceOptions {
  env?: Record<string, string>;
}

/** One running appliance process, restartable on the same data directory. */
export class Appliance {
  private run: ApplianceProcess | null = null;
  /** Every line it logged, across restarts. */
  readonly lines: string[] = [];
  port = 0;

  constructor(
    readonly dataDir: string,
    readonly env: Record<string, string>,
  ) {}

  /** The running process, or null once stopped or killed. */
  get proc(): Subprocess<"ignore", "pipe", "pipe"> | null {
    return this.run?.proc ?? null;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port = await freePort();
    this.run = new ApplianceProcess({ command: [BINARY], env: processEnv(this.port, this.dataDir, this.env), keepLines: 400, onLine: (l) => this.lines.push(l) });
    await this.run.waitHealthy(this.url, 15_000);
  }

  /** SIGTERM and wait for a clean exit (a test failure if it takes more than 15 s). */
  async stop(): Promise<number | null> {
    if (!this.run) return null;
    const r = await this.run.stop(15_000);
    this.run = null;
    if (r.killed) throw new Error("appliance did not stop within 15 s of SIGTERM");
    return r.code;
  }

  async kill9(): Promise<void> {
    if (!this.run) return;
    await this.run.kill9();
    this.run = null;
  }

  call(method: string, path: string, body?: unknown, token: string | null = ADMIN_TOKEN, headers: Record<string, string> = {}) {
    return callJson(this.url, method, path, body, token, headers);
  }

  logText(): string {
    return this.lines.join("\n");
  }
}

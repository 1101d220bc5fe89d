// The compiled appliance as the drill's child process: always the same port (so the media links it
// gave Planfix before a kill stay valid after the restart), its log appended to one file across
// restarts, SIGKILL on demand, and exits the drill did not cause recorded as crashes. The process
// itself is the test kit's ApplianceProcess.
import { ApplianceProcess, type ProcessExit } from "../../tests/support/appliance-process.ts";

export { killAllAppliances } from "../../tests/support/appliance-process.ts";
export type ApplianceExit = ProcessExit;

export class DrillAppliance {
  private proc: ApplianceProcess | null = null;
  readonly exits: ApplianceExit[] = [];
  /** Error-level log lines (JSON lines with "level":"error"), the last 200. */
  readonly errorLines: string[] = [];
  errorCount = 0;

  constructor(
    readonly binary: string,
    readonly port: number,
    readonly env: Record<string, string>,
    readonly logFile: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  get pid(): number | null {
    return this.proc?.pid ?? null;
  }

  /** Starts the process and waits until /health answers (at most `timeoutMs`). */
  async start(timeoutMs = 20_000): Promise<void> {
    if (this.running) throw new Error("appliance already running");
    const proc = new ApplianceProcess({
      command: [this.binary],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...this.env, PORT: String(this.port), HOST: "127.0.0.1" },
      logFile: this.logFile,
      keepLines: 400,
      onLine: (line) => this.see(line),
    });
    this.proc = proc;
    void proc.exit.then((e) => {
      this.exits.push(e);
      if (this.proc === proc) this.proc = null;
    });
    await proc.waitHealthy(this.url, timeoutMs);
  }

  private see(line: string): void {
    if (/"level":"(error|fatal)"/.test(line)) {
      this.errorCount++;
      this.errorLines.push(line);
      if (this.errorLines.length > 200) this.errorLines.shift();
    }
  }

  lastLines(n: number): string {
    return this.proc?.lastLines(n) ?? "";
  }

  /** kill -9 and wait until the process is gone. Resolves with the exit time. */
  async kill9(): Promise<number> {
    const proc = this.proc;
    if (!proc) return Date.now();
    await proc.kill9();
    this.proc = null;
    return Date.now();
  }

  /** SIGTERM; SIGKILL after `graceMs`. Resolves with how long the clean stop took, or null if it had to be killed. */
  async stop(graceMs = 15_000): Promise<number | null> {
    const proc = this.proc;
    if (!proc) return 0;
    const r = await proc.stop(graceMs);
    this.proc = null;
    return r.killed ? null : r.ms;
  }

  /** Crashes: exits the drill did not cause. */
  crashes(): ApplianceExit[] {
    return this.exits.filter((e) => !e.expected);
  }

  async call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(this.url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch {}
    return { status: res.status, json };
  }
}

// The compiled appliance as the drill's child process: always the same port (so the media links it
// gave Planfix before a kill stay valid after the restart), its log appended to one file across
// restarts, SIGKILL on demand, and exits the drill did not cause recorded as crashes.
import type { Subprocess } from "bun";
import { appendFileSync } from "node:fs";

export interface ApplianceExit {
  at: number;
  code: number | null;
  signal: string | null;
  /** The drill killed it (kill -9 or stop); otherwise it is a crash. */
  expected: boolean;
}

/** Every appliance process the drill started and has not seen exit: killed on the drill's own exit. */
const live = new Set<Subprocess>();

/** SIGKILL to every appliance still running (for signal and exit handlers; synchronous). */
export function killAllAppliances(): number {
  let n = 0;
  for (const p of live) {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill("SIGKILL");
      n++;
    }
  }
  live.clear();
  return n;
}

export class DrillAppliance {
  private proc: Subprocess<"ignore", "pipe", "pipe"> | null = null;
  private expectingExit = false;
  readonly exits: ApplianceExit[] = [];
  /** Error-level log lines (JSON lines with "level":"error"), the last 200. */
  readonly errorLines: string[] = [];
  errorCount = 0;
  /** The last lines of output, for a failure report. */
  private readonly tail: string[] = [];

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
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get pid(): number | null {
    return this.proc?.pid ?? null;
  }

  /** Starts the process and waits until /health answers (at most `timeoutMs`). */
  async start(timeoutMs = 20_000): Promise<void> {
    if (this.running) throw new Error("appliance already running");
    appendFileSync(this.logFile, `--- drill: start ${new Date().toISOString()}\n`);
    const proc = Bun.spawn([this.binary], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...this.env, PORT: String(this.port), HOST: "127.0.0.1" },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    this.proc = proc;
    live.add(proc);
    this.expectingExit = false;
    void proc.exited.then(() => {
      live.delete(proc);
      this.exits.push({ at: Date.now(), code: proc.exitCode, signal: proc.signalCode === null ? null : String(proc.signalCode), expected: this.expectingExit });
      if (this.proc === proc) this.proc = null;
    });
    void this.collect(proc.stdout);
    void this.collect(proc.stderr);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const r = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(1000) });
        if (r.ok) return;
      } catch {}
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`appliance exited during start (code ${proc.exitCode}, signal ${proc.signalCode})\n${this.lastLines(30)}`);
      if (Date.now() > deadline) throw new Error(`appliance did not answer /health within ${timeoutMs} ms\n${this.lastLines(30)}`);
      await Bun.sleep(50);
    }
  }

  private async collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let rest = "";
    try {
      for await (const chunk of stream) {
        const text = decoder.decode(chunk, { stream: true });
        appendFileSync(this.logFile, text);
        rest += text;
        const parts = rest.split("\n");
        rest = parts.pop()!;
        for (const line of parts) this.see(line);
      }
    } catch {}
    if (rest) this.see(rest);
  }

  private see(line: string): void {
    if (!line) return;
    this.tail.push(line);
    if (this.tail.length > 400) this.tail.splice(0, this.tail.length - 400);
    if (/"level":"(error|fatal)"/.test(line)) {
      this.errorCount++;
      this.errorLines.push(line);
      if (this.errorLines.length > 200) this.errorLines.shift();
    }
  }

  lastLines(n: number): string {
    return this.tail.slice(-n).join("\n");
  }

  /** kill -9 and wait until the process is gone. Resolves with the exit time. */
  async kill9(): Promise<number> {
    const proc = this.proc;
    if (!proc) return Date.now();
    this.expectingExit = true;
    proc.kill("SIGKILL");
    await proc.exited;
    this.proc = null;
    appendFileSync(this.logFile, `--- drill: kill -9 ${new Date().toISOString()}\n`);
    return Date.now();
  }

  /** SIGTERM; SIGKILL after `graceMs`. Resolves with how long the clean stop took, or null if it had to be killed. */
  async stop(graceMs = 15_000): Promise<number | null> {
    const proc = this.proc;
    if (!proc) return 0;
    this.expectingExit = true;
    const t0 = Date.now();
    proc.kill("SIGTERM");
    const r = await Promise.race([proc.exited.then(() => "exited" as const), Bun.sleep(graceMs).then(() => "timeout" as const)]);
    if (r === "timeout") {
      proc.kill("SIGKILL");
      await proc.exited;
      this.proc = null;
      return null;
    }
    this.proc = null;
    return Date.now() - t0;
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

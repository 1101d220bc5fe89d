// The one way the kit runs an appliance process (the compiled binary, or `bun src/main.ts` for the
// bench's profiles): its output read line by line so the pipes never fill, optionally appended to a log
// file, the last lines kept for error messages, /health polled until it answers, stop by SIGTERM with a
// SIGKILL fallback, kill -9, and each exit recorded with whether the caller caused it. tests/e2e, the
// fuzzer, the bench, the drill, the demo and the VPS tests all run the appliance through this class.
import type { Subprocess } from "bun";
import { appendFileSync } from "node:fs";

export interface ProcessOptions {
  /** The command line; `[BINARY]` for the appliance, `[BINARY, "backup", …]` for one of its commands. */
  command: string[];
  /** The whole process environment (nothing is inherited). */
  env: Record<string, string>;
  cwd?: string;
  /** Every byte of output is appended here too (across restarts when the same file is given again). */
  logFile?: string;
  /** How many lines to keep (the oldest go first); all of them when not given. */
  keepLines?: number;
  /** Called with every output line, e.g. to count error-level lines. */
  onLine?: (line: string) => void;
}

export interface ProcessExit {
  at: number;
  code: number | null;
  signal: string | null;
  /** The caller stopped or killed it; otherwise it exited on its own (a crash, for a server). */
  expected: boolean;
}

/** Every process started here and not yet seen to exit: killAllAppliances() ends them on the runner's own exit. */
const live = new Set<Subprocess>();

/** SIGKILL to every appliance process still running (for signal and exit handlers; synchronous). */
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

export class ApplianceProcess {
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  readonly lines: string[] = [];
  /** Resolves once the process has exited and its exit is recorded. */
  readonly exit: Promise<ProcessExit>;
  private expecting = false;

  constructor(private readonly opts: ProcessOptions) {
    if (opts.logFile) appendFileSync(opts.logFile, `--- start ${new Date().toISOString()}\n`);
    const proc = Bun.spawn(opts.command, { env: opts.env, cwd: opts.cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    this.proc = proc;
    live.add(proc);
    const readers = Promise.all([this.collect(proc.stdout), this.collect(proc.stderr)]);
    this.exit = proc.exited.then(async () => {
      const at = Date.now();
      live.delete(proc);
      // The last lines of a crash are often what explains it: wait (briefly) for the pipes to drain.
      await Promise.race([readers, Bun.sleep(1000)]);
      return { at, code: proc.exitCode, signal: proc.signalCode === null ? null : String(proc.signalCode), expected: this.expecting };
    });
  }

  get pid(): number {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  private async collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let rest = "";
    try {
      for await (const chunk of stream) {
        const text = decoder.decode(chunk, { stream: true });
        if (this.opts.logFile) appendFileSync(this.opts.logFile, text);
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
    this.lines.push(line);
    const keep = this.opts.keepLines;
    if (keep !== undefined && this.lines.length > keep * 2) this.lines.splice(0, this.lines.length - keep);
    this.opts.onLine?.(line);
  }

  text(): string {
    return this.lines.join("\n");
  }

  lastLines(n: number): string {
    return this.lines.slice(-n).join("\n");
  }

  /** Polls `url`/health until it answers 2xx; throws with the last lines if the process exits or time runs out. */
  async waitHealthy(url: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        if ((await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) })).ok) return;
      } catch {}
      if (!this.running) {
        const e = await this.exit; // its last lines explain why
        throw new Error(`appliance exited with ${e.code ?? `signal ${e.signal}`} during start:\n${this.lastLines(40)}`);
      }
      if (Date.now() > deadline) throw new Error(`appliance did not answer /health within ${timeoutMs} ms:\n${this.lastLines(40)}`);
      await Bun.sleep(50);
    }
  }

  /** SIGTERM, SIGKILL after `graceMs`. The exit code, how long the clean stop took, or `killed` when it had to be killed. */
  async stop(graceMs = 15_000): Promise<{ code: number | null; ms: number; killed: boolean }> {
    const t0 = Date.now();
    if (!this.running) return { code: this.proc.exitCode, ms: 0, killed: false };
    this.expecting = true;
    this.proc.kill("SIGTERM");
    const done = await Promise.race([this.proc.exited.then(() => true), Bun.sleep(graceMs).then(() => false)]);
    if (!done) {
      this.proc.kill("SIGKILL");
      await this.proc.exited;
    }
    this.note("stop");
    return { code: this.proc.exitCode, ms: Date.now() - t0, killed: !done };
  }

  /** kill -9 and wait until the process is gone. */
  async kill9(): Promise<void> {
    if (this.running) {
      this.expecting = true;
      this.proc.kill("SIGKILL");
    }
    await this.proc.exited;
    this.note("kill -9");
  }

  private note(what: string): void {
    if (this.opts.logFile) appendFileSync(this.opts.logFile, `--- ${what} ${new Date().toISOString()}\n`);
  }
}

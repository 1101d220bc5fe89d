// Request/answer over Bun's IPC channel (JSON serialization), plus one-way events from the child.
import type { Subprocess } from "bun";

export interface IpcRequest {
  id: number;
  op: string;
  args: unknown[];
}
export type IpcAnswer = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
export interface IpcEvent {
  event: string;
  [k: string]: unknown;
}

/** The parent's end: spawns `script` with IPC and lets it be called like an object. */
export class IpcChild {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly proc: Subprocess;
  private readonly stderr: string[] = [];
  readonly exited: Promise<number>;

  constructor(script: string, onEvent: (e: IpcEvent) => void, extraArgs: string[] = []) {
    const proc = Bun.spawn([process.execPath, ...extraArgs, script], {
      stdin: "ignore",
      stdout: "inherit",
      stderr: "pipe",
      serialization: "json",
      ipc: (message: unknown) => {
        const m = message as IpcAnswer | IpcEvent;
        if ("event" in m) return onEvent(m);
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m.result);
        else p.reject(new Error(m.error));
      },
    });
    this.proc = proc;
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of proc.stderr) {
        this.stderr.push(decoder.decode(chunk));
        if (this.stderr.length > 200) this.stderr.shift();
      }
    })();
    this.exited = proc.exited.then((code) => {
      for (const p of this.pending.values()) p.reject(new Error(`${script} exited with ${code}: ${this.stderr.join("").slice(-2000)}`));
      this.pending.clear();
      return code;
    });
  }

  get pid(): number {
    return this.proc.pid;
  }

  call<T>(op: string, ...args: unknown[]): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ id, op, args } satisfies IpcRequest);
    });
  }

  /** Fire and forget (no answer awaited; errors show up on the child's stderr). */
  post(op: string, ...args: unknown[]): void {
    this.proc.send({ id: 0, op, args } satisfies IpcRequest);
  }

  /** Asks politely (op "exit"), then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.call("exit").catch(() => {});
    const done = await Promise.race([this.exited.then(() => true), Bun.sleep(graceMs).then(() => false)]);
    if (!done) {
      this.proc.kill("SIGKILL");
      await this.exited;
    }
  }
}

/** The child's end: answers requests with `handlers`; `emit` sends events to the parent. */
export function serveIpc(handlers: Record<string, (...args: any[]) => unknown>): { emit(e: IpcEvent): void } {
  const send = (m: IpcAnswer | IpcEvent) => process.send?.(m);
  process.on("message", async (message: unknown) => {
    const req = message as IpcRequest;
    const h = handlers[req.op];
    try {
      if (!h) throw new Error(`no op ${req.op}`);
      const result = await h(...req.args);
      if (req.id) send({ id: req.id, ok: true, result: result ?? null });
    } catch (e) {
      if (req.id) send({ id: req.id, ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      else process.stderr.write(`ipc ${req.op} failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    }
  });
  // The parent went away: nothing left to do here.
  process.on("disconnect", () => process.exit(0));
  return { emit: (e) => send(e) };
}

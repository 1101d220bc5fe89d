// One running appliance process (the compiled binary), restartable on the same data directory: the
// test kit's one way to run it, for tests/e2e and the fuzzer alike.
import type { Subprocess } from "bun";
import { callJson } from "./call-json.ts";
import { ADMIN_TOKEN, BINARY, freePort, processEnv } from "./kit.ts";

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
      env: processEnv(this.port, this.dataDir, this.env),
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

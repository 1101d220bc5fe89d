// A real SOCKS5 proxy for tests: Debian's microsocks (scripts/test-deps.sh installs it), started on
// 127.0.0.1 at a free port, optionally with a username and password. stop() makes it a dead proxy
// (connections refused); start() brings it back on the same port.
import type { Subprocess } from "bun";
import { freePort, waitListening } from "./ports.ts";

export const MICROSOCKS = "/usr/bin/microsocks";

export interface Socks5Options {
  username?: string;
  password?: string;
  port?: number;
}

export class Socks5Proxy {
  readonly host = "127.0.0.1";
  private proc?: Subprocess;

  private constructor(
    readonly port: number,
    private readonly opts: Socks5Options,
  ) {}

  static async start(opts: Socks5Options = {}): Promise<Socks5Proxy> {
    const p = new Socks5Proxy(opts.port ?? (await freePort()), opts);
    await p.start();
    return p;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && !this.proc.killed;
  }

  /** socks5://[user:pass@]127.0.0.1:port */
  get url(): string {
    const auth = this.opts.username ? `${encodeURIComponent(this.opts.username)}:${encodeURIComponent(this.opts.password ?? "")}@` : "";
    return `socks5://${auth}${this.host}:${this.port}`;
  }

  /** GramJS's `proxy` option for this server. */
  get gramjs(): { ip: string; port: number; socksType: 5; username?: string; password?: string } {
    return { ip: this.host, port: this.port, socksType: 5, username: this.opts.username, password: this.opts.password };
  }

  async start(): Promise<void> {
    if (this.running) return;
    const args = [MICROSOCKS, "-i", this.host, "-p", String(this.port)];
    if (this.opts.username) args.push("-u", this.opts.username, "-P", this.opts.password ?? "");
    this.proc = Bun.spawn(args, { stdout: "ignore", stderr: "ignore" });
    await waitListening(this.host, this.port);
  }

  /** Kills the proxy: new connections are refused and the open ones are cut (a dead proxy). */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p) return;
    p.kill("SIGKILL");
    await p.exited;
  }
}

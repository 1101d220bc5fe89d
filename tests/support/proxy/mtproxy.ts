// An MTProxy-speaking relay for tests: clients connect with the obfuscated transport keyed with the
// proxy secret (AES-256-CTR, key = SHA256(key part + secret)), as to a real MTProxy; the relay strips
// the obfuscation and forwards the inner transport (abridged, intermediate or padded, with its plain tag)
// to the loopback Telegram. A header made with another secret is dropped without an answer, as MTProxy
// does. stop() makes it a dead proxy; start() brings it back on the same port.
import { createServer, connect, type Server, type Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { openObfuscated } from "../telegram/transports.ts";
import { freePort } from "./ports.ts";

const PLAIN_TAG = { abridged: "ef", intermediate: "eeeeeeee", padded: "dddddddd" } as const;

export interface MtProxyOptions {
  /** Where to relay to (the loopback Telegram). */
  target: { host: string; port: number };
  /** 16 bytes as 32 hex digits; random by default. */
  secret?: string;
  port?: number;
}

export class MtProxyRelay {
  readonly host = "127.0.0.1";
  readonly secret: string;
  /** Connections relayed to the target / refused for a wrong secret. */
  relayed = 0;
  refused = 0;
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
    secret: string,
  ) {
    this.secret = secret;
  }

  static async start(opts: MtProxyOptions): Promise<MtProxyRelay> {
    const r = new MtProxyRelay(opts.port ?? (await freePort()), opts.target, opts.secret ?? randomBytes(16).toString("hex"));
    await r.start();
    return r;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** mtproxy://secret@127.0.0.1:port */
  get url(): string {
    return `mtproxy://${this.secret}@${this.host}:${this.port}`;
  }

  /** GramJS's `proxy` option for this relay. */
  get gramjs(): { ip: string; port: number; secret: string; MTProxy: true } {
    return { ip: this.host, port: this.port, secret: this.secret, MTProxy: true };
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, this.host, () => resolve());
    });
    this.server = server;
  }

  /** Stops listening and cuts every relayed connection (a dead proxy). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.on("close", () => this.sockets.delete(s));
    s.on("error", () => s.destroy());
  }

  private accept(client: Socket): void {
    this.track(client);
    let head: Buffer = Buffer.alloc(0);
    const onHead = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      if (head.length < 64) return;
      client.off("data", onHead);
      const obf = openObfuscated(head.subarray(0, 64), Buffer.from(this.secret.replace(/^dd/i, "").slice(0, 32), "hex"));
      if (!obf) {
        this.refused++;
        client.destroy();
        return;
      }
      this.relayed++;
      client.pause();
      const upstream = connect(this.target.port, this.target.host);
      this.track(upstream);
      upstream.on("close", () => client.destroy());
      client.on("close", () => upstream.destroy());
      const rest = head.subarray(64);
      upstream.once("connect", () => {
        upstream.write(Buffer.from(PLAIN_TAG[obf.inner], "hex"));
        if (rest.length) upstream.write(obf.fromClient.update(rest));
        client.on("data", (c: Buffer) => upstream.write(obf.fromClient.update(c)));
        upstream.on("data", (c: Buffer) => client.write(obf.toClient.update(c)));
        client.resume();
      });
    };
    client.on("data", onHead);
  }
}

// A TCP relay between the appliance and the loopback Telegram that holds Telegram's answers back for a
// while, as a real network does. Requests go through at once (Telegram acts on them), answers arrive
// `delayMs` later: a kill in between leaves a message sent that the appliance never heard about, which
// is exactly when the derived random_id must keep the resend from doubling it. Closing either side
// closes the other, so drops and kills look the same to both ends as without the relay.
import { createServer, connect, type Server, type Socket } from "node:net";

export class DelayProxy {
  private server: Server | null = null;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket; timer: ReturnType<typeof setTimeout> | null }>();
  port = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly delayMs: number,
  ) {}

  async start(): Promise<void> {
    const server = createServer((client) => this.relay(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  private relay(client: Socket): void {
    const upstream = connect(this.target.port, this.target.host);
    const pair = { client, upstream, timer: null as ReturnType<typeof setTimeout> | null };
    this.pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    // Answers wait in order; each leaves delayMs after it arrived.
    // A null chunk is Telegram's close, delivered after what it sent before it.
    const held: { at: number; chunk: Buffer | null }[] = [];
    const flush = () => {
      pair.timer = null;
      const now = Date.now();
      while (held.length && held[0]!.at <= now) {
        const { chunk } = held.shift()!;
        if (chunk === null) return close();
        if (!client.destroyed) client.write(chunk);
      }
      if (held.length) pair.timer = setTimeout(flush, held[0]!.at - now);
    };
    upstream.on("data", (chunk: Buffer) => {
      if (this.delayMs <= 0) return void client.write(chunk);
      held.push({ at: Date.now() + this.delayMs, chunk });
      pair.timer ??= setTimeout(flush, this.delayMs);
    });
    client.on("data", (chunk: Buffer) => {
      if (!upstream.destroyed) upstream.write(chunk);
    });
    const close = () => {
      if (pair.timer) clearTimeout(pair.timer);
      pair.timer = null;
      held.length = 0;
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on("close", close);
    client.on("error", close);
    const upstreamGone = () => {
      if (this.delayMs <= 0 || held.length === 0) return close();
      held.push({ at: Date.now() + this.delayMs, chunk: null });
    };
    upstream.on("close", upstreamGone);
    upstream.on("error", upstreamGone);
  }

  async stop(): Promise<void> {
    for (const p of [...this.pairs]) {
      p.client.destroy();
      p.upstream.destroy();
    }
    this.pairs.clear();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

// The HTTPS listener: one node:tls server that stays open for the appliance's life, in front of a plain
// HTTP Bun.serve on loopback that only it can use. A new certificate goes in with setSecureContext: new
// handshakes get it, connections already open keep theirs, and no listening socket ever closes.
// (Bun.serve cannot change its certificate: reload() ignores `tls`. Swapping in a second Bun.serve on the
// same port with SO_REUSEPORT lost connections: Linux resets those still queued on the socket that
// closes unless the host sets net.ipv4.tcp_migrate_req.)
import type { Server, SocketAddress } from "bun";
import { connect, type Socket } from "node:net";
import { createServer, type Server as TlsServer, type TLSSocket } from "node:tls";

export interface TlsPair {
  cert: string;
  key: string;
}

export interface HttpsOptions {
  port: number;
  hostname: string;
  fetch: (request: Request) => Response | Promise<Response>;
  /** Told of the server the app runs on (the HTTP app reads client addresses from its requestIP). */
  onServer?: (server: Server<undefined>) => void;
  /** Told of listener errors after the start (such as running out of file descriptors); it keeps listening. */
  onError?: (error: Error) => void;
  /** How long a connection may take to finish its TLS handshake; 10 s unless told. */
  handshakeTimeoutMs?: number;
}

// A connection that has not finished its TLS handshake by then is closed (Bun.serve closes idle ones
// after 10 s too): a client that connects and says nothing must not hold a socket for ever.
const HANDSHAKE_MS = 10_000;

export class HttpsServer {
  private front: TlsServer | null = null;
  private back: Server<undefined> | null = null;
  /** The loopback port of each relayed connection's back side → the client at its front. */
  private readonly clients = new Map<number, SocketAddress>();
  private readonly sockets = new Set<Socket>();
  private starting: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly options: HttpsOptions) {}

  /** Starts listening with `pair` (rejects on a taken port), or replaces the certificate of the running listener. */
  async use(pair: TlsPair): Promise<void> {
    if (this.front) return this.front.setSecureContext({ cert: pair.cert, key: pair.key });
    if (!this.starting) return (this.starting = this.start(pair).finally(() => (this.starting = null)));
    // A certificate arriving while the first one still binds (ACME) waits for it instead of binding again.
    await this.starting.catch(() => {});
    return this.use(pair);
  }

  private async start(pair: TlsPair): Promise<void> {
    const back = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      reusePort: false,
      // The routes cap bodies themselves and answer 413 in JSON (see main.ts).
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      fetch: (request, server) => {
        // Only connections relayed from the TLS side are served: another local process reaching the
        // loopback port directly would otherwise bypass TLS and pose as any client address.
        if (!this.clientOf(server, request)) return Response.json({ error: "this port serves only the appliance's HTTPS listener" }, { status: 421 });
        return this.options.fetch(request);
      },
    });
    const front = createServer({ cert: pair.cert, key: pair.key }, (socket) => this.relay(socket, back.port!));
    front.on("connection", (raw: Socket) => raw.setTimeout(this.options.handshakeTimeoutMs ?? HANDSHAKE_MS, () => raw.destroy()));
    try {
      await new Promise<void>((resolve, reject) => {
        front.once("error", reject);
        // Not shared (no SO_REUSEPORT): a second appliance on the same port fails with EADDRINUSE.
        front.listen({ port: this.options.port, host: this.options.hostname, exclusive: true }, () => (front.off("error", reject), resolve()));
      });
    } catch (e) {
      back.stop(true);
      throw e;
    }
    front.on("error", (e: Error) => this.options.onError?.(e));
    // stop() came while the port was being bound: nothing may stay listening.
    if (this.stopped) return void (front.close(), back.stop(true));
    this.front = front;
    this.back = back;
    this.options.onServer?.(this.appServer(back));
  }

  get listening(): boolean {
    return this.front !== null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const front = this.front;
    const back = this.back;
    this.front = null;
    this.back = null;
    front?.close();
    // Requests in flight finish; idle keep-alive connections are closed by the back side.
    if (back) await back.stop();
    for (const s of this.sockets) s.destroy();
  }

  private relay(client: TLSSocket, backPort: number): void {
    const address: SocketAddress = { address: client.remoteAddress ?? "", port: client.remotePort ?? 0, family: client.remoteFamily === "IPv6" ? "IPv6" : "IPv4" };
    const upstream = connect({ host: "127.0.0.1", port: backPort });
    let localPort = 0;
    // Past the handshake, idle connections are closed by the back side (its idle timeout ends the relay).
    client.setTimeout(0);
    this.sockets.add(client);
    // An error on either side ends both at once; a side that closes cleanly lets the other finish
    // writing what it has (the end of a response with `Connection: close`).
    client.on("error", () => upstream.destroy()).on("close", () => (this.sockets.delete(client), upstream.destroy()));
    upstream
      .on("error", () => client.destroy())
      .on("close", () => {
        if (localPort && this.clients.get(localPort) === address) this.clients.delete(localPort);
        client.end();
      });
    // The client's bytes flow only once the back side knows whose they are.
    upstream.once("connect", () => {
      localPort = upstream.localPort ?? 0;
      this.clients.set(localPort, address);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  private clientOf(back: Server<undefined>, request: Request): SocketAddress | null {
    const via = back.requestIP(request);
    return via ? (this.clients.get(via.port) ?? null) : null;
  }

  /** The back server as the app sees it: requestIP answers with the client's address at the front. */
  private appServer(back: Server<undefined>): Server<undefined> {
    const requestIP = (request: Request) => this.clientOf(back, request);
    return new Proxy(back, {
      get: (target, key) => {
        if (key === "requestIP") return requestIP;
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }
}

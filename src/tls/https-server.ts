// The HTTPS listener. Bun.serve's reload() swaps handlers but not certificates, so a new certificate is
// put in by starting a second listener on the same port (SO_REUSEPORT) and stopping the old one
// gracefully: no restart, no refused connection, requests in flight finish on the old one.
import type { Server } from "bun";

export interface TlsPair {
  cert: string;
  key: string;
}

export interface HttpsOptions {
  port: number;
  hostname: string;
  fetch: (request: Request) => Response | Promise<Response>;
  /** Told of each listener as it takes over (the HTTP app reads client addresses from it). */
  onServer?: (server: Server<undefined>) => void;
}

export class HttpsServer {
  private server: Server<undefined> | null = null;

  constructor(private readonly options: HttpsOptions) {}

  /** Starts listening with `pair`, or replaces the certificate of the running listener. */
  use(pair: TlsPair): void {
    // SO_REUSEPORT would let a second appliance on the same port share the requests silently: the first
    // bind is tried without it, so a taken port fails here with EADDRINUSE as it does without TLS.
    if (!this.server) Bun.serve({ port: this.options.port, hostname: this.options.hostname, reusePort: false, fetch: () => new Response(null) }).stop(true);
    const next = Bun.serve({
      port: this.options.port,
      hostname: this.options.hostname,
      reusePort: true,
      // The routes cap bodies themselves and answer 413 in JSON (see main.ts).
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      tls: { cert: pair.cert, key: pair.key },
      fetch: this.options.fetch,
    });
    const old = this.server;
    this.server = next;
    this.options.onServer?.(next);
    if (old) void old.stop();
  }

  get listening(): boolean {
    return this.server !== null;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await s.stop();
  }
}

// Real GramJS clients pointed at the loopback server, and a clean way to stop them.
import { Logger, TelegramClient } from "telegram";
import { LogLevel } from "telegram/extensions/Logger";
import { StringSession } from "telegram/sessions";
import { ConnectionTCPAbridged, ConnectionTCPFull, ConnectionTCPObfuscated } from "telegram/network";
import type { ProxyInterface } from "telegram/network/connection/TCPMTProxy";
import { endpointConnection } from "../../../src/telegram/endpoint.ts";
import type { TelegramServer } from "./server.ts";
import { DEFAULT_DC, type WorldSession, type WorldUser } from "./world.ts";

export interface ConnectClientOptions {
  /** Our own limit on connect(): GramJS's `timeout` does nothing and connect() hangs on a stalled server. */
  timeoutMs?: number;
  /** Default 0, so FLOOD_WAIT_n always throws FloodWaitError instead of sleeping. */
  floodSleepThreshold?: number;
  /** Finite by default (1), so a refused connection makes connect() give up instead of retrying forever. */
  connectionRetries?: number;
  requestRetries?: number;
  retryDelay?: number;
  autoReconnect?: boolean;
  /** Override the endpoint (default: the server's 127.0.0.1:port). */
  endpoint?: string;
  /** What the client declares in initConnection (shown in account.getAuthorizations). */
  deviceModel?: string;
  systemVersion?: string;
  appVersion?: string;
  /** GramJS transport (default: the appliance's pinned full transport). */
  transport?: "full" | "abridged" | "obfuscated";
  /** A GramJS proxy: SOCKS `{ ip, port, socksType: 5 }` or MTProxy `{ ip, port, secret, MTProxy: true }`. */
  proxy?: ProxyInterface;
}

/** A GramJS connection class of the given transport, pinned to host:port (as endpoint.ts does for full). */
export function pinnedConnection(transport: "full" | "abridged" | "obfuscated", host: string, port: number): typeof ConnectionTCPFull {
  const Base = { full: ConnectionTCPFull, abridged: ConnectionTCPAbridged, obfuscated: ConnectionTCPObfuscated }[transport] as typeof ConnectionTCPFull;
  return class extends Base {
    constructor(params: ConstructorParameters<typeof ConnectionTCPFull>[0]) {
      super({ ...params, ip: host, port });
    }
  };
}

export type ConnectFailure = "timeout" | "refused" | "rpc";

export class ConnectClientError extends Error {
  constructor(
    readonly reason: ConnectFailure,
    override readonly cause?: unknown,
  ) {
    super(`GramJS connect failed: ${reason}${cause instanceof Error ? ` (${cause.message})` : ""}`);
  }
}

type SessionLike = string | WorldSession | WorldUser | number;

/** A server in another process (e.g. the CLI): only its address is known. */
export interface ServerAddress {
  host: string;
  port: number;
}

/** A silent GramJS logger (level none): GramJS otherwise prints to the console on every reconnect. */
export function silentLogger(): Logger {
  return new Logger(LogLevel.NONE);
}

/**
 * Builds a real TelegramClient for `session` (StringSession text, or a world session, user or user id
 * when `server` is in-process),
 * connects it through the endpoint connection class and resolves once connect() succeeded.
 * On failure the client is stopped and ConnectClientError is thrown: "timeout" (stalled server),
 * "refused" (connect() resolved false) or "rpc" (the initial request got an rpc_error, e.g.
 * AUTH_KEY_DUPLICATED — `cause` is GramJS's RPCError).
 */
export async function connectClient(server: TelegramServer | ServerAddress, session: SessionLike, opts: ConnectClientOptions = {}): Promise<TelegramClient> {
  let text: string;
  if (typeof session === "string") text = session;
  else if ("sessionString" in server) text = server.sessionString(session);
  else throw new Error("connectClient: pass StringSession text when the server runs elsewhere");
  const stringSession = new StringSession(text);
  // An empty session means a new key by key exchange (the server must have an RSA key the process
  // trusts). Start it in DC 2, where the loopback keeps everything: GramJS's default DC 4 would need
  // PHONE_MIGRATE / exported authorizations, which the loopback does not do.
  if (!text) stringSession.setDC(DEFAULT_DC, server.host, server.port);
  const client = new TelegramClient(stringSession, 1, "loopback", {
    connection:
      opts.transport && opts.transport !== "full"
        ? pinnedConnection(opts.transport, server.host, server.port)
        : endpointConnection(opts.endpoint ?? `${server.host}:${server.port}`),
    proxy: opts.proxy,
    baseLogger: silentLogger(),
    // A key exchange fails for 1 key in 256 (GramJS's short-key quirk, see handshake.ts) and is retried.
    connectionRetries: opts.connectionRetries ?? (text ? 1 : 3),
    requestRetries: opts.requestRetries ?? 2,
    retryDelay: opts.retryDelay ?? 100,
    autoReconnect: opts.autoReconnect ?? true,
    floodSleepThreshold: opts.floodSleepThreshold ?? 0,
    deviceModel: opts.deviceModel ?? "loopback-test",
    systemVersion: opts.systemVersion ?? "1",
    appVersion: opts.appVersion ?? "1",
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), opts.timeoutMs ?? 5000);
  });
  let outcome: boolean | "timeout";
  try {
    outcome = await Promise.race([client.connect(), timeout]);
  } catch (e) {
    clearTimeout(timer);
    await stopClient(client);
    throw new ConnectClientError("rpc", e);
  }
  clearTimeout(timer);
  if (outcome !== true) {
    await stopClient(client);
    throw new ConnectClientError(outcome === "timeout" ? "timeout" : "refused");
  }
  return client;
}

// The private GramJS fields stopClient must reach (the same list as src/telegram/gram.ts).
interface ClientInternals {
  _exportedSenderReleaseTimeouts: Map<number, ReturnType<typeof setTimeout>>;
  _exportedSenderPromises: Map<number, Promise<SenderInternals | undefined>>;
  _sender?: SenderInternals;
}
interface SenderInternals {
  disconnect(): Promise<void>;
  reconnect(): void;
  _reconnect(): Promise<void>;
}

/**
 * Stops a client so that nothing of it survives: clear the exported-sender release timers, keep
 * every sender from reconnecting later (a reconnect scheduled before the stop would reopen a socket),
 * destroy() (stops the ping loop), then disconnect the exported senders destroy() forgets (it iterates
 * their Map as if it were an object).
 */
export async function stopClient(client: TelegramClient): Promise<void> {
  const c = client as unknown as ClientInternals;
  for (const t of c._exportedSenderReleaseTimeouts.values()) clearTimeout(t);
  c._exportedSenderReleaseTimeouts.clear();
  const exported = [...c._exportedSenderPromises.values()];
  const senders: SenderInternals[] = [];
  if (c._sender) senders.push(c._sender);
  for (const p of exported) {
    const s = await Promise.race([p.catch(() => undefined), new Promise<undefined>((r) => setTimeout(r, 50))]);
    if (s) senders.push(s);
  }
  for (const s of senders) {
    s.reconnect = () => {};
    s._reconnect = async () => {};
  }
  await client.destroy().catch(() => {});
  await Promise.all(senders.map((s) => s.disconnect().catch(() => {})));
}

// The appliance's only GramJS network override: send every MTProto connection to one host:port.
// GramJS ignores the session's port (the main connection dials 80, file connections dial 443 at the
// addresses help.getConfig lists), so a fixed endpoint (the loopback test server, a demo) needs a
// `connection` class that rewrites host and port for every connection it creates, including reconnects
// (GramJS builds those with `new connection.constructor(...)`) and exported upload/download senders.
import { ConnectionTCPFull } from "telegram/network/connection/TCPFull";

export interface TelegramEndpoint {
  host: string;
  port: number;
}

const SETTING = "TELEGRAM_ENDPOINT";

/**
 * Parses the TELEGRAM_ENDPOINT value `host:port` (IPv6 as `[::1]:port`).
 * Unset or blank → null (talk to Telegram as GramJS normally does); malformed → Error naming the setting.
 */
export function parseTelegramEndpoint(value: string | null | undefined): TelegramEndpoint | null {
  if (value === undefined || value === null || value.trim() === "") return null;
  const text = value.trim();
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text) ?? /^([^:\s[\]]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${SETTING} must be host:port (e.g. 127.0.0.1:21000), got "${value}"`);
  }
  return { host: m[1]!, port };
}

type ConnectionParams = ConstructorParameters<typeof ConnectionTCPFull>[0];

/** A ConnectionTCPFull subclass (pass it as `connection` to `new TelegramClient`) pinned to `endpoint`. */
export function endpointConnection(endpoint: string | TelegramEndpoint): typeof ConnectionTCPFull {
  const target = typeof endpoint === "string" ? parseTelegramEndpoint(endpoint) : endpoint;
  if (!target) throw new Error(`${SETTING} is empty`);
  const { host, port } = target;
  return class PinnedConnectionTCPFull extends ConnectionTCPFull {
    constructor(params: ConnectionParams) {
      super({ ...params, ip: host, port });
    }
  };
}

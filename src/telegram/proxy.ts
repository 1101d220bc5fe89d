// A number's proxy in GramJS terms, and what a failed connect through it means. SOCKS5 goes into
// GramJS's socket (the connection class, e.g. the TELEGRAM_ENDPOINT pin, still says where Telegram
// is); MTProxy replaces the transport with GramJS's obfuscated MTProxy connection to the proxy itself.
import { connect } from "node:net";
import { ConnectionTCPMTProxyAbridged } from "telegram/network/connection/TCPMTProxy";
import type { ProxyInterface } from "telegram/network/connection/TCPMTProxy";
import type { ConnectionTCPFull } from "telegram/network/connection/TCPFull";
import { proxyAddress, type ProxySpec } from "../domain/proxy.ts";
import { TelegramFailure } from "../domain/telegram-port.ts";
import { errorText } from "../log.ts";

/** GramJS's `proxy` option; `timeoutMs` bounds the SOCKS handshake (GramJS's default is 5 s). */
export function gramjsProxy(p: ProxySpec, timeoutMs: number): ProxyInterface {
  const timeout = Math.max(1, Math.ceil(timeoutMs / 1000));
  const ip = p.address ?? p.host;
  if (p.kind === "mtproxy") return { ip, port: p.port, secret: p.secret, MTProxy: true, timeout };
  return { ip, port: p.port, socksType: 5, timeout, ...(p.username ? { username: p.username, password: p.password ?? "" } : {}) };
}

/**
 * The connection class file connections (other DCs) use with this proxy; undefined: keep the usual one.
 * Typed as the TCP full class the rest of the adapter passes around: both take the same constructor
 * parameters and GramJS only calls their common Connection methods.
 */
export function proxyConnection(p: ProxySpec | null): typeof ConnectionTCPFull | undefined {
  return p?.kind === "mtproxy" ? (ConnectionTCPMTProxyAbridged as unknown as typeof ConnectionTCPFull) : undefined;
}

const PROBE_MS = 3000;

const PROBLEMS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ETIMEDOUT: "no answer",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed",
  EADDRNOTAVAIL: "address not available",
};

/**
 * Asks the proxy directly: a TCP connect, and for SOCKS5 its greeting (offering no authentication and
 * user/password, as GramJS's SOCKS client does). The problem as the end of a reason, or null when the
 * proxy is there and speaks its protocol as far as can be seen without credentials.
 */
function probe(p: ProxySpec): Promise<string | null> {
  return new Promise((resolve) => {
    const s = connect({ host: p.address ?? p.host, port: p.port });
    let connected = false;
    const done = (problem: string | null) => {
      clearTimeout(timer);
      s.destroy();
      resolve(problem);
    };
    const timer = setTimeout(
      () => done(connected ? "it accepts connections but does not answer as a SOCKS5 proxy" : `unreachable: no answer within ${PROBE_MS / 1000} s`),
      PROBE_MS,
    );
    s.once("connect", () => {
      connected = true;
      // An MTProxy answers nothing until it is spoken to with a valid secret: a connect is all we learn.
      if (p.kind !== "socks5") return done(null);
      s.write(Buffer.from([5, 2, 0, 2]));
    });
    let got = Buffer.alloc(0);
    s.on("data", (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 2) done(got[0] === 5 ? null : "it accepts connections but does not speak SOCKS5");
    });
    s.once("close", () => connected && done("it closed the connection at the SOCKS5 greeting"));
    s.once("error", (e: NodeJS.ErrnoException) => done(`unreachable: ${PROBLEMS[e.code ?? ""] ?? e.code ?? "cannot connect"}`));
  });
}

/** `text` without the proxy's password or secret (library messages may quote what they were given). */
function scrub(text: string, p: ProxySpec): string {
  const secrets = p.kind === "mtproxy" ? [p.secret] : [p.password ?? ""];
  return secrets.filter((x) => x.length >= 3).reduce((t, x) => t.split(x).join("***"), text);
}

/**
 * A connect through `p` failed with `cause` before Telegram answered: was it the proxy? The proxy is
 * asked directly (a TCP connect), so the reason says what a user can fix: "proxy socks5://host:port
 * unreachable: connection refused", or refused by the proxy (SOCKS authentication, its own target).
 * Null: the proxy is there and said nothing against us; the cause stands as it is.
 */
export async function proxyFailure(p: ProxySpec, cause: unknown): Promise<TelegramFailure | null> {
  const where = proxyAddress(p);
  const problem = await probe(p);
  if (problem) return new TelegramFailure("proxy", `proxy ${where} ${problem.startsWith("unreachable") ? problem : `is not usable: ${problem}`}`);
  const text = scrub(errorText(cause), p);
  if (/socks/i.test(text)) return new TelegramFailure("proxy", `proxy ${where} refused the connection: ${text.replace(/^.*?(socks5?\b)/i, "$1")}`);
  if (p.kind === "mtproxy")
    return new TelegramFailure(
      "proxy",
      `proxy ${where} accepted the connection but nothing came back from Telegram through it (a wrong secret, or Telegram unreachable from the proxy)`,
    );
  return null;
}

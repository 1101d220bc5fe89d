// The proxy a number's Telegram connections go through: TELEGRAM_PROXY (every number) or a number's own
// `proxy`. Parsed and checked here, in one place, for the settings and the management API alike;
// src/telegram/ turns it into GramJS options. A proxy's password and an MTProxy secret are secrets:
// errors never echo the value, and what is shown or logged is `redactProxy`.

/** An MTProxy secret is 32 hex digits, or dd + 32 (random padding). */
export type ProxySpec = (
  | { kind: "socks5"; host: string; port: number; username: string | null; password: string | null }
  | { kind: "mtproxy"; host: string; port: number; secret: string }
) & {
  /** The checked address to connect to (see checkProxy); `host` stays for what is shown. Unset: `host`. */
  address?: string;
};

/** A number's own setting: a proxy, "direct" (none, even with TELEGRAM_PROXY set), or null (TELEGRAM_PROXY). */
export type NumberProxy = ProxySpec | "direct" | null;

export const DIRECT = "direct";

export const PROXY_FORMS = "socks5://[user:password@]host:port, mtproxy://secret@host:port or a tg://proxy?server=…&port=…&secret=… link";

/** Why a proxy value is refused; the message never contains the value (it may hold a password). */
export class ProxyError extends Error {}

const HEX_SECRET = /^(dd)?[0-9a-f]{32}$/i;

/** Parses a proxy URL (see PROXY_FORMS). Throws ProxyError; blank is not a proxy (callers decide). */
export function parseProxy(value: string): ProxySpec {
  const text = value.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase();
  if (!scheme) throw new ProxyError(`must be ${PROXY_FORMS}`);
  if (scheme === "tg" || scheme === "https") return proxyLink(text);
  if (scheme !== "socks5" && scheme !== "mtproxy") {
    throw new ProxyError(`${/^(socks4a?|socks5h|socks|http|https)$/.test(scheme) ? `${scheme} proxies are not supported; ` : "must be "}${PROXY_FORMS}`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ProxyError(`is not a valid ${scheme}:// address; expected ${scheme === "socks5" ? "socks5://[user:password@]host:port" : "mtproxy://secret@host:port"}`);
  }
  if ((url.pathname && url.pathname !== "/") || url.search || url.hash) throw new ProxyError(`${scheme}:// takes only [credentials@]host:port, no path or query`);
  const { host, port } = hostPort(url.hostname, url.port, scheme);
  const user = decode(url.username);
  const password = decode(url.password);
  if (scheme === "socks5") {
    if (password && !user) throw new ProxyError("socks5:// has a password but no user name");
    if (user.length > 255 || password.length > 255) throw new ProxyError("socks5:// user name and password are at most 255 bytes each");
    return { kind: "socks5", host, port, username: user || null, password: user ? password : null };
  }
  if (password) throw new ProxyError("mtproxy:// takes the secret alone before @ (mtproxy://secret@host:port)");
  return { kind: "mtproxy", host, port, secret: checkSecret(user) };
}

/** tg://proxy?server=…&port=…&secret=… and https://t.me/proxy?… (the links MTProxy owners hand out). */
function proxyLink(text: string): ProxySpec {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ProxyError(`must be ${PROXY_FORMS}`);
  }
  const isLink = url.protocol === "tg:" ? url.hostname === "proxy" || url.pathname.replace(/^\/+/, "") === "proxy" : url.hostname === "t.me" && url.pathname === "/proxy";
  if (!isLink) throw new ProxyError(`must be ${PROXY_FORMS}`);
  const q = url.searchParams;
  const server = q.get("server") ?? "";
  const { host, port } = hostPort(server.replace(/^\[(.*)\]$/, "$1"), q.get("port") ?? "", "proxy link");
  return { kind: "mtproxy", host, port, secret: checkSecret(q.get("secret") ?? "") };
}

function checkSecret(secret: string): string {
  if (!secret) throw new ProxyError("mtproxy needs its secret (mtproxy://secret@host:port)");
  if (/^ee/i.test(secret) && /^[0-9a-f]+$/i.test(secret) && secret.length > 34)
    throw new ProxyError("fake-TLS MTProxy secrets (ee…) are not supported; use the proxy's plain (32 hex digits) or dd secret");
  if (!HEX_SECRET.test(secret)) throw new ProxyError("the MTProxy secret must be 32 hex digits, or dd followed by 32 hex digits");
  return secret.toLowerCase();
}

function hostPort(hostname: string, portText: string, what: string): { host: string; port: number } {
  const host = hostname.replace(/^\[(.*)\]$/, "$1");
  if (!host) throw new ProxyError(`${what} needs a host`);
  const port = Number(portText);
  if (!portText || !Number.isInteger(port) || port < 1 || port > 65535) throw new ProxyError(`${what} needs a port (1-65535) after the host`);
  return { host, port };
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const hostText = (host: string) => (host.includes(":") ? `[${host}]` : host);

/** What may be shown or logged: socks5://user:***@host:port, mtproxy://***@host:port. */
export function redactProxy(p: ProxySpec): string {
  if (p.kind === "mtproxy") return `mtproxy://***@${hostText(p.host)}:${p.port}`;
  const auth = p.username ? `${encodeURIComponent(p.username)}:***@` : "";
  return `socks5://${auth}${hostText(p.host)}:${p.port}`;
}

/** Where a proxy is, without credentials: for failure reasons (socks5://host:port). */
export function proxyAddress(p: ProxySpec): string {
  return `${p.kind}://${hostText(p.host)}:${p.port}`;
}

/** The URL form that parses back to `p` (stored in the database; it holds the secret). */
export function proxyUrl(p: ProxySpec): string {
  if (p.kind === "mtproxy") return `mtproxy://${p.secret}@${hostText(p.host)}:${p.port}`;
  const auth = p.username ? `${encodeURIComponent(p.username)}:${encodeURIComponent(p.password ?? "")}@` : "";
  return `socks5://${auth}${hostText(p.host)}:${p.port}`;
}

/** A number's own setting from the API or the database: "direct", a proxy URL, or null/blank for the default. */
export function parseNumberProxy(value: string | null | undefined): NumberProxy {
  if (value === null || value === undefined || value.trim() === "") return null;
  if (value.trim().toLowerCase() === DIRECT) return DIRECT;
  return parseProxy(value);
}

/** The proxy a number's connections use: its own setting, else the appliance's default. */
export function effectiveProxy(own: NumberProxy, fallback: ProxySpec | null): ProxySpec | null {
  if (own === DIRECT) return null;
  return own ?? fallback;
}

/**
 * Where a host may be connected to: an allowed address of it, a refusal (the outbound address policy,
 * ALLOW_PRIVATE_NETWORKS), or a failure (the name does not resolve now).
 */
export type ProxyHostCheck = (host: string) => Promise<{ address: string } | { refused: string } | { failed: string }>;

/**
 * A number's own proxy is set by a tenant, so it may point only where the appliance's outbound requests
 * may go (else it would reach, and report on, the appliance's internal network). The connection then goes
 * to the address that was checked, so a DNS answer that changes in between cannot move it.
 */
export async function checkProxy(p: ProxySpec, check: ProxyHostCheck): Promise<{ proxy: ProxySpec } | { refused: string } | { failed: string }> {
  const r = await check(p.host);
  if ("address" in r) return { proxy: { ...p, address: r.address } };
  if ("refused" in r) return { refused: `proxy ${proxyAddress(p)} is not allowed (${r.refused}); ALLOW_PRIVATE_NETWORKS opens private networks` };
  return { failed: `proxy ${proxyAddress(p)} unreachable: ${r.failed}` };
}

// The one way the appliance makes an outbound HTTP request (Planfix calls, attachment downloads).
// Each hop: http(s) only → the name is resolved once → every address it resolves to must be allowed
// (address-policy.ts) → the connection goes to that checked address, the Host header (and TLS SNI and
// certificate check) keep the name, so a DNS answer that changes between check and connect
// (rebinding) cannot move the request. Redirects are followed by hand, each hop checked again, at
// most 5. Bodies are left compressed: read them with read-body.ts, which caps what is decompressed.
import { lookup } from "node:dns/promises";
import { type AllowList, NOTHING_ALLOWED, parseAddress, refusalOf } from "./address-policy.ts";

/** Resolves a host name to its addresses (tests and RESOLVE_OVERRIDE swap it). */
export type Resolver = (host: string) => Promise<string[]>;

export interface NetGuardOptions {
  /** ALLOW_PRIVATE_NETWORKS; nothing by default. */
  allow?: AllowList;
  resolve?: Resolver;
  /** Names answered without DNS (`RESOLVE_OVERRIDE`, like curl's --resolve); still checked like any answer. */
  overrides?: ReadonlyMap<string, string>;
}

export interface GuardedRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** "manual": a redirect answer is returned as it is (POSTs); "follow": up to `maxRedirects` hops, each checked. */
  redirect: "follow" | "manual";
  maxRedirects?: number;
}

/** The request was not made (or not followed further): the destination is not allowed, or too many redirects. */
export class DestinationRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DestinationRefused";
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
export const MAX_REDIRECTS = 5;

export const systemResolver: Resolver = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

export class NetGuard {
  private readonly allow: AllowList;
  private readonly resolve: Resolver;
  private readonly overrides: ReadonlyMap<string, string>;

  constructor(options: NetGuardOptions = {}) {
    this.allow = options.allow ?? NOTHING_ALLOWED;
    this.resolve = options.resolve ?? systemResolver;
    this.overrides = options.overrides ?? new Map();
  }

  /** Throws DestinationRefused, a network error or the signal's reason; never reaches a refused address. */
  async fetch(url: string | URL, req: GuardedRequest): Promise<Response> {
    let target = typeof url === "string" ? parseUrl(url) : url;
    let method = (req.method ?? "GET").toUpperCase();
    let body = req.body;
    const headers = { ...(req.headers ?? {}) };
    const max = req.maxRedirects ?? MAX_REDIRECTS;
    for (let hop = 0; ; hop++) {
      const res = await this.once(target, method, headers, body, req.signal);
      if (req.redirect === "manual" || !REDIRECTS.has(res.status) || !res.headers.get("location")) return res;
      await res.body?.cancel().catch(() => {});
      if (hop >= max) throw new DestinationRefused(`too many redirects (more than ${max})`);
      const next = parseUrl(res.headers.get("location")!, target);
      // As browsers do: 303, and 301/302 after a POST, turn into a GET without the body.
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === "POST")) {
        method = "GET";
        body = undefined;
        delete headers["content-type"];
      }
      target = next;
    }
  }

  /** One request to one checked address. */
  private async once(target: URL, method: string, headers: Record<string, string>, body: string | undefined, signal?: AbortSignal): Promise<Response> {
    if (target.protocol !== "http:" && target.protocol !== "https:") throw new DestinationRefused(`destination not allowed: only http and https URLs, not ${target.protocol}`);
    const address = await this.address(target.hostname, signal);
    const direct = new URL(target.href);
    direct.hostname = address.includes(":") ? `[${address}]` : address;
    const literal = parseAddress(target.hostname) !== null;
    const init: RequestInit & { decompress: boolean; tls?: { serverName: string } } = {
      method,
      headers: { ...headers, host: target.host },
      signal,
      redirect: "manual",
      // Decompression is read-body.ts's job: it caps the decompressed size.
      decompress: false,
    };
    if (body !== undefined) init.body = body;
    if (target.protocol === "https:" && !literal) init.tls = { serverName: target.hostname };
    return fetch(direct, init);
  }

  /**
   * Resolves once and returns an address every answer of which is allowed (throws DestinationRefused, or
   * an Error when the name does not resolve). Also what a number's own proxy is checked with.
   */
  async address(hostname: string, signal?: AbortSignal): Promise<string> {
    const host = hostname.replace(/^\[|\]$/g, "");
    if (parseAddress(host)) {
      const why = refusalOf(host, this.allow);
      if (why) throw new DestinationRefused(`destination not allowed: ${hostname} is ${why}`);
      return host;
    }
    const override = this.overrides.get(host.toLowerCase());
    const addresses = override ? [override] : await abortable(this.resolve(host), signal);
    // Not a refusal: DNS may answer next time.
    if (addresses.length === 0) throw new Error(`cannot resolve ${host}`);
    // Every answer must be allowed: a name that also points inside is refused as a whole.
    for (const a of addresses) {
      const why = refusalOf(a, this.allow, host);
      if (why) throw new DestinationRefused(`destination not allowed: ${host} resolves to ${why}`);
    }
    // IPv4 first: a host with a broken IPv6 route still works, as it did with plain fetch.
    return addresses.find((a) => !a.includes(":")) ?? addresses[0]!;
  }
}

function parseUrl(text: string, base?: URL): URL {
  try {
    return new URL(text, base);
  } catch {
    throw new DestinationRefused(`destination not allowed: not a valid URL`);
  }
}

function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** `name=address,name2=address2` (RESOLVE_OVERRIDE) → a map; throws on an entry it cannot read. */
export function parseOverrides(text: string | null | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of (text ?? "").split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const eq = entry.indexOf("=");
    const name = entry.slice(0, eq).trim().toLowerCase();
    const address = entry
      .slice(eq + 1)
      .trim()
      .replace(/^\[|\]$/g, "");
    if (eq <= 0 || !parseAddress(address)) throw new Error(`"${entry}" is not name=address`);
    out.set(name, address);
  }
  return out;
}

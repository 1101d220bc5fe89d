// Which addresses outbound HTTP may reach. Only global unicast is allowed by default; everything a
// tenant could use to reach the appliance itself or the operator's network (loopback, private,
// link-local, CGNAT, multicast, unspecified, reserved…) is refused, also when hidden in an IPv6 form
// that embeds an IPv4 address. ALLOW_PRIVATE_NETWORKS opens chosen networks or host names (an
// on-premise Planfix, tests). Classification is ipaddr.js's, not hand-written range math.
import ipaddr from "ipaddr.js";

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

export interface AllowList {
  /** Networks opened by the operator. */
  readonly cidrs: ReadonlyArray<readonly [Addr, number]>;
  /** Host names (lower case, no trailing dot) opened by the operator, whatever they resolve to. */
  readonly hosts: ReadonlySet<string>;
}

export const NOTHING_ALLOWED: AllowList = { cidrs: [], hosts: new Set() };

/** `10.0.0.0/8, 192.168.1.7, fd00::/8, planfix.corp.local` → an allow list; throws on an entry it cannot read. */
export function parseAllowList(text: string | null | undefined): AllowList {
  const cidrs: Array<readonly [Addr, number]> = [];
  const hosts = new Set<string>();
  for (const raw of (text ?? "").split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    if (entry.includes("/")) {
      if (!ipaddr.isValidCIDR(entry)) throw new Error(`"${entry}" is not a CIDR network`);
      cidrs.push(ipaddr.parseCIDR(entry));
    } else if (ipaddr.isValid(entry.replace(/^\[|\]$/g, ""))) {
      const a = ipaddr.parse(entry.replace(/^\[|\]$/g, ""));
      cidrs.push([a, a.kind() === "ipv4" ? 32 : 128]);
    } else if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i.test(entry)) {
      hosts.add(normalHost(entry));
    } else {
      throw new Error(`"${entry}" is neither a CIDR network, an address nor a host name`);
    }
  }
  return { cidrs, hosts };
}

export function normalHost(host: string): string {
  return host.toLowerCase().replace(/\.$/, "");
}

/** Strips the brackets URL.hostname keeps around IPv6; parses any IPv4 notation ipaddr.js knows. */
export function parseAddress(text: string): Addr | null {
  const bare = text.replace(/^\[|\]$/g, "");
  return ipaddr.isValid(bare) ? ipaddr.parse(bare) : null;
}

/** The IPv4 address an IPv6 address carries (mapped, translated, IPv4-compatible, NAT64, 6to4), if any. */
export function embeddedIPv4(a: ipaddr.IPv6): ipaddr.IPv4 | null {
  const p = a.parts;
  const last32 = () => new ipaddr.IPv4([p[6]! >> 8, p[6]! & 0xff, p[7]! >> 8, p[7]! & 0xff]);
  const range = a.range();
  if (range === "ipv4Mapped" || range === "rfc6145") return last32();
  // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052); the local-use 64:ff9b:1::/48 is refused as a whole.
  if (p[0] === 0x64 && p[1] === 0xff9b && p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0) return last32();
  // IPv4-compatible ::a.b.c.d (deprecated, still routed by some stacks); :: and ::1 are classified as such.
  if (p.slice(0, 6).every((x) => x === 0) && range !== "unspecified" && range !== "loopback") return last32();
  if (range === "6to4") return new ipaddr.IPv4([p[1]! >> 8, p[1]! & 0xff, p[2]! >> 8, p[2]! & 0xff]);
  return null;
}

/**
 * Why `address` may not be reached, or null when it may. `host` is the name it was resolved from
 * (an allowed host name opens whatever it resolves to).
 */
export function refusalOf(address: string, allow: AllowList, host?: string): string | null {
  if (host !== undefined && allow.hosts.has(normalHost(host))) return null;
  const a = parseAddress(address);
  if (!a) return "not an IP address";
  const v4 = a.kind() === "ipv6" ? embeddedIPv4(a as ipaddr.IPv6) : (a as ipaddr.IPv4);
  if (allowed(a, allow) || (v4 && allowed(v4, allow))) return null;
  if (v4) {
    const range = v4.range();
    return range === "unicast" ? null : describe(range);
  }
  const range = (a as ipaddr.IPv6).range();
  return range === "unicast" ? null : describe(range);
}

function allowed(a: Addr, allow: AllowList): boolean {
  return allow.cidrs.some(([net, bits]) => net.kind() === a.kind() && a.match(net, bits));
}

const WORDS: Record<string, string> = {
  loopback: "a loopback address",
  private: "a private address",
  uniqueLocal: "a private (unique local) address",
  linkLocal: "a link-local address",
  carrierGradeNat: "a carrier-grade NAT address",
  multicast: "a multicast address",
  unspecified: "an unspecified address",
  broadcast: "a broadcast address",
};

function describe(range: string): string {
  return WORDS[range] ?? `a special-purpose address (${range})`;
}

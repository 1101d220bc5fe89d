// The fetch guard against real loopback HTTP servers: which destinations are refused (in every
// notation), that redirects are checked hop by hop, that the connection goes to the address that was
// checked (DNS rebinding), and that bodies are read with a cap counted after decompression.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliCompressSync, createGzip, deflateSync, gzipSync } from "node:zlib";
import { parseAllowList, refusalOf, NOTHING_ALLOWED } from "../../src/net/address-policy.ts";
import { DestinationRefused, NetGuard, parseOverrides } from "../../src/net/guarded-fetch.ts";
import { BodyTooLarge, readCapped, saveCapped, UnsupportedEncoding } from "../../src/net/read-body.ts";
import { DownloadSlots, downloadToFile, DownloadError } from "../../src/bridge/download.ts";
import { fitLine, MAX_LINE_BYTES } from "../../src/log.ts";
import { parseWebhookPairs } from "../../src/planfix/webhook.ts";

/** A loopback HTTP server that counts what reaches it. */
function server(hostname: string, handler: (req: Request) => Response | Promise<Response>, port = 0) {
  const hits: string[] = [];
  const s = Bun.serve({
    port,
    hostname,
    fetch(req) {
      hits.push(`${req.method} ${new URL(req.url).pathname} host=${req.headers.get("host")}`);
      return handler(req);
    },
  });
  return { s, hits, port: s.port as number };
}

/** The guard's refusal, as text; "" when the request went out. */
async function outcome(p: Promise<Response>): Promise<string> {
  try {
    const r = await p;
    await r.body?.cancel();
    return "";
  } catch (e) {
    expect(e).toBeInstanceOf(DestinationRefused);
    return (e as Error).message;
  }
}

describe("address policy", () => {
  // What URL parsing leaves of each notation, then the policy on it.
  const host = (url: string) => new URL(url).hostname;
  const refused = [
    "http://127.0.0.1/",
    "http://0x7f000001/",
    "http://0x7F.0.0.1/",
    "http://2130706433/",
    "http://0177.0.0.01/",
    "http://017700000001/",
    "http://127.1/",
    "http://127.0.1/",
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]/",
    "http://[::127.0.0.1]/", // IPv4-compatible
    "http://[::ffff:0:127.0.0.1]/", // IPv4-translated (RFC 6145)
    "http://[64:ff9b::127.0.0.1]/", // NAT64 well-known prefix
    "http://[64:ff9b::a9fe:a9fe]/", // NAT64 of 169.254.169.254
    "http://[64:ff9b:1::1]/", // local-use NAT64
    "http://[2002:7f00:1::]/", // 6to4 of 127.0.0.1
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", // Teredo
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.0.10/",
    "http://[::ffff:192.168.0.10]/",
    "http://169.254.169.254/",
    "http://[fe80::1]/",
    "http://100.64.0.1/",
    "http://100.127.255.254/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    "http://255.255.255.255/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://192.0.2.1/", // documentation (reserved)
  ];
  for (const url of refused) {
    test(`refuses ${url} (${host(url)})`, () => {
      expect(refusalOf(host(url), NOTHING_ALLOWED)).not.toBeNull();
    });
  }

  const allowed = [
    "http://93.184.216.34/",
    "http://8.8.8.8/",
    "http://[2606:4700:4700::1111]/",
    "http://[::ffff:8.8.8.8]/",
    "http://[64:ff9b::8.8.8.8]/",
    "http://[2002:808:808::]/",
  ];
  for (const url of allowed) {
    test(`allows public ${url}`, () => {
      expect(refusalOf(host(url), NOTHING_ALLOWED)).toBeNull();
    });
  }

  test("ALLOW_PRIVATE_NETWORKS opens networks, single addresses and host names, and nothing else", () => {
    const allow = parseAllowList(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8, Planfix.Corp.Local. ");
    expect(refusalOf("10.9.8.7", allow)).toBeNull();
    expect(refusalOf("::ffff:10.9.8.7", allow)).toBeNull(); // the same address in its mapped form
    expect(refusalOf("192.168.1.7", allow)).toBeNull();
    expect(refusalOf("192.168.1.8", allow)).toContain("private");
    expect(refusalOf("fd00::5", allow)).toBeNull();
    expect(refusalOf("127.0.0.1", allow)).toContain("loopback");
    expect(refusalOf("127.0.0.1", allow, "planfix.corp.local")).toBeNull();
    expect(refusalOf("127.0.0.1", allow, "other.corp.local")).toContain("loopback");
    expect(() => parseAllowList("10.0.0.0/33")).toThrow("10.0.0.0/33");
    expect(() => parseAllowList("not a host!")).toThrow("not a host!");
    expect(parseAllowList("").cidrs).toHaveLength(0);
    expect(parseOverrides("a.test=127.0.0.1, b.test=[::1]").get("b.test")).toBe("::1");
    expect(() => parseOverrides("a.test=nowhere")).toThrow("a.test=nowhere");
  });
});

describe("guarded fetch against loopback servers", () => {
  // 127.0.0.2 plays a public server (opened by the allow list); 127.0.0.1 is the internal one.
  let inside: ReturnType<typeof server>;
  let outside: ReturnType<typeof server>;
  const publicish = parseAllowList("127.0.0.2/32");
  beforeAll(() => {
    inside = server("127.0.0.1", () => new Response("INTERNAL SECRET"));
    // Same port on another loopback address: a request pinned to the wrong address would land inside.
    outside = server(
      "127.0.0.2",
      (req) => {
        const u = new URL(req.url);
        const to = u.searchParams.get("to");
        if (to) return new Response(null, { status: Number(u.searchParams.get("status") ?? 302), headers: { location: to } });
        const n = Number(u.searchParams.get("hops") ?? 0);
        if (n > 0) return new Response(null, { status: 302, headers: { location: `/chain?hops=${n - 1}` } });
        return new Response(`public ${req.method} ${u.pathname}`);
      },
      inside.port,
    );
  });
  afterAll(() => {
    inside.s.stop(true);
    outside.s.stop(true);
  });

  test("every notation of loopback is refused before a byte is sent", async () => {
    const guard = new NetGuard();
    const p = inside.port;
    for (const url of [
      `http://127.0.0.1:${p}/`,
      `http://0x7f000001:${p}/`,
      `http://2130706433:${p}/`,
      `http://0177.0.0.1:${p}/`,
      `http://127.1:${p}/`,
      `http://[::ffff:127.0.0.1]:${p}/`,
      `http://[::1]:${p}/`,
      `http://[::127.0.0.1]:${p}/`,
      `http://[64:ff9b::7f00:1]:${p}/`,
      `http://localhost:${p}/`,
    ]) {
      const why = await outcome(guard.fetch(url, { redirect: "follow" }));
      expect(why).toContain("destination not allowed");
    }
    expect(inside.hits).toEqual([]);
  });

  test("only http and https", async () => {
    const guard = new NetGuard({ allow: parseAllowList("127.0.0.0/8") });
    for (const url of ["file:///etc/passwd", "ftp://127.0.0.2/x", "gopher://127.0.0.2:70/"]) {
      expect(await outcome(guard.fetch(url, { redirect: "follow" }))).toContain("only http and https");
    }
  });

  test("a redirect to an internal address is refused; the internal server sees nothing", async () => {
    const guard = new NetGuard({ allow: publicish });
    for (const to of [`http://127.0.0.1:${inside.port}/secret`, `http://0x7f000001:${inside.port}/secret`, `http://[::ffff:7f00:1]:${inside.port}/secret`]) {
      const why = await outcome(guard.fetch(`http://127.0.0.2:${outside.port}/r?to=${encodeURIComponent(to)}`, { redirect: "follow" }));
      expect(why).toContain("destination not allowed");
    }
    const scheme = await outcome(guard.fetch(`http://127.0.0.2:${outside.port}/r?to=${encodeURIComponent("file:///etc/passwd")}`, { redirect: "follow" }));
    expect(scheme).toContain("only http and https");
    expect(inside.hits).toEqual([]);
  });

  test("at most 5 redirects are followed, each hop checked", async () => {
    const guard = new NetGuard({ allow: publicish });
    const five = await guard.fetch(`http://127.0.0.2:${outside.port}/chain?hops=5`, { redirect: "follow" });
    expect(await five.text()).toBe("public GET /chain");
    expect(await outcome(guard.fetch(`http://127.0.0.2:${outside.port}/chain?hops=6`, { redirect: "follow" }))).toContain("too many redirects");
  });

  test("redirect: manual hands the redirect back (a POST is not turned into a GET behind the caller's back)", async () => {
    const guard = new NetGuard({ allow: publicish });
    const r = await guard.fetch(`http://127.0.0.2:${outside.port}/r?to=${encodeURIComponent(`http://127.0.0.1:${inside.port}/`)}`, {
      method: "POST",
      body: "x",
      redirect: "manual",
    });
    expect(r.status).toBe(302);
    expect(inside.hits).toEqual([]);
  });

  test("a 303 after a POST goes on as a GET without the body", async () => {
    const guard = new NetGuard({ allow: publicish });
    const r = await guard.fetch(`http://127.0.0.2:${outside.port}/r?status=303&to=${encodeURIComponent("/done")}`, {
      method: "POST",
      body: "x=1",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      redirect: "follow",
    });
    expect(await r.text()).toBe("public GET /done");
  });

  test("DNS rebinding: the name is resolved once per hop and the connection goes to the checked address", async () => {
    // The resolver answers a "public" address first, then the internal one, as a rebinding attacker's DNS would.
    const answers = ["127.0.0.2", "127.0.0.1", "127.0.0.1"];
    const asked: string[] = [];
    const guard = new NetGuard({ allow: publicish, resolve: async (h) => (asked.push(h), [answers.shift()!]) });
    const before = outside.hits.length;
    const r = await guard.fetch(`http://rebind.test:${outside.port}/first`, { redirect: "follow" });
    expect(await r.text()).toBe("public GET /first");
    expect(asked).toEqual(["rebind.test"]);
    // The name stays the Host (virtual hosts and TLS keep working); the socket went to 127.0.0.2.
    expect(outside.hits.slice(before)).toEqual([`GET /first host=rebind.test:${outside.port}`]);
    // The next hop of a redirect to the same name resolves again: now it is internal, and refused.
    const why = await outcome(guard.fetch(`http://127.0.0.2:${outside.port}/r?to=${encodeURIComponent(`http://rebind.test:${outside.port}/secret`)}`, { redirect: "follow" }));
    expect(why).toContain("rebind.test resolves to a loopback address");
    expect(inside.hits).toEqual([]);
  });

  test("a name with any internal answer is refused as a whole", async () => {
    const guard = new NetGuard({ allow: publicish, resolve: async () => ["127.0.0.2", "10.0.0.1"] });
    expect(await outcome(guard.fetch(`http://mixed.test:${outside.port}/`, { redirect: "follow" }))).toContain("private");
  });

  test("RESOLVE_OVERRIDE answers are checked like DNS answers", async () => {
    const guard = new NetGuard({ overrides: parseOverrides(`intranet.example.com=127.0.0.1`) });
    expect(await outcome(guard.fetch(`http://intranet.example.com:${inside.port}/`, { redirect: "follow" }))).toContain("loopback");
    expect(inside.hits).toEqual([]);
  });
});

describe("bodies read with a cap after decompression", () => {
  let s: ReturnType<typeof server>;
  let bomb: Uint8Array;
  const guard = new NetGuard({ allow: parseAllowList("127.0.0.0/8") });
  beforeAll(async () => {
    // 256 MiB of zeros, gzipped in pieces (never whole in memory here either): about 250 KB on the wire.
    const gz = createGzip({ level: 9 });
    const parts: Buffer[] = [];
    gz.on("data", (c: Buffer) => parts.push(c));
    const done = new Promise((r) => gz.on("end", r));
    const zeros = Buffer.alloc(1 << 20);
    for (let i = 0; i < 256; i++) if (!gz.write(zeros)) await new Promise((r) => gz.once("drain", r));
    gz.end();
    await done;
    bomb = Buffer.concat(parts);
    s = server("127.0.0.1", (req) => {
      const p = new URL(req.url).pathname;
      if (p === "/bomb") return new Response(bomb, { headers: { "content-encoding": "gzip" } });
      if (p === "/gzip") return new Response(gzipSync("hello gzip"), { headers: { "content-encoding": "gzip" } });
      if (p === "/deflate") return new Response(deflateSync("hello deflate"), { headers: { "content-encoding": "deflate" } });
      if (p === "/br") return new Response(brotliCompressSync("hello br"), { headers: { "content-encoding": "br" } });
      if (p === "/zstd-ish") return new Response("??", { headers: { "content-encoding": "compress" } });
      if (p === "/plain") return new Response("x".repeat(100_000));
      return new Response("ok");
    });
  });
  afterAll(() => s.s.stop(true));

  test("a gzip bomb stops at the cap, without inflating into memory", async () => {
    const before = process.memoryUsage().rss;
    const r = await guard.fetch(`http://127.0.0.1:${s.port}/bomb`, { redirect: "follow" });
    await expect(readCapped(r, 64 * 1024)).rejects.toBeInstanceOf(BodyTooLarge);
    // The same bomb into a file with a 10 MB cap: stopped there, and the partial file removed.
    const dir = mkdtempSync(join(tmpdir(), "pt-net-"));
    const r2 = await guard.fetch(`http://127.0.0.1:${s.port}/bomb`, { redirect: "follow" });
    await expect(saveCapped(r2, join(dir, "f"), 10 * 1024 * 1024)).rejects.toBeInstanceOf(BodyTooLarge);
    expect(existsSync(join(dir, "f"))).toBe(false);
    expect(process.memoryUsage().rss - before).toBeLessThan(128 * 1024 * 1024);
  });

  test("gzip, deflate and br are decoded; an unknown encoding is refused; a plain body over the cap too", async () => {
    for (const enc of ["gzip", "deflate", "br"]) {
      const r = await guard.fetch(`http://127.0.0.1:${s.port}/${enc}`, { redirect: "follow" });
      expect(new TextDecoder().decode(await readCapped(r, 1024))).toBe(`hello ${enc}`);
    }
    await expect(readCapped(await guard.fetch(`http://127.0.0.1:${s.port}/zstd-ish`, { redirect: "follow" }), 1024)).rejects.toBeInstanceOf(UnsupportedEncoding);
    await expect(readCapped(await guard.fetch(`http://127.0.0.1:${s.port}/plain`, { redirect: "follow" }), 1024)).rejects.toBeInstanceOf(BodyTooLarge);
  });

  test("downloadToFile streams to a 0600 file; a refused destination is a DownloadError that is not retried", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pt-dl-"));
    const got = await downloadToFile(`http://127.0.0.1:${s.port}/gzip`, { guard, maxBytes: 1024, timeoutMs: 5000, name: "a.txt", dir });
    expect(readFileSync(got.path, "utf8")).toBe("hello gzip");
    expect(got.size).toBe(10);
    const e = await downloadToFile(`http://127.0.0.1:${s.port}/gzip`, { guard: new NetGuard(), maxBytes: 1024, timeoutMs: 5000, name: "b.txt", dir }).catch((x) => x);
    expect(e).toBeInstanceOf(DownloadError);
    expect(e.retry).toBe(false);
    expect(e.message).toContain("destination not allowed");
    const big = await downloadToFile(`http://127.0.0.1:${s.port}/bomb`, { guard, maxBytes: 1024 * 1024, timeoutMs: 5000, name: "c.bin", dir }).catch((x) => x);
    expect(big.message).toContain("larger than");
    expect(readdirSync(dir)).toHaveLength(1); // only the good one
  });
});

describe("download slots", () => {
  test("two per number, eight in all; a freed slot goes to the next waiter that fits", async () => {
    const slots = new DownloadSlots(2, 8);
    const a1 = await slots.acquire(1);
    await slots.acquire(1);
    let third = false;
    const a3 = slots.acquire(1).then((r) => ((third = true), r));
    // Another number is not held up by number 1's two slow downloads.
    const others = await Promise.all([2, 2, 3, 3, 4, 4].map((k) => slots.acquire(k)));
    await Bun.sleep(5);
    expect(third).toBe(false);
    let ninth = false;
    void slots.acquire(5).then(() => (ninth = true));
    await Bun.sleep(5);
    expect(ninth).toBe(false); // 8 in use
    a1();
    await a3;
    expect(third).toBe(true);
    expect(ninth).toBe(false); // the freed slot went to number 1's waiter
    others[0]!();
    await Bun.sleep(1);
    expect(ninth).toBe(true);
  });
});

describe("limits elsewhere", () => {
  test("no log line is longer than 8 KiB; long fields are marked as cut", () => {
    const line = fitLine({ time: "t", level: "warn", msg: "Planfix refused an item", error: "x".repeat(100_000) });
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(MAX_LINE_BYTES);
    expect(JSON.parse(line).error).toEndWith("…[truncated]");
    const many: Record<string, unknown> = { time: "t", level: "info", msg: "m" };
    for (let i = 0; i < 40; i++) many[`f${i}`] = "é".repeat(1500);
    const cut = fitLine(many);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(MAX_LINE_BYTES);
    expect(JSON.parse(cut).msg).toBe("m");
    expect(JSON.parse(cut).truncated).toContain("left out");
    expect(fitLine({ msg: "short" })).toBe('{"msg":"short"}');
  });

  test("a webhook with more than 50 attachments is refused, naming the limit", () => {
    const pairs = (n: number) => {
      const p: [string, string][] = [
        ["cmd", "newMessage"],
        ["token", "t"],
        ["messageId", "1"],
        ["chatId", "1_2"],
      ];
      for (let i = 0; i < n; i++) p.push(["attachments[name]", `f${i}`], ["attachments[url]", `https://files.example/f${i}`]);
      return p;
    };
    expect(parseWebhookPairs(pairs(50)).ok).toBe(true);
    expect(parseWebhookPairs(pairs(61))).toEqual({ ok: false, field: "attachments", problem: "at most 50 attachments per message, got 61" });
  });
});

// HttpsServer with an Elysia app: certificate swaps under concurrent load drop no connection and no
// request, new handshakes get the new certificate, a keep-alive connection opened before a swap goes on
// working, and the app sees the client's address as it does under app.listen.
import { afterAll, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { connect } from "node:net";
import { join } from "node:path";
import { HttpsServer } from "../../src/tls/https-server.ts";
import { freePort, makeCert, servedCert } from "./support.ts";

const dir = mkdtempSync(join(tmpdir(), "pt-https-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("swapping certificates under load drops no request; the app sees the client address", async () => {
  const ca = makeCert(dir, "test-ca", "Test CA", ["ca.test"]);
  const pairs = ["one", "two", "three"].map((n) => makeCert(dir, n, `swap-${n}`, ["127.0.0.1", "localhost"], ca));
  const read = (p: { crt: string; key: string }) => ({ cert: readFileSync(p.crt, "utf8"), key: readFileSync(p.key, "utf8") });
  const app = new Elysia()
    .get("/ip", ({ server, request }) => ({ ip: server?.requestIP(request)?.address ?? null }))
    .post("/echo", async ({ request }) => ({ bytes: (await request.arrayBuffer()).byteLength }));
  const port = await freePort();
  const https = new HttpsServer({ port, hostname: "127.0.0.1", fetch: (r) => app.fetch(r), onServer: (s) => (app.server = s) });
  await https.use(read(pairs[0]!));
  const caPem = readFileSync(ca.crt, "utf8");
  const url = `https://localhost:${port}`;
  try {
    expect(await (await fetch(`${url}/ip`, { tls: { ca: caPem } })).json()).toEqual({ ip: "127.0.0.1" });
    // Several clients, each a new connection per request, keep going while the certificate changes ten
    // times; every request is answered.
    let stop = false;
    const results: number[] = [];
    const errors: string[] = [];
    const client = async () => {
      while (!stop) {
        const r = await fetch(`${url}/ip`, { tls: { ca: caPem }, keepalive: false }).catch((e: Error) => (errors.push(e.message), null));
        results.push(r?.status ?? 0);
        await r?.arrayBuffer();
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, client));
    // One keep-alive client too: its connection outlives the swaps.
    const kept: number[] = [];
    const keepAlive = (async () => {
      while (!stop) kept.push((await fetch(`${url}/echo`, { method: "POST", body: "x".repeat(100_000), tls: { ca: caPem } }).catch(() => null))?.status ?? 0);
    })();
    for (let i = 1; i <= 10; i++) {
      await Bun.sleep(100);
      await https.use(read(pairs[i % 3]!));
    }
    await Bun.sleep(100);
    stop = true;
    await Promise.all([load, keepAlive]);
    expect(errors).toEqual([]);
    expect(results.length).toBeGreaterThan(10);
    expect(results.filter((s) => s !== 200)).toEqual([]);
    expect(kept.length).toBeGreaterThan(3);
    expect(kept.filter((s) => s !== 200)).toEqual([]);
    // Swap 10 put in pairs[1]; one more makes it three, seen by a new handshake at once.
    expect(await servedCert(port)).toContain("CN = swap-two");
    await https.use(read(pairs[2]!));
    expect(await servedCert(port)).toContain("CN = swap-three");
    expect(await (await fetch(`${url}/ip`, { tls: { ca: caPem } })).json()).toEqual({ ip: "127.0.0.1" });
    // The plain-HTTP side behind the TLS listener serves nobody who reaches it directly.
    const inner = await fetch(`http://127.0.0.1:${app.server!.port}/ip`);
    expect(inner.status).toBe(421);
    expect(((await inner.json()) as { error: unknown }).error).toBeString();
  } finally {
    await https.stop();
  }
});

test("a connection that never finishes its handshake is closed; one that did is not cut by that timer", async () => {
  const ca = makeCert(dir, "idle-ca", "Idle CA", ["ca.test"]);
  const pair = makeCert(dir, "idle", "idle", ["127.0.0.1", "localhost"], ca);
  const port = await freePort();
  const https = new HttpsServer({
    port,
    hostname: "127.0.0.1",
    handshakeTimeoutMs: 500,
    fetch: async (r) => (new URL(r.url).pathname === "/slow" ? (await Bun.sleep(1500), new Response("slow")) : new Response("ok")),
  });
  await https.use({ cert: readFileSync(pair.crt, "utf8"), key: readFileSync(pair.key, "utf8") });
  try {
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve) => {
      const silent = connect({ host: "127.0.0.1", port });
      silent.on("close", () => resolve(Date.now() - started)).on("error", () => {});
    });
    expect(closedAfter).toBeGreaterThanOrEqual(400);
    expect(closedAfter).toBeLessThan(8000);
    // A request that takes longer than the handshake timeout still gets its answer.
    const slow = await fetch(`https://localhost:${port}/slow`, { tls: { ca: readFileSync(ca.crt, "utf8") } });
    expect(await slow.text()).toBe("slow");
  } finally {
    await https.stop();
  }
});

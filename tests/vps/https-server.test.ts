// HttpsServer with an Elysia app: a certificate swap keeps the port answering (requests before, during
// and after it all succeed), and the app sees the client's address as it does under app.listen.
import { afterAll, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HttpsServer } from "../../src/tls/https-server.ts";
import { freePort, makeCert, servedCert } from "./support.ts";

const dir = mkdtempSync(join(tmpdir(), "pt-https-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("swapping certificates under load drops no request; the app sees the client address", async () => {
  const ca = makeCert(dir, "test-ca", "Test CA", ["ca.test"]);
  const pairs = ["one", "two", "three"].map((n) => makeCert(dir, n, `swap-${n}`, ["127.0.0.1", "localhost"], ca));
  const read = (p: { crt: string; key: string }) => ({ cert: readFileSync(p.crt, "utf8"), key: readFileSync(p.key, "utf8") });
  const app = new Elysia().get("/ip", ({ server, request }) => ({ ip: server?.requestIP(request)?.address ?? null }));
  const port = await freePort();
  const https = new HttpsServer({ port, hostname: "127.0.0.1", fetch: (r) => app.fetch(r), onServer: (s) => (app.server = s) });
  https.use(read(pairs[0]!));
  const caPem = readFileSync(ca.crt, "utf8");
  try {
    expect(await (await fetch(`https://localhost:${port}/ip`, { tls: { ca: caPem } })).json()).toEqual({ ip: "127.0.0.1" });
    // Requests keep going while the certificate changes twice; every one is answered.
    let stop = false;
    const results: number[] = [];
    const load = (async () => {
      while (!stop) results.push((await fetch(`https://localhost:${port}/ip`, { tls: { ca: caPem }, keepalive: false }).catch(() => null))?.status ?? 0);
    })();
    await Bun.sleep(200);
    https.use(read(pairs[1]!));
    await Bun.sleep(200);
    https.use(read(pairs[2]!));
    await Bun.sleep(200);
    stop = true;
    await load;
    expect(results.length).toBeGreaterThan(3);
    expect(results.filter((s) => s !== 200)).toEqual([]);
    expect(await servedCert(port)).toContain("CN = swap-three");
    expect(await (await fetch(`https://localhost:${port}/ip`, { tls: { ca: caPem } })).json()).toEqual({ ip: "127.0.0.1" });
  } finally {
    await https.stop();
  }
});

// HTTPS from TLS_CERT/TLS_KEY: a client sees the certificate; a renewed pair is picked up when the files
// change and on SIGHUP, without a restart; a broken pair keeps the one in use; bad files refuse to start.
import { afterAll, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BINARY, freePort, makeCert, Proc, run, servedCert, until } from "./support.ts";

const dir = mkdtempSync(join(tmpdir(), "pt-tls-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ADMIN = "tls-admin-token-0123456789abcdef0123456789";

test("certificate files are served over HTTPS and replaced without a restart (file change, SIGHUP)", async () => {
  const ca = makeCert(dir, "test-ca", "Test CA", ["ca.test"]);
  const a = makeCert(dir, "a", "bridge-a", ["127.0.0.1", "localhost"], ca);
  const b = makeCert(dir, "b", "bridge-b", ["127.0.0.1", "localhost"], ca);
  const c = makeCert(dir, "c", "bridge-c", ["127.0.0.1", "localhost"], ca);
  const certFile = join(dir, "live.crt");
  const keyFile = join(dir, "live.key");
  copyFileSync(a.crt, certFile);
  copyFileSync(a.key, keyFile);
  const port = await freePort();
  const app = new Proc([], { PORT: String(port), HOST: "127.0.0.1", DATA_DIR: join(dir, "data"), ADMIN_TOKEN: ADMIN, TLS_CERT: certFile, TLS_KEY: keyFile });
  try {
    await app.waitLog(/"msg":"listening".*"https":true/);
    const caPem = await Bun.file(ca.crt).text();
    // A client that trusts the CA talks HTTPS to it, and the plain-HTTP port is not open.
    const health = await fetch(`https://localhost:${port}/health`, { tls: { ca: caPem } });
    expect(health.status).toBe(200);
    expect(await servedCert(port)).toContain("CN = bridge-a");
    const pid = app.proc.pid;

    // Renewed in place (as certbot or an operator would): picked up by itself.
    copyFileSync(b.key, keyFile);
    copyFileSync(b.crt, certFile);
    await until("certificate b to be served", async () => (await servedCert(port)).includes("CN = bridge-b"), 20_000);

    // A half-finished renewal (new certificate, old key) is refused; b stays in use.
    copyFileSync(c.crt, certFile);
    app.proc.kill("SIGHUP");
    await app.waitLog(/not reloaded.*does not belong/);
    expect(await servedCert(port)).toContain("CN = bridge-b");

    // The key arrives; SIGHUP (systemctl reload) puts c in at once.
    copyFileSync(c.key, keyFile);
    app.proc.kill("SIGHUP");
    await until("certificate c to be served", async () => (await servedCert(port)).includes("CN = bridge-c"), 10_000);
    expect((await fetch(`https://localhost:${port}/health`, { tls: { ca: caPem } })).status).toBe(200);
    expect(app.proc.pid).toBe(pid);
    // `backup` finds the HTTPS appliance on loopback by itself (the certificate names the public domain).
    const backup = run([BINARY, "backup", join(dir, "over-https.db"), "--port", String(port), "--data-dir", join(dir, "data"), "--tls-cert", certFile, "--tls-key", keyFile], {
      env: { ADMIN_TOKEN: ADMIN },
    });
    expect(backup.err).toContain("wrote");
    expect(backup.code).toBe(0);
    expect(app.proc.exitCode).toBeNull();
    // The key never reaches the log.
    expect(app.text()).not.toContain("PRIVATE KEY");
  } finally {
    expect(await app.stop()).toBe(0);
  }
});

test("a missing or unreadable pair, or a taken port, refuses to start with a message saying which", async () => {
  const junk = join(dir, "junk.crt");
  writeFileSync(junk, "not a certificate");
  const k = makeCert(dir, "k", "k");
  // A port another process listens on, even one that allows sharing (SO_REUSEPORT): HTTPS does not share it.
  const taken = Bun.serve({ port: 0, hostname: "127.0.0.1", reusePort: true, fetch: () => new Response("someone else") });
  for (const [env, expected] of [
    [{ TLS_CERT: join(dir, "nope.crt"), TLS_KEY: k.key }, /cannot read TLS_CERT .*nope\.crt/],
    [{ TLS_CERT: junk, TLS_KEY: k.key }, /junk\.crt is not a PEM certificate/],
    [{ TLS_CERT: k.crt }, /TLS_KEY is missing/],
    [{ TLS_CERT: k.crt, TLS_KEY: k.key, PORT: String(taken.port) }, /cannot start HTTPS.*(EADDRINUSE|in use)/i],
  ] as const) {
    const app = new Proc([], { PORT: String(await freePort()), HOST: "127.0.0.1", DATA_DIR: join(dir, "data2"), ADMIN_TOKEN: ADMIN, ...env });
    const code = await app.proc.exited;
    expect(code).not.toBe(0);
    expect(app.text()).toMatch(expected);
  }
  taken.stop(true);
});

test("over HTTPS the auth throttle, body limit and keep-alive work as over plain HTTP", async () => {
  const ca = makeCert(dir, "edge-ca", "Edge CA", ["ca.test"]);
  const e = makeCert(dir, "edge", "bridge-edge", ["127.0.0.1", "localhost"], ca);
  const port = await freePort();
  const app = new Proc([], {
    PORT: String(port),
    HOST: "127.0.0.1",
    DATA_DIR: join(dir, "data3"),
    ADMIN_TOKEN: ADMIN,
    TLS_CERT: e.crt,
    TLS_KEY: e.key,
    AUTH_FAILURES_PER_MINUTE: "3",
  });
  try {
    await app.waitLog(/"msg":"listening".*"https":true/);
    const tls = { ca: await Bun.file(ca.crt).text() };
    const url = `https://localhost:${port}`;
    // A body over the 1 MiB limit gets the application's JSON 413.
    const big = await fetch(`${url}/client`, {
      method: "POST",
      body: JSON.stringify({ pad: "x".repeat(1_200_000) }),
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      tls,
    });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: unknown }).error).toBeString();
    // Failed token checks from one address are throttled (the throttle sees the client's address).
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await fetch(`${url}/client`, { headers: { authorization: `Bearer wrong-${i}-0123456789abcdefghijklmnopqrstuvwxyz` }, tls })).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    // Many requests over one kept-alive connection all succeed.
    for (let i = 0; i < 20; i++) expect((await fetch(`${url}/health`, { tls })).status).toBe(200);
  } finally {
    expect(await app.stop()).toBe(0);
  }
});

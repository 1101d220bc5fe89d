// Admin token and failed token checks, against the compiled binary: a short or flag-given token is
// refused at start, the generated one is never printed, and guessing tokens is throttled per address
// with one counted log line and never the token tried.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Appliance, BINARY, ensureBinary, freePort } from "../e2e/harness.ts";

let dir: string;
beforeAll(() => {
  ensureBinary();
  dir = mkdtempSync(join(tmpdir(), "pt-sec-edge-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the binary to its exit (it must exit by itself: these starts are refused). */
async function refusedStart(args: string[], env: Record<string, string>) {
  const r = spawnSync([BINARY, ...args], { env: { PATH: process.env.PATH ?? "", HOME: "/tmp", PORT: String(await freePort()), HOST: "127.0.0.1", ...env }, timeout: 15_000 });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

describe("the admin token at start", () => {
  test("fewer than 32 characters is refused with exit 2 and a clear message", async () => {
    const r = await refusedStart([], { DATA_DIR: join(dir, "short"), ADMIN_TOKEN: "a" });
    expect(r.code).toBe(2);
    expect(r.out).toContain("ADMIN_TOKEN must be at least 32 characters");
  });

  test("--admin-token as a flag is refused, naming the environment and ADMIN_TOKEN_FILE, without echoing it", async () => {
    const secret = "flag-secret-0123456789abcdefghijklmnop";
    const r = await refusedStart(["--admin-token", secret], { DATA_DIR: join(dir, "flag") });
    expect(r.code).toBe(2);
    expect(r.out).toContain("ADMIN_TOKEN_FILE");
    expect(r.out).not.toContain(secret);
  });

  test("ADMIN_TOKEN_FILE is read; the token works and is never logged", async () => {
    const token = "file-token-0123456789abcdefghijklmnopq";
    writeFileSync(join(dir, "token-file"), token + "\n", { mode: 0o600 });
    const app = new Appliance(join(dir, "from-file"), { ADMIN_TOKEN: "", ADMIN_TOKEN_FILE: join(dir, "token-file") });
    await app.start();
    try {
      expect((await app.call("GET", "/admin/clients", undefined, token)).status).toBe(200);
      expect(app.logText()).not.toContain(token);
    } finally {
      await app.stop();
    }
  });

  test("a generated token is written to DATA_DIR/admin-token; the log names the file, not the token", async () => {
    const dataDir = join(dir, "generated");
    const app = new Appliance(dataDir, { ADMIN_TOKEN: "" });
    await app.start();
    try {
      const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
      expect(token.length).toBeGreaterThanOrEqual(32);
      expect((await app.call("GET", "/admin/clients", undefined, token)).status).toBe(200);
      expect(app.logText()).toContain(join(dataDir, "admin-token"));
      expect(app.logText()).not.toContain(token);
    } finally {
      await app.stop();
    }
  });
});

describe("failed token checks", () => {
  let app: Appliance;
  beforeAll(async () => {
    app = new Appliance(join(dir, "throttle"), {});
    await app.start();
  });
  afterAll(async () => app.stop());

  test("'Authorization: <token>' without Bearer gets a 401 that says so", async () => {
    const r = await app.call("GET", "/admin/clients", undefined, null, { authorization: "e2e-admin-token-0123456789abcdef" });
    expect(r.status).toBe(401);
    expect(r.json.error).toContain("must be 'Bearer <token>'");
    expect(r.text).not.toContain("e2e-admin-token-0123456789abcdef");
  });

  test("after 10 failures in a minute the address gets 429 with Retry-After, even with the right token; one warn line counts them", async () => {
    const guesses = Array.from({ length: 14 }, (_, i) => `guess-${i}-0123456789abcdefghijklmnopqrstuvw`);
    const statuses: number[] = [];
    for (const g of guesses) statuses.push((await app.call("GET", "/client", undefined, g)).status);
    // One failure was spent on the bare Authorization test above.
    expect(statuses.slice(0, 9)).toEqual(Array(9).fill(401));
    expect(statuses.slice(9)).toEqual(Array(5).fill(429));
    const res = await fetch(`${app.url}/admin/clients`, { headers: { authorization: "Bearer e2e-admin-token-0123456789abcdef" } });
    expect(res.status).toBe(429);
    const wait = Number(res.headers.get("retry-after"));
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    expect(((await res.json()) as { error: string }).error).toContain("too many failed token checks");
    // The Planfix webhook is not throttled (Planfix's addresses are shared by every tenant); its
    // failures are only counted.
    const hook = await fetch(`${app.url}/planfix`, { method: "POST", body: "cmd=newMessage&token=x", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(hook.status).toBe(401);
    // Routes without a token stay open.
    expect((await app.call("GET", "/health", undefined, null)).status).toBe(200);
    const warns = app.lines.filter((l) => l.includes('"failed token checks"'));
    expect(warns).toHaveLength(1);
    for (const g of guesses) expect(app.logText()).not.toContain(g);
  });

  test("behind a reverse proxy on this machine, failures count against X-Forwarded-For's client, not the proxy", async () => {
    const proxy = await freshApp("proxied");
    try {
      const via = (client: string, token: string) =>
        fetch(`${proxy.url}/client?number=380501112233`, { headers: { authorization: `Bearer ${token}`, "x-forwarded-for": `198.51.100.7, ${client}` } });
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push((await via("203.0.113.5", `guess-${i}-0123456789abcdefghijklmnopqrstuvw`)).status);
      expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
      expect(statuses.slice(10)).toEqual([429, 429]);
      // Another client behind the same proxy is not locked out: the admin token still works for it.
      const other = await fetch(`${proxy.url}/admin/clients`, { headers: { authorization: "Bearer e2e-admin-token-0123456789abcdef", "x-forwarded-for": "203.0.113.9" } });
      expect(other.status).toBe(200);
    } finally {
      await proxy.stop();
    }
  });
});

async function freshApp(name: string): Promise<Appliance> {
  const a = new Appliance(join(dir, name), {});
  await a.start();
  return a;
}

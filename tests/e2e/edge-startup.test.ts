// Start-up as a new user meets it, against the compiled binary: --version, GET /, the sessions folder,
// a port that is already taken, and PUBLIC_URL left unset on a wildcard HOST.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Appliance, BINARY, ensureBinary } from "./harness.ts";
import pkg from "../../package.json" with { type: "json" };

let dir: string;
beforeAll(() => {
  ensureBinary();
  dir = mkdtempSync(join(tmpdir(), "pt-edge-start-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("--version prints the version and the git commit the binary was built from", () => {
  const r = spawnSync([BINARY, "--version"], { timeout: 10_000 });
  expect(r.exitCode).toBe(0);
  const out = r.stdout.toString().trim();
  const m = /^planfix-telegram (\S+) \(([0-9a-f]{4,40}|unknown)\)$/.exec(out);
  expect(m).not.toBeNull();
  expect(m![1]).toBe(pkg.version);
  const repo = resolve(import.meta.dir, "../..");
  if (spawnSync(["git", "rev-parse", "HEAD"], { cwd: repo }).exitCode === 0) {
    // Built from this checkout: the hash names one of its commits.
    expect(spawnSync(["git", "cat-file", "-t", m![2]!], { cwd: repo }).stdout.toString().trim()).toBe("commit");
  }
});

describe("a first start on an empty data directory", () => {
  let app: Appliance;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = join(dir, "fresh");
    app = new Appliance(dataDir, {});
    await app.start();
  });
  afterAll(async () => app.stop());

  test("GET / leads to the Swagger page", async () => {
    const r = await fetch(`${app.url}/`, { redirect: "manual" });
    expect([301, 302, 303, 307, 308]).toContain(r.status);
    expect(r.headers.get("location")).toBe("/docs");
    const followed = await fetch(`${app.url}/`);
    expect(followed.status).toBe(200);
    expect(await followed.text()).toContain("swagger");
  });

  test("the sessions folder exists, readable by the appliance's user only", () => {
    const st = statSync(join(dataDir, "sessions"));
    expect(st.isDirectory()).toBe(true);
    expect(st.mode & 0o777).toBe(0o700);
  });

  test("a second appliance on the same port (another data directory) is refused, not sharing the requests", async () => {
    const r = spawnSync([BINARY], {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: "/tmp",
        PORT: String(app.port),
        HOST: "127.0.0.1",
        DATA_DIR: join(dir, "second"),
        ADMIN_TOKEN: "second-admin-token-0123456789abcdef",
      },
      timeout: 15_000,
    });
    expect(r.exitCode).not.toBe(0);
    expect(r.exitCode).not.toBeNull(); // it exited by itself
    expect(r.stdout.toString() + r.stderr.toString()).toContain("address already in use");
    // Every request still reaches the first appliance (the second would refuse the first's admin token).
    for (let i = 0; i < 20; i++) expect((await app.call("GET", "/admin/clients")).status).toBe(200);
  });
});

describe("PUBLIC_URL", () => {
  test("unset with HOST 0.0.0.0: one warn line at start, and the warning on /health and /admin/clients", async () => {
    const app = new Appliance(join(dir, "wildcard"), { HOST: "0.0.0.0", AUTH_FAILURES_PER_MINUTE: "0" });
    await app.start();
    try {
      const warns = app.lines.filter((l) => l.includes('"level":"warn"') && l.includes("PUBLIC_URL"));
      expect(warns).toHaveLength(1);
      expect(warns[0]).toContain(`http://127.0.0.1:${app.port}`);
      const health = await app.call("GET", "/health", undefined, null);
      expect(health.json.warnings).toHaveLength(1);
      expect(health.json.warnings[0]).toContain("PUBLIC_URL");
      const admin = await app.call("GET", "/admin/clients");
      expect(admin.status).toBe(200);
      expect(admin.json.warnings[0]).toContain("PUBLIC_URL");
    } finally {
      await app.stop();
    }
  });

  test("set: no warning", async () => {
    const app = new Appliance(join(dir, "public"), { HOST: "0.0.0.0", PUBLIC_URL: "https://bridge.example.com" });
    await app.start();
    try {
      expect(app.lines.some((l) => l.includes("PUBLIC_URL"))).toBe(false);
      expect((await app.call("GET", "/health", undefined, null)).json.warnings).toEqual([]);
      expect((await app.call("GET", "/admin/clients")).json.warnings).toEqual([]);
    } finally {
      await app.stop();
    }
  });
});

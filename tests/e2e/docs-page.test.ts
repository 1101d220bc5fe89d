// The Swagger page of the compiled binary renders in headless Chromium with no request leaving the machine.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { Appliance, ensureBinary } from "./harness.ts";

const CHROMIUM = "/usr/bin/chromium";
let app: Appliance;
let dir: string;

beforeAll(async () => {
  ensureBinary();
  dir = mkdtempSync(join(tmpdir(), "pt-docs-"));
  app = new Appliance(join(dir, "data"), {});
  await app.start();
});
afterAll(async () => {
  await app.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("/docs renders every route offline", async () => {
  expect(existsSync(CHROMIUM)).toBe(true);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage();
    const requested: string[] = [];
    page.on("request", (r) => requested.push(r.url()));
    await page.goto(`${app.url}/docs`);
    await page.waitForSelector(".opblock-summary-path", { timeout: 20_000 });
    const paths = await page.$$eval(".opblock-summary-path", (els) => els.map((e) => e.getAttribute("data-path") ?? e.textContent ?? ""));
    for (const p of ["/client", "/planfix", "/admin/clients", "/health"]) expect(paths.some((x) => x.includes(p))).toBe(true);
    const title = await page.textContent(".info .title");
    expect(title).toContain("planfix-telegram");
    expect(requested.length).toBeGreaterThan(2);
    const external = requested.filter((u) => !u.startsWith(app.url) && !u.startsWith("data:"));
    expect(external).toEqual([]);
  } finally {
    await browser.close();
  }
}, 60_000);

test("/docs/json describes the auth schemes and the error bodies", async () => {
  const r = await app.call("GET", "/docs/json", undefined, null);
  expect(r.status).toBe(200);
  expect(Object.keys(r.json.components.securitySchemes)).toEqual(["bearer", "tokenHeader"]);
  const post = r.json.paths["/client"].post;
  expect(post.requestBody.content["application/json"].example.number).toBeDefined();
  expect(post.responses["400"].content["application/json"].schema.properties.field).toBeDefined();
  expect(r.json.paths["/planfix"].post.requestBody.content["application/x-www-form-urlencoded"]).toBeDefined();
});

// The operator page /console of the compiled binary in headless Chromium: the numbers with their state,
// and "add a number" by QR (redrawn as Telegram rotates it), QR + 2FA, phone code, code + 2FA, with
// readable errors — against the loopback Telegram with a real key exchange. Each step is photographed
// into a temporary folder; CONSOLE_SCREENSHOTS=docs/console refreshes the pictures docs/login.md shows
// (so a plain test run leaves the tree as it was).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import type { WorldUser } from "../support/telegram/index.ts";
import { ADMIN_TOKEN, world } from "./harness.ts";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = process.env.CONSOLE_SCREENSHOTS ? resolve(process.env.CONSOLE_SCREENSHOTS) : mkdtempSync(join(tmpdir(), "pt-console-shots-"));
type World = Awaited<ReturnType<typeof world>>;
let w: World;
let browser: Browser;
let n = 0;
const requested: string[] = [];

beforeAll(async () => {
  w = await world();
  w.app.env.TELEGRAM_SERVER_KEYS = w.tg.rsaPublicKeyPem!.replaceAll("\n", "\\n");
  await w.app.start();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

afterAll(async () => {
  await browser?.close();
  await w.close();
});

function newUser(): WorldUser {
  n++;
  return w.tg.addUser({ firstName: `Page${n}`, phone: `38063${String(1000000 + n)}` });
}

async function openConsole(token = ADMIN_TOKEN): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.on("request", (r) => requested.push(r.url()));
  await page.goto(`${w.app.url}/console`);
  await page.fill("#token", token);
  await page.click("#token-form button");
  await page.waitForSelector("#add-section:not(.hidden)");
  return page;
}

async function startLogin(page: Page, u: WorldUser, method: "qr" | "code") {
  await page.fill("#f-name", "acme");
  await page.fill("#f-number", `+${u.phone}`);
  await page.fill("#f-url", w.planfix.url);
  await page.fill("#f-key", "planfix-token");
  await page.selectOption("#f-method", method);
  await page.click("#start");
}

const shot = (page: Page, name: string) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });

describe("/console", () => {
  test("QR: the code is shown and redrawn as it rotates; scanned, the number appears online; the new client's token is shown", async () => {
    const u = newUser();
    const page = await openConsole();
    await shot(page, "1-numbers");
    w.tg.logins.loginTokenPeriodMs = 2000;
    try {
      await startLogin(page, u, "qr");
      await page.waitForSelector("#qr:not(.hidden) img[src^='data:image/svg+xml']");
      const first = await page.textContent("#qr-link");
      expect(first).toMatch(/^tg:\/\/login\?token=/);
      await shot(page, "2-qr");
      // The page redraws the code by itself (its CSP forbids evaluated scripts, so the test polls the text).
      let link = first!;
      for (const deadline = Date.now() + 10_000; link === first && Date.now() < deadline; ) {
        await Bun.sleep(200);
        link = (await page.textContent("#qr-link"))!;
      }
      expect(link).not.toBe(first!);
      w.tg.driver.acceptLoginToken(u, link);
    } finally {
      w.tg.logins.loginTokenPeriodMs = 30_000;
    }
    await page.waitForSelector("#done:not(.hidden)", { timeout: 15_000 });
    expect(await page.textContent("#done")).toContain(`${u.phone} is online`);
    expect(await page.textContent("#done")).toContain("token");
    await page.waitForSelector(`tr[data-number="${u.phone}"] .state-online`);
    await shot(page, "3-qr-done");
    await page.close();
  }, 60_000);

  test("phone code with a wrong code first, then 2FA (client token): readable errors, then done", async () => {
    const acme = (await w.app.call("POST", "/client/token", { name: "acme" })).json.token as string;
    expect(acme).toBeDefined();
    const u = newUser();
    w.tg.driver.setPassword(u, "page secret", "page hint");
    const page = await openConsole(acme);
    await startLogin(page, u, "code");
    await page.waitForSelector("#code-form:not(.hidden)");
    await shot(page, "4-code");
    const code = await w.tg.driver.waitForLoginCode(u);
    await page.fill("#code", code === "11111" ? "22222" : "11111");
    await page.click("#code-form button");
    await page.waitForSelector("#error:not(.hidden)");
    expect(await page.textContent("#error")).toContain("the code is wrong");
    await shot(page, "5-code-wrong");
    await page.fill("#code", code);
    await page.click("#code-form button");
    await page.waitForSelector("#password-form:not(.hidden)");
    expect(await page.textContent("#hint")).toContain("page hint");
    await shot(page, "6-password");
    await page.fill("#password", "page secret");
    await page.click("#password-form button");
    await page.waitForSelector("#done:not(.hidden)", { timeout: 15_000 });
    await page.waitForSelector(`tr[data-number="${u.phone}"] .state-online`);
    await shot(page, "7-done");
    await page.close();
  }, 60_000);

  test("QR + 2FA, and a refusal shown readably (a banned number)", async () => {
    const u = newUser();
    w.tg.driver.setPassword(u, "qr page", "");
    const page = await openConsole();
    await startLogin(page, u, "qr");
    await page.waitForSelector("#qr:not(.hidden) img");
    w.tg.driver.acceptLoginToken(u, (await page.textContent("#qr-link"))!);
    await page.waitForSelector("#password-form:not(.hidden)", { timeout: 15_000 });
    await page.fill("#password", "qr page");
    await page.click("#password-form button");
    await page.waitForSelector("#done:not(.hidden)", { timeout: 15_000 });

    const banned = newUser();
    w.tg.banUser(banned.id);
    await startLogin(page, banned, "code");
    await page.waitForSelector("#error:not(.hidden)");
    expect(await page.textContent("#error")).toContain("Telegram has banned this phone number");
    await shot(page, "8-error");
    await page.close();
    // Nothing left the machine: every request went to the appliance (or was an inline data: image).
    expect(requested.filter((r) => !r.startsWith(w.app.url) && !r.startsWith("data:"))).toEqual([]);
  }, 60_000);
});

// Caddy (Debian's `caddy`) in front of the compiled binary with the exact Caddyfile from docs/deploy.md;
// only the domain and ports differ, and Caddy's internal CA stands in for Let's Encrypt (`local_certs`,
// i.e. `tls internal` for every site). A Planfix webhook sent over HTTPS through Caddy reaches Telegram.
import { afterEach, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { introduce, onlineWorld, type World } from "../e2e/bridge-world.ts";
import { freePort, Proc, run, until } from "./support.ts";

let w: World | undefined;
let caddy: Proc | undefined;
afterEach(async () => {
  await caddy?.stop();
  await w?.close();
  w = caddy = undefined;
});

/** The Caddyfile block of docs/deploy.md, verbatim. */
function documentedCaddyfile(): string {
  const doc = readFileSync(resolve(import.meta.dir, "../../docs/deploy.md"), "utf8");
  const m = /```caddyfile\n([\s\S]*?)```/.exec(doc);
  if (!m) throw new Error("docs/deploy.md has no ```caddyfile block");
  return m[1]!;
}

test("a webhook through Caddy (HTTPS, internal CA) reaches Telegram; Caddy's answer is the appliance's", async () => {
  if (run(["sh", "-c", "command -v caddy"]).code !== 0) throw new Error("caddy is not installed: run scripts/test-deps.sh (apt-get install caddy)");
  const documented = documentedCaddyfile();
  expect(documented).toContain("bridge.example.com {");
  expect(documented).toContain("reverse_proxy 127.0.0.1:8080");

  const o = await onlineWorld();
  w = o.w;
  const { anna, ivan, token, chatId } = o;
  await introduce(w, ivan, anna, chatId); // the chat exists, as it does for every chat Planfix answers in
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  const site = documented.replace("bridge.example.com", `localhost:${httpsPort}`).replace("127.0.0.1:8080", `127.0.0.1:${w.app.port}`);
  const global = `{\n\tlocal_certs\n\tskip_install_trust\n\tadmin off\n\thttp_port ${httpPort}\n\thttps_port ${httpsPort}\n\tstorage file_system ${join(w.dir, "caddy")}\n}\n`;
  const file = join(w.dir, "Caddyfile");
  writeFileSync(file, global + site);
  caddy = new Proc(["run", "--config", file, "--adapter", "caddyfile"], { XDG_DATA_HOME: join(w.dir, "xdg-data"), XDG_CONFIG_HOME: join(w.dir, "xdg-config") }, "caddy");
  const root = join(w.dir, "caddy", "pki", "authorities", "local", "root.crt");
  await until(
    () => `Caddy's local CA in ${root}:\n${caddy!.text()}`,
    () => existsSync(root),
    30_000,
  );
  const ca = readFileSync(root, "utf8");
  const base = `https://localhost:${httpsPort}`;
  const health = await until(
    () => `Caddy to serve HTTPS:\n${caddy!.text()}`,
    async () => (await fetch(`${base}/health`, { tls: { ca } }).catch(() => null))?.json(),
    30_000,
  );
  expect(health).toMatchObject({ status: "ok" });

  // Planfix's newMessage webhook, form-encoded, over HTTPS through Caddy.
  const body = new URLSearchParams({ cmd: "newMessage", providerId: "planfix-telegram", token, chatId, message: "through Caddy", messageId: "pf-caddy-1" });
  const r = await fetch(`${base}/planfix`, { method: "POST", body, headers: { "content-type": "application/x-www-form-urlencoded" }, tls: { ca } });
  expect(r.status).toBe(200);
  expect(await r.json()).toMatchObject({ chatId });
  await w.tg.driver.waitForMessage(ivan, (m) => m.text === "through Caddy");
  // A bad token is refused by the appliance, and the refusal comes back through Caddy as it was.
  const bad = await fetch(`${base}/planfix`, {
    method: "POST",
    body: new URLSearchParams({ cmd: "newMessage", providerId: "planfix-telegram", token: "nope", chatId, message: "x" }),
    headers: { "content-type": "application/x-www-form-urlencoded" },
    tls: { ca },
  });
  expect(bad.status).toBe(401);
  expect(await bad.json()).toEqual({ error: "Invalid token" });
}, 90_000);

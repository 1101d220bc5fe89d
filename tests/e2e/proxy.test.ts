// Proxies end to end: the compiled binary reaches the loopback Telegram through a real SOCKS5 server
// (Debian's microsocks, with user and password) given as TELEGRAM_PROXY, or through the MTProxy relay
// given as one number's own proxy. A dead proxy shows as proxy_failed with its reason (never its
// password or secret, neither in the API nor in the log) and the number comes back by itself.
import { afterEach, describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MtProxyRelay } from "../support/proxy/mtproxy.ts";
import { Socks5Proxy } from "../support/proxy/socks5.ts";
import { tinyPng, type WorldUser } from "../support/telegram/index.ts";
import { BINARY, ensureBinary, freePort, world } from "./harness.ts";

type World = Awaited<ReturnType<typeof world>>;
let w: World | undefined;
const proxies: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  await w?.close();
  w = undefined;
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
});

const PASSWORD = "pr0xy-pass-xyz";

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

const stateOf = async (world: World, number: string, token: string) => (await world.app.call("GET", `/client?number=${number}`, undefined, token)).json;

/** Ivan writes to Anna → Planfix gets it; Planfix answers → Ivan gets it on Telegram. */
async function bothWays(world: World, anna: WorldUser, ivan: WorldUser, token: string, text: string): Promise<void> {
  const chatId = `${anna.phone}_${ivan.id}`;
  const before = world.planfix.newMessages(chatId).length;
  world.tg.driver.sendText(ivan, anna, `${text} from Ivan`);
  const arrived = await world.planfix.waitFor(() => world.planfix.newMessages(chatId)[before], 15_000);
  expect(arrived.fields.message).toBe(`${text} from Ivan`);
  const r = await world.planfix.sendWebhook(
    `${world.app.url}/planfix`,
    { token, providerId: "planfix-telegram", chatId, message: `${text} from Planfix`, messageId: `${text}-1` },
    [],
  );
  expect(r.status).toBe(200);
  const got = await world.tg.driver.waitForMessage(ivan, (m) => m.text === `${text} from Planfix`);
  expect(got.fromId).toBe(anna.id);
}

describe("proxies (compiled binary)", () => {
  test("a bad TELEGRAM_PROXY stops the start (exit 2) with a message naming the setting and the problem, never the password", async () => {
    ensureBinary();
    const dir = mkdtempSync(join(tmpdir(), "pt-proxy-bad-"));
    try {
      const env = { PATH: process.env.PATH ?? "", HOME: "/tmp", HOST: "127.0.0.1", PORT: String(await freePort()), DATA_DIR: dir };
      for (const [value, problem] of [
        ["socks5://bridge:pr0xy-pass-xyz@10.0.0.5", "TELEGRAM_PROXY: socks5 needs a port"],
        ["http://bridge:pr0xy-pass-xyz@10.0.0.5:3128", "TELEGRAM_PROXY: http proxies are not supported"],
        ["mtproxy://pr0xy-pass-xyz@10.0.0.5:443", "TELEGRAM_PROXY: the MTProxy secret must be 32 hex digits"],
      ] as const) {
        const r = spawnSync([BINARY], { env: { ...env, TELEGRAM_PROXY: value }, timeout: 15_000 });
        const out = r.stdout.toString() + r.stderr.toString();
        expect(r.exitCode).toBe(2);
        expect(out).toContain(problem);
        expect(out).not.toContain(PASSWORD);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("TELEGRAM_PROXY=socks5 with user and password: the number goes online, messages flow both ways; the API and the log never show the password", async () => {
    const socks = await Socks5Proxy.start({ username: "bridge", password: PASSWORD });
    proxies.push(socks);
    w = await world({ env: { TELEGRAM_PROXY: socks.url, LANGUAGE: "en" } });
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    const ivan = w.tg.addUser({ firstName: "Ivan", phone: "380671234567", photo: tinyPng([1, 2, 3]) });
    await w.app.start();
    const r = await w.app.call("POST", "/client", w.startBody(anna));
    expect(r.json).toMatchObject({ state: "online", proxy: null });
    await bothWays(w, anna, ivan, r.json.token, "one");
    // The start line names the proxy, masked.
    expect(w.app.logText()).toContain(`socks5://bridge:***@127.0.0.1:${socks.port}`);
    expect(w.app.logText()).not.toContain(PASSWORD);
  });

  test('a number\'s own MTProxy (the relay) works; its secret is never shown; PUT proxy "direct" goes straight to Telegram', async () => {
    w = await world();
    const relay = await MtProxyRelay.start({ target: w.tg });
    proxies.push(relay);
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    const ivan = w.tg.addUser({ firstName: "Ivan", phone: "380671234567" });
    await w.app.start();
    const bad = await w.app.call("POST", "/client", w.startBody(anna, { proxy: `mtproxy://${relay.secret.slice(0, 20)}@127.0.0.1:${relay.port}` }));
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ field: "proxy" });
    expect(JSON.stringify(bad.json)).not.toContain(relay.secret.slice(0, 20));

    const r = await w.app.call("POST", "/client", w.startBody(anna, { proxy: relay.url }));
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ state: "online", proxy: `mtproxy://***@127.0.0.1:${relay.port}` });
    expect(relay.relayed).toBeGreaterThanOrEqual(1);
    await bothWays(w, anna, ivan, r.json.token, "two");

    const relayedBefore = relay.relayed;
    const put = await w.app.call("PUT", "/client", { number: anna.phone, proxy: "direct" }, r.json.token);
    expect(put.json).toMatchObject({ state: "online", proxy: "direct" });
    await bothWays(w, anna, ivan, r.json.token, "three");
    expect(relay.relayed).toBe(relayedBefore);

    const all = JSON.stringify((await w.app.call("GET", "/admin/clients")).json) + JSON.stringify(r.json);
    expect(all).not.toContain(relay.secret);
    expect(w.app.logText()).not.toContain(relay.secret);
  });

  test("a number's own proxy may point only where outbound requests may go: a private address is a 422 naming proxy", async () => {
    w = await world({ env: { RESOLVE_OVERRIDE: "proxy.internal.example=10.1.2.3" } });
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    await w.app.start();
    for (const [proxy, why] of [
      ["socks5://bridge:pw-987@10.1.2.3:1080", "10.1.2.3 is a private address"],
      [`mtproxy://${"ab".repeat(16)}@proxy.internal.example:443`, "proxy.internal.example resolves to a private address"],
    ] as const) {
      const r = await w.app.call("POST", "/client", w.startBody(anna, { proxy }));
      expect(r.status).toBe(422);
      expect(r.json).toMatchObject({ field: "proxy" });
      expect(r.json.error).toContain(`is not allowed (${why}); ALLOW_PRIVATE_NETWORKS opens private networks`);
      expect(r.text).not.toContain("pw-987");
      expect(r.text).not.toContain("ab".repeat(16));
    }
    // Nothing was registered; the same number with an allowed proxy (loopback is opened for the tests) starts.
    const ok = await w.app.call("POST", "/client", w.startBody(anna, { proxy: "direct" }));
    expect(ok.json).toMatchObject({ state: "online", proxy: "direct" });
    const put = await w.app.call("PUT", "/client", { number: anna.phone, proxy: "socks5://10.1.2.3:1080" }, ok.json.token);
    expect(put.status).toBe(422);
    expect(put.json.field).toBe("proxy");
    expect((await w.app.call("GET", `/client?number=${anna.phone}`, undefined, ok.json.token)).json).toMatchObject({ state: "online", proxy: "direct" });
  });

  test("a number's own SOCKS5 with a wrong password: POST answers proxy_failed at once, naming the proxy, not the password; PUT with the right one → online", async () => {
    const socks = await Socks5Proxy.start({ username: "bridge", password: PASSWORD });
    proxies.push(socks);
    w = await world();
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    await w.app.start();
    const started = Date.now();
    const r = await w.app.call("POST", "/client", w.startBody(anna, { proxy: `socks5://bridge:wrong-pass-123@127.0.0.1:${socks.port}` }));
    expect(r.status).toBe(201);
    // Not the START_TIMEOUT (10 s) wait of a number still connecting: the proxy's refusal is the answer.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r.json).toMatchObject({ state: "proxy_failed", status: "offline", proxy: `socks5://bridge:***@127.0.0.1:${socks.port}` });
    expect(r.json.reason).toContain(`proxy socks5://127.0.0.1:${socks.port} refused the connection: Socks5 Authentication failed`);
    expect(r.text).not.toContain("wrong-pass-123");

    const put = await w.app.call("PUT", "/client", { number: anna.phone, proxy: socks.url }, r.json.token);
    expect(put.json).toMatchObject({ state: "online", proxy: `socks5://bridge:***@127.0.0.1:${socks.port}` });
    expect(w.app.logText()).not.toContain("wrong-pass-123");
    expect(w.app.logText()).not.toContain(PASSWORD);
  });

  test("a login with a number's own MTProxy goes through it (key exchange, code) and the number then runs through it; through a dead proxy the login answers 502 naming it", async () => {
    w = await world();
    const relay = await MtProxyRelay.start({ target: w.tg });
    proxies.push(relay);
    w.app.env.TELEGRAM_SERVER_KEYS = w.tg.rsaPublicKeyPem!.replaceAll("\n", "\\n");
    const u = w.tg.addUser({ firstName: "Olena", phone: "380671110001" });
    await w.app.start();
    const body = { name: "acme", number: `+${u.phone}`, method: "code", url_planfix: w.planfix.url, token_planfix: "planfix-token", proxy: relay.url };
    const started = await w.app.call("POST", "/login", body);
    expect(started.status).toBe(201);
    expect(started.json.state).toBe("waiting_code");
    const relayedForLogin = relay.relayed;
    expect(relayedForLogin).toBeGreaterThanOrEqual(1);
    const done = await w.app.call("POST", `/login/${started.json.id}/code`, { code: await w.tg.driver.waitForLoginCode(u) });
    expect(done.json.state).toBe("done");
    expect(done.json.number_state).toMatchObject({ state: "online", proxy: `mtproxy://***@127.0.0.1:${relay.port}` });
    expect(relay.relayed).toBeGreaterThan(relayedForLogin);

    await relay.stop();
    const v = w.tg.addUser({ firstName: "Petro", phone: "380671110002" });
    const dead = await w.app.call("POST", "/login", { ...body, number: `+${v.phone}` }, done.json.token);
    expect(dead.status).toBe(502);
    expect(JSON.stringify(dead.json)).toContain(`proxy mtproxy://127.0.0.1:${relay.port} unreachable: connection refused`);
    expect(dead.text + w.app.logText()).not.toContain(relay.secret);
  });

  test("the proxy dies: proxy_failed with its reason and no secret; the proxy back, the number is online again by itself and what both sides wrote meanwhile arrives", async () => {
    const socks = await Socks5Proxy.start({ username: "bridge", password: PASSWORD });
    proxies.push(socks);
    w = await world({ env: { TELEGRAM_PROXY: socks.url, LANGUAGE: "en" } });
    const world_ = w;
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    const ivan = w.tg.addUser({ firstName: "Ivan", phone: "380671234567" });
    await w.app.start();
    const r = await w.app.call("POST", "/client", w.startBody(anna));
    expect(r.json.state).toBe("online");
    const token = r.json.token as string;

    await socks.stop();
    const failed = await until("proxy_failed", async () => {
      const s = await stateOf(world_, anna.phone, token);
      return s.state === "proxy_failed" ? s : null;
    });
    expect(failed.status).toBe("offline");
    expect(failed.reason).toContain(`proxy socks5://127.0.0.1:${socks.port} unreachable: connection refused`);
    const metrics = (await w.app.call("GET", "/metrics")).text;
    expect(metrics).toContain('planfix_telegram_numbers{state="proxy_failed"} 1');
    const listing = JSON.stringify((await w.app.call("GET", "/admin/clients")).json);
    expect(listing).toContain("proxy_failed");
    expect(listing + JSON.stringify(failed)).not.toContain(PASSWORD);
    // It is tried again (with backoff) while the proxy is down, and stays proxy_failed.
    const proxyFailures = () => world_.app.lines.filter((l) => l.includes('"msg":"telegram connect failed"') && l.includes('"kind":"proxy"')).length;
    await until("a second attempt", () => proxyFailures() >= 2, 20_000);
    expect((await stateOf(w, anna.phone, token)).state).toBe("proxy_failed");

    // Both sides write while the proxy is down: nothing is lost, each arrives once the number is back.
    const chatId = `${anna.phone}_${ivan.id}`;
    w.tg.driver.sendText(ivan, anna, "Ivan during the outage");
    const held = await w.planfix.sendWebhook(
      `${w.app.url}/planfix`,
      { token, providerId: "planfix-telegram", chatId, message: "written during the outage", messageId: "outage-1" },
      [],
    );
    expect(held.status).toBe(200);

    await socks.start();
    await until("online again", async () => (await stateOf(world_, anna.phone, token)).state === "online");
    expect((await w.tg.driver.waitForMessage(ivan, (m) => m.text === "written during the outage")).fromId).toBe(anna.id);
    await world_.planfix.waitFor(() => world_.planfix.newMessages(chatId).find((c) => c.fields.message === "Ivan during the outage"), 15_000);
    await bothWays(w, anna, ivan, token, "again");
    expect(w.app.logText()).not.toContain(PASSWORD);
  });
});

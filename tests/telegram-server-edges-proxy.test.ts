// Proxy test infrastructure: a real SOCKS5 server (Debian's microsocks) and the MTProxy relay in
// tests/support/proxy, each carrying a plain GramJS client to the loopback Telegram, and each able to
// play a dead proxy (stopped: new connections fail) and come back.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import type { Api, TelegramClient } from "telegram";
import { connectClient, ConnectClientError, stopClient, TelegramServer, waitFor } from "./support/telegram/index.ts";
import { MICROSOCKS, Socks5Proxy } from "./support/proxy/socks5.ts";
import { MtProxyRelay } from "./support/proxy/mtproxy.ts";

let server: TelegramServer;
const clients: TelegramClient[] = [];
const proxies: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  server = await TelegramServer.start();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map(stopClient));
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
});
afterAll(async () => {
  await server.stop();
  expect(server.internalErrors).toEqual([]);
});

const failure = (p: Promise<TelegramClient>): Promise<unknown> =>
  p.then(
    (c) => (clients.push(c), "connected"),
    (e: unknown) => e,
  );

describe("SOCKS5 (microsocks)", () => {
  test("microsocks is installed (scripts/test-deps.sh installs it)", () => {
    expect(existsSync(MICROSOCKS)).toBe(true);
  });

  test("a GramJS client reaches the loopback through it; a dead proxy fails the connect; back up, it works again", async () => {
    const socks = await Socks5Proxy.start();
    proxies.push(socks);
    expect(socks.url).toBe(`socks5://127.0.0.1:${socks.port}`);
    const me = server.addUser({ firstName: "Socks" });
    const peer = server.addUser({ firstName: "Peer", username: "socks_peer" });
    const c = await connectClient(server, me, { proxy: socks.gramjs });
    clients.push(c);
    await c.sendMessage("socks_peer", { message: "via socks" });
    expect(server.driver.messages(peer).map((m) => m.text)).toEqual(["via socks"]);

    await stopClient(clients.pop()!);
    await socks.stop();
    expect(socks.running).toBe(false);
    const e = await failure(connectClient(server, me, { proxy: socks.gramjs, timeoutMs: 4000, connectionRetries: 1 }));
    expect(e).toBeInstanceOf(ConnectClientError);

    await socks.start();
    const again = await connectClient(server, me, { proxy: socks.gramjs });
    clients.push(again);
    expect(((await again.getMe()) as Api.User).firstName).toBe("Socks");
  });

  test("with a username and password: the right ones pass, a wrong password is refused", async () => {
    const socks = await Socks5Proxy.start({ username: "bridge", password: "s3cret" });
    proxies.push(socks);
    expect(socks.url).toBe(`socks5://bridge:s3cret@127.0.0.1:${socks.port}`);
    const me = server.addUser({ firstName: "SocksAuth" });
    const c = await connectClient(server, me, { proxy: socks.gramjs });
    clients.push(c);
    expect(((await c.getMe()) as Api.User).firstName).toBe("SocksAuth");
    const e = await failure(connectClient(server, me, { proxy: { ...socks.gramjs, password: "wrong" }, timeoutMs: 4000, connectionRetries: 1 }));
    expect(e).toBeInstanceOf(ConnectClientError);
  });
});

describe("MTProxy relay", () => {
  test("a GramJS MTProxy client reaches the loopback through it; wrong secret and dead relay fail; back up, it works", async () => {
    const relay = await MtProxyRelay.start({ target: server });
    proxies.push(relay);
    expect(relay.url).toBe(`mtproxy://${relay.secret}@127.0.0.1:${relay.port}`);
    const me = server.addUser({ firstName: "Relayed" });
    const abridgedBefore = server.transportsSeen.get("abridged") ?? 0;
    const c = await connectClient(server, me, { proxy: relay.gramjs });
    clients.push(c);
    expect(((await c.getMe()) as Api.User).firstName).toBe("Relayed");
    expect(relay.relayed).toBeGreaterThanOrEqual(1);
    // The relay took the obfuscation off and forwarded GramJS's inner transport with its plain tag.
    expect(server.transportsSeen.get("abridged")).toBeGreaterThan(abridgedBefore);
    await stopClient(clients.pop()!);

    const wrong = await failure(connectClient(server, me, { proxy: { ...relay.gramjs, secret: "00".repeat(16) }, timeoutMs: 3000, connectionRetries: 1 }));
    expect(wrong).toBeInstanceOf(ConnectClientError);
    await waitFor(() => relay.refused >= 1);

    await relay.stop();
    const dead = await failure(connectClient(server, me, { proxy: relay.gramjs, timeoutMs: 3000, connectionRetries: 1 }));
    expect(dead).toBeInstanceOf(ConnectClientError);

    await relay.start();
    const again = await connectClient(server, me, { proxy: relay.gramjs });
    clients.push(again);
    expect(((await again.getMe()) as Api.User).firstName).toBe("Relayed");
  });

  test("stopping the relay cuts a live client's connection", async () => {
    const relay = await MtProxyRelay.start({ target: server });
    proxies.push(relay);
    const me = server.addUser({ firstName: "Cut" });
    const c = await connectClient(server, me, { proxy: relay.gramjs, autoReconnect: false });
    clients.push(c);
    await waitFor(() => server.liveConnections({ userId: me.id }) === 1);
    await relay.stop();
    await waitFor(() => server.liveConnections({ userId: me.id }) === 0);
  });
});

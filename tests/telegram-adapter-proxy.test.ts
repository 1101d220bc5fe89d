// The GramJS adapter through a proxy: a real SOCKS5 server (microsocks) and the MTProxy relay carry its
// connections to the loopback Telegram; a dead or refusing proxy fails the connect as "proxy", with a
// reason that names the proxy and never its password or secret.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type AddressInfo } from "node:net";
import { parseProxy, type ProxySpec } from "../src/domain/proxy.ts";
import { TelegramFailure, type ChatMessage, type ConnectOptions, type TelegramConnection, type TelegramEvents } from "../src/domain/telegram-port.ts";
import { createLogger } from "../src/log.ts";
import { parseStringSession } from "../src/telegram/session-file.ts";
import { createGramjsConnector } from "../src/telegram/connector.ts";
import { MtProxyRelay } from "./support/proxy/mtproxy.ts";
import { Socks5Proxy } from "./support/proxy/socks5.ts";
import { TelegramServer, tinyPng, waitFor, type WorldUser } from "./support/telegram/index.ts";

const log = createLogger("silent");
let server: TelegramServer;
const open: TelegramConnection[] = [];
const proxies: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  server = await TelegramServer.start();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
});
afterAll(async () => {
  await server.stop();
  expect(server.internalErrors).toEqual([]);
});

let n = 0;
const newUser = (): WorldUser => server.addUser({ firstName: `Proxied${++n}`, username: `proxied_${n}_${Date.now() % 100000}` });

function events(lost: TelegramFailure[] = []): TelegramEvents {
  return { onMessage: async () => {}, onReadOutbox: async () => {}, onPeers: () => {}, onUpdateState: () => {}, onLost: (f) => lost.push(f) };
}

async function connect(user: WorldUser, proxy: ProxySpec | null, extra: Partial<ConnectOptions> = {}): Promise<TelegramConnection> {
  const c = await createGramjsConnector({ endpoint: `${server.host}:${server.port}` }).connect({
    session: parseStringSession(server.sessionString(user)),
    apiId: 1,
    apiHash: "loopback",
    timeoutMs: 4000,
    updateState: null,
    knownPeers: [],
    events: events(),
    log,
    proxy,
    ...extra,
  });
  open.push(c);
  return c;
}

async function connectFails(user: WorldUser, proxy: ProxySpec, extra: Partial<ConnectOptions> = {}): Promise<TelegramFailure> {
  const e = await connect(user, proxy, extra).then(
    () => new Error("connected"),
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(TelegramFailure);
  return e as TelegramFailure;
}

describe("SOCKS5", () => {
  test("with user and password the number connects and sends through it; the proxy gone, the connection is lost", async () => {
    const socks = await Socks5Proxy.start({ username: "bridge", password: "s3cret-pw" });
    proxies.push(socks);
    const owner = newUser();
    const peer = newUser();
    const lost: TelegramFailure[] = [];
    const c = await connect(owner, parseProxy(socks.url), { events: events(lost) });
    expect(c.self.userId).toBe(String(owner.id));
    const found = await c.resolveUsername(peer.username!);
    await c.sendText(found!, "through socks", "k1");
    expect(server.driver.messages(peer).map((m) => m.text)).toEqual(["through socks"]);
    // Killing the proxy cuts the one socket the connection had: it really went through it.
    await socks.stop();
    await waitFor(() => lost.length === 1, 5000, "the connection to be lost");
  });

  test("a stopped proxy: kind proxy, 'unreachable: connection refused', no password in the reason", async () => {
    const socks = await Socks5Proxy.start({ username: "bridge", password: "s3cret-pw" });
    proxies.push(socks);
    await socks.stop();
    const f = await connectFails(newUser(), parseProxy(socks.url));
    expect(f.kind).toBe("proxy");
    expect(f.reason).toBe(`proxy socks5://127.0.0.1:${socks.port} unreachable: connection refused`);
    expect(f.message).not.toContain("s3cret-pw");
  });

  test("a wrong password: kind proxy, refused by the proxy, the password not in the reason", async () => {
    const socks = await Socks5Proxy.start({ username: "bridge", password: "s3cret-pw" });
    proxies.push(socks);
    const f = await connectFails(newUser(), { ...(parseProxy(socks.url) as Extract<ProxySpec, { kind: "socks5" }>), password: "wrong-pw" });
    expect(f.kind).toBe("proxy");
    expect(f.reason).toStartWith(`proxy socks5://127.0.0.1:${socks.port} refused the connection`);
    expect(f.message).not.toContain("wrong-pw");
  });
});

describe("a proxy that accepts connections and answers nothing", () => {
  test("SOCKS5: not a timeout of Telegram but the proxy, which does not answer its greeting", async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", () => resolve()));
    try {
      const port = (silent.address() as AddressInfo).port;
      const f = await connectFails(newUser(), parseProxy(`socks5://u:pw-12345@127.0.0.1:${port}`), { timeoutMs: 1500 });
      expect(f).toMatchObject({ kind: "proxy", reason: `proxy socks5://127.0.0.1:${port} is not usable: it accepts connections but does not answer as a SOCKS5 proxy` });
    } finally {
      silent.close();
    }
  });
});

describe("MTProxy", () => {
  test("the number connects and sends through the relay (obfuscated transport)", async () => {
    const relay = await MtProxyRelay.start({ target: server });
    proxies.push(relay);
    const owner = newUser();
    const peer = newUser();
    const c = await connect(owner, parseProxy(relay.url));
    expect(relay.relayed).toBeGreaterThanOrEqual(1);
    const found = await c.resolveUsername(peer.username!);
    await c.sendText(found!, "through mtproxy", "k2");
    expect(server.driver.messages(peer).map((m) => m.text)).toEqual(["through mtproxy"]);
  });

  test("a file connection to another DC goes through the relay too", async () => {
    const relay = await MtProxyRelay.start({ target: server });
    proxies.push(relay);
    const owner = newUser();
    const messages: ChatMessage[] = [];
    const ev = { ...events(), onMessage: async (m: ChatMessage) => void messages.push(m) };
    // A session homed on "another DC": its files are fetched over a second (file) connection.
    const session = { ...parseStringSession(server.sessionString(owner)), dcId: server.world.dcId === 1 ? 3 : 1 };
    const c = await connect(owner, parseProxy(relay.url), { session, events: ev });
    const relayedMain = relay.relayed;
    server.driver.sendPhoto(server.builtins!.alice, owner, tinyPng(), "");
    await waitFor(() => messages.length === 1, 3000, "the photo");
    // The loopback does no key exchange for another DC, so the download fails; what matters is the way it went.
    await c.downloadMedia(messages[0]!.media!, 1 << 20).catch(() => {});
    expect(relay.relayed).toBeGreaterThan(relayedMain);
  });

  test("a wrong secret and a stopped relay fail as proxy failures; the secret is never in the reason", async () => {
    const relay = await MtProxyRelay.start({ target: server });
    proxies.push(relay);
    const owner = newUser();
    const wrong = "ab".repeat(16);
    const f1 = await connectFails(owner, parseProxy(`mtproxy://${wrong}@127.0.0.1:${relay.port}`));
    expect(f1.kind).toBe("proxy");
    expect(f1.reason).toContain(`proxy mtproxy://127.0.0.1:${relay.port} accepted the connection`);
    expect(f1.message).not.toContain(wrong);
    await relay.stop();
    const f2 = await connectFails(owner, parseProxy(relay.url));
    expect(f2).toMatchObject({ kind: "proxy", reason: `proxy mtproxy://127.0.0.1:${relay.port} unreachable: connection refused` });
    expect(f2.message).not.toContain(relay.secret);
  });
});

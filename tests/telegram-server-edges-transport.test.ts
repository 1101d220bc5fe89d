// The loopback Telegram's transports and layers, as real clients meet them: GramJS over full, abridged,
// obfuscated and MTProxy (obfuscated with a secret); a bare client for intermediate and padded
// intermediate (GramJS has neither), plain and obfuscated; clients at a layer we do not serve.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { Api, errors, type TelegramClient } from "telegram";
import { LAYER } from "telegram/tl/AllTLObjects";
import { connectClient, ConnectClientError, stopClient, TelegramServer, waitFor, type WorldUser } from "./support/telegram/index.ts";
import { parseServerKeys, trustServerKeys } from "../src/telegram/server-keys.ts";
import { clientObfuscation, type InnerTransport } from "./support/telegram/transports.ts";

let server: TelegramServer;
const clients: TelegramClient[] = [];

beforeAll(async () => {
  server = await TelegramServer.start();
  // GramJS must trust the test RSA key for a fresh key exchange (what TELEGRAM_SERVER_KEYS does).
  trustServerKeys(parseServerKeys(server.rsaPublicKeyPem));
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map(stopClient));
});
afterAll(async () => {
  await server.stop();
  expect(server.internalErrors).toEqual([]);
});

let n = 0;
function freshUser(): WorldUser {
  n++;
  return server.addUser({ firstName: `Wire${n}`, username: `wire_user_${n}` });
}

describe("GramJS over each transport it has", () => {
  for (const transport of ["full", "abridged", "obfuscated"] as const) {
    test(`${transport}: signed-in calls, a send and a pushed update`, async () => {
      const me = freshUser();
      const peer = freshUser();
      const before = server.transportsSeen.get(transport === "obfuscated" ? "obfuscated-abridged" : transport) ?? 0;
      const c = await connectClient(server, me, { transport });
      clients.push(c);
      expect(((await c.getMe()) as Api.User).firstName).toBe(me.firstName);
      await c.sendMessage(peer.username!, { message: `over ${transport}` });
      expect(server.driver.messages(peer).map((m) => m.text)).toEqual([`over ${transport}`]);
      // A long reply crosses abridged's 127-word boundary (the 4-byte length form).
      const long = "x".repeat(3000);
      await c.sendMessage(peer.username!, { message: long });
      const got = (await c.getMessages(peer.username!, { limit: 1 }))[0]!;
      expect(got.message).toBe(long);
      expect(server.transportsSeen.get(transport === "obfuscated" ? "obfuscated-abridged" : transport)).toBeGreaterThan(before);
    });
  }

  test("a fresh key exchange over obfuscated abridged (no pre-shared key)", async () => {
    const c = await connectClient(server, "", { transport: "obfuscated" });
    clients.push(c);
    const cfg = await c.invoke(new Api.help.GetConfig());
    expect(cfg.thisDc).toBe(2);
    expect(await c.checkAuthorization()).toBe(false);
  });
});

describe("MTProxy secret (obfuscation keys = SHA256(key part + secret))", () => {
  const secret = randomBytes(16).toString("hex");
  let proxied: TelegramServer;
  beforeAll(async () => {
    proxied = await TelegramServer.start({ obfuscationSecret: secret });
  });
  afterAll(async () => {
    await proxied.stop();
    expect(proxied.internalErrors).toEqual([]);
  });

  test("GramJS's MTProxy connection with the right secret works; with a wrong one it is refused", async () => {
    const me = proxied.addUser({ firstName: "Proxied" });
    const proxy = { ip: proxied.host, port: proxied.port, secret, MTProxy: true as const };
    const c = await connectClient(proxied, me, { proxy });
    clients.push(c);
    expect(((await c.getMe()) as Api.User).firstName).toBe("Proxied");
    expect(proxied.transportsSeen.get("obfuscated-abridged")).toBeGreaterThanOrEqual(1);

    const wrong = { ...proxy, secret: randomBytes(16).toString("hex") };
    const e = await connectClient(proxied, me, { proxy: wrong, timeoutMs: 3000, connectionRetries: 1 }).then(
      (cl) => (clients.push(cl), "connected"),
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ConnectClientError);
  });

  test("the dd-prefixed secret form (random padding) is the same secret", async () => {
    const me = proxied.addUser({ firstName: "Padded" });
    const c = await connectClient(proxied, me, { proxy: { ip: proxied.host, port: proxied.port, secret: "dd" + secret, MTProxy: true } });
    clients.push(c);
    expect(((await c.getMe()) as Api.User).firstName).toBe("Padded");
  });
});

/** A bare client: sends one packet in the given framing (tag or obfuscation header first) and returns the
 * first packet the server frames back, or "closed" when it closes (or says nothing for 3 s). */
async function firstReply(opts: { inner: InnerTransport; obfuscated?: boolean; secret?: Buffer; port?: number }, payload: Buffer): Promise<"closed" | Buffer> {
  const sock: Socket = connect(opts.port ?? server.port, server.host);
  await new Promise((r) => sock.once("connect", r));
  if (opts.inner === "padded") payload = Buffer.concat([payload, randomBytes(3)]);
  let frame: Buffer;
  if (opts.inner === "abridged") frame = Buffer.concat([Buffer.from([payload.length / 4]), payload]);
  else {
    const len = Buffer.alloc(4);
    len.writeInt32LE(payload.length, 0);
    frame = Buffer.concat([len, payload]);
  }
  const tag = { abridged: "ef", intermediate: "eeeeeeee", padded: "dddddddd" }[opts.inner];
  let decrypt = (b: Buffer) => b;
  if (opts.obfuscated) {
    const o = clientObfuscation(opts.inner, 2, opts.secret);
    sock.write(Buffer.concat([o.header, o.encrypt.update(frame)]));
    decrypt = (b) => o.decrypt.update(b);
  } else sock.write(Buffer.concat([Buffer.from(tag, "hex"), frame]));
  const got: Buffer[] = [];
  return await new Promise<"closed" | Buffer>((resolve) => {
    const timer = setTimeout(() => resolve("closed"), 3000);
    sock.on("data", (c: Buffer) => {
      got.push(decrypt(c));
      const all = Buffer.concat(got);
      const head = opts.inner === "abridged" ? 1 : 4;
      const len = opts.inner === "abridged" ? all[0]! * 4 : all.length >= 4 ? all.readInt32LE(0) : Infinity;
      if (all.length >= head + len) {
        clearTimeout(timer);
        sock.destroy();
        resolve(all.subarray(head, head + len));
      }
    });
    sock.on("close", () => {
      clearTimeout(timer);
      resolve("closed");
    });
  });
}

/** One unencrypted req_pq_multi; returns resPQ's body (after checking it echoes our nonce). */
async function reqPq(opts: { inner: InnerTransport; obfuscated?: boolean; secret?: Buffer; port?: number }): Promise<"closed" | Buffer> {
  const nonce = randomBytes(16);
  const body = Buffer.alloc(20);
  body.writeUInt32LE(0xbe7e8ef1, 0);
  nonce.copy(body, 4);
  const plain = Buffer.alloc(20);
  plain.writeBigInt64LE(BigInt(Math.floor(Date.now() / 1000)) << 32n, 8);
  plain.writeInt32LE(body.length, 16);
  const packet = await firstReply(opts, Buffer.concat([plain, body]));
  if (packet === "closed") return packet;
  // Padding (padded intermediate) follows the plain message: cut at its declared length.
  const r = packet.subarray(20, 20 + packet.readInt32LE(16));
  expect(r.subarray(4, 20).equals(nonce)).toBe(true); // resPQ echoes our nonce
  return r;
}

describe("intermediate and padded intermediate, plain and obfuscated (a bare client)", () => {
  for (const inner of ["abridged", "intermediate", "padded"] as const) {
    for (const obfuscated of [false, true]) {
      const name = obfuscated ? `obfuscated-${inner}` : inner;
      test(`${name}: req_pq_multi is answered with resPQ in the same framing`, async () => {
        const before = server.transportsSeen.get(name) ?? 0;
        const r = await reqPq({ inner, obfuscated });
        expect(r).not.toBe("closed");
        expect((r as Buffer).readUInt32LE(0)).toBe(0x05162463);
        expect(server.transportsSeen.get(name)).toBe(before + 1);
      });
    }
  }

  test("an obfuscated header made with the wrong MTProxy secret is closed without an answer", async () => {
    const proxied = await TelegramServer.start({ obfuscationSecret: randomBytes(16) });
    try {
      expect(await reqPq({ inner: "intermediate", obfuscated: true, secret: randomBytes(16), port: proxied.port })).toBe("closed");
      expect(await reqPq({ inner: "intermediate", obfuscated: true, port: proxied.port })).toBe("closed");
    } finally {
      await proxied.stop();
    }
  });
});

describe("layers: only GramJS's layer is served", () => {
  test(`a client declaring layer ${LAYER - 40} gets CONNECTION_LAYER_INVALID, never a reply in layer ${LAYER}`, async () => {
    const me = freshUser();
    const c = await connectClient(server, me);
    clients.push(c);
    const before = server.refusedLayers.length;
    for (const layer of [LAYER - 40, LAYER + 1]) {
      const e = await c
        .invoke(
          new Api.InvokeWithLayer({
            layer,
            query: new Api.InitConnection({
              apiId: 1,
              deviceModel: "old",
              systemVersion: "1",
              appVersion: "1",
              systemLangCode: "en",
              langPack: "",
              langCode: "en",
              query: new Api.help.GetConfig(),
            }),
          }),
        )
        .then(
          () => "answered",
          (err: unknown) => err,
        );
      expect(e).toBeInstanceOf(errors.RPCError);
      expect((e as errors.RPCError).errorMessage).toBe("CONNECTION_LAYER_INVALID");
      expect((e as errors.RPCError).code).toBe(400);
    }
    expect(server.refusedLayers.slice(before)).toEqual([LAYER - 40, LAYER + 1]);
    // A client at our layer is served (a new connection: the refused one stays at the bad layer).
    await stopClient(clients.pop()!);
    const ok = await connectClient(server, me);
    clients.push(ok);
    const cfg = await ok.invoke(new Api.InvokeWithLayer({ layer: LAYER, query: new Api.help.GetConfig() }));
    expect((cfg as Api.Config).className).toBe("Config");
    await waitFor(() => me.sessions[0]!.layer === LAYER);
  });
});

describe("transport errors in each framing", () => {
  for (const inner of ["abridged", "intermediate", "padded"] as const) {
    for (const obfuscated of [false, true]) {
      test(`${obfuscated ? "obfuscated-" : ""}${inner}: an unknown auth key gets -404 as a 4-byte packet of that framing`, async () => {
        const packet = Buffer.concat([randomBytes(8), randomBytes(16), randomBytes(64)]); // key id · msg_key · data
        const r = await firstReply({ inner, obfuscated }, packet);
        expect(r).not.toBe("closed");
        expect((r as Buffer).length).toBe(4);
        expect((r as Buffer).readInt32LE(0)).toBe(-404);
      });
    }
  }
});

// Pieces of the loopback Telegram server on their own (crypto, framing, endpoint parsing), and its
// standalone CLI with the HTTP control API.
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Api } from "telegram";
import { IGE } from "telegram/crypto/IGE";
import { PromisedNetSockets } from "telegram/extensions";
import { NewMessage, type NewMessageEvent } from "telegram/events";
import { endpointConnection, parseTelegramEndpoint } from "../src/telegram/endpoint.ts";
import { authKeyId, decryptFromClient, encryptFromClientForTest, igeEncrypt } from "./support/telegram/crypto.ts";
import { FrameError, FullFrameReader, FullFrameWriter } from "./support/telegram/transport.ts";
import { parseSendMessage, updateShortChatMessage, updateShortMessage, updateShortSentMessage } from "./support/telegram/fastpath.ts";
import { connectClient, silentLogger, stopClient, waitFor } from "./support/telegram/index.ts";

describe("crypto", () => {
  test("IGE through native CBC equals GramJS's IGE for every size", () => {
    for (const size of [16, 32, 48, 64, 272, 4096, 65536 + 16]) {
      const key = randomBytes(32);
      const iv = randomBytes(32);
      const data = randomBytes(size);
      expect(igeEncrypt(data, key, iv).equals(new IGE(key, iv).encryptIge(data))).toBe(true);
      // Unaligned input (a subarray at an odd offset) works too.
      const odd = Buffer.concat([Buffer.alloc(1), data]).subarray(1);
      expect(igeEncrypt(odd, key, iv).equals(new IGE(key, iv).encryptIge(data))).toBe(true);
    }
  });

  test("client messages decrypt; tampering is detected", () => {
    const key = randomBytes(256);
    const body = randomBytes(40);
    const plain = Buffer.alloc(32 + body.length + 24);
    plain.writeBigInt64LE(5n, 0);
    plain.writeBigInt64LE(77n, 8);
    plain.writeBigInt64LE(123456n << 2n, 16);
    plain.writeInt32LE(3, 24);
    plain.writeInt32LE(body.length, 28);
    body.copy(plain, 32);
    const packet = encryptFromClientForTest(key, plain);
    expect(packet.readBigInt64LE(0)).toBe(authKeyId(key));
    const msg = decryptFromClient(key, packet);
    expect(msg.sessionId).toBe(77n);
    expect(msg.seqNo).toBe(3);
    expect(msg.body.equals(body)).toBe(true);
    packet[packet.length - 1]! ^= 1;
    expect(() => decryptFromClient(key, packet)).toThrow("msg_key");
  });
});

describe("hand-written TL fast path", () => {
  test("matches GramJS's bytes, and falls back on anything unusual", () => {
    const long = (v: bigint) => v as never; // GramJS serializes native bigints for its long fields
    const text = "привет, hello ✓ ".repeat(30);
    expect(
      updateShortMessage({ id: 7, userId: 1000005, message: text, pts: 12, date: 1700000000 }).equals(
        new Api.UpdateShortMessage({ id: 7, userId: long(1000005n), message: text, pts: 12, ptsCount: 1, date: 1700000000 }).getBytes(),
      ),
    ).toBe(true);
    expect(
      updateShortChatMessage({ id: 3, fromId: 11, chatId: 4000001, message: "hi", pts: 2, date: 5 }).equals(
        new Api.UpdateShortChatMessage({ id: 3, fromId: long(11n), chatId: long(4000001n), message: "hi", pts: 2, ptsCount: 1, date: 5 }).getBytes(),
      ),
    ).toBe(true);
    expect(updateShortSentMessage({ id: 9, pts: 4, date: 6 }).equals(new Api.UpdateShortSentMessage({ out: true, id: 9, pts: 4, ptsCount: 1, date: 6 }).getBytes())).toBe(true);

    const peer = new Api.InputPeerUser({ userId: long(1000003n), accessHash: long(-1234567890123n) });
    const parsed = parseSendMessage(new Api.messages.SendMessage({ peer, message: text, randomId: long(-42n), silent: true }).getBytes());
    expect(parsed).toMatchObject({ message: text, randomId: -42n, peer: { kind: "user", userId: 1000003n, accessHash: -1234567890123n } });
    expect(parseSendMessage(new Api.messages.SendMessage({ peer: new Api.InputPeerSelf(), message: "me", randomId: long(1n) }).getBytes())?.peer).toEqual({
      kind: "self",
    });
    const withEntities = new Api.messages.SendMessage({
      peer,
      message: "bold",
      randomId: long(1n),
      entities: [new Api.MessageEntityBold({ offset: 0, length: 4 })],
    });
    expect(parseSendMessage(withEntities.getBytes())).toBeNull();
    expect(parseSendMessage(new Api.updates.GetState().getBytes())).toBeNull();
  });
});

describe("transport", () => {
  test("frames survive arbitrary chunking; a bad crc or sequence is refused", () => {
    const w = new FullFrameWriter();
    const payloads = [randomBytes(8), randomBytes(1000), randomBytes(4)];
    const stream = Buffer.concat(payloads.map((p) => w.encode(p)));
    const r = new FullFrameReader();
    const got: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 7) got.push(...r.push(stream.subarray(i, i + 7)));
    expect(got.map((g) => g.toString("hex"))).toEqual(payloads.map((p) => p.toString("hex")));

    const bad = new FullFrameWriter().encode(randomBytes(16));
    bad[bad.length - 1]! ^= 0xff;
    expect(() => new FullFrameReader().push(bad)).toThrow(FrameError);
    const w2 = new FullFrameWriter();
    w2.encode(randomBytes(4)); // skip seq 0
    expect(() => new FullFrameReader().push(w2.encode(randomBytes(4)))).toThrow("seq");
  });
});

describe("TELEGRAM_ENDPOINT", () => {
  test("parses host:port, is null when unset, and names the setting when malformed", () => {
    expect(parseTelegramEndpoint(undefined)).toBeNull();
    expect(parseTelegramEndpoint(null)).toBeNull();
    expect(parseTelegramEndpoint("  ")).toBeNull();
    expect(parseTelegramEndpoint("127.0.0.1:21000")).toEqual({ host: "127.0.0.1", port: 21000 });
    expect(parseTelegramEndpoint(" tg.local:443 ")).toEqual({ host: "tg.local", port: 443 });
    expect(parseTelegramEndpoint("[::1]:8443")).toEqual({ host: "::1", port: 8443 });
    for (const bad of ["localhost", "host:", ":80", "host:0", "host:70000", "a:b:c", "host:12ab", "::1:80"]) {
      expect(() => parseTelegramEndpoint(bad)).toThrow("TELEGRAM_ENDPOINT");
    }
  });

  test("the connection class forces host and port whatever GramJS asks for", () => {
    const Pinned = endpointConnection("127.0.0.9:23456");
    const conn = new Pinned({ ip: "149.154.167.91", port: 443, dcId: 4, loggers: silentLogger(), socket: PromisedNetSockets, testServers: false });
    expect(conn._ip).toBe("127.0.0.9");
    expect(conn._port).toBe(23456);
    // Reconnects build a new instance through `connection.constructor` with the old ip/port: still pinned.
    const Ctor = conn.constructor as typeof Pinned;
    const again = new Ctor({ ip: "10.0.0.1", port: 80, dcId: 2, loggers: silentLogger(), socket: PromisedNetSockets, testServers: false });
    expect([again._ip, again._port]).toEqual(["127.0.0.9", 23456]);
    expect(() => endpointConnection("nonsense")).toThrow("TELEGRAM_ENDPOINT");
  });
});

describe("standalone CLI", () => {
  test("prints users with sessions as JSON; a GramJS client connects with one; the control API drives users", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tg-loopback-"));
    const usersFile = join(dir, "users.json");
    writeFileSync(join(dir, "ann.png"), Buffer.from("not really a png"));
    writeFileSync(
      usersFile,
      JSON.stringify([
        { firstName: "Ann", lastName: "Lee", username: "ann_lee", phone: "+7 999 000-11-22", photo: "ann.png" },
        { firstName: "Customer", username: "customer_one", sessions: 2 },
      ]),
    );
    const proc = Bun.spawn([process.execPath, "tests/support/telegram/cli.ts", "--users", usersFile, "--control-port", "0"], {
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const reader = proc.stdout.getReader();
      let text = "";
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      reader.releaseLock();
      const info = JSON.parse(text) as {
        host: string;
        port: number;
        controlPort: number;
        users: { id: number; username: string | null; phone: string; sessions: string[] }[];
      };
      expect(info.host).toBe("127.0.0.1");
      expect(info.port).toBeGreaterThanOrEqual(20000);
      expect(info.port).toBeLessThanOrEqual(32767);
      const ann = info.users.find((u) => u.username === "ann_lee")!;
      expect(ann.phone).toBe("79990001122");
      expect(ann.sessions).toHaveLength(1);
      expect(info.users.find((u) => u.username === "customer_one")!.sessions).toHaveLength(2);
      expect(info.users.some((u) => u.id === 777000)).toBe(true);

      // A real client connects with the printed session (the server lives in the child process).
      const client = await connectClient({ host: info.host, port: info.port }, ann.sessions[0]!);
      try {
        const me = (await client.getMe()) as Api.User;
        expect(me.id.toString()).toBe(String(ann.id));
        const got: NewMessageEvent[] = [];
        client.addEventHandler((e: NewMessageEvent) => void got.push(e), new NewMessage({}));
        const ctl = `http://127.0.0.1:${info.controlPort}`;
        const res = await fetch(`${ctl}/send-text`, {
          method: "POST",
          body: JSON.stringify({ from: "customer_one", to: ann.id, text: "hello from a script" }),
        });
        expect(res.status).toBe(200);
        const sent = (await res.json()) as { id: number; out: boolean };
        expect(sent.out).toBe(true);
        await waitFor(() => got.find((e) => e.message.message === "hello from a script"), 5000, "scripted message");
        await client.sendMessage("customer_one", { message: "answer" });
        const box = (await (await fetch(`${ctl}/messages?user=customer_one`)).json()) as { text: string; out: boolean }[];
        expect(box.map((m) => [m.text, m.out])).toEqual([
          ["hello from a script", true],
          ["answer", false],
        ]);
        const bad = await fetch(`${ctl}/send-text`, { method: "POST", body: JSON.stringify({ from: "nobody", to: ann.id, text: "x" }) });
        expect(bad.status).toBe(400);
        const metrics = (await (await fetch(`${ctl}/metrics`)).json()) as { connections: number };
        expect(metrics.connections).toBeGreaterThanOrEqual(1);
      } finally {
        await stopClient(client);
      }
    } finally {
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
    }
  });

  test("refuses a bad port with a usage message", async () => {
    const proc = Bun.spawn([process.execPath, "tests/support/telegram/cli.ts", "--port", "40000"], { stdout: "pipe", stderr: "pipe" });
    expect(await proc.exited).toBe(2);
    expect(await new Response(proc.stderr).text()).toContain("--port must be an integer 0..32767");
  });
});

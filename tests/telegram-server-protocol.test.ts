// MTProto service-level behaviour that GramJS rarely exercises, checked with a hand-made client:
// containers, gzip_packed, wrappers (invokeWithLayer/initConnection/invokeAfterMsg/invokeWithoutUpdates),
// pings, new_session_created, unknown auth keys. Server replies are decrypted with GramJS's MTProtoState.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { gzipSync } from "node:zlib";
import { Api } from "telegram";
import { AuthKey } from "telegram/crypto/AuthKey";
import { BinaryReader } from "telegram/extensions";
import { MTProtoState } from "telegram/network/MTProtoState";
import { encryptFromClientForTest } from "./support/telegram/crypto.ts";
import { FullFrameReader, FullFrameWriter } from "./support/telegram/transport.ts";
import { tlBytes } from "./support/telegram/tl.ts";
import { newAuthKey, silentLogger, TelegramServer, waitFor } from "./support/telegram/index.ts";

let server: TelegramServer;
beforeAll(async () => {
  server = await TelegramServer.start();
});
afterAll(async () => {
  await server.stop();
  expect(server.internalErrors).toEqual([]);
});

interface Received {
  msgId: bigint;
  obj: unknown;
}

/** A bare MTProto client: our framing/encryption out, GramJS's decryption in. */
class RawClient {
  readonly received: Received[] = [];
  closed = false;
  private readonly socket: Socket;
  private readonly writer = new FullFrameWriter();
  private readonly reader = new FullFrameReader();
  private readonly state: MTProtoState;
  private msgId = BigInt(Math.floor(Date.now() / 1000)) << 32n;
  readonly sessionId = 0x1234n;

  private constructor(
    private readonly key: Buffer,
    socket: Socket,
    state: MTProtoState,
  ) {
    this.socket = socket;
    this.state = state;
    // GramJS's state only accepts replies addressed to its own session id.
    (state as unknown as { id: unknown }).id = this.sessionId;
    socket.on("data", (chunk: Buffer) => {
      for (const packet of this.reader.push(chunk)) void this.onPacket(packet);
    });
    socket.on("close", () => (this.closed = true));
  }

  static async open(key: Buffer): Promise<RawClient> {
    const socket = connect(server.port, server.host);
    await new Promise((r) => socket.once("connect", r));
    const authKey = new AuthKey();
    await authKey.setKey(key);
    return new RawClient(key, socket, new MTProtoState(authKey, silentLogger()));
  }

  private async onPacket(packet: Buffer): Promise<void> {
    const msg = await this.state.decryptMessageData(packet);
    const push = async (id: bigint, obj: unknown): Promise<void> => {
      obj = await obj;
      if (obj && typeof obj === "object" && "messages" in obj && (obj as unknown as { CONSTRUCTOR_ID: number }).CONSTRUCTOR_ID === 0x73f1f8dc) {
        for (const inner of (obj as { messages: { msgId: unknown; obj: unknown }[] }).messages) await push(BigInt(String(inner.msgId)), inner.obj);
      } else this.received.push({ msgId: id, obj });
    };
    await push(BigInt(String(msg.msgId)), msg.obj);
  }

  nextMsgId(): bigint {
    this.msgId += 4n;
    return this.msgId;
  }

  /** Sends one message (its body as given) and returns its msg_id. */
  send(body: Buffer, msgId = this.nextMsgId()): bigint {
    const pad = 12 + ((16 - ((32 + body.length + 12) % 16)) % 16);
    const plain = Buffer.alloc(32 + body.length + pad);
    plain.writeBigInt64LE(0n, 0);
    plain.writeBigInt64LE(this.sessionId, 8);
    plain.writeBigInt64LE(msgId, 16);
    plain.writeInt32LE(1, 24);
    plain.writeInt32LE(body.length, 28);
    body.copy(plain, 32);
    this.socket.write(this.writer.encode(encryptFromClientForTest(this.key, plain)));
    return msgId;
  }

  /** A msg_container of the given bodies; returns the inner msg_ids. */
  sendContainer(bodies: Buffer[]): bigint[] {
    const ids: bigint[] = [];
    const parts: Buffer[] = [];
    for (const body of bodies) {
      const id = this.nextMsgId();
      ids.push(id);
      const head = Buffer.alloc(16);
      head.writeBigInt64LE(id, 0);
      head.writeInt32LE(1, 8);
      head.writeInt32LE(body.length, 12);
      parts.push(head, body);
    }
    const head = Buffer.alloc(8);
    head.writeUInt32LE(0x73f1f8dc, 0);
    head.writeInt32LE(bodies.length, 4);
    this.send(Buffer.concat([head, ...parts]));
    return ids;
  }

  /** The parsed result of the rpc_result answering `reqMsgId`. */
  async result(reqMsgId: bigint): Promise<unknown> {
    const r = await waitFor(
      () =>
        this.received.find((x) => {
          const o = x.obj as { CONSTRUCTOR_ID?: number; reqMsgId?: unknown };
          return o.CONSTRUCTOR_ID === 0xf35c6d01 && String(o.reqMsgId) === String(reqMsgId);
        }),
      3000,
      `rpc_result for ${reqMsgId}`,
    );
    const rr = r.obj as { body?: Buffer; error?: { errorCode: number; errorMessage: string } };
    if (rr.error) return { error: rr.error.errorCode, message: rr.error.errorMessage };
    return new BinaryReader(rr.body!).tgReadObject();
  }

  close(): void {
    this.socket.destroy();
  }
}

const gzipPacked = (body: Buffer): Buffer => {
  const head = Buffer.alloc(4);
  head.writeUInt32LE(0x3072cfa1, 0);
  return Buffer.concat([head, tlBytes(gzipSync(body))]);
};

const ping = (id: bigint): Buffer => {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(0x7abe77ec, 0);
  b.writeBigInt64LE(id, 4);
  return b;
};

test("containers, gzip_packed, wrappers and pings are answered as Telegram does", async () => {
  const alice = server.builtins!.alice;
  const c = await RawClient.open(alice.sessions[0]!.key);
  try {
    const init = new Api.InvokeWithLayer({
      layer: 198,
      query: new Api.InitConnection({
        apiId: 1,
        deviceModel: "raw",
        systemVersion: "1",
        appVersion: "1",
        systemLangCode: "en",
        langPack: "",
        langCode: "en",
        query: new Api.help.GetNearestDc(),
      }),
    }).getBytes();
    const [pingId, initId, gzId, afterId, noUpdId, ackId] = c.sendContainer([
      ping(777n),
      init,
      gzipPacked(new Api.updates.GetState().getBytes()),
      new Api.InvokeAfterMsg({ msgId: 0n as never, query: new Api.users.GetUsers({ id: [new Api.InputUserSelf()] }) }).getBytes(),
      new Api.InvokeWithoutUpdates({ query: new Api.help.GetConfig() }).getBytes(),
      new Api.MsgsAck({ msgIds: [1n as never] }).getBytes(),
    ]);
    // A new session id gets new_session_created first.
    const created = await waitFor(() => c.received.find((r) => r.obj instanceof Api.NewSessionCreated));
    expect(String((created.obj as Api.NewSessionCreated).firstMsgId)).not.toBe("0");
    const pong = await waitFor(() => c.received.find((r) => r.obj instanceof Api.Pong));
    expect(String((pong.obj as Api.Pong).pingId)).toBe("777");
    expect(String((pong.obj as Api.Pong).msgId)).toBe(String(pingId));
    expect(await c.result(initId!)).toBeInstanceOf(Api.NearestDc);
    expect(await c.result(gzId!)).toBeInstanceOf(Api.updates.State);
    const users = (await c.result(afterId!)) as Api.User[];
    expect(users[0]!.id.toString()).toBe(String(alice.id));
    expect(await c.result(noUpdId!)).toBeInstanceOf(Api.Config);
    // msgs_ack gets no answer.
    await Bun.sleep(50);
    expect(c.received.some((r) => String((r.obj as { reqMsgId?: unknown }).reqMsgId) === String(ackId))).toBe(false);
    // Server msg_ids are unique; responses are ≡ 1 (mod 4), other messages ≡ 3.
    const ids = c.received.map((r) => r.msgId);
    expect(new Set(ids.map(String)).size).toBe(ids.length);
    expect(c.received.filter((r) => r.obj instanceof Api.NewSessionCreated).every((r) => r.msgId % 4n === 3n)).toBe(true);
    // ping_delay_disconnect (what GramJS's ping loop sends) → pong.
    const pdd = c.send(new Api.PingDelayDisconnect({ pingId: 99n as never, disconnectDelay: 60 }).getBytes());
    const pong2 = await waitFor(() => c.received.find((r) => r.obj instanceof Api.Pong && String(r.obj.msgId) === String(pdd)));
    expect(String((pong2.obj as Api.Pong).pingId)).toBe("99");
    // An unparseable request is an rpc_error, not a hang.
    const junk = Buffer.alloc(8);
    junk.writeUInt32LE(0xdeadbeef, 0);
    expect(await c.result(c.send(junk))).toEqual({ error: 400, message: "INPUT_CONSTRUCTOR_INVALID" });
  } finally {
    c.close();
  }
});

test("an unknown auth key gets transport error -404 and the connection is closed", async () => {
  const stranger = newAuthKey();
  const socket = connect(server.port, server.host);
  await new Promise((r) => socket.once("connect", r));
  const chunks: Buffer[] = [];
  socket.on("data", (d: Buffer) => chunks.push(d));
  const closed = new Promise((r) => socket.once("close", r));
  const plain = Buffer.alloc(32 + 4 + 12);
  plain.writeInt32LE(4, 28);
  new Api.help.GetConfig().getBytes().copy(plain, 32);
  socket.write(new FullFrameWriter().encode(encryptFromClientForTest(stranger.key, plain)));
  await closed;
  const data = Buffer.concat(chunks);
  expect(data.length).toBe(12);
  expect(data.readInt32LE(0)).toBe(-404);
});

// One TCP connection: transport framing → MTProto decryption → service messages / RPC dispatch.
// Requests are handled strictly in arrival order; a connection can be held (server stall, or the short
// grace period of a duplicate-key check) and then resumes where it stopped.
import type { Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { CryptoError, decryptFromClient, encryptToClient } from "./crypto.ts";
import { FrameError } from "./transport.ts";
import { ServerTransport } from "./transports.ts";
import {
  destroySessionOk,
  gunzipTl,
  ID,
  newSessionCreated,
  pong,
  readContainer,
  readObject,
  RpcError,
  rpcError,
  rpcResult,
  serializeResult,
  unwrapQuery,
  type MsgIdGenerator,
  type TlRequest,
} from "./tl.ts";
import { AUTH_FREE, handlers, IMPORT_FREE, type CallContext } from "./handlers.ts";
import { Handshake, HandshakeError, type ServerRsaKey } from "./handshake.ts";
import { LOGIN_FREE, Logins } from "./login.ts";
import { parseSendMessage } from "./fastpath.ts";
import { declaredLayer, SERVED_LAYERS } from "./layers.ts";
import type { Faults } from "./faults.ts";
import type { Render } from "./render.ts";
import type { World, WorldSession } from "./world.ts";

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly world: World;
  readonly render: Render;
  readonly faults: Faults;
  readonly host: string;
  readonly port: number;
  readonly msgIds: MsgIdGenerator;
  readonly stalled: boolean;
  /** First authenticated packet: the connection now belongs to `session`. */
  attach(conn: Connection): void;
  detach(conn: Connection): void;
  /** First initConnection on this connection: "ok", or "suspect" when another live connection of the
   * same key already initialized under a different session id (settled after a grace period). */
  checkDuplicate(conn: Connection): "ok" | "suspect";
  settleDuplicate(conn: Connection): void;
  readonly duplicateGraceMs: number;
  countCall(method: string): void;
  internalError(method: string, e: unknown): void;
  readonly logins: Logins;
  /** The server's RSA key for key exchanges (without one, unknown keys get -404 as before). */
  readonly rsaKey?: ServerRsaKey;
  /** A key exchange finished: the world learns the new (not yet signed-in) key. */
  registerAuthKey(key: Buffer): void;
  /** Obfuscated connections must use this MTProxy secret (16 bytes); unset = plain obfuscation. */
  readonly obfuscationSecret?: Buffer;
  /** A connection's transport was detected (counted for tests). */
  sawTransport(name: string): void;
  /** Answer a new MTProto session's messages with bad_server_salt until they carry our salt. */
  readonly enforceSalt: boolean;
  /** How far the server's clock is ahead of the client's (seconds); msg_ids outside Telegram's window
   * (300 s in the past, 30 s in the future) get bad_msg_notification 16/17. */
  readonly clockSkewSeconds: number;
  /** Service-level corrections sent (bad_server_salt, bad_msg_notification 16/17). */
  readonly corrections: { badServerSalt: number; badMsgTime: number };
  /** A request was refused with CONNECTION_LAYER_INVALID. */
  refusedLayer(layer: number): void;
}

let nextConnectionId = 1;

export class Connection {
  readonly id = nextConnectionId++;
  session?: WorldSession;
  /** Client MTProto session id currently in use on this connection. */
  mtSessionId?: bigint;
  /** Set once this connection carried initConnection (main GramJS senders do, file senders don't). */
  initialized = false;
  closed = false;
  readonly openedAt = Date.now();
  /** Detected from the first bytes (full, abridged, intermediate, padded, obfuscated-*). */
  readonly transport: ServerTransport;
  private readonly queue: Buffer[] = [];
  private held = false;
  private keyIdBytes = Buffer.alloc(8);
  private readonly salt = randomBytes(8).readBigInt64LE(0);
  private seq = 0;
  private handshake?: Handshake;
  /** Layer of the last invokeWithLayer on this connection. */
  private layer?: number;

  constructor(
    private readonly socket: Socket,
    private readonly host: ConnectionHost,
  ) {
    this.transport = new ServerTransport(host.obfuscationSecret);
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => this.close());
    socket.on("close", () => this.close());
  }

  get remote(): string {
    return `${this.socket.remoteAddress}:${this.socket.remotePort}`;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.socket.destroy();
    this.host.detach(this);
  }

  /** Processes queued packets unless held or the server is stalled. */
  pump(): void {
    while (!this.closed && !this.held && !this.host.stalled && this.queue.length) {
      this.handlePacket(this.queue.shift()!);
    }
  }

  /** Pushes a server-initiated object (an Updates) to the client. */
  push(body: Buffer): void {
    if (this.mtSessionId === undefined || this.host.stalled) return;
    this.send(body, false);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      const known = this.transport.name;
      for (const packet of this.transport.push(chunk)) this.queue.push(packet);
      if (!known && this.transport.name) this.host.sawTransport(this.transport.name);
    } catch (e) {
      if (e instanceof FrameError) return this.close();
      throw e;
    }
    this.pump();
  }

  private handlePacket(packet: Buffer): void {
    if (packet.length < 8) return this.close();
    // Padded intermediate may append 0–15 random bytes: an encrypted packet is 24 + 16·k bytes.
    if (this.transport.padded && packet.readBigInt64LE(0) !== 0n && packet.length > 24) packet = packet.subarray(0, 24 + ((packet.length - 24) & ~15));
    const keyId = packet.readBigInt64LE(0);
    if (keyId === 0n && !this.session && this.host.rsaKey) return this.handlePlain(packet);
    const session = keyId === 0n ? undefined : this.host.world.sessionsByKeyId.get(keyId);
    if (!session || (this.session && this.session !== session)) {
      // Unknown key (or a key exchange with key exchange switched off): Telegram's transport error -404.
      this.socket.write(this.transport.error(404));
      return this.close();
    }
    let msg;
    try {
      msg = decryptFromClient(session.key, packet);
    } catch (e) {
      if (e instanceof CryptoError) return this.close();
      throw e;
    }
    if (!this.session) {
      this.session = session;
      packet.copy(this.keyIdBytes, 0, 0, 8);
      this.host.attach(this);
    }
    if (msg.sessionId !== this.mtSessionId) {
      // A new client session: tell it our salt, as Telegram does (GramJS adopts it).
      this.mtSessionId = msg.sessionId;
      this.seq = 0;
      this.send(newSessionCreated(msg.msgId, randomBytes(8).readBigInt64LE(0), this.salt), false);
    }
    if (this.badTime(msg.msgId, msg.seqNo)) return;
    if (this.host.enforceSalt && msg.salt !== this.salt) {
      // bad_server_salt#edab447b bad_msg_id:long bad_msg_seqno:int error_code:int new_server_salt:long
      const b = Buffer.alloc(28);
      b.writeUInt32LE(0xedab447b, 0);
      b.writeBigInt64LE(msg.msgId, 4);
      b.writeInt32LE(msg.seqNo, 12);
      b.writeInt32LE(48, 16);
      b.writeBigInt64LE(this.salt, 20);
      this.host.corrections.badServerSalt++;
      return this.send(b, false);
    }
    this.handleMessage(msg.msgId, msg.body);
  }

  /** A msg_id whose time is outside Telegram's window of the server clock: bad_msg_notification
   * 16 (too low) or 17 (too high); the client corrects its clock from our msg_id and resends. */
  private badTime(msgId: bigint, seqNo: number): boolean {
    const t = Number(msgId >> 32n);
    const now = Date.now() / 1000 + this.host.clockSkewSeconds;
    const code = t < now - 300 ? 16 : t > now + 30 ? 17 : 0;
    if (!code) return false;
    // bad_msg_notification#a7eff811 bad_msg_id:long bad_msg_seqno:int error_code:int
    const b = Buffer.alloc(20);
    b.writeUInt32LE(0xa7eff811, 0);
    b.writeBigInt64LE(msgId, 4);
    b.writeInt32LE(seqNo, 12);
    b.writeInt32LE(code, 16);
    this.host.corrections.badMsgTime++;
    this.send(b, false);
    return true;
  }

  /** An unencrypted message (auth_key_id 0 · msg_id · length · body): one step of a key exchange. */
  private handlePlain(packet: Buffer): void {
    if (packet.length < 20) return this.close();
    const length = packet.readInt32LE(16);
    if (length <= 0 || 20 + length > packet.length) return this.close();
    this.handshake ??= new Handshake(this.host.rsaKey!, (key) => this.host.registerAuthKey(key));
    let reply: Buffer;
    try {
      reply = this.handshake.handle(packet.subarray(20, 20 + length));
    } catch (e) {
      // A failed exchange (bad nonce, unknown fingerprint, garbage) ends like Telegram ends it: -404, close.
      if (!(e instanceof HandshakeError)) this.host.internalError("handshake", e);
      this.socket.write(this.transport.error(404));
      return this.close();
    }
    const head = Buffer.alloc(20);
    head.writeBigInt64LE(this.host.msgIds.next(true), 8);
    head.writeInt32LE(reply.length, 16);
    this.socket.write(this.transport.encode(Buffer.concat([head, reply])));
  }

  private handleMessage(msgId: bigint, body: Buffer): void {
    if (body.length < 4) return;
    switch (body.readUInt32LE(0)) {
      case ID.msgContainer:
        for (const item of readContainer(body)) {
          if (this.held || this.closed) {
            // A duplicate check paused us mid-container: keep the rest in order for later.
            this.deferred.push(item);
            continue;
          }
          this.handleMessage(item.msgId, item.body);
        }
        return;
      case ID.gzipPacked:
        return this.handleMessage(msgId, gunzipTl(body));
      case ID.ping:
      case ID.pingDelayDisconnect:
        return this.send(pong(msgId, body.readBigInt64LE(4)), true);
      case ID.destroySession:
        return this.send(destroySessionOk(body.readBigInt64LE(4)), true);
      case ID.msgsAck:
      case ID.msgsStateReq:
      case ID.msgResendReq:
      case ID.msgsAllInfo:
      case ID.httpWait:
        return;
      default:
        return this.handleRpc(msgId, body);
    }
  }

  /** Container items that arrived while the connection was held by a duplicate check. */
  private deferred: { msgId: bigint; body: Buffer }[] = [];

  private handleRpc(msgId: bigint, body: Buffer): void {
    const declared = declaredLayer(body);
    if (declared !== undefined) this.layer = declared;
    if (this.layer !== undefined && !SERVED_LAYERS.has(this.layer)) {
      // Every request on a connection at a layer we do not serve, wrapped or not, is refused.
      this.host.refusedLayer(this.layer);
      return this.send(rpcError(msgId, 400, "CONNECTION_LAYER_INVALID"), true);
    }
    const fast = parseSendMessage(body);
    if (fast) return this.dispatch(msgId, fast as unknown as TlRequest);
    let req: TlRequest;
    try {
      req = readObject(body) as TlRequest;
    } catch {
      return this.send(rpcError(msgId, 400, "INPUT_CONSTRUCTOR_INVALID"), true);
    }
    if (!req || req.classType !== "request") return this.send(rpcError(msgId, 400, "INPUT_METHOD_INVALID"), true);
    const { query, initConnection, layer } = unwrapQuery(req);
    if (layer !== undefined) this.layer = this.session!.layer = layer;
    if (initConnection) {
      this.session!.device = {
        deviceModel: initConnection.deviceModel,
        systemVersion: initConnection.systemVersion,
        appVersion: initConnection.appVersion,
        apiId: initConnection.apiId,
        langCode: initConnection.langCode,
        ip: this.socket.remoteAddress ?? "",
      };
    }
    if (initConnection && !this.initialized) {
      this.initialized = true;
      if (this.host.checkDuplicate(this) === "suspect") {
        this.held = true;
        setTimeout(() => {
          this.host.settleDuplicate(this);
          this.held = false;
          if (this.closed) return;
          this.dispatch(msgId, query);
          const rest = this.deferred.splice(0);
          for (const item of rest) this.handleMessage(item.msgId, item.body);
          this.pump();
        }, this.host.duplicateGraceMs);
        return;
      }
    }
    this.dispatch(msgId, query);
  }

  private dispatch(msgId: bigint, query: TlRequest): void {
    const session = this.session!;
    const name = query.className;
    this.host.countCall(name);
    try {
      if (session.duplicated) throw new RpcError(406, "AUTH_KEY_DUPLICATED");
      session.activeAt = Math.floor(Date.now() / 1000);
      const login = Logins.handlers[name];
      if (session.userId === 0) {
        // A key from a key exchange, not signed in yet: only login and help methods, as on Telegram.
        if (!LOGIN_FREE.has(name) && !AUTH_FREE.has(name) && !IMPORT_FREE.has(name)) throw new RpcError(401, "AUTH_KEY_UNREGISTERED");
        this.host.faults.check(name, 0);
        const result = login
          ? login(this.host.logins, { session, layer: this.layer }, query)
          : // help.* handlers read only world/host/port, never ctx.user.
            handlers[name]!({ world: this.host.world, render: this.host.render, session, host: this.host.host, port: this.host.port } as CallContext, query);
        return this.send(rpcResult(msgId, serializeResult(result)), true);
      }
      const user = this.host.world.user(session.userId);
      if (!AUTH_FREE.has(name)) {
        if (session.revoked) throw new RpcError(session.revoked.code, session.revoked.message);
        if (user.banned) throw new RpcError(401, "USER_DEACTIVATED_BAN");
        this.host.world.edges.checkMigrated(session);
        this.host.world.edges.checkFrozen(user.id, name);
      }
      this.host.faults.check(name, user.id);
      if (login) return this.send(rpcResult(msgId, serializeResult(login(this.host.logins, { session, layer: this.layer }, query))), true);
      const handler = handlers[name];
      if (!handler) throw new RpcError(400, "METHOD_NOT_SUPPORTED_BY_LOOPBACK");
      const ctx: CallContext = {
        world: this.host.world,
        render: this.host.render,
        session,
        user,
        host: this.host.host,
        port: this.host.port,
      };
      const result = serializeResult(handler(ctx, query));
      this.send(rpcResult(msgId, result), true);
    } catch (e) {
      if (e instanceof RpcError) return this.send(rpcError(msgId, e.code, e.errorMessage), true);
      this.host.internalError(name, e);
      this.send(rpcError(msgId, 400, "LOOPBACK_INTERNAL_ERROR"), true);
    }
  }

  private send(body: Buffer, isResponse: boolean): void {
    if (this.closed || !this.session || this.mtSessionId === undefined) return;
    const msgId = this.host.msgIds.next(isResponse);
    const seqNo = this.seq++ * 2 + 1;
    const packet = encryptToClient(this.session.key, this.keyIdBytes, this.salt, this.mtSessionId, msgId, seqNo, body);
    this.socket.write(this.transport.encode(packet));
  }
}

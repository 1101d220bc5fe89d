// TL plumbing for the server side: MTProto service objects written by hand (they are tiny and fixed),
// API objects parsed and built with GramJS's own generated classes so the wire format is exactly the
// one the client expects for its layer.
import { gunzipSync } from "node:zlib";
import { Api } from "telegram";
import { BinaryReader } from "telegram/extensions";

export const ID = {
  rpcResult: 0xf35c6d01,
  rpcError: 0x2144ca19,
  msgContainer: 0x73f1f8dc,
  gzipPacked: 0x3072cfa1,
  msgsAck: 0x62d6b459,
  ping: 0x7abe77ec,
  pingDelayDisconnect: 0xf3427b8c,
  pong: 0x347773c5,
  newSessionCreated: 0x9ec20908,
  destroySession: 0xe7512126,
  destroySessionOk: 0xe22045fc,
  getFutureSalts: 0xb921bd04,
  msgsStateReq: 0xda69fb52,
  msgResendReq: 0x7d861a08,
  msgsAllInfo: 0x8cc0d131,
  httpWait: 0x9299359f,
  vector: 0x1cb5c415,
  boolTrue: 0x997275b5,
  boolFalse: 0xbc799737,
} as const;

/** Telegram's error reply; handlers throw it, the connection turns it into rpc_error. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    readonly errorMessage: string,
  ) {
    super(`${code} ${errorMessage}`);
  }
}

/** A GramJS request object as parsed by tgReadObject (classType "request"). */
export interface TlRequest {
  className: string;
  classType: string;
  CONSTRUCTOR_ID: number;
  [field: string]: unknown;
}

/**
 * Reads exactly one TL object; requests come back as GramJS request instances.
 * GramJS's TypeNotFoundError calls `alert()` when one exists — and Bun has one, which prints and, on a
 * terminal, waits for Enter. Unknown constructors from a client must not freeze the server, so alert is
 * hidden for the duration of the read.
 */
export function readObject(body: Buffer): unknown {
  const g = globalThis as { alert?: unknown };
  const saved = g.alert;
  g.alert = undefined;
  try {
    return new BinaryReader(body).tgReadObject();
  } finally {
    g.alert = saved;
  }
}

/** TL `bytes`: length-prefixed and padded to 4. */
export function tlBytes(data: Uint8Array): Buffer {
  const n = data.length;
  const head = n < 254 ? 1 : 4;
  const total = Math.ceil((head + n) / 4) * 4;
  const out = Buffer.alloc(total);
  if (head === 1) out[0] = n;
  else out.writeUInt32LE(254 | (n << 8), 0);
  out.set(data, head);
  return out;
}

export function readTlBytes(buf: Buffer, offset: number): { data: Buffer; end: number } {
  let n = buf[offset]!;
  let head = 1;
  if (n === 254) {
    n = buf.readUIntLE(offset + 1, 3);
    head = 4;
  }
  const start = offset + head;
  if (start + n > buf.length) throw new RpcError(400, "INPUT_REQUEST_INVALID");
  return { data: buf.subarray(start, start + n), end: offset + Math.ceil((head + n) / 4) * 4 };
}

export function gunzipTl(body: Buffer): Buffer {
  return gunzipSync(readTlBytes(body, 4).data);
}

export interface ContainerItem {
  msgId: bigint;
  seqNo: number;
  body: Buffer;
}

export function readContainer(body: Buffer): ContainerItem[] {
  const count = body.readInt32LE(4);
  const items: ContainerItem[] = [];
  let p = 8;
  for (let i = 0; i < count; i++) {
    const msgId = body.readBigInt64LE(p);
    const seqNo = body.readInt32LE(p + 8);
    const len = body.readInt32LE(p + 12);
    items.push({ msgId, seqNo, body: body.subarray(p + 16, p + 16 + len) });
    p += 16 + len;
  }
  return items;
}

/** Serializes an RPC result as TL: GramJS objects, Bool, Vector<Object> (e.g. users.getUsers). */
export function serializeResult(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value === true || value === false) {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(value ? ID.boolTrue : ID.boolFalse, 0);
    return b;
  }
  if (Array.isArray(value)) {
    const head = Buffer.allocUnsafe(8);
    head.writeUInt32LE(ID.vector, 0);
    head.writeInt32LE(value.length, 4);
    return Buffer.concat([head, ...value.map(serializeResult)]);
  }
  if (value && typeof (value as { getBytes?: unknown }).getBytes === "function") {
    return (value as { getBytes(): Buffer }).getBytes();
  }
  throw new Error(`cannot serialize RPC result ${String(value)}`);
}

export function rpcResult(reqMsgId: bigint, result: Buffer): Buffer {
  const head = Buffer.allocUnsafe(12);
  head.writeUInt32LE(ID.rpcResult, 0);
  head.writeBigInt64LE(reqMsgId, 4);
  return Buffer.concat([head, result]);
}

export function rpcError(reqMsgId: bigint, code: number, message: string): Buffer {
  const head = Buffer.allocUnsafe(12);
  head.writeUInt32LE(ID.rpcResult, 0);
  head.writeBigInt64LE(reqMsgId, 4);
  const err = Buffer.allocUnsafe(8);
  err.writeUInt32LE(ID.rpcError, 0);
  err.writeInt32LE(code, 4);
  return Buffer.concat([head, err, tlBytes(Buffer.from(message, "utf8"))]);
}

export function pong(msgId: bigint, pingId: bigint): Buffer {
  const b = Buffer.allocUnsafe(20);
  b.writeUInt32LE(ID.pong, 0);
  b.writeBigInt64LE(msgId, 4);
  b.writeBigInt64LE(pingId, 12);
  return b;
}

export function newSessionCreated(firstMsgId: bigint, uniqueId: bigint, serverSalt: bigint): Buffer {
  const b = Buffer.allocUnsafe(28);
  b.writeUInt32LE(ID.newSessionCreated, 0);
  b.writeBigInt64LE(firstMsgId, 4);
  b.writeBigInt64LE(uniqueId, 12);
  b.writeBigInt64LE(serverSalt, 20);
  return b;
}

export function destroySessionOk(sessionId: bigint): Buffer {
  const b = Buffer.allocUnsafe(12);
  b.writeUInt32LE(ID.destroySessionOk, 0);
  b.writeBigInt64LE(sessionId, 4);
  return b;
}

/** Server msg_ids: time-based, strictly increasing across the whole server, ≡ 1 (mod 4) for responses
 * and ≡ 3 for everything else, as MTProto prescribes. GramJS only rejects repeats. */
export class MsgIdGenerator {
  private last = 0n;
  private offset = 0;

  /** The server clock's offset from this machine's (seconds), e.g. to play a client with a wrong clock. */
  get offsetSeconds(): number {
    return this.offset;
  }

  /** Moving the clock back restarts the sequence there (otherwise ids would stay at the old time). */
  set offsetSeconds(s: number) {
    this.offset = s;
    this.last = 0n;
  }

  next(isResponse: boolean): bigint {
    const now = Date.now() + this.offset * 1000;
    let id = (BigInt(Math.floor(now / 1000)) << 32n) | (BigInt(now % 1000) << 22n);
    if (id <= this.last) id = this.last + 4n;
    this.last = id & ~3n;
    return this.last | (isResponse ? 1n : 3n);
  }
}

/** Wrappers that only carry options and an inner query; unwrapped before dispatch. */
export function unwrapQuery(req: TlRequest): { query: TlRequest; initConnection?: Api.InitConnection; layer?: number } {
  let initConnection: Api.InitConnection | undefined;
  let layer: number | undefined;
  let q: TlRequest = req;
  for (let depth = 0; depth < 8; depth++) {
    if (q instanceof Api.InvokeWithLayer) layer = q.layer;
    if (
      q instanceof Api.InvokeWithLayer ||
      q instanceof Api.InvokeAfterMsg ||
      q instanceof Api.InvokeAfterMsgs ||
      q instanceof Api.InvokeWithoutUpdates ||
      q instanceof Api.InvokeWithMessagesRange ||
      q instanceof Api.InvokeWithTakeout
    ) {
      q = (q as unknown as { query: TlRequest }).query;
    } else if (q instanceof Api.InitConnection) {
      initConnection = q;
      q = q.query as unknown as TlRequest;
    } else break;
  }
  return { query: q, initConnection, layer };
}

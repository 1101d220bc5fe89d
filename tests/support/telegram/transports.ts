// Every MTProto TCP transport Telegram accepts, detected from the first bytes of a connection as
// Telegram does it: 0xef → abridged, 0xeeeeeeee → intermediate, 0xdddddddd → padded intermediate,
// bytes 4..7 zero → full (its first frame's seq is 0), anything else → obfuscated (a 64-byte header,
// AES-256-CTR both ways, the inner transport's tag inside it). With an MTProxy secret the obfuscation
// keys are SHA256(key part + secret), as MTProxy computes them.
import { createCipheriv, createHash, randomBytes, randomInt, type Cipheriv } from "node:crypto";
import { FrameError, FullFrameReader, FullFrameWriter, MAX_FRAME } from "./transport.ts";

export type InnerTransport = "abridged" | "intermediate" | "padded";
export type TransportName = "full" | InnerTransport | `obfuscated-${InnerTransport}`;

/** Framing of one inner transport (without its tag): splits a byte stream, frames payloads. */
interface Codec {
  push(chunk: Buffer): Buffer[];
  encode(payload: Uint8Array): Buffer;
  /** A transport error (-404, -429…) framed as this transport frames a 4-byte packet. */
  error(code: number): Buffer;
}

class ByteQueue {
  private buf: Buffer = Buffer.alloc(0);
  add(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
  }
  get length(): number {
    return this.buf.length;
  }
  peek(n: number): Buffer {
    return this.buf.subarray(0, n);
  }
  take(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
}

class AbridgedCodec implements Codec {
  private q = new ByteQueue();
  push(chunk: Buffer): Buffer[] {
    this.q.add(chunk);
    const out: Buffer[] = [];
    for (;;) {
      if (this.q.length < 1) break;
      let words = this.q.peek(1)[0]! & 0x7f; // the high bit asks for a quick ack; we do not send those
      let head = 1;
      if (words === 0x7f) {
        if (this.q.length < 4) break;
        words = this.q.peek(4).readUIntLE(1, 3);
        head = 4;
      }
      const len = words * 4;
      if (len > MAX_FRAME) throw new FrameError(`bad abridged length ${len}`);
      if (this.q.length < head + len) break;
      this.q.take(head);
      out.push(Buffer.from(this.q.take(len)));
    }
    return out;
  }
  encode(payload: Uint8Array): Buffer {
    const words = payload.length >> 2;
    const head = words < 0x7f ? Buffer.from([words]) : Buffer.from([0x7f, words & 0xff, (words >> 8) & 0xff, (words >> 16) & 0xff]);
    return Buffer.concat([head, payload]);
  }
  error(code: number): Buffer {
    const b = Buffer.alloc(4);
    b.writeInt32LE(-code, 0);
    return this.encode(b);
  }
}

class IntermediateCodec implements Codec {
  private q = new ByteQueue();
  constructor(private readonly padded: boolean) {}
  push(chunk: Buffer): Buffer[] {
    this.q.add(chunk);
    const out: Buffer[] = [];
    while (this.q.length >= 4) {
      const len = this.q.peek(4).readInt32LE(0) & 0x7fffffff; // high bit: quick ack request
      if (len < 4 || len > MAX_FRAME) throw new FrameError(`bad intermediate length ${len}`);
      if (this.q.length < 4 + len) break;
      this.q.take(4);
      out.push(Buffer.from(this.q.take(len)));
    }
    return out;
  }
  encode(payload: Uint8Array): Buffer {
    // 0–3 random bytes: Telegram allows 0–15, but Telethon strips only `length % 4` bytes.
    const pad = this.padded ? randomBytes(randomInt(0, 4)) : Buffer.alloc(0);
    const head = Buffer.alloc(4);
    head.writeInt32LE(payload.length + pad.length, 0);
    return Buffer.concat([head, payload, pad]);
  }
  error(code: number): Buffer {
    const b = Buffer.alloc(8);
    b.writeInt32LE(4, 0);
    b.writeInt32LE(-code, 4);
    return b;
  }
}

class FullCodec implements Codec {
  private reader = new FullFrameReader();
  private writer = new FullFrameWriter();
  push(chunk: Buffer): Buffer[] {
    return this.reader.push(chunk);
  }
  encode(payload: Uint8Array): Buffer {
    return this.writer.encode(payload);
  }
  error(code: number): Buffer {
    return FullFrameWriter.transportError(code);
  }
}

const TAGS: Record<string, InnerTransport> = { efefefef: "abridged", eeeeeeee: "intermediate", dddddddd: "padded" };

function innerCodec(kind: InnerTransport): Codec {
  return kind === "abridged" ? new AbridgedCodec() : new IntermediateCodec(kind === "padded");
}

/** The two AES-256-CTR streams of an obfuscated connection, as seen by the server. */
export interface Obfuscation {
  /** Decrypts what the client sends. */
  fromClient: Cipheriv;
  /** Encrypts what we send. */
  toClient: Cipheriv;
  inner: InnerTransport;
  /** The DC the client asked for (MTProxy uses it to pick a Telegram DC; the loopback ignores it). */
  dcId: number;
}

function ctr(key: Buffer, iv: Buffer, secret?: Buffer): Cipheriv {
  const k = secret ? createHash("sha256").update(key).update(secret).digest() : key;
  return createCipheriv("aes-256-ctr", k, iv);
}

/** Reads a client's 64-byte obfuscation header; undefined when the tag inside is not a known transport
 * (a wrong MTProxy secret looks exactly like that). */
export function openObfuscated(header: Buffer, secret?: Buffer): Obfuscation | undefined {
  const fromClient = ctr(header.subarray(8, 40), header.subarray(40, 56), secret);
  const reversed = Buffer.from(header.subarray(8, 56)).reverse();
  const toClient = ctr(reversed.subarray(0, 32), reversed.subarray(32, 48), secret);
  const plain = fromClient.update(header);
  const inner = TAGS[plain.subarray(56, 60).toString("hex")];
  if (!inner) return undefined;
  return { fromClient, toClient, inner, dcId: plain.readInt16LE(60) };
}

/** The client side of an obfuscated connection (what GramJS/Telethon build): header + both streams. */
export function clientObfuscation(inner: InnerTransport, dcId = 2, secret?: Buffer): { header: Buffer; encrypt: Cipheriv; decrypt: Cipheriv } {
  let random: Buffer;
  do random = randomBytes(64);
  while (random[0] === 0xef || random.readUInt32LE(4) === 0 || ["50567247", "474554", "504f5354", "eeeeeeee", "dddddddd"].some((k) => random.toString("hex").startsWith(k)));
  const tag = Object.entries(TAGS).find(([, v]) => v === inner)![0];
  Buffer.from(tag, "hex").copy(random, 56);
  random.writeInt16LE(dcId, 60);
  const encrypt = ctr(random.subarray(8, 40), random.subarray(40, 56), secret);
  const reversed = Buffer.from(random.subarray(8, 56)).reverse();
  const decrypt = ctr(reversed.subarray(0, 32), reversed.subarray(32, 48), secret);
  const enc = encrypt.update(random);
  const header = Buffer.concat([random.subarray(0, 56), enc.subarray(56, 64)]);
  return { header, encrypt, decrypt };
}

export class TransportError extends FrameError {}

/**
 * One connection's transport, server side: detects it from the first bytes, then splits the stream
 * into MTProto packets and frames (and, when obfuscated, encrypts) what the server sends.
 */
export class ServerTransport {
  name?: TransportName;
  private pending: Buffer = Buffer.alloc(0);
  private codec?: Codec;
  private obf?: Obfuscation;

  /** `secret`: accept obfuscated connections only with this MTProxy secret (16 bytes). */
  constructor(private readonly secret?: Buffer) {}

  push(chunk: Buffer): Buffer[] {
    if (this.codec) return this.codec.push(this.obf ? this.obf.fromClient.update(chunk) : chunk);
    this.pending = Buffer.concat([this.pending, chunk]);
    const p = this.pending;
    if (p.length < 1) return [];
    if (p[0] === 0xef) return this.start("abridged", new AbridgedCodec(), 1);
    if (p.length < 8) return [];
    const first = p.readUInt32LE(0);
    if (first === 0xeeeeeeee) return this.start("intermediate", new IntermediateCodec(false), 4);
    if (first === 0xdddddddd) return this.start("padded", new IntermediateCodec(true), 4);
    if (p.readUInt32LE(4) === 0) return this.start("full", new FullCodec(), 0);
    if (p.length < 64) return [];
    const obf = openObfuscated(p.subarray(0, 64), this.secret);
    if (!obf) throw new TransportError("unknown transport (or wrong MTProxy secret)");
    this.obf = obf;
    return this.start(`obfuscated-${obf.inner}`, innerCodec(obf.inner), 64);
  }

  private start(name: TransportName, codec: Codec, skip: number): Buffer[] {
    this.name = name;
    this.codec = codec;
    const rest = this.pending.subarray(skip);
    this.pending = Buffer.alloc(0);
    return rest.length ? this.push(Buffer.from(rest)) : [];
  }

  /** True for padded intermediate (plain or obfuscated): packets may end in 0–15 random bytes. */
  get padded(): boolean {
    return this.name === "padded" || this.name === "obfuscated-padded";
  }

  encode(payload: Uint8Array): Buffer {
    return this.wrap(this.codec!.encode(payload));
  }

  error(code: number): Buffer {
    return this.wrap((this.codec ?? new FullCodec()).error(code));
  }

  private wrap(bytes: Buffer): Buffer {
    return this.obf ? this.obf.toClient.update(bytes) : bytes;
  }
}

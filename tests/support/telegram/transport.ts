// MTProto TCP "full" transport: `int32 LE length (payload + 12) · int32 LE seq · payload · uint32 LE crc32`.
// GramJS's ConnectionTCPFull sends no tag byte first, so the stream starts with the first frame.

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

export function crc32(buf: Uint8Array, start = 0, end = buf.length): number {
  let c = -1;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** Biggest frame we accept; GramJS's largest request is a 512 KiB file part plus headers. */
export const MAX_FRAME = 2 * 1024 * 1024;

export class FrameError extends Error {}

/** Splits a byte stream into transport payloads; feed it chunks in arrival order. */
export class FullFrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private expectedSeq = 0;

  /** Returns the complete payloads now available; throws FrameError on a corrupt stream. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Buffer[] = [];
    while (this.buffered >= 4) {
      const head = this.peek(4);
      const length = head.readInt32LE(0);
      if (length < 12 || length > MAX_FRAME) throw new FrameError(`bad frame length ${length}`);
      if (this.buffered < length) break;
      const frame = this.take(length);
      const crc = frame.readUInt32LE(length - 4);
      if (crc !== crc32(frame, 0, length - 4)) throw new FrameError("bad frame crc32");
      const seq = frame.readInt32LE(4);
      if (seq !== this.expectedSeq) throw new FrameError(`bad frame seq ${seq}, expected ${this.expectedSeq}`);
      this.expectedSeq++;
      out.push(frame.subarray(8, length - 4));
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  private take(n: number): Buffer {
    let first = this.chunks[0]!;
    if (first.length < n) {
      first = Buffer.concat(this.chunks);
      this.chunks = [first];
    }
    const frame = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return frame;
  }
}

/** Frames outgoing payloads with this connection's own sequence counter. */
export class FullFrameWriter {
  private seq = 0;

  encode(payload: Uint8Array): Buffer {
    const length = payload.length + 12;
    const frame = Buffer.allocUnsafe(length);
    frame.writeInt32LE(length, 0);
    frame.writeInt32LE(this.seq++, 4);
    frame.set(payload, 8);
    frame.writeUInt32LE(crc32(frame, 0, length - 4), length - 4);
    return frame;
  }

  /** A transport-level error (e.g. -404 "auth key not found"), as Telegram sends it. GramJS reads
   * 8 bytes, sees a negative length and then reads 4 more, so the code is repeated three times. */
  static transportError(code: number): Buffer {
    const b = Buffer.allocUnsafe(12);
    b.writeInt32LE(-code, 0);
    b.writeInt32LE(-code, 4);
    b.writeInt32LE(-code, 8);
    return b;
  }
}

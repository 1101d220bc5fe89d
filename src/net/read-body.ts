// Reading an answer's body with a cap counted after decompression: a small gzip "bomb" cannot inflate
// into memory, and a large download goes to disk in pieces, never whole into memory.
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";

/** The body is larger than the cap (after decompression); nothing beyond the cap was read. */
export class BodyTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`larger than ${maxBytes} bytes`);
    this.name = "BodyTooLarge";
  }
}

/** The body's Content-Encoding is one we do not decode. */
export class UnsupportedEncoding extends Error {
  constructor(encoding: string) {
    super(`unsupported content-encoding "${encoding}"`);
    this.name = "UnsupportedEncoding";
  }
}

/** The decoded body as a stream of chunks (16 KiB pieces out of zlib, with backpressure). */
function decoded(res: Response): Readable {
  const raw = res.body ? Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>) : Readable.from([]);
  const codings = (res.headers.get("content-encoding") ?? "")
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
  let out: Readable = raw;
  // Listed in the order they were applied: undo them last first.
  for (const c of codings.reverse()) {
    const step = c === "gzip" || c === "x-gzip" ? createGunzip() : c === "deflate" ? createInflate() : c === "br" ? createBrotliDecompress() : null;
    if (!step) {
      raw.destroy();
      throw new UnsupportedEncoding(c);
    }
    out.on("error", (e) => step.destroy(e));
    out = out.pipe(step);
  }
  return out;
}

/** Reads the whole decoded body into memory, up to `maxBytes`; throws BodyTooLarge past it. */
export async function readCapped(res: Response, maxBytes: number): Promise<Uint8Array> {
  const declared = res.headers.get("content-encoding") ? NaN : Number(res.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new BodyTooLarge(maxBytes);
  }
  const stream = decoded(res);
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      size += (chunk as Uint8Array).byteLength;
      if (size > maxBytes) throw new BodyTooLarge(maxBytes);
      chunks.push(chunk as Uint8Array);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks);
}

/** Streams the decoded body into `path` (0600), up to `maxBytes`; on any failure the file is removed. */
export async function saveCapped(res: Response, path: string, maxBytes: number): Promise<number> {
  const declared = res.headers.get("content-encoding") ? NaN : Number(res.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new BodyTooLarge(maxBytes);
  }
  let size = 0;
  try {
    const stream = decoded(res);
    await pipeline(
      stream,
      async function* (source: AsyncIterable<Uint8Array>) {
        for await (const chunk of source) {
          size += chunk.byteLength;
          if (size > maxBytes) throw new BodyTooLarge(maxBytes);
          yield chunk;
        }
      },
      createWriteStream(path, { mode: 0o600 }),
    );
    return size;
  } catch (e) {
    await rm(path, { force: true });
    throw e;
  }
}

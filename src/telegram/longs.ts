// GramJS turns every 64-bit value it reads or wraps (message ids, salts, session ids, user ids, access
// hashes) into a `big-integer` and back through hex and binary strings and eight bit-shifts of a
// big-integer object: under load that was about a sixth of the CPU a message costs. The 8-byte cases
// are replaced here by the same results computed with native BigInt; other sizes, and inputs this does
// not recognise, keep GramJS's own code (tests/unit/longs.test.ts compares the two).
//
// Patched on import, in GramJS's Helpers exports. Its TL reader (BinaryReader) and the MTProto envelope
// (MTProtoState) look these up at each call and use the fast ones; the TL writer (tl/api.js) copied
// toSignedLittleBuffer when GramJS loaded — Bun evaluates CommonJS packages before this module — and
// keeps GramJS's version (same results, slower).
import type bigInt from "big-integer";

type Big = bigInt.BigInteger;
interface HelpersExports {
  readBigIntFromBuffer(buffer: Uint8Array | number[], little?: boolean, signed?: boolean): Big;
  toSignedLittleBuffer(big: unknown, number?: number): Buffer;
  returnBigInt(num: unknown): Big;
}

// The CommonJS exports object itself (an ES namespace import could not be patched).
const helpers = require("telegram/Helpers") as HelpersExports;

/** GramJS's own implementations (tests compare against them). */
export const gramjsOriginals = {
  readBigIntFromBuffer: helpers.readBigIntFromBuffer,
  toSignedLittleBuffer: helpers.toSignedLittleBuffer,
};

/** A native bigint for numbers, bigints and big-integer objects; null for anything else. */
function nativeOf(v: unknown): bigint | null {
  if (typeof v === "bigint") return v;
  if (typeof v === "number") return Number.isSafeInteger(v) ? BigInt(v) : null;
  if (v && typeof v === "object" && "value" in v) {
    const x = (v as { value: unknown }).value;
    if (typeof x === "bigint") return x;
    if (typeof x === "number" && Number.isSafeInteger(x)) return BigInt(x);
  }
  return null;
}

export function readBigIntFromBuffer(buffer: Uint8Array | number[], little = true, signed = false): Big {
  if (buffer.length !== 8) return gramjsOriginals.readBigIntFromBuffer(buffer, little, signed);
  const b = Buffer.isBuffer(buffer) ? buffer : Buffer.from(buffer);
  const v = little ? (signed ? b.readBigInt64LE(0) : b.readBigUInt64LE(0)) : signed ? b.readBigInt64BE(0) : b.readBigUInt64BE(0);
  return helpers.returnBigInt(v);
}

export function toSignedLittleBuffer(big: unknown, number = 8): Buffer {
  const n = number === 8 ? nativeOf(big) : null;
  if (n === null) return gramjsOriginals.toSignedLittleBuffer(big, number);
  const out = Buffer.allocUnsafe(8);
  out.writeBigUInt64LE(BigInt.asUintN(64, n));
  return out;
}

helpers.readBigIntFromBuffer = readBigIntFromBuffer;
helpers.toSignedLittleBuffer = toSignedLittleBuffer;

// The native-BigInt replacements of GramJS's 64-bit conversions give exactly GramJS's results.
import { expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { returnBigInt } from "telegram/Helpers";
import { gramjsOriginals, readBigIntFromBuffer, toSignedLittleBuffer } from "../../src/telegram/longs.ts";

const edges = ["0", "1", "-1", "255", "256", "-256", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "18446744073709551615", "4294967296", "-4294967297"];

test("readBigIntFromBuffer: every endianness and signedness, 8-byte and other sizes", () => {
  const buffers = [
    ...Array.from({ length: 300 }, () => randomBytes(8)),
    Buffer.alloc(8),
    Buffer.alloc(8, 0xff),
    Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0]),
    Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x80]),
    randomBytes(16),
    randomBytes(4),
  ];
  for (const b of buffers) {
    for (const little of [true, false]) {
      for (const signed of [true, false]) {
        const mine = readBigIntFromBuffer(b, little, signed);
        const theirs = gramjsOriginals.readBigIntFromBuffer(b, little, signed);
        expect(mine.toString()).toBe(theirs.toString());
        expect(mine.equals(theirs)).toBe(true);
      }
    }
    expect(readBigIntFromBuffer([...b]).toString()).toBe(gramjsOriginals.readBigIntFromBuffer([...b]).toString());
  }
});

test("toSignedLittleBuffer: big-integers, bigints and numbers, in and out of the 64-bit range", () => {
  const values: unknown[] = [];
  for (const e of edges) values.push(returnBigInt(e), BigInt(e));
  for (let i = 0; i < 300; i++) {
    const v = randomBytes(8).readBigInt64LE(0);
    values.push(v, returnBigInt(v.toString()), returnBigInt((v * 3n).toString()));
  }
  values.push(0, 1, -1, 123456789, -123456789, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, "12345", "-98765");
  for (const v of values) {
    expect(toSignedLittleBuffer(v, 8).toString("hex")).toBe(gramjsOriginals.toSignedLittleBuffer(v, 8).toString("hex"));
  }
  for (const v of [returnBigInt("123456789012345678901234567890"), returnBigInt("-5")]) {
    expect(toSignedLittleBuffer(v, 16).toString("hex")).toBe(gramjsOriginals.toSignedLittleBuffer(v, 16).toString("hex"));
  }
});

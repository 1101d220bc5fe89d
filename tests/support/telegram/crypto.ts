// MTProto 2.0 message encryption (server side) with pre-shared 256-byte auth keys.
// Encryption runs AES-IGE through Node's native AES-256-CBC (IGE is CBC over pre-xored blocks, see
// igeEncrypt), about 2.5x GramJS's pure-JS IGE on large payloads. Decryption cannot be expressed that way
// (it would need CBC *encryption* with the AES decryption function), so it uses GramJS's IGE, which beat a
// per-block native ECB loop in measurements under Bun (≈95 vs ≈65 MB/s).
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { IGE as GramIge } from "telegram/crypto/IGE";

export class CryptoError extends Error {}

function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
}

/** auth_key_id = low 64 bits of SHA1(auth_key), read little-endian (as a signed bigint key for maps). */
export function authKeyId(key: Uint8Array): bigint {
  return createHash("sha1").update(key).digest().readBigInt64LE(12);
}

/** The slices of an auth key MTProto 2.0 hashes, cut once per key (Buffer views cost a little each). */
interface KeyParts {
  kdf: [Buffer, Buffer, Buffer, Buffer]; // [x..x+36], [40+x..76+x] for x = 0 and x = 8
  msgKeyIn: Buffer; // [88..120]
  msgKeyOut: Buffer; // [96..128]
}
const keyPartsCache = new WeakMap<Buffer, KeyParts>();
function keyParts(authKey: Buffer): KeyParts {
  let p = keyPartsCache.get(authKey);
  if (!p) {
    p = {
      kdf: [authKey.subarray(0, 36), authKey.subarray(40, 76), authKey.subarray(8, 44), authKey.subarray(48, 84)],
      msgKeyIn: authKey.subarray(88, 120),
      msgKeyOut: authKey.subarray(96, 128),
    };
    keyPartsCache.set(authKey, p);
  }
  return p;
}

/** Key and IV for one message; x = 0 for client→server, 8 for server→client. */
function keyIv(authKey: Buffer, msgKey: Buffer, x: 0 | 8): { key: Buffer; iv: Buffer } {
  const parts = keyParts(authKey).kdf;
  const a = sha256(msgKey, x ? parts[2] : parts[0]);
  const b = sha256(x ? parts[3] : parts[1], msgKey);
  const key = Buffer.allocUnsafe(32);
  const iv = Buffer.allocUnsafe(32);
  a.copy(key, 0, 0, 8);
  b.copy(key, 8, 8, 24);
  a.copy(key, 24, 24, 32);
  b.copy(iv, 0, 0, 8);
  a.copy(iv, 8, 8, 24);
  b.copy(iv, 24, 24, 32);
  return { key, iv };
}

function words(b: Uint8Array): Uint32Array {
  if (b.byteOffset % 4 === 0) return new Uint32Array(b.buffer, b.byteOffset, b.length >> 2);
  const copy = new Uint8Array(b.length);
  copy.set(b);
  return new Uint32Array(copy.buffer);
}

/**
 * AES-256-IGE encryption: y_k = E(x_k ⊕ y_{k-1}) ⊕ x_{k-1}, with y_{-1} = iv[0..16], x_{-1} = iv[16..32].
 * Writing z_k = E(x_k ⊕ y_{k-1}) gives z_k = E((x_k ⊕ x_{k-2}) ⊕ z_{k-1}): plain CBC over m_k = x_k ⊕ x_{k-2}
 * (m_0 = x_0, m_1 = x_1 ⊕ x_{-1}) with IV y_{-1}; then y_k = z_k ⊕ x_{k-1}.
 */
export function igeEncrypt(plain: Uint8Array, key: Buffer, iv: Buffer): Buffer {
  const n = plain.length;
  if (n % 16 !== 0) throw new CryptoError("IGE input must be a multiple of 16 bytes");
  const x = words(plain);
  const ivw = words(iv);
  const m = new Uint32Array(n >> 2);
  for (let j = 0; j < 4 && j < m.length; j++) m[j] = x[j]!;
  for (let j = 4; j < 8 && j < m.length; j++) m[j] = x[j]! ^ ivw[j]!;
  for (let j = 8; j < m.length; j++) m[j] = x[j]! ^ x[j - 8]!;
  const c = createCipheriv("aes-256-cbc", key, iv.subarray(0, 16));
  c.setAutoPadding(false);
  const z = words(c.update(new Uint8Array(m.buffer)));
  for (let j = 0; j < 4 && j < z.length; j++) z[j] = z[j]! ^ ivw[j + 4]!;
  for (let j = 4; j < z.length; j++) z[j] = z[j]! ^ x[j - 4]!;
  return Buffer.from(z.buffer, z.byteOffset, n);
}

export function igeDecrypt(cipher: Buffer, key: Buffer, iv: Buffer): Buffer {
  return new GramIge(key, iv).decryptIge(cipher);
}

export interface DecryptedMessage {
  salt: bigint;
  sessionId: bigint;
  msgId: bigint;
  seqNo: number;
  body: Buffer;
}

/** Decrypts `auth_key_id · msg_key · encrypted_data` from a client; the key id was already matched. */
export function decryptFromClient(authKey: Buffer, packet: Buffer): DecryptedMessage {
  if (packet.length < 24 + 32 || (packet.length - 24) % 16 !== 0) throw new CryptoError("bad encrypted length");
  const msgKey = packet.subarray(8, 24);
  const { key, iv } = keyIv(authKey, msgKey, 0);
  const plain = igeDecrypt(packet.subarray(24), key, iv);
  const check = sha256(keyParts(authKey).msgKeyIn, plain);
  if (check.compare(msgKey, 0, 16, 8, 24) !== 0) throw new CryptoError("msg_key mismatch");
  const length = plain.readInt32LE(28);
  if (length < 4 || length > plain.length - 32 || length % 4 !== 0) throw new CryptoError("bad message length");
  const padding = plain.length - 32 - length;
  if (padding < 12 || padding > 1024) throw new CryptoError("bad padding");
  return {
    salt: plain.readBigInt64LE(0),
    sessionId: plain.readBigInt64LE(8),
    msgId: plain.readBigInt64LE(16),
    seqNo: plain.readInt32LE(24),
    body: plain.subarray(32, 32 + length),
  };
}

/** Builds `auth_key_id · msg_key · encrypted_data` for one server message. */
export function encryptToClient(authKey: Buffer, keyIdBytes: Buffer, salt: bigint, sessionId: bigint, msgId: bigint, seqNo: number, body: Uint8Array): Buffer {
  // 12..27 bytes of random padding keeps the total a multiple of 16 and within MTProto's 12..1024.
  const padLen = 12 + ((16 - ((32 + body.length + 12) % 16)) % 16);
  const plain = Buffer.allocUnsafe(32 + body.length + padLen);
  plain.writeBigInt64LE(salt, 0);
  plain.writeBigInt64LE(sessionId, 8);
  plain.writeBigInt64LE(msgId, 16);
  plain.writeInt32LE(seqNo, 24);
  plain.writeInt32LE(body.length, 28);
  plain.set(body, 32);
  randomBytes(padLen).copy(plain, 32 + body.length);
  const msgKey = sha256(keyParts(authKey).msgKeyOut, plain).subarray(8, 24);
  const { key, iv } = keyIv(authKey, msgKey, 8);
  return Buffer.concat([keyIdBytes, msgKey, igeEncrypt(plain, key, iv)]);
}

/** Client-side counterpart of encryptToClient, used only by this module's own tests. */
export function encryptFromClientForTest(authKey: Buffer, plain: Buffer): Buffer {
  const msgKey = sha256(authKey.subarray(88, 120), plain).subarray(8, 24);
  const { key, iv } = keyIv(authKey, msgKey, 0);
  const keyIdBytes = Buffer.alloc(8);
  keyIdBytes.writeBigInt64LE(authKeyId(authKey));
  return Buffer.concat([keyIdBytes, msgKey, igeEncrypt(plain, key, iv)]);
}

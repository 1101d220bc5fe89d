// Extra MTProto server RSA keys (TELEGRAM_SERVER_KEYS): for private and test MTProto servers, trusted in
// addition to Telegram's own keys built into GramJS. A new session's key exchange only succeeds against a
// server whose key the client trusts, so without this setting nothing but real Telegram is trusted.
import { createHash, createPublicKey } from "node:crypto";
import { _serverKeys } from "telegram/crypto/RSA";
import { returnBigInt } from "telegram/Helpers";

export interface ServerKey {
  /** Telegram's fingerprint: low 64 bits of SHA1(TL bytes n · TL bytes e), as a signed decimal string. */
  fingerprint: string;
  n: bigint;
  e: number;
}

const PEM_BLOCK = /-----BEGIN (RSA )?PUBLIC KEY-----[\s\S]*?-----END (RSA )?PUBLIC KEY-----/g;

/** TL `bytes` serialization (length prefix, padded to 4), as the fingerprint hashes it. */
function tlBytes(data: Buffer): Buffer {
  const head = data.length < 254 ? Buffer.from([data.length]) : Buffer.from([254, data.length & 255, (data.length >> 8) & 255, (data.length >> 16) & 255]);
  const body = Buffer.concat([head, data]);
  return Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
}

/**
 * Parses one or more PEM public keys (PKCS#1 "RSA PUBLIC KEY" as Telegram publishes them, or SPKI
 * "PUBLIC KEY"); literal "\n" sequences count as line breaks so the PEM fits in one env line.
 * Blank input gives []; anything else that is not a list of RSA public keys throws an Error saying why.
 */
export function parseServerKeys(text: string | null | undefined): ServerKey[] {
  const normalized = (text ?? "").replaceAll("\\n", "\n").trim();
  if (!normalized) return [];
  const blocks = normalized.match(PEM_BLOCK) ?? [];
  const leftover = normalized.replace(PEM_BLOCK, "").trim();
  if (blocks.length === 0 || leftover) throw new Error("expected PEM public keys (-----BEGIN RSA PUBLIC KEY----- … -----END RSA PUBLIC KEY-----)");
  return blocks.map((pem, i) => {
    let jwk;
    try {
      jwk = createPublicKey(pem).export({ format: "jwk" });
    } catch {
      throw new Error(`key ${i + 1} is not a readable PEM public key`);
    }
    if (jwk.kty !== "RSA" || !jwk.n || !jwk.e) throw new Error(`key ${i + 1} is not an RSA key`);
    const n = Buffer.from(jwk.n, "base64url");
    const e = Buffer.from(jwk.e, "base64url");
    if (n.length !== 256) throw new Error(`key ${i + 1} must be 2048-bit RSA (MTProto's size), got ${n.length * 8} bits`);
    const fingerprint = createHash("sha1").update(tlBytes(n)).update(tlBytes(e)).digest().readBigInt64LE(12).toString();
    return { fingerprint, n: BigInt(`0x${n.toString("hex")}`), e: e.readUIntBE(0, e.length) };
  });
}

/** Registers the keys with GramJS (process-wide, by fingerprint); returns the fingerprints trusted. */
export function trustServerKeys(keys: readonly ServerKey[]): string[] {
  for (const k of keys) {
    // GramJS looks keys up by fingerprint.toString() and does its RSA arithmetic with big-integer values.
    _serverKeys.set(k.fingerprint, { n: returnBigInt(k.n), e: k.e });
  }
  return keys.map((k) => k.fingerprint);
}

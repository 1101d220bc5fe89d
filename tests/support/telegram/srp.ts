// The server side of Telegram's 2FA check (Telegram's "Two-factor authentication", SRP), algorithm
// passwordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow. The server keeps only the verifier
// v = g^x mod p; the client proves it knows the password without sending it (auth.checkPassword).
import { createHash, pbkdf2Sync, randomBytes } from "node:crypto";
import { fromBytes, modPow, TELEGRAM_G, TELEGRAM_PRIME, TELEGRAM_PRIME_BYTES, toBytes } from "./bignum.ts";

const H = (...parts: Uint8Array[]): Buffer => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};
const pad = (n: bigint): Buffer => toBytes(n, 256);

export interface PasswordRecord {
  salt1: Buffer;
  salt2: Buffer;
  /** The SRP verifier g^x mod p. */
  v: bigint;
  hint: string;
}

export interface SrpChallenge {
  srpId: bigint;
  b: bigint;
  B: bigint;
}

/** x = PH2(password, salt1, salt2), exactly as clients compute it. */
export function passwordHash(password: string, salt1: Buffer, salt2: Buffer): bigint {
  const sh = (data: Uint8Array, salt: Buffer) => H(salt, data, salt);
  const ph1 = sh(sh(Buffer.from(password, "utf8"), salt1), salt2);
  return fromBytes(sh(pbkdf2Sync(ph1, salt1, 100000, 64, "sha512"), salt2));
}

export function makePasswordRecord(password: string, hint = ""): PasswordRecord {
  // Telegram's salt1 is the server's 8 bytes plus 32 the client added when it set the password.
  const salt1 = randomBytes(40);
  const salt2 = randomBytes(16);
  const x = passwordHash(password, salt1, salt2);
  return { salt1, salt2, v: modPow(BigInt(TELEGRAM_G), x, TELEGRAM_PRIME), hint };
}

const k = (): bigint => fromBytes(H(TELEGRAM_PRIME_BYTES, pad(BigInt(TELEGRAM_G))));

/** A fresh B for account.getPassword: B = k·v + g^b mod p. */
export function newChallenge(rec: PasswordRecord): SrpChallenge {
  const b = fromBytes(randomBytes(256));
  const B = (k() * rec.v + modPow(BigInt(TELEGRAM_G), b, TELEGRAM_PRIME)) % TELEGRAM_PRIME;
  return { srpId: randomBytes(8).readBigInt64LE(0), b, B };
}

/** Checks the client's A and M1 against the challenge; true when the password was right. */
export function verifyProof(rec: PasswordRecord, ch: SrpChallenge, aBytes: Uint8Array, m1: Uint8Array): boolean {
  const A = fromBytes(aBytes);
  if (A <= 0n || A >= TELEGRAM_PRIME) return false;
  const u = fromBytes(H(pad(A), pad(ch.B)));
  if (u === 0n) return false;
  const S = modPow((A * modPow(rec.v, u, TELEGRAM_PRIME)) % TELEGRAM_PRIME, ch.b, TELEGRAM_PRIME);
  const K = H(pad(S));
  const hp = H(TELEGRAM_PRIME_BYTES);
  const hg = H(pad(BigInt(TELEGRAM_G)));
  const expected = H(Buffer.from(hp.map((x, i) => x ^ hg[i]!)), H(rec.salt1), H(rec.salt2), pad(A), pad(ch.B), K);
  return expected.length === m1.length && expected.equals(Buffer.from(m1));
}

export { TELEGRAM_G, TELEGRAM_PRIME_BYTES, toBytes as srpBytes };

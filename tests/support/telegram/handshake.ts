// The server side of MTProto's auth-key creation (Telegram's "Creating an Authorization Key"):
// req_pq_multi → resPQ, req_DH_params (RSA_PAD-encrypted p_q_inner_data) → server_DH_params_ok,
// set_client_DH_params → dh_gen_ok. The RSA key is made for the tests at server start (TEST-ONLY: it
// lives in memory; clients must be told to trust it, e.g. the appliance's TELEGRAM_SERVER_KEYS).
import { constants, createHash, createPublicKey, generateKeyPairSync, generatePrimeSync, privateDecrypt, randomBytes, type KeyObject } from "node:crypto";
import { Api } from "telegram";
import { readBigIntFromBuffer, toSignedLittleBuffer } from "telegram/Helpers";
import { fromBytes, modPow, TELEGRAM_G, TELEGRAM_PRIME, TELEGRAM_PRIME_BYTES, toBytes } from "./bignum.ts";
import { igeDecrypt, igeEncrypt } from "./crypto.ts";
import { readObject, tlBytes } from "./tl.ts";

const sha1 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash("sha1");
  for (const p of parts) h.update(p);
  return h.digest();
};
const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};

/** Telegram's RSA key fingerprint: the low 64 bits of SHA1(TL bytes n · TL bytes e), as a signed long. */
export function rsaFingerprint(n: Buffer, e: Buffer): bigint {
  return sha1(tlBytes(n), tlBytes(e)).readBigInt64LE(12);
}

/** A test-only RSA-2048 server key: the private half signs nothing and never leaves the process. */
export interface ServerRsaKey {
  privateKey: KeyObject;
  /** PKCS#1 PEM ("BEGIN RSA PUBLIC KEY"), the format Telegram publishes its keys in. */
  publicPem: string;
  fingerprint: bigint;
}

export function makeServerRsaKey(): ServerRsaKey {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 65537 });
  const publicPem = String(publicKey.export({ type: "pkcs1", format: "pem" }));
  const jwk = createPublicKey(publicPem).export({ format: "jwk" });
  const n = Buffer.from(jwk.n!, "base64url");
  const e = Buffer.from(jwk.e!, "base64url");
  return { privateKey, publicPem, fingerprint: rsaFingerprint(n, e) };
}

export class HandshakeError extends Error {}

type BigInteger = ReturnType<typeof readBigIntFromBuffer>;

/** One connection's key exchange; `handle` answers each unencrypted request in turn. */
export class Handshake {
  private nonce?: BigInteger;
  private serverNonce?: BigInteger;
  private newNonce?: BigInteger;
  private p = 0n;
  private q = 0n;
  private a = 0n;
  private tmp?: { key: Buffer; iv: Buffer };

  constructor(
    private readonly rsa: ServerRsaKey,
    /** Called once the key exists; the connection registers it with the world. */
    private readonly onAuthKey: (key: Buffer) => void,
  ) {}

  /** Answers one unencrypted request body (a TL object) with the TL reply body. */
  handle(body: Buffer): Buffer {
    let req: unknown;
    try {
      req = readObject(body);
    } catch {
      throw new HandshakeError("unreadable unencrypted message");
    }
    if (req instanceof Api.ReqPqMulti || req instanceof Api.ReqPq) return this.reqPq(req.nonce);
    try {
      if (req instanceof Api.ReqDHParams) return this.reqDhParams(req);
      if (req instanceof Api.SetClientDHParams) return this.setClientDhParams(req);
    } catch (e) {
      // Garbage inside the encrypted parts (RSA input ≥ n, bad IGE length, unknown inner object) is the
      // client's fault, not a server bug.
      if (e instanceof HandshakeError) throw e;
      throw new HandshakeError(`malformed key exchange: ${e instanceof Error ? e.message : String(e)}`);
    }
    throw new HandshakeError(`unexpected unencrypted request ${(req as { className?: string })?.className}`);
  }

  private reqPq(nonce: BigInteger): Buffer {
    this.nonce = nonce;
    this.serverNonce = readBigIntFromBuffer(randomBytes(16), true, true);
    // pq: a product of two distinct 31-bit primes, p < q, as Telegram sends (fits in 63 bits).
    do {
      this.p = generatePrimeSync(31, { bigint: true });
      this.q = generatePrimeSync(31, { bigint: true });
    } while (this.p === this.q);
    if (this.p > this.q) [this.p, this.q] = [this.q, this.p];
    return new Api.ResPQ({
      nonce,
      serverNonce: this.serverNonce,
      pq: toBytes(this.p * this.q),
      serverPublicKeyFingerprints: [readBigIntFromBuffer(toLong(this.rsa.fingerprint), true, true)],
    }).getBytes();
  }

  private checkNonces(nonce: BigInteger, serverNonce: BigInteger): void {
    if (!this.nonce || !this.serverNonce || !nonce.eq(this.nonce) || !serverNonce.eq(this.serverNonce)) throw new HandshakeError("nonce mismatch");
  }

  private reqDhParams(req: Api.ReqDHParams): Buffer {
    this.checkNonces(req.nonce, req.serverNonce);
    if (fromBytes(req.p) !== this.p || fromBytes(req.q) !== this.q) throw new HandshakeError("wrong p/q");
    if (BigInt(req.publicKeyFingerprint.toString()) !== this.rsa.fingerprint) throw new HandshakeError("unknown key fingerprint");
    // RSA_PAD: key_aes_encrypted = temp_key_xor (32) · aes_encrypted (224), RSA without padding.
    const m = privateDecrypt({ key: this.rsa.privateKey, padding: constants.RSA_NO_PADDING }, Buffer.from(req.encryptedData));
    const aesEncrypted = m.subarray(32);
    const tempKey = Buffer.from(sha256(aesEncrypted).map((b, i) => b ^ m[i]!));
    const dataWithHash = igeDecrypt(aesEncrypted, tempKey, Buffer.alloc(32));
    const dataWithPadding = Buffer.from(dataWithHash.subarray(0, 192)).reverse();
    if (!sha256(tempKey, dataWithPadding).equals(dataWithHash.subarray(192, 224))) throw new HandshakeError("RSA_PAD hash mismatch");
    const inner = readObject(dataWithPadding);
    if (!(inner instanceof Api.PQInnerData || inner instanceof Api.PQInnerDataDc)) throw new HandshakeError("no p_q_inner_data");
    this.checkNonces(inner.nonce, inner.serverNonce);
    this.newNonce = inner.newNonce;
    const newNonce = toSignedLittleBuffer(inner.newNonce, 32);
    const serverNonce = toSignedLittleBuffer(this.serverNonce!, 16);
    const h1 = sha1(newNonce, serverNonce);
    const h2 = sha1(serverNonce, newNonce);
    const h3 = sha1(newNonce, newNonce);
    this.tmp = {
      key: Buffer.concat([h1, h2.subarray(0, 12)]),
      iv: Buffer.concat([h2.subarray(12, 20), h3, newNonce.subarray(0, 4)]),
    };
    this.a = fromBytes(randomBytes(256));
    const answer = new Api.ServerDHInnerData({
      nonce: this.nonce!,
      serverNonce: this.serverNonce!,
      g: TELEGRAM_G,
      dhPrime: TELEGRAM_PRIME_BYTES,
      gA: toBytes(modPow(BigInt(TELEGRAM_G), this.a, TELEGRAM_PRIME), 256),
      serverTime: Math.floor(Date.now() / 1000),
    }).getBytes();
    const withHash = Buffer.concat([sha1(answer), answer]);
    const padded = Buffer.concat([withHash, randomBytes((16 - (withHash.length % 16)) % 16)]);
    return new Api.ServerDHParamsOk({
      nonce: this.nonce!,
      serverNonce: this.serverNonce!,
      encryptedAnswer: igeEncrypt(padded, this.tmp.key, this.tmp.iv),
    }).getBytes();
  }

  private setClientDhParams(req: Api.SetClientDHParams): Buffer {
    this.checkNonces(req.nonce, req.serverNonce);
    if (!this.tmp || !this.newNonce) throw new HandshakeError("set_client_DH_params before req_DH_params");
    const plain = igeDecrypt(Buffer.from(req.encryptedData), this.tmp.key, this.tmp.iv);
    const inner = readObject(plain.subarray(20));
    if (!(inner instanceof Api.ClientDHInnerData)) throw new HandshakeError("no client_DH_inner_data");
    const innerBytes = inner.getBytes();
    if (!sha1(innerBytes).equals(plain.subarray(0, 20))) throw new HandshakeError("client_DH_inner_data hash mismatch");
    const gB = fromBytes(inner.gB);
    if (gB <= 1n || gB >= TELEGRAM_PRIME - 1n) throw new HandshakeError("g_b out of range");
    // auth_key is g^ab as 256 bytes, as Telegram makes it. GramJS drops leading zero bytes, so for 1 key
    // in 256 its key differs, new_nonce_hash1 below does not match its own, and it throws and starts
    // over (if its connectionRetries allow) — exactly what happens against Telegram.
    const key = toBytes(modPow(gB, this.a, TELEGRAM_PRIME), 256);
    const auxHash = sha1(key).subarray(0, 8);
    const newNonceHash1 = sha1(toSignedLittleBuffer(this.newNonce, 32), Buffer.from([1]), auxHash).subarray(4, 20);
    this.onAuthKey(key);
    const reply = new Api.DhGenOk({
      nonce: this.nonce!,
      serverNonce: this.serverNonce!,
      newNonceHash1: readBigIntFromBuffer(newNonceHash1, true, true),
    }).getBytes();
    this.tmp = undefined;
    return reply;
  }
}

function toLong(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(v);
  return b;
}

// TELEGRAM_SERVER_KEYS parsing and GramJS registration (src/telegram/server-keys.ts), the setting in
// src/config.ts, and the loopback's SRP verifier against GramJS's own client-side proof.
import { describe, expect, test } from "bun:test";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { Api } from "telegram";
import { _serverKeys } from "telegram/crypto/RSA";
import { returnBigInt } from "telegram/Helpers";
import { computeCheck } from "telegram/Password";
import { loadSettings } from "../src/config.ts";
import { parseServerKeys, trustServerKeys } from "../src/telegram/server-keys.ts";
import { makeServerRsaKey } from "./support/telegram/index.ts";
import { makePasswordRecord, newChallenge, srpBytes, TELEGRAM_G, TELEGRAM_PRIME_BYTES, verifyProof } from "./support/telegram/srp.ts";

const toB64u = (n: bigint) => {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Buffer.from(hex, "hex").toString("base64url");
};

// Telegram's own keys as GramJS ships them (captured before any test adds keys).
const builtIn = [..._serverKeys.entries()].map(([fingerprint, k]) => ({ fingerprint, n: BigInt(k.n.toString()), e: k.e }));

describe("TELEGRAM_SERVER_KEYS", () => {
  test("fingerprints match GramJS's for Telegram's own keys (PKCS#1 and SPKI PEM)", () => {
    expect(builtIn.length).toBeGreaterThan(0);
    for (const k of builtIn) {
      const key = createPublicKey({ key: { kty: "RSA", n: toB64u(k.n), e: toB64u(BigInt(k.e)) }, format: "jwk" });
      for (const type of ["pkcs1", "spki"] as const) {
        const [parsed] = parseServerKeys(String(key.export({ type, format: "pem" })));
        expect(parsed).toEqual({ fingerprint: k.fingerprint, n: k.n, e: k.e });
      }
    }
  });

  test("several keys, one env line with \\n escapes; blank means none", () => {
    const a = makeServerRsaKey();
    const b = makeServerRsaKey();
    const oneLine = `${a.publicPem}${b.publicPem}`.replaceAll("\n", "\\n");
    expect(parseServerKeys(oneLine).map((k) => k.fingerprint)).toEqual([a.fingerprint.toString(), b.fingerprint.toString()]);
    expect(parseServerKeys("")).toEqual([]);
    expect(parseServerKeys("  ")).toEqual([]);
    expect(parseServerKeys(undefined)).toEqual([]);
  });

  test("what is not a 2048-bit RSA public key is refused with the reason", () => {
    expect(() => parseServerKeys("not a key")).toThrow("expected PEM public keys");
    const good = makeServerRsaKey().publicPem;
    expect(() => parseServerKeys(`${good}\ntrailing junk`)).toThrow("expected PEM public keys");
    expect(() => parseServerKeys("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")).toThrow("key 1 is not a readable PEM public key");
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" });
    expect(() => parseServerKeys(String(ec))).toThrow("key 1 is not an RSA key");
    const small = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "pkcs1", format: "pem" });
    expect(() => parseServerKeys(`${good}${String(small)}`)).toThrow("key 2 must be 2048-bit RSA");
  });

  test("trustServerKeys registers the key where GramJS's key exchange looks it up", () => {
    const k = makeServerRsaKey();
    const fp = k.fingerprint.toString();
    expect(_serverKeys.has(fp)).toBe(false); // never trusted by default
    expect(trustServerKeys(parseServerKeys(k.publicPem))).toEqual([fp]);
    const jwk = createPublicKey(k.publicPem).export({ format: "jwk" });
    expect(_serverKeys.get(fp)!.n.equals(returnBigInt(BigInt(`0x${Buffer.from(jwk.n!, "base64url").toString("hex")}`)))).toBe(true);
    expect(_serverKeys.get(fp)!.e).toBe(65537);
    // Telegram's own keys stay.
    for (const b of builtIn) expect(_serverKeys.has(b.fingerprint)).toBe(true);
  });

  test("the setting: off by default, parsed when set, a bad value names the setting", () => {
    expect(loadSettings([], {}).telegramServerKeys).toEqual([]);
    const k = makeServerRsaKey();
    expect(loadSettings([], { TELEGRAM_SERVER_KEYS: k.publicPem }).telegramServerKeys.map((x) => x.fingerprint)).toEqual([k.fingerprint.toString()]);
    expect(loadSettings(["--telegram-server-keys", k.publicPem.replaceAll("\n", "\\n")], {}).telegramServerKeys).toHaveLength(1);
    expect(() => loadSettings([], { TELEGRAM_SERVER_KEYS: "/etc/keys.pem" })).toThrow("TELEGRAM_SERVER_KEYS: expected PEM public keys");
  });
});

describe("loopback SRP", () => {
  const password = (rec: ReturnType<typeof makePasswordRecord>, ch: ReturnType<typeof newChallenge>) =>
    new Api.account.Password({
      hasPassword: true,
      currentAlgo: new Api.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow({ salt1: rec.salt1, salt2: rec.salt2, g: TELEGRAM_G, p: TELEGRAM_PRIME_BYTES }),
      srp_B: srpBytes(ch.B, 256),
      srpId: returnBigInt(ch.srpId),
      newAlgo: new Api.PasswordKdfAlgoUnknown(),
      newSecureAlgo: new Api.SecurePasswordKdfAlgoUnknown(),
      secureRandom: Buffer.alloc(32),
    });

  test("GramJS's proof for the right password verifies; a wrong password, a replayed proof for another challenge or a tampered M1 do not", async () => {
    const rec = makePasswordRecord("pässwörd ✓", "hint");
    const ch = newChallenge(rec);
    const right = await computeCheck(password(rec, ch), "pässwörd ✓");
    expect(verifyProof(rec, ch, right.A, right.M1)).toBe(true);
    const wrong = await computeCheck(password(rec, ch), "password");
    expect(verifyProof(rec, ch, wrong.A, wrong.M1)).toBe(false);
    expect(verifyProof(rec, newChallenge(rec), right.A, right.M1)).toBe(false);
    const tampered = Buffer.from(right.M1);
    tampered[0]! ^= 1;
    expect(verifyProof(rec, ch, right.A, tampered)).toBe(false);
    expect(verifyProof(rec, ch, Buffer.alloc(256), right.M1)).toBe(false);
  });
});

// Big-number helpers for the key exchange and SRP (native bigint; 2048-bit modpow takes a few ms).

/** Telegram's 2048-bit safe prime, used for the auth-key DH and for SRP 2FA (GramJS checks it). */
export const TELEGRAM_PRIME_HEX =
  "c71caeb9c6b1c9048e6c522f70f13f73980d40238e3e21c14934d037563d930f48198a0aa7c14058229493d22530f4db" +
  "fa336f6e0ac925139543aed44cce7c3720fd51f69458705ac68cd4fe6b6b13abdc9746512969328454f18faf8c595f64" +
  "2477fe96bb2a941d5bcd1d4ac8cc49880708fa9b378e3c4f3a9060bee67cf9a4a4a695811051907e162753b56b0f6b41" +
  "0dba74d8a84b2a14b3144e0ef1284754fd17ed950d5965b4b9dd46582db1178d169c6bc465b0d6ff9ca3928fef5b9ae4" +
  "e418fc15e83ebea0f87fa9ff5eed70050ded2849f47bf959d956850ce929851f0d8115f635b105ee2e4e15d04b2454bf" +
  "6f4fadf034b10403119cd8e3b92fcc5b";
export const TELEGRAM_PRIME = BigInt(`0x${TELEGRAM_PRIME_HEX}`);
export const TELEGRAM_PRIME_BYTES = Buffer.from(TELEGRAM_PRIME_HEX, "hex");
export const TELEGRAM_G = 3;

export function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = base % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return result;
}

/** Big-endian unsigned bytes → bigint. */
export function fromBytes(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString("hex")}`);
}

/** bigint → big-endian bytes, left-padded to `size` (or minimal length when size is omitted). */
export function toBytes(n: bigint, size?: number): Buffer {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const raw = Buffer.from(hex, "hex");
  if (size === undefined || raw.length === size) return raw;
  if (raw.length > size) throw new Error(`number does not fit ${size} bytes`);
  return Buffer.concat([Buffer.alloc(size - raw.length), raw]);
}

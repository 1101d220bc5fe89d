// Client tokens: 256 random bits, shown once; only a SHA-256 hash is stored. Looking a token up by its
// hash never compares the secret itself, and the admin token is compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const newToken = (): string => randomBytes(32).toString("base64url");

export const hashToken = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex");

export function sameSecret(a: string, b: string): boolean {
  // Hash first: equal lengths for timingSafeEqual, and no early exit on length.
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

/** The token a request carries: `Authorization: Bearer …` or a `token` header. */
export function tokenFromHeaders(get: (name: string) => string | null): string | null {
  const auth = get("authorization");
  if (auth) {
    const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1]!;
  }
  const plain = get("token")?.trim();
  return plain ? plain : null;
}

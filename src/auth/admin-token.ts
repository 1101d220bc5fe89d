// The admin token: ADMIN_TOKEN if set; otherwise one generated on first start and kept in
// DATA_DIR/admin-token (mode 0600), so the operator can read it from the box and nobody else.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../log.ts";
import { newToken } from "./tokens.ts";

export class AdminTokenError extends Error {}

export function loadAdminToken(configured: string | null, dataDir: string, log: Logger, minLength = 32): string {
  if (configured) return configured;
  const file = join(dataDir, "admin-token");
  if (existsSync(file)) {
    const token = readFileSync(file, "utf8").trim();
    if (token.length >= minLength) return token;
    // A short token someone wrote here by hand can be guessed: refuse it rather than replace it silently.
    if (token) throw new AdminTokenError(`${file} holds a token shorter than ${minLength} characters; put a longer one there, or delete the file to have one generated`);
  }
  mkdirSync(dataDir, { recursive: true });
  const token = newToken();
  writeFileSync(file, token + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
  // Where it is, never what it is: logs are copied to places the token must not reach.
  log.info(`generated an admin token into ${file} (readable only by this user); send it as 'Authorization: Bearer <token>' to create clients`, { file });
  return token;
}

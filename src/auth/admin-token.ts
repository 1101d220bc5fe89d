// The admin token: ADMIN_TOKEN if set; otherwise one generated on first start and kept in
// DATA_DIR/admin-token (mode 0600), so the operator can read it from the box and nobody else.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../log.ts";
import { newToken } from "./tokens.ts";

export function loadAdminToken(configured: string | null, dataDir: string, log: Logger): string {
  if (configured) return configured;
  const file = join(dataDir, "admin-token");
  if (existsSync(file)) {
    const token = readFileSync(file, "utf8").trim();
    if (token) return token;
  }
  mkdirSync(dataDir, { recursive: true });
  const token = newToken();
  writeFileSync(file, token + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
  // Printed exactly once, on the start that created it.
  log.info("generated an admin token; use it as 'Authorization: Bearer <token>' to create clients", { adminToken: token, file });
  return token;
}

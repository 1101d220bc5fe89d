// `planfix-telegram backup FILE`: asks the running appliance for a consistent copy of its database
// (GET /admin/backup with the admin token) and writes it to FILE, readable by its owner only.
import { closeSync, existsSync, fchmodSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { loadSettings, SettingsError } from "./config.ts";

export const BACKUP_USAGE =
  "Usage: planfix-telegram backup FILE [--url URL] [--data-dir DIR] [--port N]\n" +
  "  Writes a consistent copy of the running appliance's database to FILE (mode 0600).\n" +
  "  URL: --url or APPLIANCE_URL (default http://127.0.0.1:PORT, https:// when TLS is on).\n" +
  "  The admin token: ADMIN_TOKEN, else DATA_DIR/admin-token.\n";

/** Runs the subcommand; resolves with the process exit code. `args` are the words after `backup`. */
export async function runBackup(args: readonly string[], env: Record<string, string | undefined>, out = process.stderr): Promise<number> {
  const rest: string[] = [];
  let url = env.APPLIANCE_URL?.trim() || null;
  let file: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--help" || a === "-h") return (out.write(BACKUP_USAGE), 0);
    if (a === "--url") url = args[++i] ?? null;
    else if (a.startsWith("--url=")) url = a.slice(6);
    else if (a.startsWith("--")) rest.push(a, ...(a.includes("=") ? [] : [args[++i] ?? ""]));
    else if (file === null) file = a;
    else return (out.write(`planfix-telegram backup: one FILE only\n${BACKUP_USAGE}`), 2);
  }
  if (!file) return (out.write(`planfix-telegram backup: FILE is missing\n${BACKUP_USAGE}`), 2);
  let settings;
  try {
    settings = loadSettings(rest, env);
  } catch (e) {
    if (!(e instanceof SettingsError)) throw e;
    return (out.write(`planfix-telegram backup: ${e.message}\n`), 2);
  }
  const tokenFile = join(settings.dataDir, "admin-token");
  const token = settings.adminToken ?? (existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : "");
  if (!token) return (out.write(`planfix-telegram backup: no admin token (set ADMIN_TOKEN, or run where ${tokenFile} is readable)\n`), 2);
  const tlsOn = settings.tls.kind !== "off";
  const base = (url ?? `${tlsOn ? "https" : "http"}://127.0.0.1:${settings.port}`).replace(/\/+$/, "");
  // On loopback the certificate names the public domain, not 127.0.0.1; the token never leaves the box.
  const loopback = /^https:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(base);
  let res: Response;
  try {
    res = await fetch(`${base}/admin/backup`, { headers: { authorization: `Bearer ${token}` }, tls: loopback ? { rejectUnauthorized: false } : undefined });
  } catch (e) {
    return (out.write(`planfix-telegram backup: cannot reach the appliance at ${base}: ${e instanceof Error ? e.message : String(e)}\n`), 1);
  }
  if (!res.ok || !res.body) {
    const text = await res.text().catch(() => "");
    return (out.write(`planfix-telegram backup: the appliance answered ${res.status} ${text.slice(0, 300)}\n`), 1);
  }
  const tmp = `${file}.partial`;
  const fd = openSync(tmp, "w", 0o600);
  fchmodSync(fd, 0o600);
  let bytes = 0;
  try {
    for await (const chunk of res.body) {
      writeSync(fd, chunk);
      bytes += chunk.byteLength;
    }
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    return (out.write(`planfix-telegram backup: the download broke off: ${e instanceof Error ? e.message : String(e)}\n`), 1);
  }
  closeSync(fd);
  renameSync(tmp, file);
  out.write(`planfix-telegram backup: wrote ${file} (${bytes} bytes)\n`);
  return 0;
}

// Upgrades: a newer binary migrates by itself (tests/unit/migrations.test.ts); a binary older than the
// database refuses to start with a clear message and leaves the file exactly as it was.
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb } from "../../src/store/db.ts";
import { SchemaTooNewError } from "../../src/store/schema-guard.ts";
import { freePort, Proc } from "./support.ts";

const dir = mkdtempSync(join(tmpdir(), "pt-upgrade-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** Everything a binary could damage: the schema, the migration history and the rows (not the journal mode). */
function contents(file: string): string {
  const db = new Database(file, { readonly: true });
  const schema = db.query("SELECT type, name, sql FROM sqlite_master ORDER BY name").all();
  const history = db.query("SELECT hash, created_at FROM __drizzle_migrations ORDER BY id").all();
  const clients = db.query("SELECT * FROM clients ORDER BY id").all();
  db.close();
  return createHash("sha256").update(JSON.stringify({ schema, history, clients })).digest("hex");
}

/** A database as a newer release would leave it: every migration we know plus one we do not. */
function newerDatabase(dataDir: string): string {
  const file = join(dataDir, "planfix-telegram.db");
  openDb(file).$client.close();
  const db = new Database(file);
  db.query("INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)").run("f".repeat(64), Date.now() + 86_400_000);
  db.exec("CREATE TABLE from_the_future (id INTEGER PRIMARY KEY)");
  db.query("INSERT INTO clients (name, token_hash) VALUES ('acme', 'h')").run();
  db.close();
  return file;
}

test("the compiled binary refuses a database migrated by a newer release, exits 1, and does not touch it", async () => {
  const dataDir = join(dir, "data");
  const file = newerDatabase(dataDir);
  const before = contents(file);
  const app = new Proc([], {
    PORT: String(await freePort()),
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    ADMIN_TOKEN: "upgrade-admin-token-0123456789abcdef01234567",
    LOG_LEVEL: "info",
  });
  expect(await app.proc.exited).toBe(1);
  expect(app.text()).toContain("cannot open the database");
  expect(app.text()).toMatch(/upgraded by a newer release \(1 migration unknown to this binary/);
  expect(app.text()).not.toContain('"msg":"listening"');
  expect(contents(file)).toBe(before);
});

test("openDb throws SchemaTooNewError for it; a database this binary made opens normally", () => {
  const dataDir = join(dir, "unit");
  const file = newerDatabase(dataDir);
  expect(() => openDb(file)).toThrow(SchemaTooNewError);
  const ok = openDb(join(dataDir, "ours.db"));
  ok.$client.close();
  expect(() => openDb(join(dataDir, "ours.db")).$client.close()).not.toThrow();
});

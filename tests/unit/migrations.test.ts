// A fresh box starts from nothing; a newer binary upgrades the database an older one left.
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb } from "../../src/store/db.ts";

const dir = mkdtempSync(join(tmpdir(), "pt-migrate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tables = (db: Database) => (db.query("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);

test("a fresh database gets every table", () => {
  const db = openDb(join(dir, "fresh.db"));
  expect(tables(db.$client)).toEqual(expect.arrayContaining(["accounts", "clients", "files", "outbound_jobs", "peers", "planfix_outbox", "sent_messages"]));
  db.$client.close();
});

test("a database from the first release is upgraded in place, data kept", () => {
  // What the first release did: only migration 0000, recorded the way drizzle records it.
  const file = join(dir, "old.db");
  const old = new Database(file, { create: true });
  const sql = readFileSync(join(import.meta.dir, "../../drizzle/0000_init.sql"), "utf8");
  for (const stmt of sql.split("--> statement-breakpoint")) old.exec(stmt);
  const journal = JSON.parse(readFileSync(join(import.meta.dir, "../../drizzle/meta/_journal.json"), "utf8"));
  old.exec("CREATE TABLE __drizzle_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, hash text NOT NULL, created_at numeric)");
  old.query("INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)").run(createHash("sha256").update(sql).digest("hex"), journal.entries[0].when);
  old.query("INSERT INTO clients (name, token_hash) VALUES ('acme', 'h')").run();
  expect(tables(old)).not.toContain("outbound_jobs");
  old.close();

  const db = openDb(file);
  expect(tables(db.$client)).toContain("outbound_jobs");
  expect(db.$client.query("SELECT name FROM clients").all()).toEqual([{ name: "acme" }]);
  db.$client.close();
  // Opening again applies nothing twice.
  const again = openDb(file);
  expect((again.$client.query("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number }).n).toBe(journal.entries.length);
  again.$client.close();
});

test("a database of the 0001 schema gets 0002_queues: items an old release marked failed are parked, so they can be re-sent", () => {
  const file = join(dir, "v1.db");
  const old = new Database(file, { create: true });
  const journal = JSON.parse(readFileSync(join(import.meta.dir, "../../drizzle/meta/_journal.json"), "utf8"));
  old.exec("CREATE TABLE __drizzle_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, hash text NOT NULL, created_at numeric)");
  for (const entry of journal.entries.slice(0, 2)) {
    const sql = readFileSync(join(import.meta.dir, `../../drizzle/${entry.tag}.sql`), "utf8");
    for (const stmt of sql.split("--> statement-breakpoint")) old.exec(stmt);
    old.query("INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)").run(createHash("sha256").update(sql).digest("hex"), entry.when);
  }
  old.exec("INSERT INTO clients (name, token_hash) VALUES ('acme', 'h')");
  old.exec("INSERT INTO accounts (client_id, number, url_planfix, token_planfix, session_path) VALUES (1, '380955821319', 'http://x', 'k', 's')");
  old.exec(
    "INSERT INTO planfix_outbox (account_id, chat_key, kind, dedup_key, event, state, last_error) VALUES (1, '7', 'message', 'm1', '{}', 'failed', 'Planfix answered newMessage with 401: Invalid token'), (1, '7', 'message', 'm2', '{}', 'done', NULL)",
  );
  old.close();

  const db = openDb(file);
  expect(db.$client.query("SELECT dedup_key, state, last_error, retry_from FROM planfix_outbox ORDER BY id").all()).toEqual([
    { dedup_key: "m1", state: "parked", last_error: "Planfix answered newMessage with 401: Invalid token", retry_from: null },
    { dedup_key: "m2", state: "done", last_error: null, retry_from: null },
  ]);
  expect((db.$client.query("PRAGMA table_info(outbound_jobs)").all() as { name: string }[]).map((c) => c.name)).toContain("retry_from");
  db.$client.close();
});

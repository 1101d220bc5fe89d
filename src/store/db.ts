// Opens (or creates) the SQLite database and brings its schema up to date from the embedded migrations.
import { Database } from "bun:sqlite";
import { sql } from "drizzle-orm";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { chmodSync, existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { embeddedMigrations } from "./migrations.macro.ts" with { type: "macro" };
import * as schema from "./schema.ts";
import { refuseUnknownMigrations } from "./schema-guard.ts";

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };

/** A named parameter of a prepared query (`.prepare()` once, then `.get({ name: value })`). */
export const param = (name: string) => sql.placeholder(name);
/** The same where drizzle's types want an SQL value (`update … set`, `insert … values`). */
export const paramValue = (name: string) => sql`${sql.placeholder(name)}`;

type Pending = { run(): unknown; resolve(v: unknown): void; reject(e: unknown): void };
const batches = new WeakMap<Db, Pending[]>();

/**
 * Runs `write` together with the other writes queued in this turn of the event loop, in one
 * transaction (a commit costs more than a small write, and every commit adds whole pages to the WAL
 * that a checkpoint must later copy and fsync). Resolves with its result once committed; if the
 * transaction fails, every write of the batch is rejected with that error. Writes run in call order.
 */
export function writeSoon<T>(db: Db, write: () => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let batch = batches.get(db);
    if (!batch) {
      batches.set(db, (batch = []));
      setImmediate(() => flushWrites(db));
    }
    batch.push({ run: write, resolve: resolve as (v: unknown) => void, reject });
  });
}

/** Commits the writes queued by writeSoon now (a write that must not be overtaken by them calls this first). */
export function flushWrites(db: Db): void {
  const batch = batches.get(db);
  if (!batch) return;
  batches.delete(db);
  let results: unknown[];
  try {
    results = db.transaction(() => batch.map((p) => p.run()));
  } catch (e) {
    for (const p of batch) p.reject(e);
    return;
  }
  for (const [i, p] of batch.entries()) p.resolve(results[i]);
}

export function openDb(file: string): Db {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const sqlite = new Database(file, { create: true, strict: true });
  // Only this process ever opens the database (the pid lock refuses a second appliance), so it keeps the
  // file lock instead of taking and dropping it on every statement: reads ~4× and writes ~1.3× cheaper.
  // The cost: nothing else can open the file while the appliance runs (stop it to inspect the database).
  // Set before WAL is first used, so the WAL index lives in memory and no -shm file is ever needed: a
  // -shm that cannot grow on a full disk (SQLITE_IOERR_SHMSIZE) used to stop the appliance from starting.
  sqlite.exec("PRAGMA locking_mode = EXCLUSIVE");
  // WAL: readers never block the writer. synchronous=FULL fsyncs the WAL at every commit, so what was
  // acknowledged (a webhook's 200, Telegram's update state moving on) survives a power loss, not only
  // kill -9; writeSoon keeps that to one fsync per event-loop turn.
  sqlite.exec("PRAGMA journal_mode = WAL");
  sqlite.exec("PRAGMA synchronous = FULL");
  sqlite.exec("PRAGMA foreign_keys = ON");
  sqlite.exec("PRAGMA busy_timeout = 5000");
  // Every Planfix key is in here: owner only, also for files created by an older version.
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    if (existsSync(f)) chmodSync(f, 0o600);
  }
  // So closing releases that lock at once: finalize the prepared statements (drizzle's and ours) instead
  // of leaving the connection open until the last of them is garbage collected. Queued writes go first.
  const close = sqlite.close.bind(sqlite);
  sqlite.close = (throwOnError?: boolean) => {
    flushWrites(db);
    try {
      close(true);
    } catch (e) {
      if (throwOnError) throw e;
      close(false);
    }
  };
  const db = drizzle(sqlite, { schema }) as Db;
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const migrations = embeddedMigrations();
  refuseUnknownMigrations(db.$client, migrations);
  // drizzle's dialect.migrate is what drizzle-orm/bun-sqlite/migrator calls after reading the folder;
  // we hand it the inlined migrations instead. It records applied hashes in __drizzle_migrations.
  const internal = db as unknown as { dialect: { migrate(m: unknown, s: unknown, c: unknown): void }; session: unknown };
  internal.dialect.migrate(migrations, internal.session, { migrationsFolder: "(embedded)" });
}

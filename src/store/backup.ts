// A consistent copy of the live database. The appliance holds SQLite in EXCLUSIVE mode, so nothing else
// can read the file while it runs; VACUUM INTO on its own connection writes a compact snapshot instead.
import { existsSync, rmSync } from "node:fs";
import { flushWrites, type Db } from "./db.ts";

/** Writes a snapshot of the database to `target` (which must not exist yet); queued writes go in first. */
export function vacuumInto(db: Db, target: string): void {
  if (existsSync(target)) rmSync(target);
  flushWrites(db);
  db.$client.query("VACUUM INTO ?").run(target);
}

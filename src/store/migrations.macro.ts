// Bun macro: runs at build time and inlines the drizzle-kit migrations into the bundle,
// so the compiled binary can create or upgrade a database with no files beside it.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface EmbeddedMigration {
  sql: string[];
  bps: boolean;
  folderMillis: number;
  hash: string;
}

export function embeddedMigrations(): EmbeddedMigration[] {
  const dir = join(import.meta.dir, "..", "..", "drizzle");
  const journal = JSON.parse(readFileSync(join(dir, "meta", "_journal.json"), "utf8")) as {
    entries: { tag: string; when: number; breakpoints: boolean }[];
  };
  return journal.entries.map((e) => {
    const query = readFileSync(join(dir, `${e.tag}.sql`), "utf8");
    // Same shape and hash as drizzle's own readMigrationFiles, so either migrator sees the same history.
    return { sql: query.split("--> statement-breakpoint"), bps: e.breakpoints, folderMillis: e.when, hash: createHash("sha256").update(query).digest("hex") };
  });
}

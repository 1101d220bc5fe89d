// An older binary must not run on a database a newer one has migrated: drizzle's migrator only looks at
// the newest applied timestamp, so it would silently carry on against a schema it does not know.
import type { Database } from "bun:sqlite";

export class SchemaTooNewError extends Error {}

/**
 * Throws SchemaTooNewError when the database records an applied migration this binary does not carry
 * (it was upgraded by a newer release). A fresh database (no migrations table) passes.
 */
export function refuseUnknownMigrations(sqlite: Database, known: readonly { hash: string }[]): void {
  const table = sqlite.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'").get();
  if (!table) return;
  const hashes = new Set(known.map((m) => m.hash));
  const applied = sqlite.query("SELECT hash FROM __drizzle_migrations").all() as { hash: string }[];
  const unknown = applied.filter((m) => !hashes.has(m.hash)).length;
  if (unknown === 0) return;
  throw new SchemaTooNewError(
    `the database was upgraded by a newer release (${unknown} migration${unknown === 1 ? "" : "s"} unknown to this binary, which carries ${hashes.size}); ` +
      "run that release or a newer one, or restore a backup taken before the upgrade — this binary does not touch it",
  );
}

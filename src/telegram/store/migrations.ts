// The Telegram connector's own migrations: plain SQL in this file (so the compiled binary carries
// them), applied in order after the core's, each once, recorded in `telegram_migrations`. Never edit
// one that shipped; add the next.
import type { Database } from "bun:sqlite";
import { SchemaTooNewError } from "../../store/schema-guard.ts";

export interface TelegramMigration {
  id: number;
  name: string;
  sql: string;
}

export const TELEGRAM_MIGRATIONS: readonly TelegramMigration[] = [
  {
    id: 1,
    name: "update_state",
    // Copies the update state the core used to keep in accounts.pts/qts/upd_date (0000_init), so an
    // upgraded appliance catches up from where it was. Those columns stay (unused) for a downgrade.
    sql: `
      CREATE TABLE telegram_update_state (
        account_id INTEGER PRIMARY KEY NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        pts INTEGER,
        qts INTEGER,
        date INTEGER,
        self_user_id TEXT
      );
      INSERT INTO telegram_update_state (account_id, pts, qts, date)
        SELECT id, pts, qts, upd_date FROM accounts WHERE pts IS NOT NULL AND qts IS NOT NULL AND upd_date IS NOT NULL;
    `,
  },
  {
    id: 2,
    name: "access_hashes",
    // Copies the access hashes the core keeps beside each person (peers.access_hash, 0000_init).
    sql: `
      CREATE TABLE telegram_access_hashes (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        access_hash TEXT NOT NULL,
        PRIMARY KEY (account_id, user_id)
      );
      INSERT INTO telegram_access_hashes (account_id, user_id, access_hash)
        SELECT account_id, user_id, access_hash FROM peers WHERE access_hash IS NOT NULL;
    `,
  },
  {
    id: 3,
    name: "sent_messages",
    // The number's own sends, by Telegram message id → the idempotency key the core sent them with: so
    // echoes are recognised and reads reported by key. Copies the core's sent_messages (0001_bridge),
    // the key derived as the core derives it (the job's random seed, ":", the part: the parts of a job
    // went out in order, so the nth message id is part n), and whether the job's read was reported.
    sql: `
      CREATE TABLE telegram_sent_messages (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        peer_user_id TEXT NOT NULL,
        message_id INTEGER NOT NULL,
        idempotency_key TEXT NOT NULL,
        read INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (account_id, peer_user_id, message_id)
      );
      INSERT INTO telegram_sent_messages (account_id, peer_user_id, message_id, idempotency_key, read)
        SELECT s.account_id, s.peer_user_id, s.tg_message_id,
               j.random_seed || ':' || (ROW_NUMBER() OVER (PARTITION BY s.job_id ORDER BY s.tg_message_id) - 1),
               j.read_reported
          FROM sent_messages s JOIN outbound_jobs j ON j.id = s.job_id;
    `,
  },
];

/**
 * Brings the Telegram tables up to date; the core's migrations must have run (the tables refer to
 * `accounts`). Throws SchemaTooNewError, touching nothing, when a newer release applied a Telegram
 * migration this binary does not carry.
 */
export function migrateTelegram(sqlite: Database, migrations: readonly TelegramMigration[] = TELEGRAM_MIGRATIONS): void {
  sqlite.exec("CREATE TABLE IF NOT EXISTS telegram_migrations (id INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
  const applied = new Set((sqlite.query("SELECT id FROM telegram_migrations").all() as { id: number }[]).map((r) => r.id));
  const known = new Set(migrations.map((m) => m.id));
  const unknown = [...applied].filter((id) => !known.has(id)).length;
  if (unknown > 0) {
    throw new SchemaTooNewError(
      `the database was upgraded by a newer release (${unknown} Telegram migration${unknown === 1 ? "" : "s"} unknown to this binary, which carries ${known.size}); ` +
        "run that release or a newer one, or restore a backup taken before the upgrade",
    );
  }
  for (const m of migrations) {
    if (applied.has(m.id)) continue;
    sqlite.transaction(() => {
      sqlite.exec(m.sql);
      sqlite.query("INSERT INTO telegram_migrations (id, name, applied_at) VALUES (?, ?, ?)").run(m.id, m.name, Date.now());
    })();
  }
}

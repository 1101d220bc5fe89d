// The Telegram connector's own tables, in the appliance's SQLite file beside the core's (migrations.ts
// creates them; the core schema, src/store/schema.ts, knows nothing of them).
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Where a number's catch-up resumes (Telegram's pts/qts/date), one row per core account; goes with the
 * account (ON DELETE CASCADE). `sessionKey`: which session it belongs to (a hash of the auth key) — a
 * different session may be a different user, whose state is not this one; null: not known yet (a row
 * copied from the core's old columns), taken by the first session that connects.
 */
export const telegramUpdateState = sqliteTable("telegram_update_state", {
  accountId: integer("account_id").primaryKey(),
  pts: integer("pts").notNull(),
  qts: integer("qts").notNull(),
  date: integer("date").notNull(),
  sessionKey: text("session_key"),
});

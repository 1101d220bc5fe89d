// The Telegram connector's own tables, in the appliance's SQLite file beside the core's (migrations.ts
// creates them; the core schema, src/store/schema.ts, knows nothing of them).
import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Where a number's catch-up resumes (Telegram's pts/qts/date; null: none yet), one row per core account;
 * goes with the account (ON DELETE CASCADE). `selfUserId`: the Telegram account the number's rows belong
 * to — a session of another account must not resume this state or use these access hashes, while a new
 * session of the same account (signed in again after a revocation) must, or what was written meanwhile
 * is skipped; null: not known yet (rows copied from the core), decided by the first session that connects.
 */
export const telegramUpdateState = sqliteTable("telegram_update_state", {
  accountId: integer("account_id").primaryKey(),
  pts: integer("pts"),
  qts: integer("qts"),
  date: integer("date"),
  selfUserId: text("self_user_id"),
});

/**
 * The access hash each number got for each user (valid for that number only): what addresses the user
 * in a call. Goes with the account, and is forgotten with the update state when another Telegram account runs on the number.
 */
export const telegramAccessHashes = sqliteTable(
  "telegram_access_hashes",
  {
    accountId: integer("account_id").notNull(),
    userId: text("user_id").notNull(),
    accessHash: text("access_hash").notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.userId] })],
);

/**
 * The number's own sends: Telegram's message id → the idempotency key the core sent it with. Echoes of
 * these are not reported as messages, and a read of them is reported by key (`read`: reported and
 * taken). Goes with the account, and is forgotten with the rest when another Telegram account runs on the number.
 */
export const telegramSentMessages = sqliteTable(
  "telegram_sent_messages",
  {
    accountId: integer("account_id").notNull(),
    peerUserId: text("peer_user_id").notNull(),
    messageId: integer("message_id").notNull(),
    idempotencyKey: text("idempotency_key").notNull(),
    read: integer("read", { mode: "boolean" }).notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.peerUserId, t.messageId] })],
);

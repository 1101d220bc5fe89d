// The whole persistent state of the appliance. Times are unix milliseconds.
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { ACCOUNT_STATES } from "../accounts/states.ts";

const now = sql`(cast(unixepoch('subsec') * 1000 as integer))`;

/** A customer of the appliance. Only a hash of its token is kept. */
export const clients = sqliteTable("clients", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull().unique(),
  tokenHash: text("token_hash").notNull().unique(),
  createdAt: integer("created_at").notNull().default(now),
});

/** One Telegram number of a client. `wanted` is what the operator asked for; `state` what we reached. */
export const accounts = sqliteTable(
  "accounts",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    clientId: integer("client_id")
      .notNull()
      .references(() => clients.id, { onDelete: "cascade" }),
    number: text("number").notNull().unique(),
    urlPlanfix: text("url_planfix").notNull(),
    tokenPlanfix: text("token_planfix").notNull(),
    providerId: text("provider_id"),
    nameSession: text("name_session"),
    /** Relative to SESSIONS_DIR, already checked not to escape it. */
    sessionPath: text("session_path").notNull(),
    wanted: text("wanted", { enum: ["running", "stopped"] })
      .notNull()
      .default("running"),
    state: text("state", { enum: ACCOUNT_STATES }).notNull().default("stopped"),
    stateReason: text("state_reason"),
    stateSince: integer("state_since").notNull().default(now),
    floodUntil: integer("flood_until"),
    selfUserId: text("self_user_id"),
    /**
     * Unused since the Telegram connector keeps the update state in its own table (telegram_update_state,
     * which copied these once); kept for a downgrade to an older release, which still reads them.
     */
    pts: integer("pts"),
    qts: integer("qts"),
    updDate: integer("upd_date"),
    planfixError: text("planfix_error"),
    /** uk | ru | en for the texts written into Planfix; null: the appliance's LANGUAGE. */
    language: text("language"),
    /** The number's own proxy URL (holds its secret; never shown), "direct", or null: TELEGRAM_PROXY. */
    proxy: text("proxy"),
    createdAt: integer("created_at").notNull().default(now),
    updatedAt: integer("updated_at").notNull().default(now),
  },
  (t) => [index("accounts_client").on(t.clientId)],
);

/**
 * Telegram users an account has seen. `access_hash` is no longer written or read: the connector keeps
 * each number's hashes in its own table (telegram_access_hashes, which copied this column); the column
 * stays for a downgrade.
 */
export const peers = sqliteTable(
  "peers",
  {
    accountId: integer("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull(),
    accessHash: text("access_hash"),
    username: text("username"),
    phone: text("phone"),
    firstName: text("first_name"),
    lastName: text("last_name"),
    updatedAt: integer("updated_at").notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.userId] }), index("peers_username").on(t.accountId, t.username), index("peers_phone").on(t.accountId, t.phone)],
);

/**
 * Planfix → Telegram: one row per Planfix message (idempotent by client + messageId). Each part (the
 * text, then every file in order) is sent with a random_id derived from `randomSeed` and the part's
 * index, so resending after a crash is deduplicated by Telegram itself.
 */
export const outboundJobs = sqliteTable(
  "outbound_jobs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    clientId: integer("client_id")
      .notNull()
      .references(() => clients.id, { onDelete: "cascade" }),
    planfixMessageId: text("planfix_message_id").notNull(),
    accountId: integer("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    chatId: text("chat_id").notNull(),
    contactId: text("contact_id").notNull(),
    /** Telegram user id of the recipient; known at accept time (chat, telegramUserId or a resolved lookup). */
    peerUserId: text("peer_user_id").notNull(),
    /** JSON {username, phone}: other ways to find the recipient when this account has no access hash. */
    lookup: text("lookup"),
    text: text("text").notNull(),
    /** JSON [{name,url}] in Planfix's order. */
    attachments: text("attachments").notNull(),
    randomSeed: text("random_seed").notNull(),
    /**
     * failed: given up and reported to Planfix as an error; re-sendable (parked). refused: the other side
     * refused it for good (privacy, a block, the account's limit on new contacts), reported to Planfix as an
     * error after one attempt; final, not parked: sending again would only be refused again.
     * discarded: dropped by an explicit call.
     */
    state: text("state", { enum: ["pending", "sent", "failed", "refused", "discarded"] })
      .notNull()
      .default("pending"),
    partsDone: integer("parts_done").notNull().default(0),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at").notNull().default(0),
    lastError: text("last_error"),
    readReported: integer("read_reported", { mode: "boolean" }).notNull().default(false),
    createdAt: integer("created_at").notNull().default(now),
    /** When the give-up clock started again (a resend); null: at created_at. */
    retryFrom: integer("retry_from"),
  },
  (t) => [
    uniqueIndex("outbound_jobs_message").on(t.clientId, t.planfixMessageId),
    index("outbound_jobs_pending").on(t.accountId, t.state, t.id),
    // A read reported by the connector names its jobs by their seed (the idempotency key's first part).
    index("outbound_jobs_seed").on(t.accountId, t.randomSeed),
  ],
);

/**
 * Telegram messages an older release sent for Planfix (their echoes, their reads). No longer written or
 * read: the connector keeps its sends by idempotency key (telegram_sent_messages, which copied these
 * rows); the table stays for a downgrade.
 */
export const sentMessages = sqliteTable(
  "sent_messages",
  {
    accountId: integer("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    peerUserId: text("peer_user_id").notNull(),
    tgMessageId: integer("tg_message_id").notNull(),
    jobId: integer("job_id")
      .notNull()
      .references(() => outboundJobs.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.peerUserId, t.tgMessageId] }), index("sent_messages_job").on(t.jobId)],
);

/**
 * Telegram → Planfix, and our status reports: a durable outbox. A row is written before the Telegram
 * update is acknowledged; `dedupKey` (number + peer + message id [+ edit date]) keeps it unique.
 * Rows of one chat (`chatKey`) are delivered strictly in id order.
 */
export const planfixOutbox = sqliteTable(
  "planfix_outbox",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    accountId: integer("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    chatKey: text("chat_key").notNull(),
    /** contact: the person changed name, username or photo (an updateContact for Planfix). */
    kind: text("kind", { enum: ["message", "status", "contact"] }).notNull(),
    dedupKey: text("dedup_key").notNull().unique(),
    /** JSON: the Telegram message (kind message) or the status command (kind status). */
    event: text("event").notNull(),
    /** JSON: the prepared Planfix command, once media is downloaded (so a retry does not redo it). */
    command: text("command"),
    /** parked: given up after its retries, kept and listed until resent or discarded by an explicit call. */
    state: text("state", { enum: ["pending", "done", "parked", "discarded"] })
      .notNull()
      .default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at").notNull().default(0),
    lastError: text("last_error"),
    createdAt: integer("created_at").notNull().default(now),
    deliveredAt: integer("delivered_at"),
    /** When the give-up clock started again (a resend); null: at created_at. */
    retryFrom: integer("retry_from"),
  },
  (t) => [index("planfix_outbox_pending").on(t.accountId, t.state, t.id)],
);

/** Media offered to Planfix at <PUBLIC_URL>/files/<id>/<name>. */
export const files = sqliteTable("files", {
  id: text("id").primaryKey(),
  accountId: integer("account_id").references(() => accounts.id, { onDelete: "set null" }),
  path: text("path").notNull(),
  name: text("name").notNull(),
  mimeType: text("mime_type").notNull(),
  size: integer("size").notNull(),
  createdAt: integer("created_at").notNull().default(now),
  expiresAt: integer("expires_at").notNull(),
});

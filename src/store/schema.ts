// The whole persistent state of the appliance. Times are unix milliseconds.
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

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
    clientId: integer("client_id").notNull().references(() => clients.id, { onDelete: "cascade" }),
    number: text("number").notNull().unique(),
    urlPlanfix: text("url_planfix").notNull(),
    tokenPlanfix: text("token_planfix").notNull(),
    providerId: text("provider_id"),
    nameSession: text("name_session"),
    /** Relative to SESSIONS_DIR, already checked not to escape it. */
    sessionPath: text("session_path").notNull(),
    wanted: text("wanted", { enum: ["running", "stopped"] }).notNull().default("running"),
    state: text("state").notNull().default("stopped"),
    stateReason: text("state_reason"),
    stateSince: integer("state_since").notNull().default(now),
    floodUntil: integer("flood_until"),
    selfUserId: text("self_user_id"),
    /** Telegram update state, so messages that arrived while we were away are fetched on start. */
    pts: integer("pts"),
    qts: integer("qts"),
    updDate: integer("upd_date"),
    planfixError: text("planfix_error"),
    createdAt: integer("created_at").notNull().default(now),
    updatedAt: integer("updated_at").notNull().default(now),
  },
  (t) => [index("accounts_client").on(t.clientId)],
);

/** Telegram users an account has seen, with the access hash *that account* got for them. */
export const peers = sqliteTable(
  "peers",
  {
    accountId: integer("account_id").notNull().references(() => accounts.id, { onDelete: "cascade" }),
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

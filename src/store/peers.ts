// Telegram users each account has seen: names, usernames and phones (the access hashes are the connector's).
import { and, eq, sql } from "drizzle-orm";
import type { PeerRepository } from "../domain/repositories.ts";
import type { PeerInfo } from "../domain/telegram-port.ts";
import { param as $, type Db } from "./db.ts";
import { peers } from "./schema.ts";

/** The SQLite adapter of PeerRepository: its work is synchronous (each promise is already settled when returned). */
export class PeerStore implements PeerRepository {
  // Prepared once: every message looks its peer up.
  private readonly q;

  constructor(private readonly db: Db) {
    this.q = {
      byId: db
        .select()
        .from(peers)
        .where(and(eq(peers.accountId, $("accountId")), eq(peers.userId, $("userId"))))
        .prepare(),
    };
  }

  /** Inserts or refreshes; a known name, username or phone is never replaced by a missing one. The access hash is not kept. */
  async save(accountId: number, list: readonly PeerInfo[]): Promise<void> {
    if (list.length === 0) return;
    this.db.transaction((tx) => {
      for (const p of list) {
        tx.insert(peers)
          .values({
            accountId,
            userId: p.userId,
            username: p.username?.toLowerCase() ?? null,
            phone: p.phone,
            firstName: p.firstName,
            lastName: p.lastName,
          })
          .onConflictDoUpdate({
            target: [peers.accountId, peers.userId],
            set: {
              username: sql`coalesce(excluded.username, ${peers.username})`,
              phone: sql`coalesce(excluded.phone, ${peers.phone})`,
              firstName: sql`coalesce(excluded.first_name, ${peers.firstName})`,
              lastName: sql`coalesce(excluded.last_name, ${peers.lastName})`,
              updatedAt: Date.now(),
            },
          })
          .run();
      }
    });
  }

  async byId(accountId: number, userId: string): Promise<PeerInfo | undefined> {
    const row = this.q.byId.get({ accountId, userId });
    return row ? toPeer(row) : undefined;
  }

  async byUsername(accountId: number, username: string): Promise<PeerInfo | undefined> {
    const row = this.db
      .select()
      .from(peers)
      .where(and(eq(peers.accountId, accountId), eq(peers.username, username.toLowerCase())))
      .get();
    return row ? toPeer(row) : undefined;
  }

  async byPhone(accountId: number, phone: string): Promise<PeerInfo | undefined> {
    const row = this.db
      .select()
      .from(peers)
      .where(and(eq(peers.accountId, accountId), eq(peers.phone, phone)))
      .get();
    return row ? toPeer(row) : undefined;
  }

  async all(accountId: number): Promise<PeerInfo[]> {
    return this.db.select().from(peers).where(eq(peers.accountId, accountId)).all().map(toPeer);
  }
}

function toPeer(row: typeof peers.$inferSelect): PeerInfo {
  return {
    userId: row.userId,
    accessHash: null, // the connector's (telegram_access_hashes); peers.access_hash is no longer read
    username: row.username,
    phone: row.phone,
    firstName: row.firstName,
    lastName: row.lastName,
    isBot: false,
    hasPhoto: false,
  };
}

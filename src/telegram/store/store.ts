// The Telegram connector's repository: its own tables (schema.ts) in the appliance's database file.
import { and, eq, inArray, lte } from "drizzle-orm";
import type { UpdateState } from "../../domain/telegram-port.ts";
import { flushWrites, param as $, writeSoon, type Db } from "../../store/db.ts";
import { migrateTelegram } from "./migrations.ts";
import { telegramAccessHashes, telegramSentMessages, telegramUpdateState } from "./schema.ts";

export class TelegramStore {
  private readonly q;

  /** Opens the Telegram tables of `db` (the core's migrations have run), migrating them first. */
  constructor(private readonly db: Db) {
    migrateTelegram(db.$client);
    this.q = {
      // Only while the number exists: a state reported as it is deleted must not fail (and with it
      // every other write of its batch) on the foreign key.
      save: db.$client.query(
        `INSERT INTO telegram_update_state (account_id, pts, qts, date)
           SELECT $accountId, $pts, $qts, $date WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $accountId)
         ON CONFLICT (account_id) DO UPDATE SET pts = excluded.pts, qts = excluded.qts, date = excluded.date`,
      ),
      saveHash: db.$client.query(
        `INSERT INTO telegram_access_hashes (account_id, user_id, access_hash)
           SELECT $accountId, $userId, $accessHash WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $accountId)
         ON CONFLICT (account_id, user_id) DO UPDATE SET access_hash = excluded.access_hash WHERE access_hash IS NOT excluded.access_hash`,
      ),
      hash: db
        .select({ accessHash: telegramAccessHashes.accessHash })
        .from(telegramAccessHashes)
        .where(and(eq(telegramAccessHashes.accountId, $("accountId")), eq(telegramAccessHashes.userId, $("userId"))))
        .prepare(),
      bind: db.$client.query(
        `INSERT INTO telegram_update_state (account_id, self_user_id)
           SELECT $accountId, $selfUserId WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $accountId)
         ON CONFLICT (account_id) DO UPDATE SET self_user_id = excluded.self_user_id`,
      ),
      saveSent: db.$client.query(
        `INSERT INTO telegram_sent_messages (account_id, peer_user_id, message_id, idempotency_key)
           SELECT $accountId, $peerUserId, $messageId, $key WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $accountId)
         ON CONFLICT (account_id, peer_user_id, message_id) DO NOTHING`,
      ),
      sentKey: db
        .select({ key: telegramSentMessages.idempotencyKey })
        .from(telegramSentMessages)
        .where(and(eq(telegramSentMessages.accountId, $("accountId")), eq(telegramSentMessages.peerUserId, $("peerUserId")), eq(telegramSentMessages.messageId, $("messageId"))))
        .prepare(),
      unread: db
        .select({ messageId: telegramSentMessages.messageId, key: telegramSentMessages.idempotencyKey })
        .from(telegramSentMessages)
        .where(
          and(
            eq(telegramSentMessages.accountId, $("accountId")),
            eq(telegramSentMessages.peerUserId, $("peerUserId")),
            lte(telegramSentMessages.messageId, $("maxId")),
            eq(telegramSentMessages.read, false),
          ),
        )
        .prepare(),
      byAccount: db
        .select()
        .from(telegramUpdateState)
        .where(eq(telegramUpdateState.accountId, $("accountId")))
        .prepare(),
    };
  }

  /** Where the number's catch-up resumes; null: nothing kept. */
  updateStateOf(accountId: number): UpdateState | null {
    const r = this.q.byAccount.get({ accountId });
    return r && r.pts !== null && r.qts !== null && r.date !== null ? { pts: r.pts, qts: r.qts, date: r.date } : null;
  }

  /** The Telegram account the number's rows belong to; null: not known yet (or nothing kept). */
  selfUserOf(accountId: number): string | null {
    return this.q.byAccount.get({ accountId })?.selfUserId ?? null;
  }

  /**
   * The number's session turned out to be `selfUserId`'s. False when the kept rows were another
   * account's: they are forgotten. Either way they belong to this account from now on.
   */
  bindAccount(accountId: number, selfUserId: string): boolean {
    const bound = this.selfUserOf(accountId);
    if (bound === selfUserId) return true;
    if (bound !== null) this.forget(accountId);
    this.q.bind.run({ accountId, selfUserId });
    return bound === null;
  }

  /**
   * Saved with the other writes of this event-loop turn (writeSoon): the state is reported only after
   * the messages before it were stored, and one that lands a moment later is behind, never ahead.
   */
  saveUpdateState(accountId: number, s: UpdateState): Promise<void> {
    return writeSoon(this.db, () => {
      this.q.save.run({ accountId, pts: s.pts, qts: s.qts, date: s.date });
    });
  }

  /** The access hash this number got for a user, or null. */
  accessHashOf(accountId: number, userId: string): string | null {
    return this.q.hash.get({ accountId, userId })?.accessHash ?? null;
  }

  /** Every access hash this number got: user id → hash. */
  accessHashesOf(accountId: number): Map<string, string> {
    const rows = this.db.select().from(telegramAccessHashes).where(eq(telegramAccessHashes.accountId, accountId)).all();
    return new Map(rows.map((r) => [r.userId, r.accessHash]));
  }

  /** Keeps the hashes of users seen (with the other writes of this turn); a missing hash erases none. */
  saveAccessHashes(accountId: number, users: readonly { userId: string; accessHash: string | null }[]): Promise<void> {
    const known = users.filter((u): u is { userId: string; accessHash: string } => u.accessHash !== null);
    if (known.length === 0) return Promise.resolve();
    return writeSoon(this.db, () => {
      for (const u of known) this.q.saveHash.run({ accountId, userId: u.userId, accessHash: u.accessHash });
    });
  }

  /** Keeps one of the number's sends (its message id → the key it was sent with); resolves once committed. */
  saveSent(accountId: number, peerUserId: string, messageId: number, key: string): Promise<void> {
    return writeSoon(this.db, () => {
      this.q.saveSent.run({ accountId, peerUserId, messageId, key });
    });
  }

  /** The key this message was sent with, when it is one of the number's sends; null otherwise. */
  sentKeyOf(accountId: number, peerUserId: string, messageId: number): string | null {
    return this.q.sentKey.get({ accountId, peerUserId, messageId })?.key ?? null;
  }

  /** The number's sends in this chat up to `maxId` whose read is not taken yet, oldest first. */
  unreadUpTo(accountId: number, peerUserId: string, maxId: number): { messageId: number; key: string }[] {
    return this.q.unread.all({ accountId, peerUserId, maxId }).sort((a, b) => a.messageId - b.messageId);
  }

  /** Their read was taken: not reported again. */
  markRead(accountId: number, peerUserId: string, messageIds: readonly number[]): Promise<void> {
    if (messageIds.length === 0) return Promise.resolve();
    return writeSoon(this.db, () => {
      this.db
        .update(telegramSentMessages)
        .set({ read: true })
        .where(and(eq(telegramSentMessages.accountId, accountId), eq(telegramSentMessages.peerUserId, peerUserId), inArray(telegramSentMessages.messageId, [...messageIds])))
        .run();
    });
  }

  /** Forgets what is kept for a number (another Telegram account runs on it now). */
  forget(accountId: number): void {
    flushWrites(this.db); // a queued write of the old session must not land after this
    this.db.transaction((tx) => {
      tx.delete(telegramUpdateState).where(eq(telegramUpdateState.accountId, accountId)).run();
      tx.delete(telegramAccessHashes).where(eq(telegramAccessHashes.accountId, accountId)).run();
      tx.delete(telegramSentMessages).where(eq(telegramSentMessages.accountId, accountId)).run();
    });
  }
}

// The Telegram connector's repository: its own tables (schema.ts) in the appliance's database file.
import { eq } from "drizzle-orm";
import type { UpdateState } from "../../domain/telegram-port.ts";
import { flushWrites, param as $, writeSoon, type Db } from "../../store/db.ts";
import { migrateTelegram } from "./migrations.ts";
import { telegramUpdateState } from "./schema.ts";

export interface StoredUpdateState extends UpdateState {
  /** The session it belongs to; null: copied from an older release, not yet bound to one. */
  sessionKey: string | null;
}

export class TelegramStore {
  private readonly q;

  /** Opens the Telegram tables of `db` (the core's migrations have run), migrating them first. */
  constructor(private readonly db: Db) {
    migrateTelegram(db.$client);
    this.q = {
      // Only while the number exists: a state reported as it is deleted must not fail (and with it
      // every other write of its batch) on the foreign key.
      save: db.$client.query(
        `INSERT INTO telegram_update_state (account_id, pts, qts, date, session_key)
           SELECT $accountId, $pts, $qts, $date, $sessionKey WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $accountId)
         ON CONFLICT (account_id) DO UPDATE SET pts = excluded.pts, qts = excluded.qts, date = excluded.date, session_key = excluded.session_key`,
      ),
      byAccount: db
        .select()
        .from(telegramUpdateState)
        .where(eq(telegramUpdateState.accountId, $("accountId")))
        .prepare(),
    };
  }

  updateStateOf(accountId: number): StoredUpdateState | null {
    const r = this.q.byAccount.get({ accountId });
    return r ? { pts: r.pts, qts: r.qts, date: r.date, sessionKey: r.sessionKey } : null;
  }

  /**
   * Saved with the other writes of this event-loop turn (writeSoon): the state is reported only after
   * the messages before it were stored, and one that lands a moment later is behind, never ahead.
   */
  saveUpdateState(accountId: number, sessionKey: string, s: UpdateState): Promise<void> {
    return writeSoon(this.db, () => {
      this.q.save.run({ accountId, pts: s.pts, qts: s.qts, date: s.date, sessionKey });
    });
  }

  /** Forgets what is kept for a number (its session changed to another user's). */
  forget(accountId: number): void {
    flushWrites(this.db); // a queued state of the old session must not land after this
    this.db.delete(telegramUpdateState).where(eq(telegramUpdateState.accountId, accountId)).run();
  }
}

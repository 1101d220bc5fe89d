// Clients and their numbers (accounts): the only SQL for them.
import { and, asc, eq, sql } from "drizzle-orm";
import type { AccountState } from "../accounts/states.ts";
import type { Account, Client } from "../domain/accounts.ts";
import { flushWrites, param as $, type Db } from "./db.ts";
import { accounts, clients, files, outboundJobs, peers, planfixOutbox, sentMessages } from "./schema.ts";

export type { Account, Client } from "../domain/accounts.ts";
// The rows are the domain types plus columns no longer used (accounts.pts/qts/upd_date, kept for a
// downgrade): the compiler checks each row still is one (a column the domain type lacks must be added there first).
type Extends<T, _U extends T> = true;
export type RowsAreDomain = [Extends<Client, typeof clients.$inferSelect>, Extends<Account, typeof accounts.$inferSelect>];
export type NewAccount = Omit<typeof accounts.$inferInsert, "id" | "createdAt" | "updatedAt">;

export interface AccountStateChange {
  state: AccountState;
  stateReason: string | null;
  floodUntil?: number | null;
}

export class ClientStore {
  // Prepared once: the queries every message runs (building and preparing SQL each time cost more than running it).
  private readonly q;

  constructor(private readonly db: Db) {
    this.q = {
      clientByTokenHash: db
        .select()
        .from(clients)
        .where(eq(clients.tokenHash, $("tokenHash")))
        .prepare(),
      clientById: db
        .select()
        .from(clients)
        .where(eq(clients.id, $("id")))
        .prepare(),
      accountById: db
        .select()
        .from(accounts)
        .where(eq(accounts.id, $("id")))
        .prepare(),
      accountOfClient: db
        .select()
        .from(accounts)
        .where(and(eq(accounts.clientId, $("clientId")), eq(accounts.number, $("number"))))
        .prepare(),
    };
  }

  createClient(name: string, tokenHash: string): Client {
    return this.db.insert(clients).values({ name, tokenHash }).returning().get();
  }

  clientByName(name: string): Client | undefined {
    return this.db.select().from(clients).where(eq(clients.name, name)).get();
  }

  clientByTokenHash(tokenHash: string): Client | undefined {
    return this.q.clientByTokenHash.get({ tokenHash });
  }

  clientById(id: number): Client | undefined {
    return this.q.clientById.get({ id });
  }

  allClients(): Client[] {
    return this.db.select().from(clients).orderBy(asc(clients.name)).all();
  }

  accountByNumber(number: string): Account | undefined {
    return this.db.select().from(accounts).where(eq(accounts.number, number)).get();
  }

  accountById(id: number): Account | undefined {
    return this.q.accountById.get({ id });
  }

  /** The client's own number, or undefined — never another client's. */
  accountOfClient(clientId: number, number: string): Account | undefined {
    return this.q.accountOfClient.get({ clientId, number });
  }

  accountsOfClient(clientId: number): Account[] {
    return this.db.select().from(accounts).where(eq(accounts.clientId, clientId)).orderBy(asc(accounts.number)).all();
  }

  /** How many numbers are in each state (every client together). */
  countByState(): Record<string, number> {
    const rows = this.db.select({ state: accounts.state, n: sql<number>`count(*)` }).from(accounts).groupBy(accounts.state).all();
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  allAccounts(): Account[] {
    return this.db.select().from(accounts).orderBy(asc(accounts.id)).all();
  }

  insertAccount(values: NewAccount): Account {
    return this.db.insert(accounts).values(values).returning().get();
  }

  updateAccount(id: number, values: Partial<NewAccount>): Account {
    return this.db
      .update(accounts)
      .set({ ...values, updatedAt: Date.now() })
      .where(eq(accounts.id, id))
      .returning()
      .get();
  }

  setWanted(id: number, wanted: "running" | "stopped"): void {
    this.db.update(accounts).set({ wanted, updatedAt: Date.now() }).where(eq(accounts.id, id)).run();
  }

  setState(id: number, change: AccountStateChange): void {
    this.db
      .update(accounts)
      .set({ state: change.state, stateReason: change.stateReason, stateSince: Date.now(), floodUntil: change.floodUntil ?? null })
      .where(eq(accounts.id, id))
      .run();
  }

  setSelf(id: number, selfUserId: string): void {
    this.db.update(accounts).set({ selfUserId }).where(eq(accounts.id, id)).run();
  }

  /** A new token for the client: the old hash is gone at once, so the old token stops working. */
  setTokenHash(clientId: number, tokenHash: string): void {
    this.db.update(clients).set({ tokenHash }).where(eq(clients.id, clientId)).run();
  }

  /**
   * Forgets a number and everything kept for it — its peers, Planfix outbox, Telegram jobs and the rows
   * of its media files — in one transaction. Returns the media files' stored paths (their bytes are
   * deleted by the caller). The number must be stopped first.
   */
  deleteAccount(id: number): string[] {
    flushWrites(this.db); // a queued write of this number must not land after (or fail on) the delete
    return this.db.transaction((tx) => {
      const media = tx.select({ path: files.path }).from(files).where(eq(files.accountId, id)).all();
      tx.delete(files).where(eq(files.accountId, id)).run();
      tx.delete(sentMessages).where(eq(sentMessages.accountId, id)).run();
      tx.delete(outboundJobs).where(eq(outboundJobs.accountId, id)).run();
      tx.delete(planfixOutbox).where(eq(planfixOutbox.accountId, id)).run();
      tx.delete(peers).where(eq(peers.accountId, id)).run();
      tx.delete(accounts).where(eq(accounts.id, id)).run();
      return media.map((m) => m.path);
    });
  }

  /** Forgets a client whose numbers were deleted already (deleteAccount); its leftover jobs go with it. */
  deleteClient(id: number): void {
    flushWrites(this.db);
    this.db.transaction((tx) => {
      tx.delete(outboundJobs).where(eq(outboundJobs.clientId, id)).run();
      tx.delete(clients).where(eq(clients.id, id)).run();
    });
  }

  /**
   * A different session may be a different user: forget who the number was and the people it saw. (The
   * connector forgets its own state for the number by itself when it sees another session.)
   */
  resetTelegramIdentity(id: number): void {
    flushWrites(this.db); // a queued write of the old session must not land after the reset
    this.db.transaction((tx) => {
      tx.update(accounts).set({ selfUserId: null }).where(eq(accounts.id, id)).run();
      tx.delete(peers).where(eq(peers.accountId, id)).run();
    });
  }
}

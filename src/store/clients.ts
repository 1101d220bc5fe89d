// Clients and their numbers (accounts): the only SQL for them.
import { and, asc, eq, sql } from "drizzle-orm";
import type { Account, Client } from "../domain/accounts.ts";
import type { AccountStateChange, ClientRepository, NewAccount } from "../domain/repositories.ts";
import { flushWrites, param as $, type Db } from "./db.ts";
import { accounts, clients, files, outboundJobs, peers, planfixOutbox, sentMessages } from "./schema.ts";

export type { Account, Client } from "../domain/accounts.ts";
// The rows are the domain types plus columns no longer used (accounts.pts/qts/upd_date, kept for a
// downgrade): the compiler checks each row still is one (a column the domain type lacks must be added there first).
type Extends<T, _U extends T> = true;
export type RowsAreDomain = [Extends<Client, typeof clients.$inferSelect>, Extends<Account, typeof accounts.$inferSelect>];
export type { AccountStateChange, NewAccount } from "../domain/repositories.ts";
// A new account is one insertable row: the compiler checks the domain's NewAccount still fits the table.
export type NewAccountIsARow = Extends<Omit<typeof accounts.$inferInsert, "id" | "createdAt" | "updatedAt">, NewAccount>;

/**
 * The SQLite ClientRepository. Its work is synchronous (each promise is settled when returned) and its
 * writes run at once, not batched: the answer that follows a state write reads it.
 */
export class ClientStore implements ClientRepository {
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

  async createClient(name: string, tokenHash: string): Promise<Client> {
    return this.db.insert(clients).values({ name, tokenHash }).returning().get();
  }

  async clientByName(name: string): Promise<Client | undefined> {
    return this.db.select().from(clients).where(eq(clients.name, name)).get();
  }

  async clientByTokenHash(tokenHash: string): Promise<Client | undefined> {
    return this.q.clientByTokenHash.get({ tokenHash });
  }

  async clientById(id: number): Promise<Client | undefined> {
    return this.q.clientById.get({ id });
  }

  async allClients(): Promise<Client[]> {
    return this.db.select().from(clients).orderBy(asc(clients.name)).all();
  }

  async accountByNumber(number: string): Promise<Account | undefined> {
    return this.db.select().from(accounts).where(eq(accounts.number, number)).get();
  }

  async accountById(id: number): Promise<Account | undefined> {
    return this.q.accountById.get({ id });
  }

  /** The client's own number, or undefined — never another client's. */
  async accountOfClient(clientId: number, number: string): Promise<Account | undefined> {
    return this.q.accountOfClient.get({ clientId, number });
  }

  async accountsOfClient(clientId: number): Promise<Account[]> {
    return this.db.select().from(accounts).where(eq(accounts.clientId, clientId)).orderBy(asc(accounts.number)).all();
  }

  /** How many numbers are in each state (every client together). */
  async countByState(): Promise<Record<string, number>> {
    const rows = this.db.select({ state: accounts.state, n: sql<number>`count(*)` }).from(accounts).groupBy(accounts.state).all();
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  async allAccounts(): Promise<Account[]> {
    return this.db.select().from(accounts).orderBy(asc(accounts.id)).all();
  }

  async insertAccount(values: NewAccount): Promise<Account> {
    return this.db.insert(accounts).values(values).returning().get();
  }

  async updateAccount(id: number, values: Partial<NewAccount>): Promise<Account> {
    return this.db
      .update(accounts)
      .set({ ...values, updatedAt: Date.now() })
      .where(eq(accounts.id, id))
      .returning()
      .get();
  }

  async setWanted(id: number, wanted: "running" | "stopped"): Promise<void> {
    this.db.update(accounts).set({ wanted, updatedAt: Date.now() }).where(eq(accounts.id, id)).run();
  }

  async setState(id: number, change: AccountStateChange): Promise<void> {
    this.db
      .update(accounts)
      .set({ state: change.state, stateReason: change.stateReason, stateSince: Date.now(), floodUntil: change.floodUntil ?? null })
      .where(eq(accounts.id, id))
      .run();
  }

  async setSelf(id: number, selfUserId: string): Promise<void> {
    this.db.update(accounts).set({ selfUserId }).where(eq(accounts.id, id)).run();
  }

  /** A new token for the client: the old hash is gone at once, so the old token stops working. */
  async setTokenHash(clientId: number, tokenHash: string): Promise<void> {
    this.db.update(clients).set({ tokenHash }).where(eq(clients.id, clientId)).run();
  }

  /**
   * Forgets a number and everything kept for it — its peers, Planfix outbox, Telegram jobs and the rows
   * of its media files — in one transaction. Returns the media files' stored paths (their bytes are
   * deleted by the caller). The number must be stopped first.
   */
  async deleteAccount(id: number): Promise<string[]> {
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
  async deleteClient(id: number): Promise<void> {
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
  async resetTelegramIdentity(id: number): Promise<void> {
    flushWrites(this.db); // a queued write of the old session must not land after the reset
    this.db.transaction((tx) => {
      tx.update(accounts).set({ selfUserId: null }).where(eq(accounts.id, id)).run();
      tx.delete(peers).where(eq(peers.accountId, id)).run();
    });
  }
}

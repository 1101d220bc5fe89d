// The stores as the core sees them: repository interfaces with promise-returning methods and plain
// domain types in and out. The SQLite adapter (src/store/) implements them; a second adapter
// (PostgreSQL) would implement the same interfaces without the core changing.

import type { AccountState } from "../accounts/states.ts";
import type { Account, Client } from "./accounts.ts";
import type { PeerInfo } from "./telegram-port.ts";

/** A number to register: what the operator gave; the rest (state, times, ids) the store fills in. */
export type NewAccount = Pick<Account, "clientId" | "number" | "urlPlanfix" | "tokenPlanfix" | "sessionPath"> &
  Partial<Pick<Account, "providerId" | "nameSession" | "wanted" | "language" | "proxy" | "planfixError" | "selfUserId">>;

/** A state the runner reached, as stored (`stateSince` is set by the store). */
export interface AccountStateChange {
  state: AccountState;
  stateReason: string | null;
  floodUntil?: number | null;
}

/**
 * Clients and their numbers. Writes take effect before their promise resolves (read-your-writes: an API
 * answer reads the state it waited for), so an adapter runs them at once rather than batching them.
 */
export interface ClientRepository {
  createClient(name: string, tokenHash: string): Promise<Client>;
  clientByName(name: string): Promise<Client | undefined>;
  clientByTokenHash(tokenHash: string): Promise<Client | undefined>;
  clientById(id: number): Promise<Client | undefined>;
  /** Every client, by name. */
  allClients(): Promise<Client[]>;
  accountByNumber(number: string): Promise<Account | undefined>;
  accountById(id: number): Promise<Account | undefined>;
  /** The client's own number, or undefined — never another client's. */
  accountOfClient(clientId: number, number: string): Promise<Account | undefined>;
  /** A client's numbers, by number. */
  accountsOfClient(clientId: number): Promise<Account[]>;
  /** How many numbers are in each state (every client together). */
  countByState(): Promise<Record<string, number>>;
  /** Every number, by id. */
  allAccounts(): Promise<Account[]>;
  insertAccount(values: NewAccount): Promise<Account>;
  updateAccount(id: number, values: Partial<NewAccount>): Promise<Account>;
  setWanted(id: number, wanted: "running" | "stopped"): Promise<void>;
  setState(id: number, change: AccountStateChange): Promise<void>;
  setSelf(id: number, selfUserId: string): Promise<void>;
  /** A new token for the client: the old hash is gone at once, so the old token stops working. */
  setTokenHash(clientId: number, tokenHash: string): Promise<void>;
  /**
   * Forgets a number and everything kept for it (peers, outbox, jobs, the rows of its media files)
   * together; resolves to the media files' stored paths (the caller deletes their bytes). The number must be stopped first.
   */
  deleteAccount(id: number): Promise<string[]>;
  /** Forgets a client whose numbers were deleted already; its leftover jobs go with it. */
  deleteClient(id: number): Promise<void>;
  /** A different session may be a different user: forgets who the number was and the people it saw. */
  resetTelegramIdentity(id: number): Promise<void>;
}

/** A media file kept for Planfix (bytes on disk, reachable by an unguessable link until it expires). */
export interface StoredFile {
  id: string;
  accountId: number | null;
  name: string;
  mimeType: string;
  size: number;
  createdAt: number;
  expiresAt: number;
}

/** A file that was not kept; `reason` is readable by a Planfix user. */
export class MediaNotKept extends Error {
  constructor(readonly reason: string) {
    super(`media not kept: ${reason}`);
  }
}

/** Media offered to Planfix, bounded by MEDIA_MAX_GB and MIN_FREE_DISK_MB. */
export interface FileRepository {
  /** Bytes of media kept now, and the limit (kept in memory: no query). */
  usage(): { bytes: number; maxBytes: number };
  /** Why a file of `size` bytes would not be kept now (asked before downloading it); null when it would. A disk check, no query. */
  refusal(size: number): string | null;
  /** Keeps the bytes; rejects with MediaNotKept when the limits (or a full disk) do not allow it. */
  save(accountId: number | null, name: string, mimeType: string, bytes: Uint8Array): Promise<StoredFile>;
  /** The file and where its bytes are, when the id exists, the name matches and it has not expired. */
  find(id: string, name: string): Promise<(StoredFile & { fullPath: string }) | null>;
  /** Deletes expired files; resolves to how many. */
  sweep(now?: number): Promise<number>;
}

/** What waits in one queue (and since when the oldest) and what is parked. */
export interface QueueStats {
  waiting: number;
  /** created_at of the oldest waiting item. */
  oldestWaitingAt: number | null;
  parked: number;
}

/** Something for Planfix: a Telegram message, a status report of ours, or a changed contact. */
export interface OutboxItem {
  accountId: number;
  chatKey: string;
  kind: "message" | "status" | "contact";
  dedupKey: string;
  event: unknown;
}

/** An item of the Planfix-bound outbox as stored: `event` and `command` are JSON text. */
export interface OutboxEntry {
  id: number;
  accountId: number;
  chatKey: string;
  kind: OutboxItem["kind"];
  dedupKey: string;
  event: string;
  /** The prepared Planfix command, once media is downloaded (so a retry does not redo it). */
  command: string | null;
  state: "pending" | "done" | "parked" | "discarded";
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
  /** When the give-up clock started again (a resend); null: at createdAt. */
  retryFrom: number | null;
}

/** The Planfix-bound outbox: delivered per chat in order, parked after its retries. */
export interface OutboxRepository {
  /** Adds an item unless one with the same dedup key exists; resolves true when it was new, once committed. */
  add(item: OutboxItem): Promise<boolean>;
  /** The oldest pending item of each chat of an account: only a chat's head may be delivered. */
  heads(accountId: number): Promise<OutboxEntry[]>;
  accountsWithPending(): Promise<number[]>;
  /** Whether anything of this chat ever went (or is going) to Planfix: then Planfix knows the contact. */
  hasChat(accountId: number, chatKey: string): Promise<boolean>;
  saveCommand(id: number, command: unknown): Promise<void>;
  /** Marks an item delivered; resolves once committed. */
  delivered(id: number): Promise<void>;
  retryLater(id: number, attempts: number, at: number, error: string): Promise<void>;
  /** Given up after its retries: kept, counted and listed until resent or discarded; its chat moves on. */
  park(id: number, attempts: number, error: string): Promise<void>;
  /** Parked items of a number (one, or all) back in their queue, with fresh retries; how many. */
  resend(accountId: number, id: number | null, now?: number): Promise<number>;
  /** Drops one parked or waiting item for good (kept as a discarded row); how many. */
  discard(accountId: number, id: number): Promise<number>;
  /** Items of a number in one state, oldest first. */
  list(accountId: number, state: "pending" | "parked", limit: number): Promise<OutboxEntry[]>;
  /** One number's queue, or every number's together (null: /metrics). */
  stats(accountId: number | null): Promise<QueueStats>;
  /** Every number's queue in one query (a listing of many numbers: not one query per number). */
  statsByAccount(): Promise<Map<number, QueueStats>>;
}

/** A Planfix message to send to Telegram, and how far it got. */
export interface Job {
  id: number;
  clientId: number;
  planfixMessageId: string;
  accountId: number;
  chatId: string;
  contactId: string;
  /** The messenger's id of the recipient. */
  peerUserId: string;
  /** JSON {username, phone}: other ways to find the recipient. */
  lookup: string | null;
  text: string;
  /** JSON [{name, url}] in Planfix's order. */
  attachments: string;
  randomSeed: string;
  state: "pending" | "sent" | "failed" | "refused" | "discarded";
  partsDone: number;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  readReported: boolean;
  createdAt: number;
  /** When the give-up clock started again (a resend); null: at createdAt. */
  retryFrom: number | null;
}

export type NewJob = Pick<Job, "clientId" | "planfixMessageId" | "accountId" | "chatId" | "contactId" | "peerUserId" | "text" | "attachments" | "randomSeed"> & {
  lookup?: string | null;
};

/** How a job ends: sent; failed (parked, re-sendable); refused (final: the other side will not take it). */
export type JobOutcome = "sent" | "failed" | "refused";

/** Planfix → Telegram jobs and the Telegram messages they produced. */
export interface JobRepository {
  /** Inserts the job, or returns the existing one for a repeated Planfix messageId; resolves once committed. */
  addOrGet(job: NewJob): Promise<{ job: Job; created: boolean }>;
  byMessage(clientId: number, planfixMessageId: string): Promise<Job | undefined>;
  byId(id: number): Promise<Job | undefined>;
  /** The oldest pending job of each chat of an account: chats are served in strict order. */
  heads(accountId: number): Promise<Job[]>;
  hasPending(accountId: number, peerUserId: string): Promise<boolean>;
  /** Records one sent part (the progress); resolves once committed. */
  partSent(job: Job, part: number): Promise<void>;
  retryLater(id: number, attempts: number, at: number, error: string): Promise<void>;
  /** Failed jobs of a number (one, or all) back in their queue, with fresh retries; how many. */
  resend(accountId: number, id: number | null, now?: number): Promise<number>;
  /** Drops one failed or waiting job for good (the row stays); how many. */
  discard(accountId: number, id: number): Promise<number>;
  /** Jobs of a number in one state, oldest first. */
  list(accountId: number, state: "pending" | "failed", limit: number): Promise<Job[]>;
  /** One number's queue, or every number's together (null: /metrics). */
  stats(accountId: number | null): Promise<QueueStats>;
  /** Every number's queue in one query. */
  statsByAccount(): Promise<Map<number, QueueStats>>;
  accountsWithPending(): Promise<number[]>;
}

/**
 * The writes of one unit of work (`Transaction`): committed together or not at all. Each resolves once
 * taken into the unit (not once committed): the unit commits when its work has ended.
 */
export interface WriteTx {
  jobs: {
    finish(id: number, state: JobOutcome, error?: string | null): Promise<void>;
    recordPart(job: Job, part: number): Promise<void>;
    /**
     * The read of the chat's jobs with these random seeds: `jobs`, the sent ones not yet reported read
     * (marked reported with the unit); `pending`, the seeds whose job is still being sent.
     */
    takeRead(accountId: number, peerUserId: string, seeds: readonly string[]): Promise<{ jobs: Job[]; pending: string[] }>;
  };
  outbox: {
    /** Adds an item unless one with its dedup key exists. */
    add(item: OutboxItem): Promise<void>;
  };
  /** Runs `then` once the unit is committed (never when it fails). */
  afterCommit(then: () => void): void;
}

/** Runs `work` as one unit of work; resolves with its result once its writes are committed. */
export type Transaction = <T>(work: (tx: WriteTx) => Promise<T>) => Promise<T>;

/** The messenger's users each number has seen (names, usernames, phones; the access hashes are the connector's). */
export interface PeerRepository {
  /** Inserts or refreshes; a known name, username or phone is never replaced by a missing one. */
  save(accountId: number, list: readonly PeerInfo[]): Promise<void>;
  byId(accountId: number, userId: string): Promise<PeerInfo | undefined>;
  byUsername(accountId: number, username: string): Promise<PeerInfo | undefined>;
  byPhone(accountId: number, phone: string): Promise<PeerInfo | undefined>;
  all(accountId: number): Promise<PeerInfo[]>;
}

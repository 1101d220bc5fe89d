// The stores as the core sees them: repository interfaces with promise-returning methods and plain
// domain types in and out. The SQLite adapter (src/store/) implements them; a second adapter
// (PostgreSQL) would implement the same interfaces without the core changing.

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

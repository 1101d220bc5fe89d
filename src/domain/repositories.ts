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

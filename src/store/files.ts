// Media offered to Planfix: bytes on disk under DATA_DIR/files, metadata here, links unguessable.
// Bounded twice: MEDIA_MAX_GB in total (the oldest files expire first to make room) and
// MIN_FREE_DISK_MB left on the disk (below it a file is not kept at all), so no Telegram user can
// fill the disk the database needs.
import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { asc, eq, lte, sql } from "drizzle-orm";
import { type FileRepository, MediaNotKept, type StoredFile } from "../domain/repositories.ts";
import type { Db } from "./db.ts";
import { DiskWatch, isDiskFull } from "./disk.ts";
import { files } from "./schema.ts";

export { MediaNotKept } from "../domain/repositories.ts";
type FileRow = typeof files.$inferSelect;
type Extends<T, _U extends T> = true;
export type RowIsDomain = Extends<StoredFile, FileRow>;

export interface FileLimits {
  /** MEDIA_MAX_GB: total bytes of media kept. */
  maxTotalBytes: number;
  /** Watches MIN_FREE_DISK_MB on the disk the files are on. */
  disk: DiskWatch;
}

const TMP = ".tmp";
const NEARLY_FULL = "the bridge's disk is nearly full";
const OVER_QUOTA = "larger than the bridge's whole media storage";

/**
 * The SQLite adapter of FileRepository. Its work is synchronous (a local file and a local database): each
 * promise is already settled when it is returned.
 */
export class FileStore implements FileRepository {
  private total: number;

  constructor(
    private readonly db: Db,
    private readonly dir: string,
    private readonly ttlMs: number,
    private readonly limits: FileLimits = { maxTotalBytes: Number.POSITIVE_INFINITY, disk: new DiskWatch(dir, 0) },
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Media of every client: not for other local users (also covers files written before umask was set).
    chmodSync(dir, 0o700);
    this.removeLeftovers();
    this.total = this.countTotal();
  }

  private countTotal(): number {
    return (
      this.db
        .select({ n: sql<number>`coalesce(sum(${files.size}), 0)` })
        .from(files)
        .get()?.n ?? 0
    );
  }

  /** Bytes of media kept now, and the limit. */
  usage(): { bytes: number; maxBytes: number } {
    return { bytes: this.total, maxBytes: this.limits.maxTotalBytes };
  }

  /** Why a file of `size` bytes would not be kept now (checked before downloading it); null when it would. */
  refusal(size: number): string | null {
    if (size > this.limits.maxTotalBytes) return OVER_QUOTA;
    const free = this.limits.disk.freeBytes();
    if (free !== null && free - size < this.limits.disk.minFreeBytes) return NEARLY_FULL;
    return null;
  }

  /**
   * Keeps the bytes, or rejects with MediaNotKept when the limits (or a full disk) do not allow it. The
   * bytes go to a temporary name, are fsynced and renamed, so no file is ever visible half written.
   */
  async save(accountId: number | null, name: string, mimeType: string, bytes: Uint8Array): Promise<StoredFile> {
    const size = bytes.byteLength;
    const refused = this.refusal(size);
    if (refused) throw new MediaNotKept(refused);
    this.makeRoom(size);
    const id = randomBytes(16).toString("base64url");
    const path = join(this.dir, id);
    try {
      this.writeDurably(path, bytes);
    } catch (e) {
      if (!isDiskFull(e)) throw e;
      this.limits.disk.noteFull();
      throw new MediaNotKept(NEARLY_FULL);
    }
    let row: FileRow;
    try {
      row = this.db
        .insert(files)
        .values({ id, accountId, path: id, name: safeName(name), mimeType, size, expiresAt: Date.now() + this.ttlMs })
        .returning()
        .get();
    } catch (e) {
      rmSync(path, { force: true });
      if (!isDiskFull(e)) throw e;
      this.limits.disk.noteFull();
      throw new MediaNotKept(NEARLY_FULL);
    }
    this.total += size;
    return toFile(row);
  }

  /** The file when the id exists, the name matches and it has not expired. */
  async find(id: string, name: string): Promise<(StoredFile & { fullPath: string }) | null> {
    const row = this.db.select().from(files).where(eq(files.id, id)).get();
    if (!row || row.name !== name || row.expiresAt < Date.now()) return null;
    return { ...toFile(row), fullPath: join(this.dir, row.path) };
  }

  /** Deletes expired files; returns how many. */
  async sweep(now = Date.now()): Promise<number> {
    const expired = this.db.select().from(files).where(lte(files.expiresAt, now)).all();
    for (const f of expired) this.forget(f);
    this.total = this.countTotal();
    return expired.length;
  }

  /** MEDIA_MAX_GB: the oldest files expire first until `size` more bytes fit. */
  private makeRoom(size: number): void {
    // The running total can only be too high (rows of a removed number are deleted elsewhere): count
    // again before expiring anything for it.
    if (this.total + size > this.limits.maxTotalBytes) this.total = this.countTotal();
    while (this.total + size > this.limits.maxTotalBytes) {
      const oldest = this.db.select().from(files).orderBy(asc(files.createdAt), sql`rowid`).limit(64).all();
      if (oldest.length === 0) break;
      for (const f of oldest) {
        if (this.total + size <= this.limits.maxTotalBytes) break;
        this.forget(f);
      }
    }
  }

  /** The row first: a crash in between leaves a file without a row (removed at the next start), never a dead link. */
  private forget(f: FileRow): void {
    this.db.delete(files).where(eq(files.id, f.id)).run();
    rmSync(join(this.dir, f.path), { force: true });
    this.total = Math.max(0, this.total - f.size);
  }

  private writeDurably(path: string, bytes: Uint8Array): void {
    const tmp = path + TMP;
    try {
      const fd = openSync(tmp, "w", 0o600);
      try {
        for (let off = 0; off < bytes.byteLength; ) off += writeSync(fd, bytes, off);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
    // The rename itself survives a power loss only once the directory is synced.
    const dirFd = openSync(this.dir, "r");
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }

  /** Half-written files of a crash (temporary names) and files whose row was never committed. */
  private removeLeftovers(): void {
    const names = readdirSync(this.dir);
    if (names.length === 0) return;
    const known = new Set(
      this.db
        .select({ path: files.path })
        .from(files)
        .all()
        .map((r) => r.path),
    );
    for (const n of names) if (!known.has(n)) rmSync(join(this.dir, n), { force: true, recursive: true });
  }
}

/** The row without what only the store needs (its path under the files folder). */
function toFile({ path: _path, ...file }: FileRow): StoredFile {
  return file;
}

/** A name safe in a URL path segment and a Content-Disposition header. */
export function safeName(name: string): string {
  const cleaned = name.replace(/[\\/\0-\x1f"]/g, "_").trim();
  return (cleaned || "file").slice(0, 200);
}

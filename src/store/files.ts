// Media offered to Planfix: bytes on disk under DATA_DIR/files, metadata here, links unguessable.
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eq, lte } from "drizzle-orm";
import type { Db } from "./db.ts";
import { files } from "./schema.ts";

export type FileRow = typeof files.$inferSelect;

export class FileStore {
  constructor(
    private readonly db: Db,
    private readonly dir: string,
    private readonly ttlMs: number,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  /** Writes the bytes (fsync'd by the OS on close is enough: a lost file only costs a re-download). */
  save(accountId: number | null, name: string, mimeType: string, bytes: Uint8Array): FileRow {
    const id = randomBytes(16).toString("base64url");
    const path = join(this.dir, id);
    writeFileSync(path, bytes);
    return this.db
      .insert(files)
      .values({ id, accountId, path: id, name: safeName(name), mimeType, size: bytes.byteLength, expiresAt: Date.now() + this.ttlMs })
      .returning()
      .get();
  }

  /** The file when the id exists, the name matches and it has not expired. */
  find(id: string, name: string): (FileRow & { fullPath: string }) | null {
    const row = this.db.select().from(files).where(eq(files.id, id)).get();
    if (!row || row.name !== name || row.expiresAt < Date.now()) return null;
    return { ...row, fullPath: join(this.dir, row.path) };
  }

  /** Deletes expired files; returns how many. */
  sweep(now = Date.now()): number {
    const expired = this.db.select().from(files).where(lte(files.expiresAt, now)).all();
    for (const f of expired) {
      rmSync(join(this.dir, f.path), { force: true });
      this.db.delete(files).where(eq(files.id, f.id)).run();
    }
    return expired.length;
  }
}

/** A name safe in a URL path segment and a Content-Disposition header. */
export function safeName(name: string): string {
  const cleaned = name.replace(/[\\/\0-\x1f"]/g, "_").trim();
  return (cleaned || "file").slice(0, 200);
}

// The data disk: how much room is left, and whether an error means it is full (SQLite's or the OS's).
import * as v from "valibot";
import { statfsSync } from "node:fs";

/** Bytes an unprivileged writer may still use on the file system holding `dir`; null when unknown. */
export function freeBytes(dir: string): number | null {
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return null;
  }
}

const FULL_CODES = new Set(["SQLITE_FULL", "SQLITE_IOERR_SHMSIZE", "SQLITE_IOERR_WRITE", "SQLITE_IOERR_FSYNC", "ENOSPC", "EDQUOT"]);

/** True for a write refused because the disk (or the quota) is full. */
export function isDiskFull(e: unknown): boolean {
  if (!e || typeof e !== "object") return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string" && FULL_CODES.has(code)) return true;
  return /database or disk is full|no space left on device/i.test(((e as { message?: unknown }).message as string) ?? "");
}

export const mbOf = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;

/** The data disk's state as /health shows it (valibot: the type and the Swagger schema from one source). */
export const DiskReport = v.object({
  ok: v.boolean(),
  free_mb: v.nullable(v.number()),
  min_free_mb: v.number(),
  media_mb: v.number(),
  media_max_mb: v.number(),
  problem: v.optional(v.pipe(v.string(), v.description("What is wrong, in words, when not ok"))),
});
export type DiskReport = v.InferOutput<typeof DiskReport>;

/**
 * Watches the data disk: below MIN_FREE_DISK_MB incoming media is not kept, and a write refused for
 * lack of space is remembered so /health can say why messages are not being accepted.
 */
export class DiskWatch {
  private lastFull: { at: number; free: number | null } | null = null;

  constructor(
    readonly dir: string,
    readonly minFreeBytes: number,
    private readonly free: (dir: string) => number | null = freeBytes,
  ) {}

  freeBytes(): number | null {
    return this.free(this.dir);
  }

  /** Records a write that failed because the disk is full. */
  noteFull(): void {
    this.lastFull = { at: Date.now(), free: this.freeBytes() };
  }

  /** The problem with the disk now, in words; null when there is none. */
  problem(): string | null {
    return this.status().problem;
  }

  /** `kind` changes only when the situation does (not with every megabyte), for logging changes once. */
  status(): { kind: "ok" | "low" | "failing" | "low+failing"; problem: string | null } {
    const free = this.freeBytes();
    // A failed write stays reported for a minute, unless space has been freed since.
    const f = this.lastFull;
    const failing = f !== null && Date.now() - f.at < 60_000 && (free === null || f.free === null || free < f.free + 1048576);
    const failingText = "writes are failing: new messages are not accepted until space is freed";
    if (free !== null && free < this.minFreeBytes) {
      const problem = `disk nearly full: ${mbOf(free)} MB free, below MIN_FREE_DISK_MB (${mbOf(this.minFreeBytes)} MB); incoming media is not kept${failing ? `; ${failingText}` : ""}`;
      return { kind: failing ? "low+failing" : "low", problem };
    }
    return failing ? { kind: "failing", problem: `disk full: ${failingText}` } : { kind: "ok", problem: null };
  }

  report(media: { bytes: number; maxBytes: number }): DiskReport {
    const free = this.freeBytes();
    const problem = this.problem();
    const r: DiskReport = {
      ok: problem === null,
      free_mb: free === null ? null : mbOf(free),
      min_free_mb: mbOf(this.minFreeBytes),
      media_mb: mbOf(media.bytes),
      media_max_mb: mbOf(media.maxBytes),
    };
    if (problem) r.problem = problem;
    return r;
  }
}

// Downloads a Planfix attachment ourselves (Telegram would otherwise fetch the URL with no size limit
// and no control over the name): through the fetch guard (no internal destinations), capped at
// MAX_FILE_MB after decompression, streamed to a temporary file rather than held in memory, with a
// timeout, and at most a few at a time per number and in total (DownloadSlots).
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { DestinationRefused, type NetGuard } from "../net/guarded-fetch.ts";
import { BodyTooLarge, saveCapped, UnsupportedEncoding } from "../net/read-body.ts";

export class DownloadError extends Error {
  constructor(
    message: string,
    /** true when trying again later may work (network, timeout, 5xx). */
    readonly retry: boolean,
  ) {
    super(message);
  }
}

export interface DownloadOptions {
  guard: NetGuard;
  maxBytes: number;
  timeoutMs: number;
  name: string;
  /** Where the temporary file goes; the caller removes it when done. */
  dir: string;
}

export interface DownloadedFile {
  path: string;
  size: number;
  mimeType: string;
}

export async function downloadToFile(url: string, opts: DownloadOptions): Promise<DownloadedFile> {
  const failed = (why: string, retry: boolean) => new DownloadError(`file "${opts.name}" could not be downloaded: ${why}`, retry);
  const tooBig = () => new DownloadError(`file "${opts.name}" is larger than the ${Math.round(opts.maxBytes / 1048576)} MB limit`, false);
  const signal = AbortSignal.timeout(opts.timeoutMs);
  let res: Response;
  try {
    res = await opts.guard.fetch(url, { redirect: "follow", signal, headers: { "accept-encoding": "gzip, deflate, br" } });
  } catch (e) {
    if (e instanceof DestinationRefused) throw failed(e.message, false);
    throw failed(isTimeout(e, signal) ? "timed out" : "network error", true);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw failed(`HTTP ${res.status}`, res.status >= 500 || res.status === 429);
  }
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const path = join(opts.dir, `dl-${randomBytes(8).toString("hex")}`);
  try {
    const size = await saveCapped(res, path, opts.maxBytes);
    return { path, size, mimeType: (res.headers.get("content-type") ?? "application/octet-stream").split(";")[0]!.trim() || "application/octet-stream" };
  } catch (e) {
    if (e instanceof BodyTooLarge) throw tooBig();
    if (e instanceof UnsupportedEncoding) throw failed(e.message, false);
    throw failed(isTimeout(e, signal) ? "timed out" : "connection lost", true);
  }
}

function isTimeout(e: unknown, signal: AbortSignal): boolean {
  return signal.aborted || (e as Error)?.name === "TimeoutError";
}

/**
 * At most `perKey` downloads per number and `total` in all: a slow attachment takes one slot of its
 * number, so other chats and other numbers go on, and many slow ones cannot pile up.
 */
export class DownloadSlots {
  private readonly used = new Map<number, number>();
  private inUse = 0;
  private readonly waiting: Array<{ key: number; go: () => void }> = [];

  constructor(
    readonly perKey = 2,
    readonly total = 8,
  ) {}

  /** Resolves with a release function once a slot of `key` is free. */
  async acquire(key: number): Promise<() => void> {
    // A waiter is woken with its slot already taken (give), so no later caller can overtake it.
    if (this.free(key)) this.take(key);
    else await new Promise<void>((go) => this.waiting.push({ key, go }));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.give(key);
    };
  }

  private free(key: number): boolean {
    return this.inUse < this.total && (this.used.get(key) ?? 0) < this.perKey;
  }

  private take(key: number): void {
    this.inUse++;
    this.used.set(key, (this.used.get(key) ?? 0) + 1);
  }

  private give(key: number): void {
    this.inUse--;
    const n = (this.used.get(key) ?? 1) - 1;
    if (n === 0) this.used.delete(key);
    else this.used.set(key, n);
    // Wake the first waiter that fits now (FIFO among those that can go).
    for (let i = 0; i < this.waiting.length; i++) {
      const w = this.waiting[i]!;
      if (!this.free(w.key)) continue;
      this.waiting.splice(i, 1);
      this.take(w.key);
      w.go();
      return;
    }
  }
}

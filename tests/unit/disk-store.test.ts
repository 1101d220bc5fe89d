// Disk safety at the module level, with real SQLite files: the media quota (oldest
// expire first), the free-space floor, no half-written media under a final name, and a database whose
// commits are durable (synchronous=FULL) and that needs no -shm file.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb, type Db } from "../../src/store/db.ts";
import { DiskWatch, isDiskFull } from "../../src/store/disk.ts";
import { FileStore, MediaNotKept } from "../../src/store/files.ts";

const root = mkdtempSync(join(tmpdir(), "pt-disk-"));
const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) spawnSync(["umount", m]);
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
function setup(limits: { maxTotalBytes?: number; minFree?: number; free?: () => number | null } = {}, base = root) {
  const dir = join(base, `case-${n++}`);
  mkdirSync(dir, { recursive: true });
  const db = openDb(join(dir, "db.sqlite"));
  const disk = new DiskWatch(dir, limits.minFree ?? 0, limits.free ? () => limits.free!() : undefined);
  const open = () => new FileStore(db, join(dir, "files"), 86_400_000, { maxTotalBytes: limits.maxTotalBytes ?? Number.POSITIVE_INFINITY, disk });
  return { dir, db, disk, files: open(), open };
}

const bytes = (size: number, fill = 1) => new Uint8Array(size).fill(fill);
const notKept = async (f: () => Promise<unknown>): Promise<string> => {
  try {
    await f();
  } catch (e) {
    if (e instanceof MediaNotKept) return e.reason;
    throw e;
  }
  throw new Error("the file was kept");
};

describe("MEDIA_MAX_GB", () => {
  test("over the quota the oldest files expire first; links to them answer as expired", async () => {
    const { files } = setup({ maxTotalBytes: 3000 });
    const a = await files.save(null, "a.bin", "application/octet-stream", bytes(1000, 1));
    const b = await files.save(null, "b.bin", "application/octet-stream", bytes(1000, 2));
    const c = await files.save(null, "c.bin", "application/octet-stream", bytes(1000, 3));
    expect(files.usage().bytes).toBe(3000);
    const d = await files.save(null, "d.bin", "application/octet-stream", bytes(1500, 4));
    // a and b had to go (oldest first) to fit 1,500 bytes; c and d stay.
    expect(await files.find(a.id, "a.bin")).toBeNull();
    expect(await files.find(b.id, "b.bin")).toBeNull();
    expect(readFileSync((await files.find(c.id, "c.bin"))!.fullPath)).toEqual(Buffer.from(bytes(1000, 3)));
    expect(readFileSync((await files.find(d.id, "d.bin"))!.fullPath)).toEqual(Buffer.from(bytes(1500, 4)));
    expect(files.usage().bytes).toBe(2500);
  });

  test("a file larger than the whole quota is not kept, and nothing else is expired for it", async () => {
    const { files, dir } = setup({ maxTotalBytes: 3000 });
    const a = await files.save(null, "a.bin", "application/octet-stream", bytes(1000));
    expect(files.refusal(5000)).toBe("larger than the bridge's whole media storage");
    expect(await notKept(() => files.save(null, "big.bin", "application/octet-stream", bytes(5000)))).toBe("larger than the bridge's whole media storage");
    expect(await files.find(a.id, "a.bin")).not.toBeNull();
    expect(readdirSync(join(dir, "files"))).toEqual([a.id]);
  });

  test("rows deleted elsewhere (a number removed for good) free their room: nothing is expired needlessly", async () => {
    const s = setup({ maxTotalBytes: 2500 });
    const a = await s.files.save(null, "a.bin", "x/y", bytes(1000));
    const b = await s.files.save(null, "b.bin", "x/y", bytes(1000));
    s.db.$client.query("DELETE FROM files WHERE id = ?").run(b.id);
    await s.files.save(null, "c.bin", "x/y", bytes(1000));
    expect(await s.files.find(a.id, "a.bin")).not.toBeNull();
    expect(s.files.usage().bytes).toBe(2000);
  });

  test("the total survives a restart (counted from the database)", async () => {
    const s = setup({ maxTotalBytes: 2000 });
    const a = await s.files.save(null, "a.bin", "x/y", bytes(1200));
    const again = s.open();
    expect(again.usage().bytes).toBe(1200);
    await again.save(null, "b.bin", "x/y", bytes(1200));
    expect(await again.find(a.id, "a.bin")).toBeNull();
  });
});

describe("MIN_FREE_DISK_MB", () => {
  test("below the free-space floor a file is not kept; with room again it is", async () => {
    let free = 10_000;
    const { files, dir } = setup({ minFree: 8_000, free: () => free });
    expect(files.refusal(1000)).toBeNull();
    expect(await notKept(() => files.save(null, "a.bin", "x/y", bytes(3000)))).toBe("the bridge's disk is nearly full");
    expect(readdirSync(join(dir, "files"))).toEqual([]);
    free = 100_000;
    expect((await files.save(null, "a.bin", "x/y", bytes(3000))).size).toBe(3000);
  });

  test("the disk's report names the problem", () => {
    const w = new DiskWatch("/data", 512 * 1048576, () => 100 * 1048576);
    const r = w.report({ bytes: 0, maxBytes: 1024 ** 3 });
    expect(r.ok).toBe(false);
    expect(r.problem).toBe("disk nearly full: 100 MB free, below MIN_FREE_DISK_MB (512 MB); incoming media is not kept");
    w.noteFull();
    expect(w.problem()).toContain("writes are failing");
    expect(new DiskWatch("/data", 512 * 1048576, () => 600 * 1048576).report({ bytes: 0, maxBytes: 1 }).ok).toBe(true);
  });
});

describe("media written durably", () => {
  test("half-written files (temporary names) and files whose row was never committed are removed at start", async () => {
    const s = setup();
    const kept = await s.files.save(null, "kept.bin", "x/y", bytes(100));
    const filesDir = join(s.dir, "files");
    writeFileSync(join(filesDir, "AAAAAAAAAAAAAAAAAAAAAA.tmp"), "half");
    writeFileSync(join(filesDir, "BBBBBBBBBBBBBBBBBBBBBB"), "no row");
    s.open();
    expect(readdirSync(filesDir)).toEqual([kept.id]);
    expect(await s.files.find(kept.id, "kept.bin")).not.toBeNull();
  });

  test("a save leaves only the final file, and the files folder is 0700", async () => {
    const s = setup();
    const f = await s.files.save(null, "a.bin", "x/y", bytes(70_000, 5));
    expect(readdirSync(join(s.dir, "files"))).toEqual([f.id]);
    expect(statSync(join(s.dir, "files")).mode & 0o777).toBe(0o700);
  });

  test("on a disk that runs out mid-write no file is ever visible under its final name", async () => {
    // A 1 MiB tmpfs: the second 700 KB file cannot be written whole.
    const mnt = join(root, "tiny");
    mkdirSync(mnt);
    const m = spawnSync(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]);
    if (m.exitCode !== 0) throw new Error(`mount failed (the test needs root): ${m.stderr.toString()}`);
    mounts.push(mnt);
    const dbDir = join(root, "tiny-db");
    mkdirSync(dbDir);
    const db: Db = openDb(join(dbDir, "db.sqlite"));
    const files = new FileStore(db, join(mnt, "files"), 86_400_000, { maxTotalBytes: Number.POSITIVE_INFINITY, disk: new DiskWatch(mnt, 0) });
    const first = await files.save(null, "first.bin", "x/y", bytes(700_000, 1));
    // The free-space check passes on purpose (a race with another writer): the write itself fails.
    const second = await (async () => {
      try {
        return await files.save(null, "second.bin", "x/y", bytes(700_000, 2));
      } catch (e) {
        return e;
      }
    })();
    expect(second).toBeInstanceOf(MediaNotKept);
    expect(readdirSync(join(mnt, "files"))).toEqual([first.id]);
    expect((db.$client.query("SELECT count(*) AS n FROM files").get() as { n: number }).n).toBe(1);
    expect(files.usage().bytes).toBe(700_000);
    db.$client.close();
  });

  test("disk-full errors are recognised, others are not", () => {
    expect(isDiskFull(Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" }))).toBe(true);
    expect(isDiskFull(Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }))).toBe(true);
    expect(isDiskFull(new Error("UNIQUE constraint failed"))).toBe(false);
    expect(isDiskFull(null)).toBe(false);
  });
});

describe("the database", () => {
  test("commits are fsynced (synchronous=FULL), WAL without a -shm file, files 0600 even if they were 0644", () => {
    const dir = join(root, "db-modes");
    mkdirSync(dir);
    const file = join(dir, "pt.db");
    const db = openDb(file);
    expect(db.$client.query("PRAGMA synchronous").get()).toEqual({ synchronous: 2 });
    expect(db.$client.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    db.$client.exec("INSERT INTO clients (name, token_hash) VALUES ('acme', 'h')");
    expect(existsSync(`${file}-wal`)).toBe(true);
    expect(existsSync(`${file}-shm`)).toBe(false);
    db.$client.close();
    chmodSync(file, 0o644);
    const again = openDb(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(again.$client.query("SELECT name FROM clients").all()).toEqual([{ name: "acme" }]);
    again.$client.close();
  });
});

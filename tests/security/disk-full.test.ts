// A Telegram user must not be able to fill the disk and keep the appliance down.
// The compiled binary runs with DATA_DIR on a 12 MiB tmpfs (we are root here): the disk is filled
// nearly, then completely, while a customer sends photos and Planfix sends webhooks.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, writeSync } from "node:fs";
import { join } from "node:path";
import { tinyPng, type WorldUser } from "../support/telegram/index.ts";
import { world } from "../e2e/harness.ts";

type World = Awaited<ReturnType<typeof world>>;
let w: World;
let mounted = false;
let anna: WorldUser;
let ivan: WorldUser;
let token: string;
let chatId: string;
const MIN_FREE_MB = 4;

const free = () => {
  const s = statfsSync(w.dataDir);
  return Number(s.bavail) * Number(s.bsize);
};

/** Writes `file` until only `leave` bytes are free on the tmpfs (0: until the disk refuses more). */
function fill(file: string, leave: number): void {
  const fd = openSync(join(w.dataDir, file), "w");
  try {
    const big = Buffer.alloc(256 * 1024, 7);
    const small = Buffer.alloc(4096, 7);
    for (;;) {
      const room = free() - leave;
      if (room <= 0) break;
      try {
        writeSync(fd, room >= big.length ? big : small.subarray(0, Math.min(small.length, room)));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOSPC") break;
        throw e;
      }
    }
  } finally {
    closeSync(fd);
  }
}

const health = async () => (await fetch(`${w.app.url}/health`)).json() as Promise<{ status: string; disk: { ok: boolean; problem?: string; free_mb: number } }>;
const hook = (fields: Record<string, string>) => w.planfix.sendWebhook(`${w.app.url}/planfix`, { token, providerId: "planfix-telegram", ...fields });
const texts = () => w.planfix.newMessages(chatId).map((c) => c.fields.message);
const failWithLog = (e: unknown) => {
  console.log(
    w.app.lines
      .filter((l) => !l.includes('"debug"'))
      .slice(-40)
      .join("\n"),
  );
  throw e;
};
const untilMessages = (n: number, ms = 20_000) => w.planfix.waitFor(() => (w.planfix.newMessages(chatId).length >= n ? w.planfix.newMessages(chatId) : undefined), ms);

beforeAll(async () => {
  w = await world({ env: { MIN_FREE_DISK_MB: String(MIN_FREE_MB), RETRY_CAP_SECONDS: "1", LANGUAGE: "en" } });
  const m = spawnSync(["mount", "-t", "tmpfs", "-o", "size=12m,mode=0700", "tmpfs", w.dataDir]);
  if (m.exitCode !== 0) throw new Error(`mount failed (the test needs root): ${m.stderr.toString()}`);
  mounted = true;
  mkdirSync(join(w.dataDir, "sessions"));
  anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
  ivan = w.tg.addUser({ firstName: "Ivan", phone: "380671234567" });
  chatId = `${anna.phone}_${ivan.id}`;
  await w.app.start();
  const r = await w.app.call("POST", "/client", w.startBody(anna));
  expect(r.json.state).toBe("online");
  token = r.json.token as string;
});

afterAll(async () => {
  await w.app.stop().catch(() => w.app.kill9());
  if (mounted) spawnSync(["umount", w.dataDir]);
  await w.close();
});

describe("a full disk (12 MiB tmpfs)", () => {
  test("with room, a photo is kept and linked; /health says the disk is fine", async () => {
    w.tg.driver.sendPhoto(ivan, anna, tinyPng([1, 2, 3]), "with room");
    const [cmd] = await untilMessages(1);
    expect(cmd!.fields.message).toBe("with room");
    expect(cmd!.attachments).toHaveLength(1);
    const h = await health();
    expect(h.disk.ok).toBe(true);
    expect(h.disk.problem).toBeUndefined();
  });

  test("below MIN_FREE_DISK_MB, photos are not kept: every message reaches Planfix with a readable note", async () => {
    fill("filler-1", 2 * 1048576);
    for (let i = 1; i <= 3; i++) w.tg.driver.sendPhoto(ivan, anna, tinyPng([i, i, i]), `photo ${i}`);
    const cmds = (await untilMessages(4)).slice(1);
    expect(cmds.map((c) => c.fields.message?.split("\n")[0])).toEqual(["photo 1", "photo 2", "photo 3"]);
    for (const c of cmds) {
      expect(c.fields.message).toMatch(/\[photo_\w+\.jpg: not transferred — the bridge's disk is nearly full\]/);
      expect(c.attachments).toHaveLength(0);
    }
    const h = await health();
    expect(h.status).toBe("ok");
    expect(h.disk.ok).toBe(false);
    expect(h.disk.problem).toContain("disk nearly full");
    expect(h.disk.problem).toContain("MIN_FREE_DISK_MB");
  });

  test("it restarts on the nearly full disk and says why in one log line and on /health", async () => {
    expect(await w.app.stop()).toBe(0);
    w.app.lines.length = 0;
    await w.app.start();
    const lines = w.app.lines.filter((l) => l.includes("disk nearly full"));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!).level).toBe("error");
    expect((await health()).disk.problem).toContain("disk nearly full");
    w.tg.driver.sendText(ivan, anna, "after restart");
    expect((await untilMessages(5)).at(-1)!.fields.message).toBe("after restart");
  });

  test("completely full while running: a webhook gets 503 'disk full', a Telegram message waits in Telegram, no crash", async () => {
    fill("filler-2", 0);
    expect(free()).toBeLessThan(8192);
    const r = await hook({ chatId, message: "from Planfix, running", messageId: "pf-full-1" });
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ error: "disk full" });
    w.tg.driver.sendText(ivan, anna, "while full, running");
    await Bun.sleep(3000);
    expect(w.app.proc?.exitCode ?? null).toBeNull();
    const h = await health();
    expect(h.disk.ok).toBe(false);
    expect(h.disk.problem).toMatch(/writes are failing/);
    expect(texts()).not.toContain("while full, running");

    rmSync(join(w.dataDir, "filler-2"));
    // Telegram's update state did not move past the unstored message: it arrives once there is room.
    await w.planfix.waitFor(() => texts().includes("while full, running") || undefined, 45_000).catch(failWithLog);
    expect(texts().filter((t) => t === "while full, running")).toHaveLength(1);
    // Planfix retries the refused webhook; now it is stored and sent.
    expect((await hook({ chatId, message: "from Planfix, running", messageId: "pf-full-1" })).status).toBe(200);
    await w.tg.driver.waitForMessage(ivan, (m) => m.text === "from Planfix, running", 20_000);
  });

  test("completely full when started: it starts, answers 503, and catches up once space is freed", async () => {
    expect(await w.app.stop()).toBe(0);
    // Stopped cleanly the WAL is gone, so the next write needs new blocks: there are none.
    fill("filler-2", 0);
    expect(free()).toBeLessThan(8192);
    w.app.lines.length = 0;
    await w.app.start();
    expect(w.app.lines.filter((l) => /disk nearly full: 0 MB free/.test(l))).toHaveLength(1);

    const r = await hook({ chatId, message: "from Planfix, stopped", messageId: "pf-full-2" });
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ error: "disk full" });
    w.tg.driver.sendText(ivan, anna, "while full, stopped");
    await Bun.sleep(2000);
    expect(w.app.proc?.exitCode ?? null).toBeNull();
    expect((await health()).disk.problem).toMatch(/writes are failing/);
    expect(texts()).not.toContain("while full, stopped");
    // A stop on the full disk is still clean, and it starts again on it.
    expect(await w.app.stop()).toBe(0);
    await w.app.start();

    rmSync(join(w.dataDir, "filler-1"));
    rmSync(join(w.dataDir, "filler-2"));
    await w.planfix.waitFor(() => texts().includes("while full, stopped") || undefined, 45_000).catch(failWithLog);
    expect(texts().filter((t) => t === "while full, stopped")).toHaveLength(1);
    expect((await hook({ chatId, message: "from Planfix, stopped", messageId: "pf-full-2" })).status).toBe(200);
    await w.tg.driver.waitForMessage(ivan, (m) => m.text === "from Planfix, stopped", 20_000);
    expect((await health()).disk.ok).toBe(true);
    expect(w.app.proc?.exitCode ?? null).toBeNull();
  });
});

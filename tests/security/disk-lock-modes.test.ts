// Against the compiled binary: the data-directory lock is an OS lock (a stale
// pid file naming a live, unrelated process does not block a start; a second live appliance is still
// refused), and what the appliance writes is for its own user only (files 0600, folders 0700).
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tinyPng } from "../support/telegram/index.ts";
import { Appliance, world } from "../e2e/harness.ts";

type World = Awaited<ReturnType<typeof world>>;
let w: World | undefined;
const extra: Appliance[] = [];
afterEach(async () => {
  for (const a of extra.splice(0)) await a.stop().catch(() => a.kill9());
  await w?.close();
  w = undefined;
});

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe("one appliance per data directory (flock)", () => {
  test("a stale pid file naming a live unrelated process (pid 1) does not block the start", async () => {
    w = await world();
    writeFileSync(join(w.dataDir, "appliance.pid"), "1\n");
    await w.app.start();
    expect((await fetch(`${w.app.url}/health`)).status).toBe(200);
    expect(readFileSync(join(w.dataDir, "appliance.pid"), "utf8").trim()).toBe(String(w.app.proc!.pid));
  });

  test("a second live appliance on the same directory is refused with a clear message; after kill -9 the next one starts", async () => {
    w = await world();
    await w.app.start();
    const second = new Appliance(w.dataDir, w.app.env);
    extra.push(second);
    const refused = await second.start().then(
      () => null,
      (e: Error) => e.message,
    );
    expect(refused).toContain("appliance exited with 1");
    expect(second.logText()).toContain(`another planfix-telegram (pid ${w.app.proc!.pid}) is running on this data directory`);
    expect((await fetch(`${w.app.url}/health`)).status).toBe(200);

    // The lock dies with the process: no clean-up needed after a crash.
    await w.app.kill9();
    const third = new Appliance(w.dataDir, w.app.env);
    extra.push(third);
    await third.start();
    expect((await fetch(`${third.url}/health`)).status).toBe(200);
  });
});

describe("file modes", () => {
  test("database, WAL, admin token, pid file and media are 0600, their folders 0700; older wider modes are fixed at start", async () => {
    // No ADMIN_TOKEN: the appliance generates the admin-token file itself.
    w = await world({ env: { ADMIN_TOKEN: "" } });
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    const ivan = w.tg.addUser({ firstName: "Ivan", phone: "380671234567", photo: tinyPng([9, 9, 9]) });
    await w.app.start();
    const admin = readFileSync(join(w.dataDir, "admin-token"), "utf8").trim();
    const r = await w.app.call("POST", "/client", w.startBody(anna), admin);
    expect(r.json.state).toBe("online");
    w.tg.driver.sendPhoto(ivan, anna, tinyPng([1, 2, 3]), "a photo");
    const [cmd] = await w.planfix.waitFor(() => (w!.planfix.newMessages().length ? w!.planfix.newMessages() : undefined), 15_000);
    expect(cmd!.attachments).toHaveLength(1);

    const d = w.dataDir;
    const db = join(d, "planfix-telegram.db");
    const media = readdirSync(join(d, "files"));
    expect(media.length).toBeGreaterThanOrEqual(2); // the photo and the contact's avatar
    expect(existsSync(`${db}-wal`)).toBe(true);
    // The WAL index is kept in memory: no -shm file (it could not grow on a full disk).
    expect(existsSync(`${db}-shm`)).toBe(false);
    const modes = () => ({
      dataDir: mode(d),
      files: mode(join(d, "files")),
      db: mode(db),
      wal: existsSync(`${db}-wal`) ? mode(`${db}-wal`) : "600",
      adminToken: mode(join(d, "admin-token")),
      pid: mode(join(d, "appliance.pid")),
      media: [...new Set(readdirSync(join(d, "files")).map((f) => mode(join(d, "files", f))))],
    });
    const tight = { dataDir: "700", files: "700", db: "600", wal: "600", adminToken: "600", pid: "600", media: ["600"] };
    expect(modes()).toEqual(tight);

    // As an older version left them: readable by everyone. The next start closes them again.
    await w.app.stop();
    for (const p of [d, join(d, "files")]) chmodSync(p, 0o755);
    for (const p of [db, join(d, "admin-token"), join(d, "appliance.pid")]) chmodSync(p, 0o644);
    await w.app.start();
    expect(modes()).toEqual(tight);
  });
});

// `planfix-telegram backup FILE` against the running binary, then the restore from docs/deploy.md onto a
// fresh data directory (the backup as the database, the sessions and files folders copied): every number
// comes back online, nothing already delivered goes out again, and new messages flow both ways.
import { afterEach, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { cpSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ADMIN_TOKEN, Appliance, BINARY } from "../e2e/harness.ts";
import { onlineWorld, texts, received, type World } from "../e2e/bridge-world.ts";
import { run, until } from "./support.ts";

let w: World | undefined;
let restored: Appliance | undefined;
afterEach(async () => {
  await restored?.stop().catch(() => restored?.kill9());
  await w?.close();
  w = restored = undefined;
});

const stateOf = async (app: Appliance, number: string, token: string) => (await app.call("GET", `/client?number=${number}`, undefined, token)).json.state as string;

test("backup while running, restore on a fresh data directory: numbers back online, no repeats, traffic flows", async () => {
  const o = await onlineWorld();
  w = o.w;
  const { anna, ivan, token, hook, chatId } = o;
  const boris = w.tg.addUser({ firstName: "Boris", phone: "380501112233" });
  const b = await w.app.call("POST", "/client", w.startBody(boris), token);
  expect(b.json.state).toBe("online");

  // Traffic both ways, all delivered.
  w.tg.driver.sendText(ivan, anna, "one");
  w.tg.driver.sendText(ivan, anna, "two");
  await w.planfix.waitFor(() => texts(w!, chatId).length === 2);
  expect((await hook({ chatId, message: "answer from Planfix", messageId: "pf-1" })).status).toBe(200);
  await w.tg.driver.waitForMessage(ivan, (m) => m.text === "answer from Planfix");
  await w.planfix.waitFor(() => w!.planfix.statuses("pf-1").length > 0);

  // The backup, taken while the appliance runs (it holds the database exclusively).
  const backup = join(w.dir, "backup", "planfix-telegram.db");
  mkdirSync(join(w.dir, "backup"));
  // A snapshot a crash left behind (a full copy of the database) is cleared by the next backup.
  mkdirSync(join(w.dataDir, "tmp"), { recursive: true });
  writeFileSync(join(w.dataDir, "tmp", "backup-0123456789ab.db"), "stale");
  const r = run([BINARY, "backup", backup, "--port", String(w.app.port), "--data-dir", w.dataDir], { env: { ADMIN_TOKEN } });
  expect(r.err).toContain("wrote");
  expect(r.code).toBe(0);
  expect(statSync(backup).mode & 0o777).toBe(0o600);
  expect(readdirSync(join(w.dataDir, "tmp"))).toEqual([]);
  const copy = new Database(backup, { readonly: true });
  expect((copy.query("SELECT count(*) AS n FROM accounts").get() as { n: number }).n).toBe(2);
  expect(copy.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
  copy.close();
  // Documented in Swagger.
  const spec = (await w.app.call("GET", "/docs/json", undefined, null)).json as { paths: Record<string, { get?: { description?: string } }> };
  expect(spec.paths["/admin/backup"]?.get?.description).toContain("VACUUM INTO");
  // Without the admin token (and with a client's token) there is no backup.
  const refused = await w.app.call("GET", "/admin/backup", undefined, token);
  expect(refused.status).toBe(401);
  expect(
    run([BINARY, "backup", join(w.dir, "x.db"), "--port", String(w.app.port), "--data-dir", w.dataDir], { env: { ADMIN_TOKEN: "wrong-token-0123456789abcdef0123456789abcdef" } })
      .code,
  ).toBe(1);
  expect(existsSync(join(w.dir, "x.db"))).toBe(false);

  // The box is lost; a new one gets the backup as its database plus the sessions and files folders.
  expect(await w.app.stop()).toBe(0);
  const fresh = join(w.dir, "restored");
  mkdirSync(fresh);
  cpSync(backup, join(fresh, "planfix-telegram.db"));
  cpSync(join(w.dataDir, "sessions"), join(fresh, "sessions"), { recursive: true });
  cpSync(join(w.dataDir, "files"), join(fresh, "files"), { recursive: true });
  const planfixBefore = w.planfix.commands().length;
  const ivanBefore = received(w, ivan, anna).length;
  restored = new Appliance(fresh, w.app.env);
  await restored.start();
  await until("both numbers online", async () => (await stateOf(restored!, anna.phone, token)) === "online" && (await stateOf(restored!, boris.phone, token)) === "online");
  await Bun.sleep(1500);
  // Nothing already delivered is sent again, either way.
  expect(w.planfix.commands().length).toBe(planfixBefore);
  expect(w.tg.driver.messages(ivan, anna).filter((m) => m.text === "answer from Planfix")).toHaveLength(1);
  expect(received(w, ivan, anna).length).toBe(ivanBefore);

  // And it carries on: the client token still works, messages flow both ways.
  w.tg.driver.sendText(ivan, anna, "three");
  await w.planfix.waitFor(() => texts(w!, chatId).length === 3);
  expect(texts(w, chatId)).toEqual(["one", "two", "three"]);
  const h = await w.planfix.sendWebhook(`${restored.url}/planfix`, { token, providerId: "planfix-telegram", chatId, message: "after the restore", messageId: "pf-2" });
  expect(h.status).toBe(200);
  await w.tg.driver.waitForMessage(ivan, (m) => m.text === "after the restore");
  expect(w.tg.duplicateCount(anna)).toBe(0);
});

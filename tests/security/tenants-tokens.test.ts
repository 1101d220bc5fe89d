// Client tokens can be rotated, numbers and clients removed for good.
// Against the compiled binary, with the loopback Telegram and Planfix.
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { world } from "../e2e/harness.ts";
import { twoCompanies, type World } from "./tenants-helpers.ts";

let w: World;
afterEach(async () => w && (await w.close()));

const png = Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000", "hex");

describe("token rotation (compiled binary)", () => {
  test("a client rotates its own token: the old one stops at once, for /client and for Planfix's webhook", async () => {
    w = await world();
    const { anna, acmeToken, betaToken } = await twoCompanies(w);
    const r = await w.app.call("POST", "/client/token", undefined, acmeToken);
    expect(r.status).toBe(200);
    expect(r.json.name).toBe("acme");
    const fresh = r.json.token as string;
    expect(fresh.length).toBeGreaterThanOrEqual(32);
    expect(fresh).not.toBe(acmeToken);
    expect((await w.app.call("GET", `/client?number=${anna.phone}`, undefined, acmeToken)).status).toBe(401);
    expect((await w.app.call("POST", "/client/token", undefined, acmeToken)).status).toBe(401);
    const oldHook = await w.planfix.sendWebhook(`${w.app.url}/planfix`, { token: acmeToken, chatId: `${anna.phone}_1`, message: "x", messageId: "m-old" });
    expect(oldHook.status).toBe(401);
    expect((await w.app.call("GET", `/client?number=${anna.phone}`, undefined, fresh)).json.state).toBe("online");
    // A client token rotates only its own client.
    expect((await w.app.call("POST", "/client/token", { name: "beta" }, fresh)).status).toBe(400);
    expect((await w.app.call("GET", "/client", undefined, betaToken)).status).toBe(200);
    // The admin rotates any client by name; the token is never logged.
    const byAdmin = await w.app.call("POST", "/client/token", { name: "beta" });
    expect(byAdmin.status).toBe(200);
    expect((await w.app.call("GET", "/client", undefined, betaToken)).status).toBe(401);
    expect((await w.app.call("GET", "/client", undefined, byAdmin.json.token)).status).toBe(200);
    expect((await w.app.call("POST", "/client/token", { name: "nobody" })).status).toBe(404);
    expect((await w.app.call("POST", "/client/token", {})).status).toBe(400);
    // Still valid after a restart; the old ones still refused.
    expect(await w.app.stop()).toBe(0);
    await w.app.start();
    expect((await w.app.call("GET", "/client", undefined, fresh)).status).toBe(200);
    expect((await w.app.call("GET", "/client", undefined, acmeToken)).status).toBe(401);
    for (const t of [fresh, byAdmin.json.token]) expect(w.app.logText()).not.toContain(t);
  });
});

describe("removing numbers and clients for good (compiled binary)", () => {
  test("DELETE /admin/number stops the number and forgets every row of it; the session file stays unless asked", async () => {
    w = await world();
    const { anna, boris, acmeToken } = await twoCompanies(w);
    const ivan = w.tg.addUser({ firstName: "Ivan", phone: "380671234567" });
    // Rows of every kind for Anna's number: a peer, outbox rows, a media file, a Planfix → Telegram job.
    w.tg.driver.sendText(ivan, anna, "hello");
    w.tg.driver.sendPhoto(ivan, anna, png, "a photo");
    const chatId = `${anna.phone}_${ivan.id}`;
    await w.planfix.waitFor(() => w.planfix.newMessages(chatId).length >= 2);
    const hook = await w.planfix.sendWebhook(`${w.app.url}/planfix`, { token: acmeToken, chatId, message: "answer", messageId: "pf-1" });
    expect(hook.status).toBe(200);
    await w.tg.driver.waitForMessage(ivan, (m) => m.text === "answer");

    expect(readdirSync(join(w.dataDir, "files")).length).toBeGreaterThan(0);
    // Only the admin may remove.
    expect((await w.app.call("DELETE", `/admin/number?number=${anna.phone}`, undefined, acmeToken)).status).toBe(403);
    const r = await w.app.call("DELETE", `/admin/number?number=${anna.phone}`);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ removed: "number", name: "acme", numbers: [anna.phone], session_files_deleted: 0 });
    await w.tg.driver.waitFor(() => w.tg.liveConnections({ userId: anna.id }) === 0, 5000, "anna's connection closed");
    expect((await w.app.call("GET", `/client?number=${anna.phone}`, undefined, acmeToken)).status).toBe(404);
    expect((await w.app.call("DELETE", `/admin/number?number=${anna.phone}`)).status).toBe(404);
    expect(existsSync(join(w.dataDir, "sessions", `acme/${anna.id}.session.txt`))).toBe(true);
    // The client and its token stay; beta is untouched.
    expect((await w.app.call("GET", "/client", undefined, acmeToken)).json).toEqual({ numbers: [] });
    expect(w.tg.liveConnections({ userId: boris.id })).toBeGreaterThan(0);

    // After a restart it does not come back, and no row of it is left.
    expect(await w.app.stop()).toBe(0);
    const db = new Database(join(w.dataDir, "planfix-telegram.db"), { readonly: true });
    const count = (sql: string) => (db.query(sql).get() as { n: number }).n;
    expect(count("SELECT count(*) AS n FROM accounts WHERE number = '" + anna.phone + "'")).toBe(0);
    // The Telegram connector's own tables too (update state, access hashes, what it sent).
    const left = ["peers", "planfix_outbox", "outbound_jobs", "sent_messages", "files", "telegram_update_state", "telegram_access_hashes", "telegram_sent_messages"].map((t) => [
      t,
      count(`SELECT count(*) AS n FROM ${t} WHERE account_id NOT IN (SELECT id FROM accounts) OR account_id IS NULL`),
    ]);
    expect(left).toEqual([
      ["peers", 0],
      ["planfix_outbox", 0],
      ["outbound_jobs", 0],
      ["sent_messages", 0],
      ["files", 0],
      ["telegram_update_state", 0],
      ["telegram_access_hashes", 0],
      ["telegram_sent_messages", 0],
    ]);
    db.close();
    expect(readdirSync(join(w.dataDir, "files"))).toEqual([]);
    await w.app.start();
    await Bun.sleep(500);
    expect(w.tg.liveConnections({ userId: anna.id })).toBe(0);
    // The number can be added again from scratch.
    const again = await w.app.call("POST", "/client", w.startBody(anna), acmeToken);
    expect(again.status).toBe(201);
    expect(again.json.state).toBe("online");
  });

  test("delete_session=true deletes the session file too; bad values are a 400", async () => {
    w = await world();
    const { anna } = await twoCompanies(w);
    const file = join(w.dataDir, "sessions", `acme/${anna.id}.session.txt`);
    const bad = await w.app.call("DELETE", `/admin/number?number=${anna.phone}&delete_session=maybe`);
    expect(bad.status).toBe(400);
    expect(bad.json.field).toBe("delete_session");
    expect(existsSync(file)).toBe(true);
    const r = await w.app.call("DELETE", "/admin/number", { number: anna.phone, delete_session: true });
    expect(r.json.session_files_deleted).toBe(1);
    expect(existsSync(file)).toBe(false);
  });

  test("DELETE /admin/client stops every number of the client, revokes its token, and frees the name", async () => {
    w = await world();
    const { anna, boris, acmeToken, betaToken } = await twoCompanies(w);
    const second = w.tg.addUser({ firstName: "Second", phone: "380501234567" });
    expect((await w.app.call("POST", "/client", w.startBody(second, { name: "beta" }), betaToken)).json.state).toBe("online");
    expect((await w.app.call("DELETE", "/admin/client?name=beta", undefined, betaToken)).status).toBe(403);
    expect((await w.app.call("DELETE", "/admin/client?name=nobody")).status).toBe(404);

    const r = await w.app.call("DELETE", "/admin/client?name=beta&delete_session=true");
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ removed: "client", name: "beta", session_files_deleted: 2 });
    expect([...r.json.numbers].sort()).toEqual([boris.phone, second.phone].sort());
    await w.tg.driver.waitFor(() => w.tg.liveConnections({ userId: boris.id }) + w.tg.liveConnections({ userId: second.id }) === 0, 5000, "beta's connections closed");
    expect((await w.app.call("GET", "/client", undefined, betaToken)).status).toBe(401);
    expect(existsSync(join(w.dataDir, "sessions", "beta"))).toBe(false);
    expect((await w.app.call("GET", "/admin/clients")).json.clients.map((c: { name: string }) => c.name)).toEqual(["acme"]);
    // acme is untouched.
    expect((await w.app.call("GET", `/client?number=${anna.phone}`, undefined, acmeToken)).json.state).toBe("online");
    // The name and the numbers are free again.
    const again = await w.app.call("POST", "/client", w.startBody(boris, { name: "beta" }));
    expect(again.status).toBe(201);
    expect(again.json.state).toBe("online");
  });

  test("bad input to the new routes is a 4xx naming the problem, never a 500", async () => {
    w = await world();
    const { acmeToken } = await twoCompanies(w);
    for (const [method, path, body, token, status] of [
      ["POST", "/client/token", "{oops", acmeToken, 400],
      ["POST", "/client/token", { name: 42 }, undefined, 400],
      ["POST", "/client/token", undefined, null, 401],
      ["POST", "/client/token", undefined, "forged", 401],
      ["DELETE", "/admin/number", { number: "12" }, undefined, 400],
      ["DELETE", "/admin/number", { number: "380955821319", delete_session: "yes please" }, undefined, 400],
      ["DELETE", "/admin/number", undefined, undefined, 400],
      ["DELETE", "/admin/client", { name: "" }, undefined, 400],
      ["DELETE", "/admin/client", { name: ["acme"] }, undefined, 400],
      ["DELETE", "/admin/client", "<xml/>", undefined, 400],
      ["GET", "/admin/client", undefined, undefined, 405],
    ] as const) {
      const r = await w.app.call(method, path, body, token); // undefined: the admin token; null: none
      expect({ method, path, body, status: r.status }).toEqual({ method, path, body, status });
      expect(typeof r.json?.error).toBe("string");
    }
    // Still serving, nothing removed.
    expect((await w.app.call("GET", "/admin/clients")).json.clients).toHaveLength(2);
  });
});

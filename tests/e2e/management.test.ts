// Spec §1 end to end: the compiled binary, real GramJS sessions against the loopback MTProto server.
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { writeTelethonSession } from "../support/telethon-session.ts";
import { ADMIN_TOKEN, world } from "./harness.ts";

type World = Awaited<ReturnType<typeof world>>;
let w: World;
afterEach(async () => w && (await w.close()));

const waitState = async (w: World, number: string, token: string, state: string, ms = 15_000) => {
  const deadline = Date.now() + ms;
  let last: any;
  while (Date.now() < deadline) {
    last = (await w.app.call("GET", `/client?number=${number}`, undefined, token)).json;
    if (last?.state === state) return last;
    await Bun.sleep(100);
  }
  throw new Error(`number ${number} never reached ${state}; last: ${JSON.stringify(last)}`);
};

describe("management API of the compiled binary", () => {
  test("POST → token → GET online; a second number; DELETE stops only that number", async () => {
    w = await world();
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    const boris = w.tg.addUser({ firstName: "Boris", phone: "380501112233" });
    await w.app.start();
    const a = await w.app.call("POST", "/client", w.startBody(anna));
    expect(a.status).toBe(201);
    expect(a.json).toMatchObject({ status: "online", state: "online", number: "380955821319", telegram_user_id: String(anna.id) });
    const token = a.json.token as string;
    expect(token.length).toBeGreaterThanOrEqual(22);
    const g = await w.app.call("GET", "/client?name=acme&number=380955821319", undefined, token);
    expect(g.json).toMatchObject({ status: "online" });

    const b = await w.app.call("POST", "/client", w.startBody(boris), token);
    expect(b.status).toBe(201);
    expect(b.json.state).toBe("online");
    expect(w.tg.liveConnections({ userId: anna.id })).toBeGreaterThan(0);

    const d = await w.app.call("DELETE", "/client", { name: "acme", number: "380955821319" }, token);
    expect(d.json).toMatchObject({ status: "offline", state: "stopped" });
    await w.tg.driver.waitFor(() => w.tg.liveConnections({ userId: anna.id }) === 0, 5000, "anna's connection closed");
    expect(w.tg.liveConnections({ userId: boris.id })).toBeGreaterThan(0);
    expect((await w.app.call("GET", "/client?number=380501112233", undefined, token)).json.status).toBe("online");
    // The log never shows a token or a key.
    expect(w.app.logText()).not.toContain(token);
    expect(w.app.logText()).not.toContain("planfix-token");
  });

  test("PUT with a different session comes back online as the other user, never with two live keys", async () => {
    w = await world();
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    const other = w.tg.addUser({ firstName: "Other", phone: "380670000000" });
    await w.app.start();
    const a = await w.app.call("POST", "/client", w.startBody(anna));
    const p = await w.app.call("PUT", "/client", { number: "380955821319", path_session: w.sessionFor(other, "switched.txt") }, a.json.token);
    expect(p.status).toBe(200);
    expect(p.json).toMatchObject({ state: "online", telegram_user_id: String(other.id) });
    await w.tg.driver.waitFor(() => w.tg.liveConnections({ userId: anna.id }) === 0, 5000, "old session closed");
    expect(w.tg.duplicateCount(anna)).toBe(0);
  });

  test("restarting the binary brings running numbers back, and a stopped one stays stopped", async () => {
    w = await world();
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    const boris = w.tg.addUser({ firstName: "Boris", phone: "380501112233" });
    await w.app.start();
    const a = await w.app.call("POST", "/client", w.startBody(anna));
    await w.app.call("POST", "/client", w.startBody(boris), a.json.token);
    await w.app.call("DELETE", "/client?number=380501112233", undefined, a.json.token);
    expect(await w.app.stop()).toBe(0);
    expect(w.app.logText()).toContain('"msg":"stopped"');
    await w.tg.driver.waitFor(() => w.tg.liveConnections() === 0, 5000, "all connections closed after SIGTERM");
    await w.app.start();
    await waitState(w, "380955821319", a.json.token, "online");
    expect((await w.app.call("GET", "/client?number=380501112233", undefined, a.json.token)).json.state).toBe("stopped");
    expect(w.tg.duplicateCount(anna)).toBe(0);
  });

  test("a revoked session shows unauthorized, a banned user banned, and PUT recovers", async () => {
    w = await world();
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    const boris = w.tg.addUser({ firstName: "Boris", phone: "380501112233" });
    w.tg.revokeSession(anna);
    w.tg.banUser(boris.id);
    await w.app.start();
    const a = await w.app.call("POST", "/client", w.startBody(anna));
    expect(a.json).toMatchObject({ status: "offline", state: "unauthorized" });
    expect(a.json.reason).toContain("SESSION_REVOKED");
    const b = await w.app.call("POST", "/client", w.startBody(boris), a.json.token);
    expect(b.json).toMatchObject({ status: "offline", state: "banned" });
    // A fresh session for Anna brings the number back.
    const fresh = w.tg.addSession(anna.id);
    writeFileSync(join(w.dataDir, "sessions", "acme", "anna-new.txt"), w.tg.sessionString(fresh));
    const p = await w.app.call("PUT", "/client", { number: "380955821319", path_session: "acme/anna-new.txt" }, a.json.token);
    expect(p.json.state).toBe("online");
  });

  test("a session revoked while online turns unauthorized", async () => {
    w = await world();
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    await w.app.start();
    const a = await w.app.call("POST", "/client", w.startBody(anna));
    expect(a.json.state).toBe("online");
    w.tg.revokeSession(anna, "AUTH_KEY_UNREGISTERED");
    w.tg.dropAllConnections();
    await waitState(w, "380955821319", a.json.token, "unauthorized");
  });

  test("missing, wrong and other clients' tokens are refused; path escapes are refused", async () => {
    w = await world();
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    const boris = w.tg.addUser({ firstName: "Boris", phone: "380501112233" });
    await w.app.start();
    const a = await w.app.call("POST", "/client", w.startBody(anna));
    const b = await w.app.call("POST", "/client", w.startBody(boris, { name: "beta" }));
    expect((await w.app.call("GET", "/client?number=380955821319", undefined, null)).status).toBe(401);
    expect((await w.app.call("GET", "/client?number=380955821319", undefined, "forged")).status).toBe(401);
    expect((await w.app.call("GET", "/client?number=380955821319", undefined, b.json.token)).status).toBe(404);
    expect((await w.app.call("DELETE", "/client?number=380955821319", undefined, b.json.token)).status).toBe(404);
    expect((await w.app.call("GET", "/client?number=380955821319", undefined, a.json.token)).json.state).toBe("online");
    for (const path of ["../../etc/passwd", "/etc/passwd", "a/../../x"]) {
      const r = await w.app.call("PUT", "/client", { number: "380955821319", path_session: path }, a.json.token);
      expect(r.status).toBe(400);
      expect(r.json.field).toBe("path_session");
    }
    expect((await w.app.call("POST", "/client", "{oops", ADMIN_TOKEN)).status).toBe(400);
  });

  test("rapid POST / PUT / DELETE on one number never causes AUTH_KEY_DUPLICATED", async () => {
    w = await world();
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    await w.app.start();
    const a = await w.app.call("POST", "/client", w.startBody(anna));
    const ops: Promise<{ status: number }>[] = [];
    for (let i = 0; i < 8; i++) {
      ops.push(w.app.call("PUT", "/client", { number: "380955821319", token_planfix: `k${i}` }, a.json.token));
      ops.push(w.app.call("DELETE", "/client?number=380955821319", undefined, a.json.token));
      ops.push(w.app.call("POST", "/client", w.startBody(anna), a.json.token));
      ops.push(w.app.call("PUT", "/client", { number: "380955821319" }, a.json.token));
    }
    const results = await Promise.all(ops);
    expect(results.map((r) => r.status).filter((s) => s >= 300)).toEqual([]);
    // The burst's last operation may have been a DELETE: start it once more, then it must come online.
    await w.app.call("POST", "/client", w.startBody(anna), a.json.token);
    await waitState(w, "380955821319", a.json.token, "online");
    expect(w.tg.duplicateCount(anna)).toBe(0);
    expect(w.app.logText()).not.toContain("AUTH_KEY_DUPLICATED");
  });

  test("a Telethon .session file works as path_session", async () => {
    w = await world();
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    const s = w.tg.sessionOf(anna);
    writeTelethonSession(join(w.dataDir, "sessions", "anna.session"), { dcId: s.dcId, serverAddress: "127.0.0.1", port: w.tg.port, authKey: s.key });
    await w.app.start();
    const r = await w.app.call("POST", "/client", { ...w.startBody(anna), path_session: undefined, name_session: "anna" });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ state: "online", telegram_user_id: String(anna.id) });
  });

  test("a Telethon .session's access hashes and update state are used from the first start", async () => {
    w = await world();
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    const ivan = w.tg.addUser({ firstName: "Ivan", phone: "380671234567" });
    const olga = w.tg.addUser({ firstName: "Olga", phone: "380501230000", phoneHidden: true });
    // What Telethon saw before the move: Ivan's hash for Anna, and the update state at that time.
    w.tg.driver.sendText(ivan, anna, "seen by Telethon");
    const pts = w.tg.world.user(anna.id).mailbox.pts;
    w.tg.driver.sendText(ivan, anna, "arrived between Telethon and us");
    const s = w.tg.sessionOf(anna);
    writeTelethonSession(join(w.dataDir, "sessions", "anna.session"), {
      dcId: s.dcId,
      serverAddress: "127.0.0.1",
      port: w.tg.port,
      authKey: s.key,
      entities: [
        { id: BigInt(ivan.id), hash: w.tg.world.accessHash(anna.id, ivan.id), phone: ivan.phone, name: "Ivan" },
        { id: BigInt(olga.id), hash: w.tg.world.accessHash(anna.id, olga.id), name: "Olga" },
      ],
      updateState: { pts, qts: 0, date: Math.floor(Date.now() / 1000) - 5, seq: 0 },
    });
    await w.app.start();
    const r = await w.app.call("POST", "/client", { ...w.startBody(anna), path_session: "anna.session" });
    expect(r.json.state).toBe("online");
    const chatId = `${anna.phone}_${ivan.id}`;
    const got = await w.planfix.waitFor(() => (w.planfix.newMessages(chatId).length > 0 ? w.planfix.newMessages(chatId) : undefined));
    await Bun.sleep(300);
    expect(got.map((c) => c.fields.message)).toEqual(["arrived between Telethon and us"]);
    // Olga never wrote to this appliance: only the imported hash lets a message reach her.
    const toOlga = `${anna.phone}_${olga.id}`;
    const hook = await w.planfix.sendWebhook(`${w.app.url}/planfix`, { token: r.json.token, chatId: toOlga, message: "hello Olga", messageId: "t1" });
    expect(hook.status).toBe(200);
    await w.tg.driver.waitForMessage(olga, (m) => m.text === "hello Olga");
  });

  test("a session whose key Telegram does not know shows unauthorized", async () => {
    w = await world();
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    await w.app.start();
    writeTelethonSession(join(w.dataDir, "sessions", "ghost.session"), { dcId: 2, serverAddress: "127.0.0.1", port: w.tg.port, authKey: randomBytes(256) });
    const r = await w.app.call("POST", "/client", { ...w.startBody(anna), path_session: "ghost.session" });
    expect(r.json.status).toBe("offline");
    expect(r.json.state).toBe("unauthorized");
  });
});

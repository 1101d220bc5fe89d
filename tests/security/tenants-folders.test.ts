// One company must not be able to start another company's Telegram account.
// Attacked the way the review did: against the compiled binary, with one company's client token.
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, linkSync, renameSync, statSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hashToken } from "../../src/auth/tokens.ts";
import { world } from "../e2e/harness.ts";
import { twoCompanies, waitState, watchVictim, type World } from "./tenants-helpers.ts";

let w: World;
afterEach(async () => w && (await w.close()));

describe("client folders (compiled binary)", () => {
  test("a client token cannot start another company's unregistered session file, by any name", async () => {
    w = await world();
    const { acmeToken } = await twoCompanies(w);
    // Beta's operator drops the session of a second account into beta's folder, not yet registered;
    // an older drop lies at the top of the sessions directory (the README's old workflow).
    const carol = w.tg.addUser({ firstName: "Carol", phone: "380671112233" });
    const dave = w.tg.addUser({ firstName: "Dave", phone: "380672223344" });
    const carolFile = w.sessionFor(carol, "carol.txt", "beta");
    writeFileSync(join(w.dataDir, "sessions", "dave.txt"), w.tg.sessionString(dave));
    const sessions = join(w.dataDir, "sessions");
    symlinkSync(join(sessions, carolFile), join(sessions, "acme", "sym-carol.txt"));
    symlinkSync(join(sessions, "beta"), join(sessions, "acme", "beta-dir"));
    linkSync(join(sessions, carolFile), join(sessions, "acme", "hard-carol.txt"));
    const watchCarol = watchVictim(w, carol);
    const watchDave = watchVictim(w, dave);

    const attempt = (extra: Record<string, unknown>) =>
      w.app.call("POST", "/client", { name: "acme", number: "380990000001", url_planfix: w.planfix.url, token_planfix: "stolen", ...extra }, acmeToken);
    const missing = await attempt({ path_session: "acme/no-such-file.txt" });
    expect(missing.status).toBe(422);
    for (const extra of [
      { path_session: carolFile },
      { path_session: "dave.txt" },
      { path_session: "acme/sym-carol.txt" },
      { path_session: "acme/hard-carol.txt" },
      { path_session: "acme/beta-dir/carol.txt" },
      { path_session: "acme/beta-dir", name_session: "carol.txt" },
      { path_session: "beta", name_session: "carol" },
    ]) {
      const r = await attempt(extra);
      // Exactly like a missing file: same status, same words.
      expect({ extra, status: r.status, body: r.json }).toEqual({ extra, status: 422, body: missing.json });
    }
    const missingByName = await attempt({ name_session: "no-such-file.txt" });
    for (const name_session of ["sym-carol.txt", "hard-carol.txt", "beta-dir/carol.txt"]) {
      const r = await attempt({ name_session });
      expect({ name_session, status: r.status, body: r.json }).toEqual({ name_session, status: 422, body: missingByName.json });
    }
    for (const extra of [
      { path_session: "../sessions/" + carolFile },
      { path_session: join(sessions, carolFile) },
      { path_session: "/etc/passwd" },
      { name_session: "../beta/carol.txt" },
    ]) {
      const r = await attempt(extra);
      expect(r.status).toBe(400);
      expect(r.text).not.toContain(w.dataDir);
    }
    // PUT on acme's own number with beta's file: the same refusal, and Anna keeps running.
    const put = await w.app.call("PUT", "/client", { number: "380955821319", path_session: carolFile }, acmeToken);
    expect(put.status).toBe(422);
    expect(put.json).toEqual({ ...missing.json });
    expect((await w.app.call("GET", "/client?number=380955821319", undefined, acmeToken)).json.state).toBe("online");

    await Bun.sleep(300);
    expect(watchCarol.stop()).toBe(0);
    expect(watchDave.stop()).toBe(0);
    expect((await w.app.call("GET", "/client?number=380990000001", undefined, acmeToken)).status).toBe(404);
    // The admin may name any file inside SESSIONS_DIR: beta's own file starts for beta.
    const admin = await w.app.call("POST", "/client", { name: "gamma", number: carol.phone, url_planfix: w.planfix.url, token_planfix: "k", path_session: "dave.txt" });
    expect(admin.status).toBe(201);
    expect(admin.json.telegram_user_id).toBe(String(dave.id));
  });

  test("creating a client with the admin token creates its folder, mode 0700", async () => {
    w = await world();
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    writeFileSync(join(w.dataDir, "sessions", "anna.txt"), w.tg.sessionString(anna));
    await w.app.start();
    expect(existsSync(join(w.dataDir, "sessions", "delta"))).toBe(false);
    const r = await w.app.call("POST", "/client", { name: "delta", number: anna.phone, url_planfix: w.planfix.url, token_planfix: "k", path_session: "anna.txt" });
    expect(r.status).toBe(201);
    const st = statSync(join(w.dataDir, "sessions", "delta"));
    expect(st.isDirectory()).toBe(true);
    expect(st.mode & 0o777).toBe(0o700);
    // From now on delta's token may use files in it, and only there.
    const second = w.tg.addUser({ firstName: "Second", phone: "380501234567" });
    const own = await w.app.call(
      "POST",
      "/client",
      { name: "delta", number: second.phone, url_planfix: w.planfix.url, token_planfix: "k", path_session: w.sessionFor(second, "s.txt", "delta") },
      r.json.token,
    );
    expect(own.status).toBe(201);
    expect(own.json.state).toBe("online");
    // A client name that cannot be a folder is refused before anything is created.
    const bad = await w.app.call("POST", "/client", { name: "../evil", number: "380500000009", url_planfix: w.planfix.url, token_planfix: "k", path_session: "anna.txt" });
    expect(bad.status).toBe(400);
    expect(bad.json.field).toBe("name");
  });

  test("a symlink swapped in after registration is refused at restart and at reconnect: state error, never a start", async () => {
    w = await world();
    const { anna, boris, acmeToken } = await twoCompanies(w);
    const sessions = join(w.dataDir, "sessions");
    // A third account: beta's, in beta's folder, not running anywhere.
    const carol = w.tg.addUser({ firstName: "Carol", phone: "380671112233" });
    const carolFile = w.sessionFor(carol, "carol.txt", "beta");
    const annaFile = `acme/${anna.id}.session.txt`;
    const watchCarol = watchVictim(w, carol);

    // 1. Restore after a restart.
    expect(await w.app.stop()).toBe(0);
    renameSync(join(sessions, annaFile), join(sessions, "acme", "anna-moved.txt"));
    symlinkSync(join(sessions, carolFile), join(sessions, annaFile));
    await w.app.start();
    const after = await waitState(w, anna.phone, acmeToken, ["error", "online"]);
    expect(after.state).toBe("error");
    expect(after.reason).toContain("outside the client's folder");
    expect(after.reason).not.toContain(w.dataDir);
    expect(after.telegram_user_id).not.toBe(String(carol.id));

    // 2. PUT (start again with the registered file): still refused.
    const put = await w.app.call("PUT", "/client", { number: anna.phone }, acmeToken);
    expect(put.json.state).toBe("error");

    // 3. Reconnect: back to the real file, online; swap again, then the connection drops.
    unlinkSync(join(sessions, annaFile));
    renameSync(join(sessions, "acme", "anna-moved.txt"), join(sessions, annaFile));
    expect((await w.app.call("PUT", "/client", { number: anna.phone }, acmeToken)).json.state).toBe("online");
    renameSync(join(sessions, annaFile), join(sessions, "acme", "anna-moved.txt"));
    symlinkSync(join(sessions, carolFile), join(sessions, annaFile));
    w.tg.dropAllConnections();
    const reconnected = await waitState(w, anna.phone, acmeToken, ["error"]);
    expect(reconnected.reason).toContain("outside the client's folder");

    // A hard link out is refused the same way.
    unlinkSync(join(sessions, annaFile));
    linkSync(join(sessions, carolFile), join(sessions, annaFile));
    const hard = await w.app.call("PUT", "/client", { number: anna.phone }, acmeToken);
    expect(hard.json.state).toBe("error");
    expect(hard.json.reason).toContain("hard link");

    await Bun.sleep(300);
    expect(watchCarol.stop()).toBe(0);
    // Beta's own number is still bridged: dropAllConnections above cut its connection too, so it is
    // given time to reconnect (backoff with jitter) rather than read at one instant.
    for (let deadline = Date.now() + 20_000; w.tg.liveConnections({ userId: boris.id }) === 0 && Date.now() < deadline; ) await Bun.sleep(100);
    expect(w.tg.liveConnections({ userId: boris.id })).toBeGreaterThan(0);
  });

  test("a number registered before client folders, with its file at the top of SESSIONS_DIR, still starts", async () => {
    w = await world();
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    // A database as an older appliance left it: a client with no folder, its number's file at the top.
    await w.app.start();
    expect(await w.app.stop()).toBe(0);
    writeFileSync(join(w.dataDir, "sessions", "380955821319.session.txt"), w.tg.sessionString(anna));
    const legacyToken = "legacy-client-token-0123456789abcdef";
    const db = new Database(join(w.dataDir, "planfix-telegram.db"));
    db.query("INSERT INTO clients (name, token_hash) VALUES ('old co', ?)").run(hashToken(legacyToken));
    db.query(
      "INSERT INTO accounts (client_id, number, url_planfix, token_planfix, session_path, wanted, state) VALUES ((SELECT id FROM clients WHERE name = 'old co'), '380955821319', ?, 'k', '380955821319.session.txt', 'running', 'online')",
    ).run(w.planfix.url);
    db.close();
    expect(existsSync(join(w.dataDir, "sessions", "old co"))).toBe(false);

    await w.app.start();
    const s = await waitState(w, "380955821319", legacyToken, ["online", "error"]);
    expect(s.state).toBe("online");
    expect(s.telegram_user_id).toBe(String(anna.id));
    // PUT without a new session restarts it where it is.
    expect((await w.app.call("PUT", "/client", { number: "380955821319" }, legacyToken)).json.state).toBe("online");
  });
});

// The management API over real HTTP and a real SQLite file, with a fake Telegram connector.
// (tests/e2e/ repeats the important paths with the compiled binary and the loopback MTProto server.)
import { afterEach, describe, expect, test } from "bun:test";
import { symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TelegramFailure } from "../../src/domain/telegram-port.ts";
import { parseStringSession } from "../../src/telegram/session-file.ts";
import { ADMIN, newSessionText, startApiHarness, startBody as start } from "../support/api-harness.ts";

type Harness = Awaited<ReturnType<typeof startApiHarness>>;
let h: Harness;
afterEach(async () => h && (await h.close()));

describe("POST /client", () => {
  test("the admin token creates a client; the answer has its token and the number online", async () => {
    h = await startApiHarness();
    const r = await h.call("POST", "/client", start(h.session("a.txt"), { number: "+380 95-582-13-19" }), ADMIN);
    expect(r.status).toBe(201);
    expect(r.json.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r.json).toMatchObject({ name: "acme", number: "380955821319", status: "online", state: "online" });
    expect(r.text).not.toContain("planfix-secret-key");
    // Only a hash of the token is stored.
    const rows = JSON.stringify(h.db.$client.query("SELECT * FROM clients").all());
    expect(rows).not.toContain(r.json.token);
    const g = await h.call("GET", "/client?number=380955821319", undefined, r.json.token);
    expect(g.json).toMatchObject({ status: "online", state: "online", number: "380955821319" });
  });

  test("a form body and an integer number work too", async () => {
    h = await startApiHarness();
    const form = new URLSearchParams({ ...start(h.session("a.txt")), number: "380955821319" } as Record<string, string>).toString();
    const r = await h.call("POST", "/client", form, ADMIN, { "content-type": "application/x-www-form-urlencoded" });
    expect(r.status).toBe(201);
    const r2 = await h.call("POST", "/client", start(h.session("b.txt"), { name: "beta", number: 380501112233 }), ADMIN);
    expect(r2.status).toBe(201);
    expect(r2.json.number).toBe("380501112233");
  });

  test("a second number for the same client needs that client's token", async () => {
    h = await startApiHarness();
    const { json } = await h.call("POST", "/client", start(h.session("a.txt")), ADMIN);
    const again = await h.call("POST", "/client", start(h.session("b.txt"), { number: "380501112233" }), ADMIN);
    expect(again.status).toBe(409);
    expect(again.json.field).toBe("name");
    const second = await h.call("POST", "/client", start(h.session("b.txt"), { number: "380501112233" }), json.token);
    expect(second.status).toBe(201);
    expect(second.json.token).toBeUndefined();
    const list = await h.call("GET", "/client", undefined, json.token);
    expect(list.json.numbers.map((n: { number: string }) => n.number)).toEqual(["380501112233", "380955821319"]);
  });

  test("a number belongs to one client only; starting a running number again is harmless", async () => {
    h = await startApiHarness();
    const a = await h.call("POST", "/client", start(h.session("a.txt")), ADMIN);
    const b = await h.call("POST", "/client", start(h.session("b.txt"), { name: "beta" }), ADMIN);
    expect(b.status).toBe(409);
    expect(b.json.field).toBe("number");
    const before = h.connector.attempts;
    const again = await h.call("POST", "/client", start("a.txt"), a.json.token);
    expect(again.status).toBe(200);
    expect(again.json.state).toBe("online");
    expect(h.connector.attempts).toBe(before);
  });

  test("one session file cannot serve two numbers", async () => {
    h = await startApiHarness();
    const a = await h.call("POST", "/client", start(h.session("a.txt")), ADMIN);
    const b = await h.call("POST", "/client", start("acme/a.txt", { number: "380501112233" }), a.json.token);
    expect(b.status).toBe(409);
    expect(b.json.field).toBe("path_session");
  });

  test("without TELEGRAM_API_ID the answer names the missing setting and nothing is created", async () => {
    h = await startApiHarness({}, { apiId: null });
    const r = await h.call("POST", "/client", start(h.session("a.txt")), ADMIN);
    expect(r.status).toBe(503);
    expect(r.json.error).toContain("TELEGRAM_API_ID");
    expect(await h.clients.allClients()).toHaveLength(0);
  });
});

describe("tokens", () => {
  test("missing, wrong and other clients' tokens are refused, before the body is even read", async () => {
    h = await startApiHarness();
    const a = await h.call("POST", "/client", start(h.session("a.txt")), ADMIN);
    const b = await h.call("POST", "/client", start(h.session("b.txt"), { name: "beta", number: "380501112233" }), ADMIN);
    expect((await h.call("POST", "/client", "{broken", null)).status).toBe(401);
    expect((await h.call("GET", "/client?number=380955821319", undefined, null)).json.error).toContain("missing token");
    expect((await h.call("GET", "/client?number=380955821319", undefined, "nope")).status).toBe(401);
    // Beta's token sees acme's number exactly as an unknown number.
    const foreign = await h.call("GET", "/client?number=380955821319", undefined, b.json.token);
    const unknown = await h.call("GET", "/client?number=380000000000", undefined, b.json.token);
    expect(foreign.status).toBe(404);
    expect(foreign.json.error.replace("380955821319", "N")).toBe(unknown.json.error.replace("380000000000", "N"));
    expect((await h.call("DELETE", "/client?number=380955821319", undefined, b.json.token)).status).toBe(404);
    expect((await h.call("PUT", "/client", { number: "380955821319", path_session: "b.txt" }, b.json.token)).status).toBe(404);
    expect(h.pool.stateOf((await h.clients.accountByNumber("380955821319"))!.id)).toBe("online");
    // The `token` header works like Authorization: Bearer.
    const viaHeader = await h.call("GET", "/client?number=380955821319", undefined, null, { token: a.json.token });
    expect(viaHeader.status).toBe(200);
  });

  test("the operator list needs the admin token and shows no secrets", async () => {
    h = await startApiHarness();
    const a = await h.call("POST", "/client", start(h.session("a.txt")), ADMIN);
    expect((await h.call("GET", "/admin/clients", undefined, a.json.token)).status).toBe(401);
    const list = await h.call("GET", "/admin/clients", undefined, ADMIN);
    expect(list.json.clients[0].numbers[0]).toMatchObject({ number: "380955821319", state: "online" });
    expect(list.text).not.toContain("planfix-secret-key");
    expect(list.text).not.toContain(a.json.token);
  });
});

describe("bad input gets a 4xx naming the problem", () => {
  test.each([
    ["broken JSON", "{not json", 400, "body"],
    ["a JSON array", "[1,2]", 400, "body"],
    ["number of the wrong type", JSON.stringify({ ...start("a.txt"), number: true }), 400, "number"],
    ["number too short", JSON.stringify({ ...start("a.txt"), number: "12" }), 400, "number"],
    ["missing url_planfix", JSON.stringify({ ...start("a.txt"), url_planfix: undefined }), 400, "url_planfix"],
    ["url_planfix not a URL", JSON.stringify({ ...start("a.txt"), url_planfix: "ftp://x" }), 400, "url_planfix"],
    ["provider id with ~", JSON.stringify({ ...start("a.txt"), provider_id: "a~b" }), 400, "provider_id"],
    ["no session at all", JSON.stringify({ ...start("a.txt"), path_session: undefined }), 400, "path_session"],
  ])("%s", async (_what, body, status, field) => {
    h = await startApiHarness();
    h.session("a.txt");
    const r = await h.call("POST", "/client", body, ADMIN);
    expect(r.status).toBe(status);
    expect(r.json.field).toBe(field);
    expect(r.json.error.length).toBeGreaterThan(5);
  });

  test("an oversized body gets 413 and an unknown content type 415", async () => {
    h = await startApiHarness();
    const big = JSON.stringify({ ...start("a.txt"), pad: "x".repeat(2 * 1024 * 1024) });
    expect((await h.call("POST", "/client", big, ADMIN)).status).toBe(413);
    const r = await h.call("POST", "/client", "<xml/>", ADMIN, { "content-type": "application/xml" });
    expect(r.status).toBe(415);
    expect(r.json.error).toContain("application/xml");
  });

  test("session paths may not leave the sessions directory", async () => {
    h = await startApiHarness();
    h.session("a.txt");
    writeFileSync(join(h.dir, "outside.txt"), "secret");
    symlinkSync(join(h.dir, "outside.txt"), join(h.sessionsDir, "link.txt"));
    for (const [path, field] of [
      ["../outside.txt", "path_session"],
      [join(h.dir, "outside.txt"), "path_session"],
      ["/etc/passwd", "path_session"],
      ["link.txt", "path_session"],
    ]) {
      const r = await h.call("POST", "/client", start(path!), ADMIN);
      expect(r.status).toBe(400);
      expect(r.json.field).toBe(field);
    }
    const byName = await h.call("POST", "/client", { ...start("a.txt"), path_session: undefined, name_session: "../../x" }, ADMIN);
    expect(byName.status).toBe(400);
    expect(byName.json.field).toBe("name_session");
    expect(await h.clients.allClients()).toHaveLength(0);
  });

  test("a missing or unreadable session file is a 422 naming the file", async () => {
    h = await startApiHarness();
    const missing = await h.call("POST", "/client", start("nope.session"), ADMIN);
    expect(missing.status).toBe(422);
    expect(missing.json.error).toContain("nope.session");
    h.session("junk.txt", "this is not a session");
    const junk = await h.call("POST", "/client", start("junk.txt"), ADMIN);
    expect(junk.status).toBe(422);
    expect(junk.json.error).toContain("junk.txt");
  });

  test("unknown routes answer JSON 404", async () => {
    h = await startApiHarness();
    const r = await h.call("GET", "/nope", undefined, null);
    expect(r.status).toBe(404);
    expect(r.json.error).toBeString();
  });
});

describe("stop, update, states", () => {
  test("DELETE stops only the named number", async () => {
    h = await startApiHarness();
    const a = await h.call("POST", "/client", start(h.session("a.txt")), ADMIN);
    await h.call("POST", "/client", start(h.session("b.txt"), { number: "380501112233" }), a.json.token);
    const d = await h.call("DELETE", "/client", { name: "acme", number: "380955821319" }, a.json.token);
    expect(d.json).toMatchObject({ status: "offline", state: "stopped" });
    expect((await h.call("GET", "/client?number=380501112233", undefined, a.json.token)).json.state).toBe("online");
    expect(h.connector.connections.filter((c) => !c.closed)).toHaveLength(1);
  });

  test("PUT with another session restarts the number on it", async () => {
    h = await startApiHarness();
    const a = await h.call("POST", "/client", start(h.session("a.txt")), ADMIN);
    const p = await h.call("PUT", "/client", { number: "380955821319", path_session: h.session("c.txt") }, a.json.token);
    expect(p.status).toBe(200);
    expect(p.json.state).toBe("online");
    const open = h.connector.connections.filter((c) => !c.closed);
    expect(open).toHaveLength(1);
    expect((await h.clients.accountByNumber("380955821319"))!.sessionPath).toBe("acme/c.txt");
  });

  test("rapid POST / PUT / DELETE on one number never has the key live twice", async () => {
    h = await startApiHarness({ onConnect: () => Bun.sleep(5) });
    const a = await h.call("POST", "/client", start(h.session("a.txt")), ADMIN);
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 15; i++) {
      ops.push(h.call("PUT", "/client", { number: "380955821319", token_planfix: `k${i}` }, a.json.token));
      ops.push(h.call("DELETE", "/client?number=380955821319", undefined, a.json.token));
      ops.push(h.call("POST", "/client", start("a.txt"), a.json.token));
    }
    const results = (await Promise.all(ops)) as { status: number }[];
    expect(results.every((r) => r.status < 300)).toBe(true);
    expect(h.connector.maxLiveSameKey).toBe(1);
  });

  test("Telegram's answers become states: unauthorized, banned, duplicated, flood_wait", async () => {
    const outcomes: Record<string, TelegramFailure> = {
      "1111111": new TelegramFailure("unauthorized", "AUTH_KEY_UNREGISTERED"),
      "2222222": new TelegramFailure("banned", "USER_DEACTIVATED_BAN"),
      "3333333": new TelegramFailure("duplicated", "AUTH_KEY_DUPLICATED"),
      "4444444": new TelegramFailure("flood_wait", "FLOOD_WAIT_300", 300),
    };
    // Each number gets its own session; the fake Telegram answers by the session's auth key.
    const byKey = new Map<string, TelegramFailure>();
    h = await startApiHarness({
      onConnect: (o) => {
        const failure = byKey.get(Buffer.from(o.session.authKey).toString("hex"));
        if (failure) throw failure;
      },
    });
    for (const [number, failure] of Object.entries(outcomes)) {
      const text = newSessionText();
      byKey.set(Buffer.from(parseStringSession(text).authKey).toString("hex"), failure);
      h.session(`${number}.txt`, text);
    }
    const a = await h.call("POST", "/client", start(h.session("a.txt"), { number: "5555555" }), ADMIN);
    for (const [number, failure] of Object.entries(outcomes)) {
      const r = await h.call("POST", "/client", start(`acme/${number}.txt`, { number }), a.json.token);
      expect(r.json.state).toBe(failure.kind);
      expect(r.json.status).toBe("offline");
      expect(r.json.reason).toContain(failure.reason);
      if (failure.kind === "flood_wait") expect(Date.parse(r.json.flood_until) - Date.now()).toBeGreaterThan(290_000);
    }
  });

  test("a lost connection reconnects by itself with a fresh connection", async () => {
    h = await startApiHarness();
    await h.call("POST", "/client", start(h.session("a.txt")), ADMIN);
    const first = h.connector.connections[0]!;
    first.lose(new TelegramFailure("network", "connection reset"));
    for (let i = 0; i < 100 && h.connector.connections.length < 2; i++) await Bun.sleep(20);
    expect(h.connector.connections).toHaveLength(2);
    await h.pool.waitDecided((await h.clients.accountByNumber("380955821319"))!.id, 1000);
    expect(first.closed).toBe(true);
    expect(h.pool.stateOf((await h.clients.accountByNumber("380955821319"))!.id)).toBe("online");
  });
});

// The core awaits the clients/accounts repository: with an adapter whose every promise settles only
// after a timer (as a networked database's would, each after a different wait), the management API
// still answers with the state it waited for, the token check still holds, and a session of another
// Telegram account is still recognised. (The SQLite adapter settles its promises at once, which would
// hide a missing await.)
import { afterEach, expect, test } from "bun:test";
import type { FakeConnectOptions } from "../../support/fake-connector.ts";
import type { ClientRepository } from "../../../src/domain/repositories.ts";
import { parseStringSession } from "../../../src/telegram/session-file.ts";
import { ADMIN, newSessionText, startApiHarness, startBody as start } from "../../support/api-harness.ts";

type Harness = Awaited<ReturnType<typeof startApiHarness>>;
let h: Harness;
afterEach(async () => h && (await h.close()));

/**
 * Every method waits 0, 3 or 6 ms (in turn) before the real one runs, so later calls may overtake earlier
 * ones; forgetting a former Telegram identity waits longest (whatever follows it must wait for it).
 */
function slow(sqlite: ClientRepository): ClientRepository {
  let n = 0;
  return new Proxy(sqlite, {
    get(target, key) {
      const real = Reflect.get(target, key) as unknown;
      if (typeof real !== "function") return real;
      return async (...args: unknown[]) => {
        await Bun.sleep(key === "resetTelegramIdentity" ? 30 : (n++ % 3) * 3);
        return (real as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
}

test("with a repository that truly waits: POST, GET, PUT and DELETE answer the stored state; a wrong token is still a 401", async () => {
  h = await startApiHarness({}, { clients: slow });
  const a = await h.call("POST", "/client", start(h.session("a.txt")), ADMIN);
  expect(a.status).toBe(201);
  expect(a.json).toMatchObject({ number: "380955821319", status: "online", state: "online", telegram_user_id: "1000" });
  expect((await h.call("GET", "/client?number=380955821319", undefined, a.json.token)).json).toMatchObject({ state: "online" });
  expect((await h.call("GET", "/client?number=380955821319", undefined, "not-a-token-of-anyone")).status).toBe(401);

  const p = await h.call("PUT", "/client", { number: "380955821319", token_planfix: "another-key" }, a.json.token);
  expect(p.status).toBe(200);
  expect(p.json).toMatchObject({ state: "online" });

  const d = await h.call("DELETE", "/client", { name: "acme", number: "380955821319" }, a.json.token);
  expect(d.json).toMatchObject({ status: "offline", state: "stopped" });
  expect((await h.clients.accountByNumber("380955821319"))!.state).toBe("stopped");
  expect(h.connector.connections.filter((c) => !c.closed)).toHaveLength(0);
});

test("with a repository that truly waits: a session of another Telegram account is recognised and its identity stored", async () => {
  const other = newSessionText();
  const key = Buffer.from(parseStringSession(other).authKey);
  const selfOf = (o: FakeConnectOptions) => (key.equals(Buffer.from(o.session.authKey)) ? "2000" : "1000");
  h = await startApiHarness({ selfOf }, { clients: slow });
  const a = await h.call("POST", "/client", start(h.session("a.txt")), ADMIN);
  expect(a.json).toMatchObject({ state: "online", telegram_user_id: "1000" });
  const p = await h.call("PUT", "/client", { number: "380955821319", path_session: h.session("b.txt", other) }, a.json.token);
  expect(p.json).toMatchObject({ state: "online", telegram_user_id: "2000" });
  // The reset of the old identity landed before the new one (not after it, which would leave none).
  expect((await h.clients.accountByNumber("380955821319"))!.selfUserId).toBe("2000");
  expect(h.lines.some((l) => l.includes("another Telegram account than before"))).toBe(true);
});

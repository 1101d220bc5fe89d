// Faults of the loopback Telegram server as GramJS sees them: rpc errors on demand, revoked sessions,
// bans, dropped and stalled connections, and the AUTH_KEY_DUPLICATED trap.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { Api, errors, type TelegramClient } from "telegram";
import { NewMessage, type NewMessageEvent } from "telegram/events";
import { ConnectClientError, connectClient, stopClient, TelegramServer, waitFor, type WorldUser } from "./support/telegram/index.ts";

let server: TelegramServer;
const clients: TelegramClient[] = [];

beforeAll(async () => {
  server = await TelegramServer.start({ duplicateGraceMs: 100 });
});

afterEach(async () => {
  server.faults.clear();
  server.stall(false);
  await Promise.all(clients.splice(0).map(stopClient));
});

afterAll(async () => {
  await server.stop();
  expect(server.internalErrors).toEqual([]);
  // Only the test that connects one key twice on purpose tripped the duplicate detector: drops,
  // reconnects, restarts and second sessions never did.
  expect(server.metrics().duplicatedKeys).toBe(1);
});

async function connect(who: Parameters<typeof connectClient>[1], opts?: Parameters<typeof connectClient>[2]): Promise<TelegramClient> {
  const c = await connectClient(server, who, opts);
  clients.push(c);
  return c;
}

let n = 0;
function freshUser(): WorldUser {
  n++;
  return server.addUser({ firstName: `Faulty${n}`, username: `faulty_user_${n}` });
}

const caught = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => "no error",
    (e: unknown) => e,
  );

describe("rpc errors on demand", () => {
  test("FLOOD_WAIT_n surfaces as FloodWaitError with its seconds, for the next k calls only", async () => {
    const target = freshUser();
    const c = await connect(freshUser());
    const rule = server.faults.floodWait("messages.SendMessage", 7, { times: 2 });
    for (let i = 0; i < 2; i++) {
      const e = await caught(c.sendMessage(target.username!, { message: `try ${i}` }));
      expect(e).toBeInstanceOf(errors.FloodWaitError);
      expect((e as errors.FloodWaitError).seconds).toBe(7);
      expect((e as errors.FloodWaitError).code).toBe(420);
    }
    expect(rule.hits).toBe(2);
    await c.sendMessage(target.username!, { message: "third time" });
    expect(server.driver.messages(target).map((m) => m.text)).toEqual(["third time"]);
    // Other methods were never affected.
    expect(((await c.getMe()) as Api.User).firstName).toMatch(/^Faulty/);
  });

  test("PEER_FLOOD always, until cleared; any code and message on any method", async () => {
    const target = freshUser();
    const c = await connect(freshUser());
    server.faults.peerFlood("messages.SendMessage", { times: "always" });
    for (let i = 0; i < 3; i++) {
      expect(await caught(c.sendMessage(target.username!, { message: "x" }))).toMatchObject({ code: 400, errorMessage: "PEER_FLOOD" });
    }
    server.faults.clear();
    await c.sendMessage(target.username!, { message: "free again" });

    server.faults.fail("users.GetFullUser", 403, "USER_PRIVACY_RESTRICTED");
    const e = await caught(c.invoke(new Api.users.GetFullUser({ id: new Api.InputUserSelf() })));
    expect(e).toMatchObject({ code: 403, errorMessage: "USER_PRIVACY_RESTRICTED" });
  });

  test("a fault can target one user only", async () => {
    const victim = freshUser();
    const bystander = freshUser();
    const cv = await connect(victim);
    const cb = await connect(bystander);
    server.faults.fail("users.GetUsers", 420, "FLOOD_WAIT_30", { userId: victim.id, times: "always" });
    expect(await caught(cv.getMe())).toBeInstanceOf(errors.FloodWaitError);
    expect(((await cb.getMe()) as Api.User).id.toString()).toBe(String(bystander.id));
  });
});

describe("sessions and accounts", () => {
  test("a revoked session gets AUTH_KEY_UNREGISTERED or SESSION_REVOKED on every request", async () => {
    for (const message of ["AUTH_KEY_UNREGISTERED", "SESSION_REVOKED"] as const) {
      const u = freshUser();
      const other = server.addSession(u.id);
      const c = await connect(u);
      expect(((await c.getMe()) as Api.User).id.toString()).toBe(String(u.id));
      server.revokeSession(u, message);
      expect(await caught(c.getMe())).toMatchObject({ code: 401, errorMessage: message });
      expect(await caught(c.invoke(new Api.updates.GetState()))).toMatchObject({ code: 401, errorMessage: message });
      // A restarted client with the revoked key connects (help.getConfig needs no authorization) and
      // fails the same way.
      await stopClient(clients.pop()!);
      const again = await connect(u);
      expect(await caught(again.getMe())).toMatchObject({ code: 401, errorMessage: message });
      // The user's other session is unaffected.
      const c2 = await connect(other);
      expect(((await c2.getMe()) as Api.User).id.toString()).toBe(String(u.id));
    }
  });

  test("a banned user gets USER_DEACTIVATED_BAN on all sessions", async () => {
    const u = freshUser();
    const second = server.addSession(u.id);
    const c1 = await connect(u);
    const c2 = await connect(second);
    server.banUser(u.id);
    for (const c of [c1, c2]) expect(await caught(c.getMe())).toMatchObject({ code: 401, errorMessage: "USER_DEACTIVATED_BAN" });
    server.unbanUser(u.id);
    expect(((await c1.getMe()) as Api.User).id.toString()).toBe(String(u.id));
  });
});

describe("connections", () => {
  test("after every connection is dropped the client reconnects by itself and gets messages again", async () => {
    const u = freshUser();
    const c = await connect(u);
    const got: NewMessageEvent[] = [];
    c.addEventHandler((e: NewMessageEvent) => void got.push(e), new NewMessage({}));
    const firstCount = server.calls.get("users.GetUsers") ?? 0;
    server.dropAllConnections();
    expect(server.liveConnections({ userId: u.id })).toBe(0);
    // GramJS waits ~1 s, reconnects and calls getMe (users.getUsers) on the new connection.
    await waitFor(() => server.liveConnections({ userId: u.id }) === 1 && (server.calls.get("users.GetUsers") ?? 0) > firstCount, 5000, "reconnect");
    server.driver.sendText(freshUser(), u, "after the drop");
    await waitFor(() => got.find((e) => e.message.message === "after the drop"), 5000, "message after reconnect");
    expect(((await c.getMe()) as Api.User).id.toString()).toBe(String(u.id));
  });

  test("a stalled server accepts TCP but never answers; connect times out; un-stalling answers again", async () => {
    const u = freshUser();
    const live = await connect(u);
    server.stall(true);
    const t0 = Date.now();
    const err = await caught(connectClient(server, server.addSession(u.id), { timeoutMs: 400 }));
    expect(err).toBeInstanceOf(ConnectClientError);
    expect((err as ConnectClientError).reason).toBe("timeout");
    expect(Date.now() - t0).toBeLessThan(2000);
    // A request on a connected client stays unanswered while stalled…
    let settled = false;
    const pending = live.getMe().finally(() => (settled = true));
    await Bun.sleep(200);
    expect(settled).toBe(false);
    // …and is answered once the stall ends.
    server.stall(false);
    expect(((await pending) as Api.User).id.toString()).toBe(String(u.id));
    const fresh = await connect(server.addSession(u.id), { timeoutMs: 2000 });
    expect(((await fresh.getMe()) as Api.User).id.toString()).toBe(String(u.id));
  });

  test("the same key connected twice at once gets AUTH_KEY_DUPLICATED and is dead afterwards", async () => {
    const u = freshUser();
    const session = server.sessionString(u);
    const first = await connect(session);
    expect(((await first.getMe()) as Api.User).id.toString()).toBe(String(u.id));
    expect(server.duplicateCount(u)).toBe(0);

    const err = await caught(connectClient(server, session));
    expect(err).toBeInstanceOf(ConnectClientError);
    expect((err as ConnectClientError).reason).toBe("rpc");
    expect((err as ConnectClientError).cause).toMatchObject({ code: 406, errorMessage: "AUTH_KEY_DUPLICATED" });
    expect(server.duplicateCount(u)).toBe(1);
    expect(server.metrics().duplicatedKeys).toBeGreaterThanOrEqual(1);

    // The first client is hit too, and the key stays dead for good.
    expect(await caught(first.getMe())).toMatchObject({ errorMessage: "AUTH_KEY_DUPLICATED" });
    await stopClient(clients.pop()!);
    await Bun.sleep(50);
    const later = await caught(connectClient(server, session));
    expect((later as ConnectClientError).cause).toMatchObject({ errorMessage: "AUTH_KEY_DUPLICATED" });
  });

  test("restarting a client (stop, then a new client with the same key) is not a duplicate", async () => {
    const u = freshUser();
    const peer = freshUser();
    for (let i = 0; i < 3; i++) {
      const c = await connect(u);
      await c.sendMessage(peer.username!, { message: `run ${i}` });
      await stopClient(clients.pop()!);
    }
    expect(server.duplicateCount(u)).toBe(0);
    expect(server.driver.messages(peer).map((m) => m.text)).toEqual(["run 0", "run 1", "run 2"]);
  });

  test("two sessions (different keys) of one user run side by side; connections are counted per key", async () => {
    const u = freshUser();
    const s2 = server.addSession(u.id);
    await connect(u);
    await connect(s2);
    expect(server.liveConnections({ userId: u.id })).toBe(2);
    expect(server.liveConnections({ session: s2 })).toBe(1);
    expect(server.duplicateCount(u)).toBe(0);
    expect(server.metrics().byUser[u.id]).toBe(2);
  });
});

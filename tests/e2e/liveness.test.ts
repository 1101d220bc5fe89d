// Liveness of the compiled binary against the loopback Telegram: Telegram announces nothing when a
// session is ended from the phone, an account is banned or frozen while connected, so the appliance
// must find out by itself (a probe every LIVENESS_PROBE_SECONDS, here 1 s) — and a frozen or moved
// account must end in a state that says so, never in a wait or a reconnect loop.
import { afterEach, describe, expect, test } from "bun:test";
import { type World, introduce, onlineWorld } from "./bridge-world.ts";
import { ADMIN_TOKEN, world } from "./harness.ts";

const PROBE = { LIVENESS_PROBE_SECONDS: "1" };

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const numberOf = async (token: string, number = "380955821319") => (await w!.app.call("GET", `/client?number=${number}`, undefined, token)).json;

const waitState = async (token: string, state: string, ms = 10_000, number = "380955821319") => {
  const deadline = Date.now() + ms;
  let last: any;
  while (Date.now() < deadline) {
    last = await numberOf(token, number);
    if (last?.state === state) return last;
    await Bun.sleep(50);
  }
  throw new Error(`never reached ${state}; last: ${JSON.stringify(last)}`);
};

/** handshakes = getMe calls: one per connection the appliance opens. */
const handshakes = () => w!.tg.metrics().calls["users.GetUsers"] ?? 0;

describe("liveness probe", () => {
  test("a session ended from the phone (Telegram pushes nothing, the socket stays open) shows unauthorized within the probe interval", async () => {
    const o = await onlineWorld({ env: PROBE });
    w = o.w;
    // Idle and online for a few probes: a live account is not disturbed.
    await Bun.sleep(2500);
    expect((await numberOf(o.token)).state).toBe("online");
    const connects = handshakes();
    const t0 = Date.now();
    w.tg.terminateSession(o.anna);
    const n = await waitState(o.token, "unauthorized");
    const took = Date.now() - t0;
    expect(took).toBeLessThan(4000); // probes every 0.75–1.25 s; room for a loaded machine
    expect(n.status).toBe("offline");
    expect(n.reason).toContain("AUTH_KEY_UNREGISTERED");
    // Terminal: no reconnects at Telegram afterwards.
    await Bun.sleep(2500);
    expect(handshakes()).toBe(connects);
    expect((await numberOf(o.token)).state).toBe("unauthorized");
    expect(w.app.lines.some((l) => l.includes("liveness probe: the account is gone"))).toBe(true);
  });

  test("a session revoked (SESSION_REVOKED) or an account banned while online shows within the probe interval", async () => {
    w = await world({ env: PROBE });
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    const boris = w.tg.addUser({ firstName: "Boris", phone: "380501112233" });
    await w.app.start();
    const a = await w.app.call("POST", "/client", w.startBody(anna));
    const b = await w.app.call("POST", "/client", w.startBody(boris), a.json.token);
    expect([a.json.state, b.json.state]).toEqual(["online", "online"]);
    w.tg.revokeSession(anna);
    w.tg.banUser(boris.id);
    const t0 = Date.now();
    const an = await waitState(a.json.token, "unauthorized");
    const bn = await waitState(a.json.token, "banned", 10_000, "380501112233");
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(an.reason).toContain("SESSION_REVOKED");
    expect(bn.reason).toContain("USER_DEACTIVATED_BAN");
    const connects = handshakes();
    await Bun.sleep(2000);
    expect(handshakes()).toBe(connects);
  });
});

describe("frozen", () => {
  test("a send to a frozen account: state frozen with a readable reason, not flood_wait; nothing retried; the message is held", async () => {
    // Probes far apart: the send, not the probe, meets the freeze here.
    const o = await onlineWorld({ env: { LIVENESS_PROBE_SECONDS: "600" } });
    w = o.w;
    await introduce(w, o.ivan, o.anna, o.chatId);
    w.tg.freezeAccount(o.anna.id);
    const sendsBefore = w.tg.metrics().calls["messages.SendMessage"] ?? 0;
    const r = await o.hook({ chatId: o.chatId, message: "are you there?", messageId: "pf-frozen-1" });
    expect(r.status).toBe(200);
    const n = await waitState(o.token, "frozen");
    expect(n.reason).toStartWith("Telegram froze this account: FROZEN_METHOD_INVALID");
    expect(n.flood_until).toBeNull();
    const connects = handshakes();
    // Several probe intervals and retry pauses later: still frozen, no retried send, no reconnect.
    await Bun.sleep(4000);
    const later = await numberOf(o.token);
    expect(later.state).toBe("frozen");
    expect(w.tg.metrics().calls["messages.SendMessage"] ?? 0).toBe(sendsBefore + 1);
    expect(handshakes()).toBe(connects);
    expect(w.app.lines.some((l) => l.includes('"state":"flood_wait"'))).toBe(false);
    // Held, not dropped: it waits in the queue, and Planfix was not told it failed.
    expect(later.queues.to_telegram.waiting).toBe(1);
    expect(w.planfix.statuses("pf-frozen-1").map((c) => c.fields.messageStatus)).not.toContain("error");
    expect(w.tg.driver.messages(o.ivan, o.anna).filter((m) => !m.out && m.text === "are you there?")).toEqual([]);
    // /metrics: the number counted as frozen, the refusal under its name.
    const metrics = await (await fetch(`${w.app.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    expect(metrics).toContain('planfix_telegram_numbers{state="frozen"} 1');
    expect(metrics).toMatch(/planfix_telegram_telegram_errors_total\{error="FROZEN_METHOD_INVALID"\} [1-9]/);
  });

  test("frozen while idle: the probe reads the freeze from the app config; a restart goes straight to frozen, nothing is sent", async () => {
    const o = await onlineWorld({ env: PROBE });
    w = o.w;
    const t0 = Date.now();
    w.tg.freezeAccount(o.anna.id, { appealUrl: "https://t.me/spambot" });
    const n = await waitState(o.token, "frozen");
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(n.reason).toStartWith("Telegram froze this account: since ");
    expect(n.reason).toContain("appeal: https://t.me/spambot");
    // A restart (PUT) connects, reads the config, and stops there: one connect, frozen again, no flood wait.
    const connects = handshakes();
    const p = await w.app.call("PUT", "/client", { number: o.anna.phone, path_session: w.sessionFor(o.anna) }, o.token);
    expect(p.json.state).toBe("frozen");
    await Bun.sleep(3000);
    expect(handshakes()).toBe(connects + 1);
    expect((await numberOf(o.token)).state).toBe("frozen");
    expect(w.tg.metrics().calls["messages.SendMessage"] ?? 0).toBe(0);
    // Once Telegram lifts it, a PUT brings the number back.
    w.tg.unfreezeAccount(o.anna.id);
    const back = await w.app.call("PUT", "/client", { number: o.anna.phone, path_session: w.sessionFor(o.anna) }, o.token);
    expect(back.json.state).toBe("online");
  });
});

describe("USER_MIGRATE", () => {
  test("an account moved to another DC ends unauthorized 'log in again' — at start and while online — with a bounded number of connects", async () => {
    w = await world({ env: PROBE });
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    const boris = w.tg.addUser({ firstName: "Boris", phone: "380501112233" });
    w.tg.userMigrate(anna.id, 4);
    await w.app.start();
    const a = await w.app.call("POST", "/client", w.startBody(anna));
    expect(a.json.state).toBe("unauthorized");
    expect(a.json.reason).toContain("Telegram moved this account to DC 4");
    expect(a.json.reason).toContain("log it in again");
    // Boris moves while online: the probe finds it.
    const b = await w.app.call("POST", "/client", w.startBody(boris), a.json.token);
    expect(b.json.state).toBe("online");
    w.tg.userMigrate(boris.id, 5);
    const bn = await waitState(a.json.token, "unauthorized", 10_000, "380501112233");
    expect(bn.reason).toContain("Telegram moved this account to DC 5");
    const migrates = w.tg.world.edges.userMigrates;
    // One refused call each (the start's getMe, Boris's probe): no switch to the new DC, no retries.
    expect(migrates).toBe(2);
    const connects = handshakes();
    await Bun.sleep(3000);
    expect(w.tg.world.edges.userMigrates).toBe(migrates);
    expect(handshakes()).toBe(connects);
    expect((await numberOf(a.json.token)).state).toBe("unauthorized");
  });
});

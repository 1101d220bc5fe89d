// Liveness and the terminal states it leads to, with the real pool and a fake connector: a probe that
// finds the account gone moves the number at once; a probe that fails on the network moves nothing; a
// frozen account is a terminal state of its own, never a flood wait, never retried.
import { afterEach, describe, expect, test } from "bun:test";
import { DECIDED_STATES, isTransition, SETTLED_STATES, type StateChange } from "../../../src/accounts/states.ts";
import { TelegramFailure } from "../../../src/domain/telegram-port.ts";
import { ADMIN, startApiHarness, startBody } from "../../support/api-harness.ts";

type Harness = Awaited<ReturnType<typeof startApiHarness>>;
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const until = async (what: () => boolean | Promise<boolean>, ms = 3000) => {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error("timed out");
    await Bun.sleep(10);
  }
};

const stateOf = async (token: string) => (await h!.call("GET", "/client?number=380955821319", undefined, token)).json;

describe("frozen in the state table", () => {
  test("a terminal state: reached from connecting, reconnecting and online; left only by stop or a new start", () => {
    for (const from of ["connecting", "reconnecting", "online"] as const) expect(isTransition(from, "frozen")).toBe(true);
    expect(isTransition("frozen", "reconnecting")).toBe(false);
    expect(isTransition("frozen", "flood_wait")).toBe(false);
    expect(isTransition("frozen", "stopped")).toBe(true);
    expect(isTransition("frozen", "starting")).toBe(true);
    expect(SETTLED_STATES.has("frozen") && DECIDED_STATES.has("frozen")).toBe(true);
  });
});

describe("the liveness probe", () => {
  test("a session revoked while online: the next probe moves the number to unauthorized, with no reconnect", async () => {
    let revoked = false;
    h = await startApiHarness(
      { onProbe: () => (revoked ? Promise.reject(new TelegramFailure("unauthorized", "AUTH_KEY_UNREGISTERED")) : undefined) },
      { tunables: { livenessProbeMs: 40 } },
    );
    const seen: StateChange[] = [];
    h.pool.onStateChange((c) => seen.push(c));
    const r = await h.call("POST", "/client", startBody(h.session("a.txt")), ADMIN);
    expect(r.json.state).toBe("online");
    await until(() => h!.connector.probes >= 2);
    expect((await stateOf(r.json.token)).state).toBe("online");
    revoked = true;
    await until(() => seen.some((c) => c.to === "unauthorized"));
    const now = await stateOf(r.json.token);
    expect(now.state).toBe("unauthorized");
    expect(now.reason).toContain("AUTH_KEY_UNREGISTERED");
    expect(h.connector.connections.every((c) => c.closed)).toBe(true);
    const probes = h.connector.probes;
    await Bun.sleep(200);
    expect(h.connector.connections.length).toBe(1);
    expect(h.connector.probes).toBe(probes);
    expect(seen.map((c) => c.to)).not.toContain("reconnecting");
  });

  test("a probe lost on the network is no state change: the number stays online and keeps probing", async () => {
    h = await startApiHarness({ onProbe: () => Promise.reject(new TelegramFailure("network", "connection to Telegram dropped")) }, { tunables: { livenessProbeMs: 30 } });
    const seen: StateChange[] = [];
    const r = await h.call("POST", "/client", startBody(h.session("a.txt")), ADMIN);
    h.pool.onStateChange((c) => seen.push(c));
    await until(() => h!.connector.probes >= 4);
    expect((await stateOf(r.json.token)).state).toBe("online");
    expect(seen.map((c) => c.to)).toEqual([]);
    expect(h.connector.connections.length).toBe(1);
  });

  test("a banned account found by the probe is banned", async () => {
    h = await startApiHarness({ onProbe: () => Promise.reject(new TelegramFailure("banned", "USER_DEACTIVATED_BAN")) }, { tunables: { livenessProbeMs: 30 } });
    const r = await h.call("POST", "/client", startBody(h.session("a.txt")), ADMIN);
    await until(async () => (await stateOf(r.json.token)).state === "banned");
    const now = await stateOf(r.json.token);
    expect(now.state).toBe("banned");
    expect(now.reason).toBe("USER_DEACTIVATED_BAN");
  });

  test("stopped numbers are not probed", async () => {
    h = await startApiHarness({}, { tunables: { livenessProbeMs: 20 } });
    const r = await h.call("POST", "/client", startBody(h.session("a.txt")), ADMIN);
    await until(() => h!.connector.probes >= 1);
    await h.call("DELETE", "/client?number=380955821319", undefined, r.json.token);
    const probes = h.connector.probes;
    await Bun.sleep(150);
    expect(h.connector.probes).toBe(probes);
  });
});

describe("frozen", () => {
  test("FROZEN on connect: state frozen with a readable reason, no flood wait, no retry", async () => {
    h = await startApiHarness({ onConnect: () => Promise.reject(new TelegramFailure("frozen", "FROZEN_METHOD_INVALID")) });
    const seen: StateChange[] = [];
    h.pool.onStateChange((c) => seen.push(c));
    const r = await h.call("POST", "/client", startBody(h.session("a.txt")), ADMIN);
    expect(r.json.state).toBe("frozen");
    await Bun.sleep(300);
    const now = await stateOf(r.json.token);
    expect(now.state).toBe("frozen");
    expect(now.reason).toStartWith("Telegram froze this account: FROZEN_METHOD_INVALID");
    expect(now.flood_until ?? null).toBeNull();
    expect(h.connector.attempts).toBe(1);
    expect(seen.map((c) => c.to)).toEqual(["starting", "connecting", "frozen"]);
  });

  test("frozen while online (a send found it): the number moves to frozen and stays there", async () => {
    h = await startApiHarness({});
    const r = await h.call("POST", "/client", startBody(h.session("a.txt")), ADMIN);
    expect(r.json.state).toBe("online");
    h.connector.connections[0]!.lose(new TelegramFailure("frozen", "FROZEN_METHOD_INVALID"));
    await until(async () => (await stateOf(r.json.token)).state === "frozen");
    await Bun.sleep(300);
    const now = await stateOf(r.json.token);
    expect(now.state).toBe("frozen");
    expect(now.reason).toContain("Telegram froze this account");
    expect(h.connector.connections.length).toBe(1);
  });
});

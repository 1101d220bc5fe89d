// One vocabulary of number states: the transition table, and the one hook every state change goes
// through (stored, logged once, told to listeners) — with the real pool and a fake connector.
import { afterEach, describe, expect, test } from "bun:test";
import { ACCOUNT_STATES, isTransition, type StateChange, TRANSITIONS } from "../../../src/accounts/states.ts";
import { TelegramFailure } from "../../../src/domain/telegram-port.ts";
import { ADMIN, startApiHarness, startBody } from "../../support/api-harness.ts";

type Harness = Awaited<ReturnType<typeof startApiHarness>>;
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("the transition table", () => {
  test("names every state, and every state can be stopped and reached again", () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...ACCOUNT_STATES].sort());
    for (const s of ACCOUNT_STATES) {
      if (s !== "stopped") expect(isTransition(s, "stopped"), s).toBe(true);
      for (const to of TRANSITIONS[s]) expect(ACCOUNT_STATES).toContain(to);
    }
    expect(isTransition("stopped", "starting")).toBe(true);
  });

  test("a number does not jump online without connecting, nor leave a dead key without the operator", () => {
    expect(isTransition("stopped", "online")).toBe(false);
    expect(isTransition("starting", "online")).toBe(false);
    expect(isTransition("duplicated", "connecting")).toBe(false);
    expect(isTransition("unauthorized", "online")).toBe(false);
  });
});

describe("the one state hook", () => {
  const moves = (changes: StateChange[]) => changes.map((c) => `${c.from}>${c.to}`);

  test("a start and a stop are reported in order to listeners, once each in the log, all within the table", async () => {
    h = await startApiHarness();
    const seen: StateChange[] = [];
    const unsubscribe = h.pool.onStateChange((c) => seen.push(c));
    const r = await h.call("POST", "/client", startBody(h.session("a.txt")), ADMIN);
    expect(r.json.state).toBe("online");
    await h.call("DELETE", "/client?number=380955821319", undefined, r.json.token);
    expect(moves(seen)).toEqual(["stopped>starting", "starting>connecting", "connecting>online", "online>stopped"]);
    expect(seen.every((c) => c.accountId === seen[0]!.accountId && c.at > 0)).toBe(true);
    const stateLines = h.lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "state");
    expect(stateLines.map((l) => l.state)).toEqual(["starting", "connecting", "online", "stopped"]);
    expect(stateLines.every((l) => l.number === "380955821319")).toBe(true);
    expect(h.lines.some((l) => l.includes("unexpected state change"))).toBe(false);
    unsubscribe();
  });

  test("a refused key is one move to unauthorized with its reason; a listener that throws harms nothing", async () => {
    h = await startApiHarness({ onConnect: () => Promise.reject(new TelegramFailure("unauthorized", "AUTH_KEY_UNREGISTERED")) });
    const seen: StateChange[] = [];
    h.pool.onStateChange(() => {
      throw new Error("listener broke");
    });
    h.pool.onStateChange((c) => seen.push(c));
    const r = await h.call("POST", "/client", startBody(h.session("a.txt")), ADMIN);
    expect(r.json.state).toBe("unauthorized");
    expect(moves(seen)).toEqual(["stopped>starting", "starting>connecting", "connecting>unauthorized"]);
    expect(seen.at(-1)!.reason).toContain("AUTH_KEY_UNREGISTERED");
    expect(h.lines.some((l) => l.includes("state listener failed"))).toBe(true);
  });
});

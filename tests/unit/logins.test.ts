// The login service with a fake messenger flow (in addition to the end-to-end tests against the loopback
// Telegram): expiry after the TTL, rate limits, and what "done" does — the session file (0600) and the start.
import { afterEach, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { LoginService } from "../../src/accounts/logins.ts";
import { ClientService } from "../../src/accounts/service.ts";
import { DomainError } from "../../src/domain/errors.ts";
import { statusOf } from "../../src/http/errors.ts";
import type { LoginConnector, LoginFlow, LoginStep } from "../../src/domain/login-port.ts";
import { createLogger } from "../../src/log.ts";
import { ADMIN, newSessionText, startApiHarness } from "../support/api-harness.ts";

type H = Awaited<ReturnType<typeof startApiHarness>>;
let h: H | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

class FakeFlow implements LoginFlow {
  step: LoginStep = { kind: "waiting_code", via: "app" };
  cancelled = false;
  private listeners: ((s: LoginStep) => void)[] = [];
  onStep(l: (s: LoginStep) => void) {
    this.listeners.push(l);
  }
  emit(s: LoginStep) {
    this.step = s;
    for (const l of this.listeners) l(s);
  }
  async submitCode(): Promise<LoginStep> {
    return this.step;
  }
  async submitPassword(): Promise<LoginStep> {
    return this.step;
  }
  async cancel() {
    this.cancelled = true;
  }
}

async function setup(limits = {}, ttlMs = 60_000) {
  h = await startApiHarness();
  const flows: FakeFlow[] = [];
  const connector: LoginConnector = { start: async () => (flows.push(new FakeFlow()), flows.at(-1)!) };
  const log = createLogger("silent");
  const service = new ClientService(h.clients, h.pool, { sessionsDir: h.sessionsDir, apiId: 1, apiHash: "hash", startTimeoutMs: 1500, adminToken: ADMIN }, log);
  const logins = new LoginService(connector, service, h.clients, h.sessionsDir, log, limits, null, ttlMs);
  const admin = await service.authenticate(ADMIN);
  const input = (number = "380955821319") => ({ name: "acme", number, url_planfix: "https://acme.planfix.com/webchat/api", token_planfix: "k", method: "code" as const });
  return { logins, flows, admin, input };
}

test("an unfinished login expires after its TTL and its connection is closed", async () => {
  const { logins, flows, admin, input } = await setup({}, 300);
  const l = await logins.start(admin, input());
  expect(l.state).toBe("waiting_code");
  await Bun.sleep(500);
  expect(await logins.get(admin, l.id)).toMatchObject({ state: "expired", reason: expect.stringContaining("10 minutes") });
  expect(flows[0]!.cancelled).toBe(true);
});

test("logins are rate-limited per number and per client", async () => {
  const { logins, admin, input } = await setup({ perNumber: 2, perClient: 3 });
  for (let i = 0; i < 2; i++) await logins.cancel(admin, (await logins.start(admin, input())).id);
  const err = await logins.start(admin, input()).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DomainError);
  expect(statusOf((err as DomainError).problem)).toBe(429);
  await logins.cancel(admin, (await logins.start(admin, input("380501112233"))).id);
  expect(statusOf(((await logins.start(admin, input("380671112233")).catch((e: unknown) => e)) as DomainError).problem)).toBe(429);
});

test("done: the session is written into the client's folder (0600) and the number starts, answering the new client's token once", async () => {
  const { logins, flows, admin, input } = await setup();
  const l = await logins.start(admin, input());
  const session = newSessionText();
  flows[0]!.emit({ kind: "done", session, userId: "1" });
  const done = await logins.get(admin, l.id);
  expect(done).toMatchObject({ state: "done", session_file: "acme/380955821319.session", number_state: { state: "online" } });
  expect(typeof done.token).toBe("string");
  const file = join(h!.sessionsDir, "acme/380955821319.session");
  expect(readFileSync(file, "utf8")).toBe(session);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect((await logins.get(admin, l.id)).token).toBeUndefined();
});

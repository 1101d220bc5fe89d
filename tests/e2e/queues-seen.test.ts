// Seen, not silent, against the compiled binary: while Planfix is down the number's status
// (GET /client and /admin/clients) shows what waits, since when and why; the log at the default level
// has one warn when the problem starts and one info when it ends — not one per retry.
import { afterEach, expect, test } from "bun:test";
import { onlineWorld, texts, untilMessages, type World } from "./bridge-world.ts";

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const logLines = (w: World) =>
  w.app.lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as { level: string; msg: string; direction?: string; number?: string }];
    } catch {
      return [];
    }
  });

test("Planfix down: waiting, oldest age and the problem on the status and /admin/clients; one warn, one info", async () => {
  const o = await onlineWorld({ env: { LOG_LEVEL: "info" } });
  w = o.w;
  o.w.planfix.failServer();
  o.w.tg.driver.sendText(o.ivan, o.anna, "during the outage 1");
  o.w.tg.driver.sendText(o.ivan, o.anna, "during the outage 2");
  // Several retries (RETRY_CAP_SECONDS=1 in the harness) while the outage lasts.
  await o.w.planfix.waitFor(() => o.w.planfix.commands({ cmd: "newMessage" }).length >= 4, 15_000);
  await Bun.sleep(1200);

  const view = (await o.w.app.call("GET", `/client?number=${o.anna.phone}`, undefined, o.token)).json;
  expect(view.status).toBe("online"); // Telegram is fine …
  expect(view.queues.to_planfix.waiting).toBe(2); // … but delivery to Planfix is not, and it shows
  expect(view.queues.to_planfix.oldest_waiting_seconds).toBeGreaterThanOrEqual(1);
  expect(view.queues.to_planfix.problem).toContain("500");
  expect(Date.now() - Date.parse(view.queues.to_planfix.problem_since)).toBeGreaterThan(1000);
  expect(view.queues.to_telegram).toMatchObject({ waiting: 0, parked: 0, problem: null });

  const admin = (await o.w.app.call("GET", "/admin/clients")).json;
  const number = admin.clients.flatMap((c: { numbers: unknown[] }) => c.numbers).find((n: { number: string }) => n.number === o.anna.phone);
  expect(number.queues.to_planfix.waiting).toBe(2);
  expect(number.queues.to_planfix.problem).toContain("500");

  const failing = () => logLines(o.w).filter((l) => l.level === "warn" && /delivery to Planfix is failing/.test(l.msg));
  expect(failing()).toHaveLength(1);
  expect(failing()[0]!.number).toBe(o.anna.phone);

  o.w.planfix.heal();
  await untilMessages(o.w, 2, o.chatId);
  expect(texts(o.w, o.chatId)).toEqual(["during the outage 1", "during the outage 2"]);
  await Bun.sleep(300);
  const back = (await o.w.app.call("GET", `/client?number=${o.anna.phone}`, undefined, o.token)).json;
  expect(back.queues.to_planfix).toMatchObject({ waiting: 0, oldest_waiting_seconds: null, problem: null, problem_since: null });
  expect(logLines(o.w).filter((l) => l.level === "info" && /delivery to Planfix works again/.test(l.msg))).toHaveLength(1);
  expect(failing()).toHaveLength(1);
});

test("Planfix unreachable (connections dropped) is a problem too; a message for a stopped number shows as waiting to_telegram", async () => {
  const o = await onlineWorld({ env: { LOG_LEVEL: "info" } });
  w = o.w;
  o.w.planfix.dropConnections();
  o.w.tg.driver.sendText(o.ivan, o.anna, "dropped");
  const status = async () => (await o.w.app.call("GET", `/client?number=${o.anna.phone}`, undefined, o.token)).json;
  const deadline = Date.now() + 15_000;
  let view = await status();
  while (!view.queues.to_planfix.problem && Date.now() < deadline) {
    await Bun.sleep(100);
    view = await status();
  }
  expect(view.queues.to_planfix.problem).toMatch(/Planfix/);
  expect(view.queues.to_planfix.waiting).toBe(1);
  o.w.planfix.heal();
  await untilMessages(o.w, 1, o.chatId);

  await o.w.app.call("DELETE", `/client?number=${o.anna.phone}`, undefined, o.token);
  const r = await o.hook({ chatId: o.chatId, message: "for later", messageId: "q1" });
  expect(r.status).toBe(200);
  await Bun.sleep(500);
  view = await status();
  expect(view.queues.to_telegram.waiting).toBe(1);
  expect(view.queues.to_telegram.problem).toContain("stopped");
  await o.w.app.call("POST", "/client", o.w.startBody(o.anna), o.token);
  await o.w.tg.driver.waitForMessage(o.ivan, (m) => m.text === "for later");
  await Bun.sleep(300);
  expect((await status()).queues.to_telegram).toMatchObject({ waiting: 0, problem: null });
});

// GET /metrics of the compiled binary, with the loopback Telegram and the fake Planfix: every scrape passes
// `promtool check metrics` (Debian's prometheus package), and the numbers follow real traffic both ways,
// Planfix refusing and failing, Telegram errors and a dropped connection.
import { afterEach, expect, test } from "bun:test";
import { introduce, onlineWorld, received, type World } from "../e2e/bridge-world.ts";
import { ADMIN_TOKEN, world as bareWorld } from "../e2e/harness.ts";
import { until } from "./support.ts";

const METRICS_TOKEN = "metrics-token-0123456789abcdef0123456789";
let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

type Samples = Map<string, number>;

/** Scrapes /metrics, checks the text with promtool, returns `name{labels}` → value. */
async function scrape(world: World, token = METRICS_TOKEN): Promise<{ text: string; samples: Samples }> {
  const r = await fetch(`${world.app.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toStartWith("text/plain");
  const text = await r.text();
  const p = Bun.spawn(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = [await new Response(p.stdout).text(), await new Response(p.stderr).text(), await p.exited];
  expect(`${out}${err}`.trim()).toBe("");
  expect(code).toBe(0);
  const samples: Samples = new Map();
  for (const line of text.split("\n")) {
    const m = line.match(/^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/);
    if (m) samples.set(m[1]!, Number(m[2]));
  }
  return { text, samples };
}

const msgs = (s: Samples, direction: string, outcome: string) => s.get(`planfix_telegram_messages_total{direction="${direction}",outcome="${outcome}"}`) ?? 0;
const queue = (s: Samples, what: "waiting" | "parked" | "oldest_waiting_seconds", direction: string) => s.get(`planfix_telegram_queue_${what}{direction="${direction}"}`);
const planfixCalls = (s: Samples, call: string, outcome: string) => s.get(`planfix_telegram_planfix_request_duration_seconds_count{call="${call}",outcome="${outcome}"}`) ?? 0;
const tgErrors = (s: Samples, name: string) => s.get(`planfix_telegram_telegram_errors_total{error="${name}"}`) ?? 0;

/** Scrapes until `ok` holds (the counters move right after the store is written, the fakes see calls slightly earlier). */
async function scrapeUntil(world: World, what: string, ok: (s: Samples) => boolean, ms = 20_000): Promise<Samples> {
  let last: Samples = new Map();
  return until(
    () =>
      `${what}; last scrape:\n${[...last]
        .filter(([k]) => k.startsWith("planfix_telegram"))
        .map(([k, v]) => `${k} ${v}`)
        .join("\n")}`,
    async () => {
      last = (await scrape(world)).samples;
      return ok(last) ? last : null;
    },
    ms,
  );
}

test("tokens: none, wrong or a client's → 401 in JSON; METRICS_TOKEN and the admin token → 200; METRICS_TOKEN opens nothing else", async () => {
  const o = await onlineWorld({ env: { METRICS_TOKEN } });
  w = o.w;
  const url = `${o.w.app.url}/metrics`;
  for (const headers of [{}, { authorization: "Bearer not-the-token-0123456789abcdef0123" }, { authorization: `Bearer ${o.token}` }] as Record<string, string>[]) {
    const r = await fetch(url, { headers });
    expect(r.status).toBe(401);
    const body = (await r.json()) as { error: string };
    expect(body.error).toMatch(/token/);
    expect(JSON.stringify(body)).not.toContain(METRICS_TOKEN);
  }
  expect((await scrape(o.w, ADMIN_TOKEN)).samples.get('planfix_telegram_numbers{state="online"}')).toBe(1);
  const admin = await o.w.app.call("GET", "/admin/clients", undefined, METRICS_TOKEN);
  expect(admin.status).toBe(401);
  // Swagger documents it.
  const doc = (await o.w.app.call("GET", "/docs/json", undefined, null)).json.paths["/metrics"].get;
  expect(doc.security).toEqual([{ bearer: [] }, { tokenHeader: [] }]);
  expect(Object.keys(doc.responses)).toEqual(["200", "401", "429"]);
  expect(doc.description).toContain("METRICS_TOKEN");
  // Nothing that names a tenant reaches the monitoring system.
  const { text } = await scrape(o.w);
  for (const secret of [o.anna.phone, "acme", o.token, METRICS_TOKEN, ADMIN_TOKEN, "planfix-token"]) expect(text).not.toContain(secret);
});

test("guessing the metrics token is throttled like the admin token: 429 with Retry-After", async () => {
  const world = await bareWorld({ env: { METRICS_TOKEN, AUTH_FAILURES_PER_MINUTE: "3" } });
  w = world;
  await world.app.start();
  const guess = () => fetch(`${world.app.url}/metrics`, { headers: { authorization: "Bearer guess-0123456789abcdef0123456789abcdef" } });
  for (let i = 0; i < 3; i++) expect((await guess()).status).toBe(401);
  const r = await guess();
  expect(r.status).toBe(429);
  expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
  expect(((await r.json()) as { error: string }).error).toContain("too many failed token checks");
});

test("the numbers follow what happened: deliveries both ways, a refused item, a Planfix outage, Telegram errors, a reconnect", async () => {
  const { w: world, anna, ivan, chatId, hook } = await onlineWorld({ env: { METRICS_TOKEN } });
  w = world;

  // Three messages to Planfix.
  await introduce(world, ivan, anna, chatId);
  world.tg.driver.sendText(ivan, anna, "second");
  world.tg.driver.sendText(ivan, anna, "third");
  let s = await scrapeUntil(world, "3 delivered", (s) => msgs(s, "to_planfix", "delivered") === 3);
  expect(s.get('planfix_telegram_numbers{state="online"}')).toBe(1);
  expect(s.get('planfix_telegram_numbers{state="stopped"}')).toBe(0);
  expect(planfixCalls(s, "newMessage", "ok")).toBe(3);
  expect(msgs(s, "to_planfix", "retried") + msgs(s, "to_planfix", "parked")).toBe(0);

  // Two messages to Telegram; their "sent" statuses go to Planfix (not counted as messages).
  for (const [i, text] of ["from the office", "and again"].entries()) expect((await hook({ chatId, message: text, messageId: `m-${i}` })).status).toBe(200);
  await world.tg.driver.waitFor(() => received(world, ivan, anna).length >= 2 || undefined, 15_000, "2 messages");
  s = await scrapeUntil(
    world,
    "2 sent, statuses delivered",
    (s) => msgs(s, "to_telegram", "sent") === 2 && planfixCalls(s, "messageStatus", "ok") === 2 && queue(s, "waiting", "to_planfix") === 0,
  );
  expect(msgs(s, "to_planfix", "delivered")).toBe(3);
  expect(queue(s, "waiting", "to_telegram")).toBe(0);

  // Planfix refuses one item three times (400): retried twice, then parked.
  world.planfix.fail("400", { cmd: "newMessage", calls: 3 });
  world.tg.driver.sendText(ivan, anna, "refused three times");
  s = await scrapeUntil(world, "1 parked to_planfix", (s) => msgs(s, "to_planfix", "parked") === 1);
  expect(msgs(s, "to_planfix", "retried")).toBe(2);
  expect(planfixCalls(s, "newMessage", "rejected")).toBe(3);
  expect(queue(s, "parked", "to_planfix")).toBe(1);

  // Telegram refuses a send (CHAT_WRITE_FORBIDDEN): parked and reported; then a flood wait is waited out and sent.
  world.tg.faults.fail("messages.SendMessage", 403, "CHAT_WRITE_FORBIDDEN", { userId: anna.id });
  await hook({ chatId, message: "limited", messageId: "m-limited" });
  s = await scrapeUntil(world, "CHAT_WRITE_FORBIDDEN parked", (s) => msgs(s, "to_telegram", "parked") === 1);
  expect(tgErrors(s, "CHAT_WRITE_FORBIDDEN")).toBe(1);
  expect(queue(s, "parked", "to_telegram")).toBe(1);
  world.tg.faults.floodWait("messages.SendMessage", 2, { userId: anna.id });
  await hook({ chatId, message: "after a wait", messageId: "m-wait" });
  s = await scrapeUntil(world, "flood wait waited out", (s) => msgs(s, "to_telegram", "sent") === 3);
  expect(tgErrors(s, "FLOOD_WAIT")).toBe(1);
  expect(s.get("planfix_telegram_flood_wait_seconds_total")).toBe(2);
  expect(msgs(s, "to_telegram", "failed")).toBe(1);
  expect(tgErrors(s, "other")).toBe(0);
  await scrapeUntil(world, "statuses delivered", (s) => queue(s, "waiting", "to_planfix") === 0);

  // Planfix down: the message waits, the oldest age grows, failed calls are timed as "server".
  world.planfix.failServer();
  world.tg.driver.sendText(ivan, anna, "during the outage");
  s = await scrapeUntil(
    world,
    "waiting during the outage",
    (s) => queue(s, "waiting", "to_planfix") === 1 && msgs(s, "to_planfix", "retried") >= 3 && (queue(s, "oldest_waiting_seconds", "to_planfix") ?? 0) >= 2,
  );
  expect(planfixCalls(s, "newMessage", "server")).toBeGreaterThanOrEqual(1);
  expect(msgs(s, "to_planfix", "delivered")).toBe(3);
  world.planfix.heal();
  s = await scrapeUntil(world, "delivered after the outage", (s) => msgs(s, "to_planfix", "delivered") === 4 && queue(s, "waiting", "to_planfix") === 0);
  expect(queue(s, "oldest_waiting_seconds", "to_planfix")).toBe(0);
  expect(s.get("planfix_telegram_reconnects_total")).toBe(0);

  // The connection drops: the number reconnects and is online again.
  world.tg.dropAllConnections();
  s = await scrapeUntil(world, "reconnected", (s) => (s.get("planfix_telegram_reconnects_total") ?? 0) >= 1 && s.get('planfix_telegram_numbers{state="online"}') === 1);
  expect(s.get('planfix_telegram_numbers{state="reconnecting"}')).toBe(0);
});

// The metrics module on its own, with the real prom-client: bounded labels whatever Telegram answers,
// Planfix calls timed by outcome, scrape-time gauges read once per scrape, each registry separate.
import { expect, test } from "bun:test";
import { loadSettings, SettingsError } from "../../src/config.ts";
import { TelegramFailure } from "../../src/domain/telegram-port.ts";
import { noMetrics, telegramErrorLabel, type Metrics } from "../../src/metrics/metrics.ts";
import { timedPlanfix } from "../../src/metrics/planfix-timing.ts";
import { PromMetrics, type MetricsSources } from "../../src/metrics/registry.ts";
import { countTelegramFailure } from "../../src/metrics/telegram-failures.ts";

const idle: MetricsSources = {
  numbersByState: () => ({}),
  queues: () => ({ to_planfix: { waiting: 0, parked: 0, oldestWaitingSeconds: null }, to_telegram: { waiting: 0, parked: 0, oldestWaitingSeconds: null } }),
};
const sample = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test("Telegram error names: FLOOD_WAIT_n folded, known names kept, anything else is 'other'", () => {
  expect(telegramErrorLabel("FLOOD_WAIT_42")).toBe("FLOOD_WAIT");
  expect(telegramErrorLabel("PEER_FLOOD")).toBe("PEER_FLOOD");
  expect(telegramErrorLabel("AUTH_KEY_UNREGISTERED")).toBe("AUTH_KEY_UNREGISTERED");
  expect(telegramErrorLabel("SOMETHING_NEW_FROM_TELEGRAM")).toBe("other");
  expect(telegramErrorLabel("CHAT_ID_123456789")).toBe("other");
});

test("a thousand different error names make one 'other' series, not a thousand", async () => {
  const m = new PromMetrics(idle, { defaultMetrics: false });
  for (let i = 0; i < 1000; i++) m.telegramError(`WEIRD_ERROR_${i}X`);
  const { body } = await m.render();
  expect(sample(body, 'planfix_telegram_telegram_errors_total{error="other"}')).toBe(1000);
  // The known names and "other": a few dozen series at most, whatever Telegram answers.
  expect(body.split("\n").filter((l) => l.startsWith("planfix_telegram_telegram_errors_total{")).length).toBeLessThan(40);
});

test("only errors Telegram answered with are counted; flood waits add their seconds", () => {
  const seen: string[] = [];
  let flood = 0;
  const m: Metrics = { ...noMetrics, telegramError: (n) => seen.push(n), floodWait: (s) => (flood += s) };
  countTelegramFailure(m, new TelegramFailure("flood_wait", "FLOOD_WAIT_30", 30));
  countTelegramFailure(m, new TelegramFailure("error", "PEER_FLOOD"));
  countTelegramFailure(m, new TelegramFailure("network", "ECONNRESET"));
  countTelegramFailure(m, new TelegramFailure("timeout", "request timed out"));
  countTelegramFailure(m, new TelegramFailure("flood_wait", "too many lookups on this number; slowing down", 10));
  countTelegramFailure(undefined, new TelegramFailure("error", "PEER_FLOOD"));
  expect(seen).toEqual(["FLOOD_WAIT_30", "PEER_FLOOD"]);
  expect(flood).toBe(30);
});

test("Planfix calls are timed by call and outcome: ok, the failure kind, or error when it threw", async () => {
  const calls: [string, string, number][] = [];
  const m: Metrics = { ...noMetrics, planfixCall: (k, o, s) => calls.push([k, o, s]) };
  let t = 0;
  const port = {
    newMessage: async (_: unknown) => ((t += 250), { ok: true as const }),
    messageStatus: async (_: unknown) => ((t += 1500), { ok: false as const, kind: "server", retry: true, message: "Planfix answered 502" }),
    updateContact: async (_: unknown): Promise<{ ok: true }> => {
      t += 100;
      throw new Error("boom");
    },
  };
  const timed = timedPlanfix(port, ["newMessage", "messageStatus", "updateContact"], m, () => t);
  expect(await timed.newMessage({})).toEqual({ ok: true });
  expect((await timed.messageStatus({})).ok).toBe(false);
  await expect(timed.updateContact({})).rejects.toThrow("boom");
  expect(calls).toEqual([
    ["newMessage", "ok", 0.25],
    ["messageStatus", "server", 1.5],
    ["updateContact", "error", 0.1],
  ]);
});

test("gauges are read from the sources at scrape time, once per scrape; registries are separate", async () => {
  let reads = 0;
  let waiting = 4;
  const m = new PromMetrics(
    {
      numbersByState: () => ({ online: 2, reconnecting: 1 }),
      queues: () => (reads++, { to_planfix: { waiting, parked: 1, oldestWaitingSeconds: 120 }, to_telegram: { waiting: 0, parked: 0, oldestWaitingSeconds: null } }),
    },
    { defaultMetrics: false },
  );
  const other = new PromMetrics(idle, { defaultMetrics: false });
  m.messageOutcome("to_planfix", "delivered");
  m.reconnect();
  m.floodWait(7);
  let { body } = await m.render();
  expect(reads).toBe(1);
  expect(sample(body, 'planfix_telegram_numbers{state="online"}')).toBe(2);
  expect(sample(body, 'planfix_telegram_numbers{state="reconnecting"}')).toBe(1);
  expect(sample(body, 'planfix_telegram_numbers{state="banned"}')).toBe(0);
  expect(sample(body, 'planfix_telegram_queue_waiting{direction="to_planfix"}')).toBe(4);
  expect(sample(body, 'planfix_telegram_queue_parked{direction="to_planfix"}')).toBe(1);
  expect(sample(body, 'planfix_telegram_queue_oldest_waiting_seconds{direction="to_planfix"}')).toBe(120);
  expect(sample(body, 'planfix_telegram_queue_oldest_waiting_seconds{direction="to_telegram"}')).toBe(0);
  expect(sample(body, 'planfix_telegram_messages_total{direction="to_planfix",outcome="delivered"}')).toBe(1);
  expect(sample(body, "planfix_telegram_reconnects_total")).toBe(1);
  expect(sample(body, "planfix_telegram_flood_wait_seconds_total")).toBe(7);
  waiting = 0;
  ({ body } = await m.render());
  expect(reads).toBe(2);
  expect(sample(body, 'planfix_telegram_queue_waiting{direction="to_planfix"}')).toBe(0);
  const o = (await other.render()).body;
  expect(sample(o, 'planfix_telegram_messages_total{direction="to_planfix",outcome="delivered"}')).toBe(0);
  expect(sample(o, "planfix_telegram_reconnects_total")).toBe(0);
});

test("METRICS_TOKEN: from the environment or a file, at least 32 characters, never a flag, never echoed", () => {
  const token = "m".repeat(40);
  expect(loadSettings([], { METRICS_TOKEN: token }).metricsToken).toBe(token);
  expect(loadSettings([], { METRICS_TOKEN_FILE: "/run/x" }, () => `${token}\n`).metricsToken).toBe(token);
  expect(loadSettings([], {}).metricsToken).toBeNull();
  let error = "";
  try {
    loadSettings([], { METRICS_TOKEN: "short-secret" });
  } catch (e) {
    error = (e as Error).message;
  }
  expect(error).toContain("METRICS_TOKEN must be at least 32 characters");
  expect(error).not.toContain("short-secret");
  expect(() => loadSettings(["--metrics-token", token], {})).toThrow(SettingsError);
});

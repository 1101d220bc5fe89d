// The Prometheus side: one prom-client registry per appliance (never the library's global one, so tests
// can run several side by side), the counters behind the Metrics interface, and the gauges read from the
// stores at scrape time. Labels are bounded sets only: no phone numbers, client names or free text.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { ACCOUNT_STATES } from "../accounts/states.ts";
import { TELEGRAM_ERROR_NAMES, telegramErrorLabel, type MessageOutcome, type Metrics, type MetricsDirection } from "./metrics.ts";

export interface QueueTotals {
  waiting: number;
  parked: number;
  /** Age of the oldest waiting item; null when nothing waits. */
  oldestWaitingSeconds: number | null;
}

/** What the gauges read when scraped (cheap aggregate queries over every number). */
export interface MetricsSources {
  numbersByState(): Record<string, number> | Promise<Record<string, number>>;
  queues(): Record<MetricsDirection, QueueTotals> | Promise<Record<MetricsDirection, QueueTotals>>;
}

/** Every number state gets a series, 0 when no number is in it (a missing series reads as "no data"). */
export const NUMBER_STATES = ACCOUNT_STATES;
const OUTCOMES: Record<MetricsDirection, MessageOutcome[]> = { to_planfix: ["delivered", "retried", "parked"], to_telegram: ["sent", "failed", "parked", "refused"] };
const DIRECTIONS: MetricsDirection[] = ["to_planfix", "to_telegram"];
const PLANFIX_CALLS = ["newMessage", "messageStatus", "updateContact"];

export class PromMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly messages: Counter<"direction" | "outcome">;
  private readonly planfix: Histogram<"call" | "outcome">;
  private readonly tgErrors: Counter<"error">;
  private readonly flood: Counter;
  private readonly reconnects: Counter;
  private queueTotals: Promise<Record<MetricsDirection, QueueTotals>> | null = null;

  constructor(sources: MetricsSources, opts: { defaultMetrics?: boolean; version?: string } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named like counters (promtool's lint refuses them); the same numbers stay without "_total".
      for (const n of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) this.registry.removeSingleMetric(n);
    }
    this.messages = new Counter({
      name: "planfix_telegram_messages_total",
      help: "Messages by direction and outcome (to_planfix: delivered, retried, parked; to_telegram: sent, failed = an attempt failed and is retried, parked = given up and reported to Planfix, refused = the recipient's privacy, a block or the number's limit on new contacts: reported to Planfix after one attempt)",
      labelNames: ["direction", "outcome"],
      registers,
    });
    for (const d of DIRECTIONS) for (const o of OUTCOMES[d]) this.messages.inc({ direction: d, outcome: o }, 0);
    this.planfix = new Histogram({
      name: "planfix_telegram_planfix_request_duration_seconds",
      help: "Calls to Planfix by call and outcome (ok, network, timeout, server, rejected, unauthorized, other, error)",
      labelNames: ["call", "outcome"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
      registers,
    });
    for (const c of PLANFIX_CALLS) this.planfix.zero({ call: c, outcome: "ok" });
    this.tgErrors = new Counter({
      name: "planfix_telegram_telegram_errors_total",
      help: "Errors Telegram answered with, by RPC name (FLOOD_WAIT_n as FLOOD_WAIT; names not listed as other)",
      labelNames: ["error"],
      registers,
    });
    for (const n of [...TELEGRAM_ERROR_NAMES, "other"]) this.tgErrors.inc({ error: n }, 0);
    this.flood = new Counter({ name: "planfix_telegram_flood_wait_seconds_total", help: "Seconds Telegram asked the numbers to wait (flood waits), summed", registers });
    this.reconnects = new Counter({ name: "planfix_telegram_reconnects_total", help: "Connection attempts of numbers after losing Telegram", registers });

    new Gauge({
      name: "planfix_telegram_numbers",
      help: "Numbers by state (all clients together)",
      labelNames: ["state"],
      registers,
      async collect() {
        const counts = await sources.numbersByState();
        for (const s of new Set<string>([...NUMBER_STATES, ...Object.keys(counts)])) this.set({ state: s }, counts[s] ?? 0);
      },
    });
    // One read of both queues per scrape (render() forgets it first), shared by the three gauges below.
    const totals = () => (this.queueTotals ??= Promise.resolve(sources.queues()));
    const queueGauge = (name: string, help: string, pick: (t: QueueTotals) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ["direction"],
        registers,
        async collect() {
          const t = await totals();
          for (const d of DIRECTIONS) this.set({ direction: d }, pick(t[d]));
        },
      });
    queueGauge("planfix_telegram_queue_waiting", "Items accepted and not yet delivered, by direction", (t) => t.waiting);
    queueGauge("planfix_telegram_queue_parked", "Items given up after their retries, kept until resent or discarded, by direction", (t) => t.parked);
    queueGauge("planfix_telegram_queue_oldest_waiting_seconds", "Age of the oldest waiting item, by direction (0 when nothing waits)", (t) => t.oldestWaitingSeconds ?? 0);
    if (opts.version)
      new Gauge({ name: "planfix_telegram_build_info", help: "Always 1; the running version as a label", labelNames: ["version"], registers }).set({ version: opts.version }, 1);
  }

  messageOutcome(direction: MetricsDirection, outcome: MessageOutcome): void {
    this.messages.inc({ direction, outcome });
  }

  planfixCall(kind: string, outcomeClass: string, seconds: number): void {
    this.planfix.observe({ call: kind, outcome: outcomeClass }, seconds);
  }

  telegramError(name: string): void {
    this.tgErrors.inc({ error: telegramErrorLabel(name) });
  }

  floodWait(seconds: number): void {
    if (seconds > 0) this.flood.inc(seconds);
  }

  reconnect(): void {
    this.reconnects.inc();
  }

  /** The text format Prometheus scrapes. */
  async render(): Promise<{ contentType: string; body: string }> {
    this.queueTotals = null;
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

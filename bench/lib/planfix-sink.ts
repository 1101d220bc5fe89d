// The fake Planfix as the bench's receiving end: every bench newMessage and messageStatus is timed
// (high-resolution, at the moment the fake Planfix has the whole command) and counted per phase.
import { startFakePlanfix, type FakePlanfix } from "../../tests/support/planfix/server.ts";
import { now } from "./clock.ts";
import { parseBenchText } from "./telegram-core.ts";

export const PLANFIX_TOKEN = "bench-planfix-token";
export const PROVIDER_ID = "planfix-telegram";

export class PlanfixSink {
  private readonly received = new Map<number, number[]>();
  private readonly receivedCount = new Map<number, number>();
  private readonly statusCount = new Map<number, number>();
  /** Commands Planfix refused or that were not the bench's (should stay 0). */
  rejected = 0;

  private constructor(readonly planfix: FakePlanfix) {}

  static async start(): Promise<PlanfixSink> {
    let sink: PlanfixSink | null = null;
    const planfix = await startFakePlanfix({
      accounts: [{ path: "/webchat/api", planfixToken: PLANFIX_TOKEN, providerId: PROVIDER_ID }],
      onCommand: (c) => sink?.record(c.cmd, c.accepted, c.fields),
    });
    sink = new PlanfixSink(planfix);
    return sink;
  }

  get url(): string {
    return this.planfix.url;
  }

  private record(cmd: string, accepted: boolean, fields: Record<string, string>): void {
    const t = now();
    if (!accepted) {
      this.rejected++;
      return;
    }
    if (cmd === "newMessage") {
      const b = parseBenchText(fields.message ?? "");
      if (!b) return;
      let times = this.received.get(b.phase);
      if (!times) this.received.set(b.phase, (times = []));
      if (times[b.seq] !== undefined) return; // a repeat (Planfix cannot deduplicate newMessage)
      times[b.seq] = t;
      this.receivedCount.set(b.phase, (this.receivedCount.get(b.phase) ?? 0) + 1);
    } else if (cmd === "messageStatus" && fields.messageStatus === "sent") {
      const phase = Number(/^(\d+)-/.exec(fields.messageId ?? "")?.[1] ?? NaN);
      if (Number.isFinite(phase)) this.statusCount.set(phase, (this.statusCount.get(phase) ?? 0) + 1);
    }
  }

  count(phase: number): number {
    return this.receivedCount.get(phase) ?? 0;
  }

  statuses(phase: number): number {
    return this.statusCount.get(phase) ?? 0;
  }

  times(phase: number): number[] {
    return Array.from(this.received.get(phase) ?? [], (t) => t ?? 0);
  }

  /** Forgets a finished phase (and the fake Planfix's own command log, which would grow without end). */
  forget(phase: number): void {
    this.received.delete(phase);
    this.receivedCount.delete(phase);
    this.statusCount.delete(phase);
    this.planfix.clear();
  }

  stop(): Promise<void> {
    return this.planfix.stop();
  }
}

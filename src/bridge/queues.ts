// What waits, what is parked and what is wrong, per number and direction; and the operator's explicit
// calls on parked items (resend, discard). Nothing here deletes a row.
import type { JobRepository, OutboxRepository, QueueStats } from "../domain/repositories.ts";
import { chatIdFor } from "./chat-id.ts";
import type { Direction } from "./health.ts";
import type { InboundBridge } from "./inbound.ts";
import type { OutboundBridge } from "./outbound.ts";
import type { DirectionStatus, QueueItem, QueueStatus } from "./queue-views.ts";

export type { DirectionStatus, QueueItem, QueueStatus } from "./queue-views.ts";

const LIST_LIMIT = 200;

export class QueueService {
  constructor(private readonly deps: { outbox: OutboxRepository; jobs: JobRepository; inbound: InboundBridge; outbound: OutboundBridge; now?: () => number }) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  async status(accountId: number): Promise<QueueStatus> {
    const toPlanfix = this.direction(accountId, "to_planfix", await this.deps.outbox.stats(accountId));
    toPlanfix.paused = this.deps.inbound.isPaused(accountId);
    return { to_planfix: toPlanfix, to_telegram: this.direction(accountId, "to_telegram", await this.deps.jobs.stats(accountId)) };
  }

  /** Every number's status from two queries, for a listing of many numbers (one status() each would be 2 queries a number). */
  async statusOfAll(): Promise<(accountId: number) => QueueStatus> {
    const toPlanfix = await this.deps.outbox.statsByAccount();
    const toTelegram = await this.deps.jobs.statsByAccount();
    const none: QueueStats = { waiting: 0, oldestWaitingAt: null, parked: 0 };
    return (accountId) => {
      const p = this.direction(accountId, "to_planfix", toPlanfix.get(accountId) ?? none);
      p.paused = this.deps.inbound.isPaused(accountId);
      return { to_planfix: p, to_telegram: this.direction(accountId, "to_telegram", toTelegram.get(accountId) ?? none) };
    };
  }

  /** Every number's queues together, per direction (two aggregate queries; for /metrics). */
  async totals(): Promise<Record<Direction, { waiting: number; parked: number; oldestWaitingSeconds: number | null }>> {
    const age = (s: QueueStats) => (s.oldestWaitingAt === null ? null : Math.max(0, Math.round((this.now() - s.oldestWaitingAt) / 1000)));
    const pick = (s: QueueStats) => ({ waiting: s.waiting, parked: s.parked, oldestWaitingSeconds: age(s) });
    return { to_planfix: pick(await this.deps.outbox.stats(null)), to_telegram: pick(await this.deps.jobs.stats(null)) };
  }

  private direction(accountId: number, direction: Direction, s: QueueStats): DirectionStatus {
    const p = this.deps.inbound.health.current(accountId, direction);
    return {
      waiting: s.waiting,
      oldest_waiting_seconds: s.oldestWaitingAt === null ? null : Math.max(0, Math.round((this.now() - s.oldestWaitingAt) / 1000)),
      parked: s.parked,
      problem: p?.message ?? null,
      problem_since: p ? new Date(p.since).toISOString() : null,
    };
  }

  async list(accountId: number, number: string, direction: Direction, state: "waiting" | "parked"): Promise<QueueItem[]> {
    if (direction === "to_planfix") {
      return (await this.deps.outbox.list(accountId, state === "waiting" ? "pending" : "parked", LIST_LIMIT)).map((r) => ({
        id: r.id,
        state,
        chat_id: chatIdFor(number, r.chatKey),
        kind: r.kind,
        created_at: new Date(r.createdAt).toISOString(),
        attempts: r.attempts,
        error: r.lastError,
        text: preview(
          r.kind === "message"
            ? ((JSON.parse(r.event) as { message?: { text?: string } }).message?.text ?? "")
            : `messageStatus ${(JSON.parse(r.event) as { status?: string }).status ?? ""}`,
        ),
      }));
    }
    return (await this.deps.jobs.list(accountId, state === "waiting" ? "pending" : "failed", LIST_LIMIT)).map((j) => ({
      id: j.id,
      state,
      chat_id: j.chatId,
      kind: "message",
      message_id: j.planfixMessageId,
      created_at: new Date(j.createdAt).toISOString(),
      attempts: j.attempts,
      error: j.lastError,
      text: preview(j.text),
    }));
  }

  /** Parked items (one, or all of the number) back in their queue with fresh retries; how many. */
  async resend(accountId: number, direction: Direction, id: number | null): Promise<number> {
    const n = direction === "to_planfix" ? await this.deps.outbox.resend(accountId, id, this.now()) : await this.deps.jobs.resend(accountId, id, this.now());
    if (n > 0) (direction === "to_planfix" ? this.deps.inbound : this.deps.outbound).kick(accountId);
    return n;
  }

  /** One parked or waiting item dropped for good, by an explicit call; how many (0 or 1). */
  async discard(accountId: number, direction: Direction, id: number): Promise<number> {
    return direction === "to_planfix" ? await this.deps.outbox.discard(accountId, id) : await this.deps.jobs.discard(accountId, id);
  }
}

const preview = (t: string) => (t.length > 200 ? `${t.slice(0, 200)}…` : t);

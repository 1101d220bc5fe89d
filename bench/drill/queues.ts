// The appliance's own account of what it still holds at the end of the drill (from /admin/clients):
// items waiting and items parked, per direction. Both must be 0 once the system has drained.
import type { DrillWorld } from "./setup.ts";
import { ADMIN_TOKEN } from "./setup.ts";

export interface QueueTotals {
  held: { to_planfix: number; to_telegram: number };
  parked: { to_planfix: number; to_telegram: number };
}

type Direction = { waiting?: number; parked?: number };
type NumberView = { queues?: { to_planfix?: Direction; to_telegram?: Direction } };

export async function readQueues(w: DrillWorld): Promise<QueueTotals | null> {
  const r = await w.app.call("GET", "/admin/clients", ADMIN_TOKEN).catch(() => null);
  if (!r || r.status !== 200) return null;
  const numbers = ((r.json?.clients ?? []) as { numbers: NumberView[] }[]).flatMap((c) => c.numbers);
  if (numbers.some((n) => !n.queues)) return null;
  const sum = (dir: "to_planfix" | "to_telegram", key: "waiting" | "parked") => numbers.reduce((s, n) => s + (n.queues?.[dir]?.[key] ?? 0), 0);
  return {
    held: { to_planfix: sum("to_planfix", "waiting"), to_telegram: sum("to_telegram", "waiting") },
    parked: { to_planfix: sum("to_planfix", "parked"), to_telegram: sum("to_telegram", "parked") },
  };
}

const total = (q: QueueTotals) => q.held.to_planfix + q.held.to_telegram + q.parked.to_planfix + q.parked.to_telegram;

/** Reads until nothing is held or parked (the last statuses may still be on their way), at most `ms`. */
export async function settledQueues(w: DrillWorld, ms: number): Promise<QueueTotals | null> {
  const deadline = Date.now() + ms;
  for (;;) {
    const q = await readQueues(w);
    if ((q && total(q) === 0) || Date.now() > deadline) return q;
    await Bun.sleep(250);
  }
}

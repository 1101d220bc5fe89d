// A message's outcome, reported once from the place each bridge decides it (delivered, retried, parked;
// sent, failed). Whatever wants to know — /metrics today — hangs off this one hook; the bridge knows
// none of them.
import type { Direction } from "./health.ts";

export type Outcome = "delivered" | "retried" | "parked" | "sent" | "failed";

export interface MessageOutcome {
  accountId: number;
  direction: Direction;
  outcome: Outcome;
}

export type OutcomeListener = (o: MessageOutcome) => void;

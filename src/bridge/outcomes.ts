// A message's outcome, reported once from the place each bridge decides it (delivered, retried, parked;
// sent, failed, parked, refused). Whatever wants to know — /metrics today — hangs off this one hook; the bridge knows
// none of them.
import type { Direction } from "./health.ts";

/** refused: to_telegram only, the other side will not take it (privacy, a block, a limited number); final after one attempt. */
export type Outcome = "delivered" | "retried" | "parked" | "sent" | "failed" | "refused";

export interface MessageOutcome {
  accountId: number;
  direction: Direction;
  outcome: Outcome;
}

export type OutcomeListener = (o: MessageOutcome) => void;

// A client and its numbers as the core sees them: plain types, no storage row behind them. The store
// returns these (its rows may carry more: columns kept only for a downgrade).
import type { AccountState } from "../accounts/states.ts";

/** A customer of the appliance. Only a hash of its token is kept. */
export interface Client {
  id: number;
  name: string;
  tokenHash: string;
  createdAt: number;
}

/** One number of a client: what the operator asked for (`wanted`) and what was reached (`state`). */
export interface Account {
  id: number;
  clientId: number;
  number: string;
  urlPlanfix: string;
  tokenPlanfix: string;
  providerId: string | null;
  nameSession: string | null;
  /** Relative to SESSIONS_DIR, already checked not to escape it. */
  sessionPath: string;
  wanted: "running" | "stopped";
  state: AccountState;
  stateReason: string | null;
  stateSince: number;
  floodUntil: number | null;
  /** The messenger's id of the account owner, once connected. */
  selfUserId: string | null;
  /** The last error Planfix answered while delivery to it fails. */
  planfixError: string | null;
  /** uk | ru | en for the texts written into Planfix; null: the appliance's LANGUAGE. */
  language: string | null;
  /** The number's own proxy URL (holds its secret: shown only through redactProxy), "direct" (none), or null: TELEGRAM_PROXY. */
  proxy: string | null;
  createdAt: number;
  updatedAt: number;
}

// The states a number can be in, as the management API reports them.
export const ACCOUNT_STATES = [
  "starting",
  "connecting",
  "online",
  "reconnecting",
  "stopped",
  "unauthorized",
  "banned",
  "flood_wait",
  "duplicated",
  "error",
  "frozen",
  "proxy_failed",
] as const;
export type AccountState = (typeof ACCOUNT_STATES)[number];

/** States a number leaves only when the operator changes something (PUT) or starts it again. */
export const SETTLED_STATES: ReadonlySet<string> = new Set(["online", "stopped", "unauthorized", "banned", "duplicated", "error", "frozen"]);

/**
 * What POST/PUT stop waiting for: it is online, or it will not be without a change or a long wait — or
 * its proxy fails, which the caller should hear at once (it is retried all the same).
 */
export const DECIDED_STATES: ReadonlySet<string> = new Set([...SETTLED_STATES, "flood_wait", "proxy_failed"]);

const FAILED = ["unauthorized", "banned", "duplicated", "flood_wait", "error", "frozen"] as const;

/**
 * Every move a number's state may make. A number is started (starting), connects (connecting, or
 * reconnecting after a loss), comes online, loses its connection or fails; a stop ends any state,
 * and a start begins again from any state but a running one. A runner reporting a move not in this
 * table is a bug: it is logged, and the state is taken anyway (the state a user sees stays true).
 */
export const TRANSITIONS: Readonly<Record<AccountState, readonly AccountState[]>> = {
  stopped: ["starting"],
  starting: ["connecting", "stopped", "error"],
  connecting: ["online", "reconnecting", "stopped", ...FAILED, "proxy_failed"],
  reconnecting: ["online", "reconnecting", "stopped", ...FAILED, "proxy_failed"],
  // The number's proxy cannot be reached (or refuses us): retried with backoff, like reconnecting.
  proxy_failed: ["online", "reconnecting", "stopped", ...FAILED],
  online: ["reconnecting", "stopped", ...FAILED],
  flood_wait: ["reconnecting", "stopped", "starting", "error"],
  unauthorized: ["stopped", "starting"],
  banned: ["stopped", "starting"],
  duplicated: ["stopped", "starting"],
  error: ["stopped", "starting"],
  // Telegram froze the account (anti-spam): only an appeal lifts it, so no wait or retry is scheduled.
  frozen: ["stopped", "starting"],
};

/** Whether `from` → `to` is a move of the table (staying in a state, e.g. a new reason, always is). */
export const isTransition = (from: AccountState, to: AccountState): boolean => from === to || TRANSITIONS[from].includes(to);

/** One move of a number's state, as the one hook (AccountPool.onStateChange) reports it. */
export interface StateChange {
  accountId: number;
  from: AccountState;
  to: AccountState;
  reason: string | null;
  /** With flood_wait: when Telegram lets us try again (ms). */
  floodUntil: number | null;
  at: number;
}

export type StateListener = (change: StateChange) => void;

// What the appliance counts for monitoring: the events the bridge and the number runners report. The
// rest of the code sees only this interface (never prom-client), and gets `noMetrics` when nothing counts.
export type MetricsDirection = "to_planfix" | "to_telegram";
/**
 * to_planfix: delivered (Planfix accepted it), retried (an attempt failed; tried again later), parked (given up, kept).
 * to_telegram: sent, failed (an attempt failed; tried again later), parked (given up, reported to Planfix as an error),
 * refused (the other side will not take it: reported to Planfix as an error after one attempt, not parked).
 */
export type MessageOutcome = "delivered" | "retried" | "parked" | "sent" | "failed" | "refused";

export interface Metrics {
  /** One message (not a status or a contact update) reached this outcome. */
  messageOutcome(direction: MetricsDirection, outcome: MessageOutcome): void;
  /** One call to Planfix: which (newMessage…), how it ended ("ok" or the failure kind), how long it took. */
  planfixCall(kind: string, outcomeClass: string, seconds: number): void;
  /** An error Telegram answered with (RPC name; FLOOD_WAIT_n and unknown names are folded, see telegramErrorLabel). */
  telegramError(name: string): void;
  /** Seconds Telegram asked us to wait (FLOOD_WAIT and the like). */
  floodWait(seconds: number): void;
  /** A number connects again after losing its connection (each attempt). */
  reconnect(): void;
}

export const noMetrics: Metrics = {
  messageOutcome() {},
  planfixCall() {},
  telegramError() {},
  floodWait() {},
  reconnect() {},
};

/**
 * The RPC error names kept as their own label value; any other becomes "other", so a label can never take
 * more values than this list (+ "other"), whatever Telegram answers.
 */
export const TELEGRAM_ERROR_NAMES = [
  "FLOOD_WAIT",
  "FLOOD_PREMIUM_WAIT",
  "SLOWMODE_WAIT",
  "FLOOD_TEST_PHONE_WAIT",
  "PEER_FLOOD",
  "AUTH_KEY_UNREGISTERED",
  "AUTH_KEY_INVALID",
  "AUTH_KEY_PERM_EMPTY",
  "AUTH_KEY_DUPLICATED",
  "SESSION_REVOKED",
  "SESSION_EXPIRED",
  "SESSION_PASSWORD_NEEDED",
  "USER_DEACTIVATED",
  "USER_DEACTIVATED_BAN",
  "PEER_ID_INVALID",
  "USER_IS_BLOCKED",
  "INPUT_USER_DEACTIVATED",
  "USER_PRIVACY_RESTRICTED",
  "USER_NOT_MUTUAL_CONTACT",
  "PRIVACY_PREMIUM_REQUIRED",
  "YOU_BLOCKED_USER",
  "CHAT_WRITE_FORBIDDEN",
  "USERNAME_NOT_OCCUPIED",
  "USERNAME_INVALID",
  "PHONE_NOT_OCCUPIED",
  "MEDIA_EMPTY",
  "MESSAGE_TOO_LONG",
  "FROZEN_METHOD_INVALID",
  "USER_MIGRATE",
] as const;

const KNOWN = new Set<string>(TELEGRAM_ERROR_NAMES);

/** "FLOOD_WAIT_42" → "FLOOD_WAIT"; a known name → itself; anything else → "other". */
export function telegramErrorLabel(name: string): string {
  const base = name.replace(/_\d+$/, "");
  return KNOWN.has(base) ? base : "other";
}

/** Whether a failure reason is an RPC error name Telegram sent (not a socket error or our own words). */
export const isRpcName = (reason: string): boolean => /^[A-Z][A-Z0-9_]*$/.test(reason) && !/^E[A-Z]+$/.test(reason);

// Telegram's rules the core asks about through MessengerCapabilities: its text limit, its own
// service account, which RPC error names mean "already sent" or "file gone", and which refuse a send
// for good (errors.ts: PEER_FLOOD, privacy, blocks, a deleted recipient).
import { createHash } from "node:crypto";
import type { MessengerCapabilities } from "../domain/telegram-port.ts";
import { refusalOfRpc } from "./errors.ts";

/** Telegram's service notifications (login codes, security alerts) come from this user. */
export const TELEGRAM_SERVICE_USER_ID = "777000";

/** Telegram refuses texts over 4096 characters. */
export const TELEGRAM_TEXT_LIMIT = 4096;

const MEDIA_GONE = /^(MEDIA_GONE|MEDIA_EMPTY|MEDIA_HANDLE_INVALID|FILE_REFERENCE_|FILE_ID_INVALID|LOCATION_INVALID|MESSAGE_ID_INVALID)/;

export const telegramCapabilities: MessengerCapabilities = {
  maxTextLength: TELEGRAM_TEXT_LIMIT,
  isServiceAccount: (userId) => userId === TELEGRAM_SERVICE_USER_ID,
  meaningOf: (failure) => {
    // A send's random_id seen before: that message is in the chat already.
    if (failure.reason === "RANDOM_ID_DUPLICATE") return "already_sent";
    if (MEDIA_GONE.test(failure.reason)) return "media_gone";
    return null;
  },
  // Only an error Telegram answered (not a wait, a dropped socket or a dead key) is a refusal.
  refusalOf: (failure) => (failure.kind === "error" ? refusalOfRpc(failure.reason) : null),
};

/** Telegram's random_id for a send's idempotency key: the same key always gives the same 64-bit id. */
export function randomIdOf(idempotencyKey: string): bigint {
  return createHash("sha256").update(idempotencyKey).digest().readBigInt64BE(0);
}

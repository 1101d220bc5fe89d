// Maps whatever GramJS throws (RPC errors, socket errors, our own timeouts) to a TelegramFailure.
import { errors } from "telegram";
import { TelegramFailure, type FailureKind, type Refusal } from "../domain/telegram-port.ts";
import { errorText } from "../log.ts";

/** The key is not (or no longer) authorized: an operator must supply a new session. */
const UNAUTHORIZED = new Set(["AUTH_KEY_UNREGISTERED", "AUTH_KEY_INVALID", "AUTH_KEY_PERM_EMPTY", "SESSION_REVOKED", "SESSION_EXPIRED", "SESSION_PASSWORD_NEEDED", "UNAUTHORIZED"]);

/** The account itself is gone: USER_DEACTIVATED_BAN (banned) and USER_DEACTIVATED (deleted/deactivated). */
const BANNED = new Set(["USER_DEACTIVATED_BAN", "USER_DEACTIVATED"]);

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EADDRNOTAVAIL",
]);

const NETWORK_MESSAGES = [/not connected/i, /socket was closed/i, /connection closed/i, /socket hang up/i, /disconnect/i];

/** The RPC error name (e.g. "PEER_ID_INVALID") when `e` is an error Telegram answered with. */
export function rpcName(e: unknown): string | null {
  if (e instanceof errors.FloodWaitError) return `FLOOD_WAIT_${e.seconds}`;
  // GramJS replaces Telegram's name with an English sentence for this one; media.ts follows it by name.
  if (e instanceof errors.FileMigrateError) return `FILE_MIGRATE_${e.newDc}`;
  if (e instanceof errors.RPCError) {
    const m = e.errorMessage;
    return typeof m === "string" && m ? m : null;
  }
  return null;
}

function floodSeconds(e: unknown, name: string | null): number | null {
  if (e instanceof errors.FloodWaitError || e instanceof errors.FloodTestPhoneWaitError || e instanceof errors.SlowModeWaitError) {
    return e.seconds;
  }
  const m = name?.match(/^(?:FLOOD_WAIT|FLOOD_PREMIUM_WAIT|SLOWMODE_WAIT|FLOOD_TEST_PHONE_WAIT)_(\d+)$/);
  return m ? Number(m[1]) : null;
}

/**
 * The failure for an error from a Telegram call.
 * - PEER_FLOOD ("this account is limited") is `error`, not `flood_wait`: it carries no wait time,
 *   it lasts hours to days, and retrying is exactly what gets limited accounts banned.
 * - Errors about the other party (PEER_ID_INVALID, USER_IS_BLOCKED, INPUT_USER_DEACTIVATED, …) are
 *   `error` with the RPC name as reason; refusalOfRpc() says which of them refuse a send for good.
 */
export function toFailure(e: unknown): TelegramFailure {
  if (e instanceof TelegramFailure) return e;
  if (e instanceof errors.UserMigrateError) return userMigrated(e.newDc);
  const name = rpcName(e);
  const seconds = floodSeconds(e, name);
  if (seconds !== null) return new TelegramFailure("flood_wait", name ?? `FLOOD_WAIT_${seconds}`, seconds);
  const migratedTo = name?.match(/^USER_MIGRATE_(\d+)$/)?.[1];
  if (migratedTo) return userMigrated(migratedTo);
  if (name) return new TelegramFailure(kindOfRpc(name), name);
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === "string" && NETWORK_CODES.has(code)) return new TelegramFailure("network", code);
  const text = errorText(e);
  if (NETWORK_MESSAGES.some((re) => re.test(text))) return new TelegramFailure("network", text);
  if (/timeout|timed out/i.test(text)) return new TelegramFailure("timeout", text);
  return new TelegramFailure("error", text);
}

export function kindOfRpc(name: string): FailureKind {
  if (UNAUTHORIZED.has(name)) return "unauthorized";
  if (BANNED.has(name)) return "banned";
  if (name === "AUTH_KEY_DUPLICATED") return "duplicated";
  if (name === FROZEN) return "frozen";
  return "error";
}

/**
 * Send errors that no retry will cure, by what the core is told (Refusal): the account may not write
 * first to new contacts (PEER_FLOOD: a limit of hours to days — retrying it is what gets accounts
 * banned), the recipient's privacy settings (incl. "only Premium users may write"), a block either way,
 * and a deleted recipient.
 */
const REFUSALS: Readonly<Record<string, Refusal>> = {
  PEER_FLOOD: "peer_flood",
  USER_PRIVACY_RESTRICTED: "privacy",
  USER_NOT_MUTUAL_CONTACT: "privacy",
  PRIVACY_PREMIUM_REQUIRED: "privacy",
  USER_IS_BLOCKED: "blocked",
  YOU_BLOCKED_USER: "blocked",
  INPUT_USER_DEACTIVATED: "deactivated",
};

/** The refusal an RPC error name means, or null when it is not one. */
export function refusalOfRpc(name: string): Refusal | null {
  return Object.hasOwn(REFUSALS, name) ? REFUSALS[name]! : null;
}

/**
 * FROZEN_METHOD_INVALID: Telegram froze the account (anti-spam). A 420 like a flood wait, but no wait
 * ever ends it — waiting and retrying is not a way out, an appeal is.
 */
export const FROZEN = "FROZEN_METHOD_INVALID";

/**
 * USER_MIGRATE_n on a signed-in key: Telegram moved the account to DC n, where this key is not signed
 * in. Following it ends with an unauthorized key anyway, and retrying loops: the account must be logged
 * in again. The reason starts with the RPC name (counted in /metrics).
 */
export function userMigrated(dc: number | string): TelegramFailure {
  return new TelegramFailure("unauthorized", `USER_MIGRATE_${dc}: Telegram moved this account to DC ${dc}; log it in again (a new session) and start it again`);
}

/** True for RPC errors that mean "no such user/username" rather than a failure of the call. */
export function isNotFound(e: unknown): boolean {
  const name = e instanceof TelegramFailure ? e.reason : rpcName(e);
  return (
    name === "USERNAME_NOT_OCCUPIED" ||
    name === "USERNAME_INVALID" ||
    name === "PEER_ID_INVALID" ||
    name === "USER_ID_INVALID" ||
    name === "PHONE_NUMBER_INVALID" ||
    name === "PHONE_NOT_OCCUPIED"
  );
}

// Telegram's rules, asked through the connector's capabilities: the core spells none of them out.
import { expect, test } from "bun:test";
import { ignoreReason } from "../../../src/bridge/filters.ts";
import { splitText } from "../../../src/bridge/split-text.ts";
import { type ChatMessage, type MessengerCapabilities, TelegramFailure } from "../../../src/domain/telegram-port.ts";
import { randomIdOf, telegramCapabilities } from "../../../src/telegram/capabilities.ts";
import { toFailure } from "../../../src/telegram/errors.ts";
import { Api, errors } from "telegram";
import { createHash } from "node:crypto";

const message = (userId: string): ChatMessage => ({
  peer: { userId, accessHash: "1", username: null, phone: null, firstName: "A", lastName: null, isBot: false, hasPhoto: false },
  messageId: 1,
  out: false,
  date: 0,
  text: "hi",
  media: null,
  kind: "text",
  editDate: null,
});

test("Telegram: 4096 characters a message, 777000 is its service account, two error families have a meaning", () => {
  expect(telegramCapabilities.maxTextLength).toBe(4096);
  expect(splitText("x".repeat(4097), telegramCapabilities.maxTextLength).map((p) => p.length)).toEqual([4096, 1]);
  expect(ignoreReason(message("777000"), null, telegramCapabilities)).toBe("Telegram service notification");
  expect(ignoreReason(message("6800630955"), null, telegramCapabilities)).toBeNull();
  expect(telegramCapabilities.meaningOf(new TelegramFailure("error", "RANDOM_ID_DUPLICATE"))).toBe("already_sent");
  expect(telegramCapabilities.meaningOf(new TelegramFailure("error", "FILE_REFERENCE_EXPIRED"))).toBe("media_gone");
  expect(telegramCapabilities.meaningOf(new TelegramFailure("error", "PEER_ID_INVALID"))).toBeNull();
});

test("send errors no retry cures are refusals of four kinds, from what GramJS throws; others, waits and dead keys are not", () => {
  const sent = (name: string, code = 400) => telegramCapabilities.refusalOf(toFailure(new errors.RPCError(name, new Api.messages.SendMessage({ peer: "me", message: "x" }), code)));
  expect(sent("PEER_FLOOD")).toBe("peer_flood");
  expect(sent("USER_PRIVACY_RESTRICTED", 403)).toBe("privacy");
  expect(sent("USER_NOT_MUTUAL_CONTACT")).toBe("privacy");
  expect(sent("PRIVACY_PREMIUM_REQUIRED", 403)).toBe("privacy");
  expect(sent("USER_IS_BLOCKED")).toBe("blocked");
  expect(sent("YOU_BLOCKED_USER")).toBe("blocked");
  expect(sent("INPUT_USER_DEACTIVATED")).toBe("deactivated");
  // Still parked and re-sendable, or waited out, or the number's own trouble: not a refusal.
  expect(sent("CHAT_WRITE_FORBIDDEN", 403)).toBeNull();
  expect(sent("PEER_ID_INVALID")).toBeNull();
  expect(sent("FLOOD_WAIT_30", 420)).toBeNull();
  expect(sent("AUTH_KEY_UNREGISTERED", 401)).toBeNull();
  expect(sent("USER_DEACTIVATED_BAN", 401)).toBeNull();
  expect(sent("toString")).toBeNull();
  expect(telegramCapabilities.refusalOf(new TelegramFailure("network", "PEER_FLOOD"))).toBeNull();
});

test("the bridge's filter follows the connector, not a number of its own", () => {
  const other: MessengerCapabilities = { maxTextLength: 10, isServiceAccount: (id) => id === "1", meaningOf: () => null, refusalOf: () => null };
  expect(ignoreReason(message("777000"), null, other)).toBeNull();
  expect(ignoreReason(message("1"), null, other)).toBe("Telegram service notification");
  expect(splitText("hello world again", other.maxTextLength)).toEqual(["hello", "world", "again"]);
});

test("an idempotency key always gives the same Telegram random_id; another key another one", () => {
  const a = randomIdOf("seed:0");
  expect(randomIdOf("seed:0")).toBe(a);
  expect(randomIdOf("seed:1")).not.toBe(a);
  // The id jobs accepted before this release were sent with: sha256("<seed>:<part>"), first 8 bytes signed.
  expect(a).toBe(createHash("sha256").update("seed:0").digest().readBigInt64BE(0));
});

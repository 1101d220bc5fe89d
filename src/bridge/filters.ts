// Which Telegram messages reach Planfix: private one-to-one chats with people only.
import type { ChatMessage } from "../domain/telegram-port.ts";

export const TELEGRAM_SERVICE_USER_ID = "777000";
export const PLANFIX_BOT_USERNAME = "planfix_bot";

/** Why a message is not bridged, or null when it is. */
export function ignoreReason(message: ChatMessage, selfUserId: string | null): string | null {
  const p = message.peer;
  if (p.userId === TELEGRAM_SERVICE_USER_ID) return "Telegram service notification";
  if (p.isBot) return "a bot";
  if (p.username?.toLowerCase() === PLANFIX_BOT_USERNAME) return "planfix_bot";
  if (selfUserId !== null && p.userId === selfUserId) return "Saved Messages";
  return null;
}

// Which Telegram messages reach Planfix: private one-to-one chats with people only.
import type { ChatMessage, MessengerCapabilities } from "../domain/telegram-port.ts";

export const PLANFIX_BOT_USERNAME = "planfix_bot";

/** Why a message is not bridged, or null when it is. */
export function ignoreReason(message: ChatMessage, selfUserId: string | null, caps: Pick<MessengerCapabilities, "isServiceAccount">): string | null {
  const p = message.peer;
  if (caps.isServiceAccount(p.userId)) return "Telegram service notification";
  if (p.isBot) return "a bot";
  if (p.username?.toLowerCase() === PLANFIX_BOT_USERNAME) return "planfix_bot";
  if (selfUserId !== null && p.userId === selfUserId) return "Saved Messages";
  return null;
}

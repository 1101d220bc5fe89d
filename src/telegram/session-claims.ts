// One Telegram key runs once: two connections with the same auth key get it killed
// (AUTH_KEY_DUPLICATED), so a session is claimed by its key before a number starts on it.
import { createHash } from "node:crypto";
import type { SessionClaims, SessionHandle } from "../domain/telegram-port.ts";
import { sessionDataOf } from "./session-file.ts";

const keyOf = (session: SessionHandle) => createHash("sha256").update(sessionDataOf(session).authKey).digest("hex");

export function createSessionClaims(): SessionClaims {
  const holders = new Map<string, number>();
  const release = (accountId: number) => {
    for (const [k, v] of holders) if (v === accountId) holders.delete(k);
  };
  return {
    claim(accountId, session, isRunning) {
      const key = keyOf(session);
      const holder = holders.get(key);
      if (holder !== undefined && holder !== accountId && isRunning(holder)) return holder;
      release(accountId);
      holders.set(key, accountId);
      return null;
    },
    release,
    holder(session, except, isRunning) {
      const holder = holders.get(keyOf(session));
      return holder !== undefined && holder !== except && isRunning(holder) ? holder : null;
    },
  };
}

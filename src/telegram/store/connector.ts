// A connector that keeps its own per-number state in the Telegram tables: where catch-up resumes. The
// core hands it the number's id and never sees the update state; whatever connector it wraps (GramJS,
// or a test's fake) gets the stored state to resume from and has every new one saved.
import { createHash } from "node:crypto";
import type { ConnectOptions, TelegramConnector, TelegramEvents } from "../../domain/telegram-port.ts";
import type { SessionData } from "../../sessions/read.ts";
import type { TelegramStore } from "./store.ts";

/** Which session a stored state belongs to: a short hash of its auth key (the key itself is never stored). */
export const sessionKeyOf = (session: SessionData): string => createHash("sha256").update(session.authKey).digest("hex").slice(0, 16);

export function withTelegramStore(inner: TelegramConnector, store: TelegramStore): TelegramConnector {
  return {
    capabilities: inner.capabilities,
    claims: inner.claims,
    connect(o: ConnectOptions) {
      const accountId = o.accountId;
      if (accountId === undefined) return inner.connect(o);
      const key = sessionKeyOf(o.session);
      let stored = store.updateStateOf(accountId);
      // Another session (the file was replaced): it may be another user, whose updates are not these.
      if (stored?.sessionKey != null && stored.sessionKey !== key) {
        store.forget(accountId);
        stored = null;
      }
      const ev = o.events;
      const events: TelegramEvents = {
        onMessage: (m) => ev.onMessage(m),
        onReadOutbox: (peer, maxId) => ev.onReadOutbox(peer, maxId),
        onPeers: (list) => ev.onPeers(list),
        ...(ev.onContactChanged ? { onContactChanged: (p, photo) => ev.onContactChanged!(p, photo) } : {}),
        onUpdateState: (s) => {
          // A failed write (a full disk) leaves the older state: catch-up then fetches a little more again.
          store.saveUpdateState(accountId, key, s).catch(() => {});
          ev.onUpdateState?.(s);
        },
        onLost: (f) => ev.onLost(f),
      };
      return inner.connect({ ...o, updateState: stored ? { pts: stored.pts, qts: stored.qts, date: stored.date } : o.updateState, events });
    },
  };
}

// A connector that keeps its own per-number state in the Telegram tables: where catch-up resumes, the
// access hashes the number got, and its own sends (message id → the core's idempotency key). The core
// hands it the number's id and never sees the update state, the hashes or the message ids; whatever
// connector it wraps (GramJS, or a test's fake) gets the stored state to resume from, the stored hashes
// as known peers and on every peer it is asked to address, and has whatever is new saved. Echoes of the
// number's own sends are not passed on, and reads are reported by idempotency key.
import type { ConnectOptions, KeepingConnector, PeerInfo, SentMessage, TelegramConnection, TelegramConnector, TelegramEvents } from "../../domain/telegram-port.ts";
import type { TelegramStore } from "./store.ts";

export function withTelegramStore(inner: TelegramConnector, store: TelegramStore): KeepingConnector {
  return {
    capabilities: inner.capabilities,
    claims: inner.claims,
    knows: (accountId, userId) => store.accessHashOf(accountId, userId) !== null,
    isOwnSend: (accountId, peerUserId, messageId) => store.sentKeyOf(accountId, peerUserId, messageId) !== null,
    async connect(o: ConnectOptions) {
      const accountId = o.accountId;
      if (accountId === undefined) return inner.connect(o);
      const keep = (users: readonly PeerInfo[]) => {
        // A failed write (a full disk) loses nothing that Telegram will not send again.
        store.saveAccessHashes(accountId, users).catch(() => {});
      };
      const hashes = store.accessHashesOf(accountId);
      // Hashes the core's list has and the table not yet (e.g. a Telethon session file's entities, on a first start).
      keep(o.knownPeers.filter((p) => p.accessHash !== null && hashes.get(p.userId) !== p.accessHash));
      const knownPeers = o.knownPeers.map((p) => (p.accessHash === null && hashes.has(p.userId) ? { ...p, accessHash: hashes.get(p.userId)! } : p));
      const ev = o.events;
      const events: TelegramEvents = {
        onMessage: async (m) => {
          // The echo of a send whose result is kept: already where it came from.
          if (m.out && m.editDate === null && store.sentKeyOf(accountId, m.peer.userId, m.messageId) !== null) return;
          return ev.onMessage(m);
        },
        onReadOutbox: async (peer, maxId) => {
          if (!ev.onRead) return ev.onReadOutbox?.(peer, maxId);
          const unread = store.unreadUpTo(accountId, peer, maxId);
          if (unread.length === 0) return;
          const keys = unread.map((u) => u.key);
          const left = new Set(await ev.onRead(peer, keys));
          // Marked once taken (a crash before reports them again; the core takes a read once).
          await store.markRead(
            accountId,
            peer,
            unread.filter((u) => !left.has(u.key)).map((u) => u.messageId),
          );
        },
        onPeers: (list) => {
          keep(list);
          ev.onPeers(list);
        },
        ...(ev.onContactChanged ? { onContactChanged: (p, photo) => ev.onContactChanged!(p, photo) } : {}),
        onUpdateState: (s) => {
          // A failed write (a full disk) leaves the older state: catch-up then fetches a little more again.
          store.saveUpdateState(accountId, s).catch(() => {});
          ev.onUpdateState?.(s);
        },
        onLost: (f) => ev.onLost(f),
      };
      // Asked once the session's own user is known, before catch-up: a new session of the same account
      // (signed in again) resumes the kept state; another account's state and hashes are forgotten.
      const sameAccount = (selfUserId: string): boolean => {
        const sameForCore = o.sameAccount?.(selfUserId) ?? true;
        if (!sameForCore) store.forget(accountId); // rows copied from an older release have no account yet
        return store.bindAccount(accountId, selfUserId) && sameForCore;
      };
      const conn = await inner.connect({ ...o, updateState: store.updateStateOf(accountId) ?? o.updateState, knownPeers, events, sameAccount });
      return keptConnection(conn, accountId, store, keep);
    },
  };
}

/** The connection, with the number's kept access hash on every peer it addresses and every peer it finds kept. */
function keptConnection(conn: TelegramConnection, accountId: number, store: TelegramStore, keep: (users: readonly PeerInfo[]) => void): TelegramConnection {
  const addressed = (p: PeerInfo): PeerInfo => {
    if (p.accessHash !== null) return p;
    const accessHash = store.accessHashOf(accountId, p.userId);
    return accessHash === null ? p : { ...p, accessHash };
  };
  // Kept before the send resolves: its echo and its read are then known by the key.
  const sent = async (peer: PeerInfo, key: string, result: SentMessage): Promise<SentMessage> => {
    await store.saveSent(accountId, peer.userId, result.messageId, key);
    return result;
  };
  const found = (p: PeerInfo | null) => {
    if (p) keep([p]);
    return p;
  };
  return {
    get self() {
      return conn.self;
    },
    sendText: async (peer, text, key) => sent(peer, key, await conn.sendText(addressed(peer), text, key)),
    sendFile: async (peer, file, caption, key) => sent(peer, key, await conn.sendFile(addressed(peer), file, caption, key)),
    resolveUsername: async (username) => found(await conn.resolveUsername(username)),
    resolvePhone: async (phone) => found(await conn.resolvePhone(phone)),
    getUser: async (peer) => found(await conn.getUser(addressed(peer))),
    downloadMedia: (media, maxBytes) => conn.downloadMedia(media, maxBytes),
    downloadProfilePhoto: (peer) => conn.downloadProfilePhoto(addressed(peer)),
    probe: () => conn.probe(),
    close: () => conn.close(),
  };
}

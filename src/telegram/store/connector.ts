// A connector that keeps its own per-number state in the Telegram tables: where catch-up resumes and
// the access hashes the number got. The core hands it the number's id and never sees the update state;
// whatever connector it wraps (GramJS, or a test's fake) gets the stored state to resume from, the
// stored hashes as known peers and on every peer it is asked to address, and has whatever is new saved.
import type { ConnectOptions, KeepingConnector, PeerInfo, TelegramConnection, TelegramConnector, TelegramEvents } from "../../domain/telegram-port.ts";
import type { TelegramStore } from "./store.ts";

export function withTelegramStore(inner: TelegramConnector, store: TelegramStore): KeepingConnector {
  return {
    capabilities: inner.capabilities,
    claims: inner.claims,
    knows: (accountId, userId) => store.accessHashOf(accountId, userId) !== null,
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
        onMessage: (m) => ev.onMessage(m),
        onReadOutbox: (peer, maxId) => ev.onReadOutbox(peer, maxId),
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
  const found = (p: PeerInfo | null) => {
    if (p) keep([p]);
    return p;
  };
  return {
    get self() {
      return conn.self;
    },
    sendText: (peer, text, key) => conn.sendText(addressed(peer), text, key),
    sendFile: (peer, file, caption, key) => conn.sendFile(addressed(peer), file, caption, key),
    resolveUsername: async (username) => found(await conn.resolveUsername(username)),
    resolvePhone: async (phone) => found(await conn.resolvePhone(phone)),
    getUser: async (peer) => found(await conn.getUser(addressed(peer))),
    downloadMedia: (media, maxBytes) => conn.downloadMedia(media, maxBytes),
    downloadProfilePhoto: (peer) => conn.downloadProfilePhoto(addressed(peer)),
    probe: () => conn.probe(),
    close: () => conn.close(),
  };
}

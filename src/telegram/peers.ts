// Telegram users ⇄ PeerInfo, and the bounded per-connection book of access hashes the adapter needs
// to fill in the peer of an UpdateShortMessage (which carries the sender's id only).
import { Api } from "telegram";
import type { PeerInfo } from "../domain/telegram-port.ts";
import { longText, toLong } from "./gram.ts";

/** PeerInfo for a user object from Telegram; null for UserEmpty. `min` users carry no usable access hash. */
export function peerFromUser(u: Api.TypeUser): PeerInfo | null {
  if (!(u instanceof Api.User)) return null;
  return {
    userId: u.id.toString(),
    accessHash: u.min ? null : longText(u.accessHash),
    username: u.username ?? u.usernames?.find((n) => n.active)?.username ?? null,
    phone: u.phone ?? null,
    firstName: u.firstName ?? null,
    lastName: u.lastName ?? null,
    isBot: !!u.bot,
    hasPhoto: u.photo instanceof Api.UserProfilePhoto,
  };
}

/** A peer we only know by id. */
export function bareUser(userId: string): PeerInfo {
  return { userId, accessHash: null, username: null, phone: null, firstName: null, lastName: null, isBot: false, hasPhoto: false };
}

export function inputPeer(p: PeerInfo): Api.InputPeerUser {
  return new Api.InputPeerUser({ userId: toLong(p.userId), accessHash: toLong(p.accessHash ?? "0") });
}

export function inputUser(p: PeerInfo): Api.InputUser {
  return new Api.InputUser({ userId: toLong(p.userId), accessHash: toLong(p.accessHash ?? "0") });
}

function samePeer(a: PeerInfo, b: PeerInfo): boolean {
  return (
    a.accessHash === b.accessHash &&
    a.username === b.username &&
    a.phone === b.phone &&
    a.firstName === b.firstName &&
    a.lastName === b.lastName &&
    a.isBot === b.isBot &&
    a.hasPhoto === b.hasPhoto
  );
}

/**
 * Access hashes and names this connection knows, at most `limit` users (least recently seen dropped
 * first). The durable copy is the domain's (fed through onPeers); this is only a lookup aid.
 */
export class PeerBook {
  private readonly map = new Map<string, PeerInfo>();

  constructor(
    initial: readonly PeerInfo[],
    private readonly limit = 5000,
  ) {
    for (const p of initial) this.put(p);
  }

  /** Forgets every peer (they were another account's: access hashes are per account). */
  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }

  get(userId: string): PeerInfo | undefined {
    return this.map.get(userId);
  }

  /** Records users seen in an update; returns those that are new or changed (to report via onPeers). */
  learn(users: readonly Api.TypeUser[]): PeerInfo[] {
    const changed: PeerInfo[] = [];
    for (const u of users) {
      const seen = peerFromUser(u);
      if (!seen) continue;
      const known = this.map.get(seen.userId);
      // A `min` user (no hash) never erases a hash we had; other fields may still update.
      const merged: PeerInfo = known && seen.accessHash === null ? { ...seen, accessHash: known.accessHash } : seen;
      if (known && samePeer(known, merged)) {
        this.touch(merged.userId, known);
        continue;
      }
      this.put(merged);
      changed.push(merged);
    }
    return changed;
  }

  put(p: PeerInfo): void {
    const known = this.map.get(p.userId);
    const merged = known && p.accessHash === null && known.accessHash !== null ? { ...p, accessHash: known.accessHash } : p;
    this.touch(p.userId, merged);
  }

  private touch(userId: string, p: PeerInfo): void {
    this.map.delete(userId);
    this.map.set(userId, p);
    if (this.map.size > this.limit) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
  }
}

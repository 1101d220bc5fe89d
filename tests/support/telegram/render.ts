// World → TL, always from one viewer's point of view (access hashes, phone privacy, `self`, `out`).
import { Api } from "telegram";
import type { DocumentRecord, MediaRef, PeerRef, PhotoRecord, PtsEntry, Renderer, StoredMessage, World, WorldChat, WorldUser } from "./world.ts";
import { nowSeconds } from "./world.ts";
import { updateShortChatMessage, updateShortMessage } from "./fastpath.ts";

// GramJS types `long` fields as big-integer's BigInteger, but its serializer takes native bigints too
// (checked: identical bytes). These helpers keep that single cast in one place.
type Long = Api.long;
export const long = (v: bigint | number): Long => BigInt(v) as unknown as Long;
export const toBigint = (v: unknown): bigint => (typeof v === "bigint" ? v : BigInt(String(v)));

export function apiPeer(p: PeerRef): Api.TypePeer {
  return p.kind === "user" ? new Api.PeerUser({ userId: long(p.id) }) : new Api.PeerChat({ chatId: long(p.id) });
}

export class Render implements Renderer {
  constructor(private readonly world: World) {}

  user(viewerId: number, u: WorldUser): Api.User {
    const self = viewerId === u.id;
    const viewer = this.world.users.get(viewerId);
    const contact = viewer?.contacts.has(u.id) ?? false;
    return new Api.User({
      id: long(u.id),
      self,
      contact,
      mutualContact: contact && u.contacts.has(viewerId),
      bot: u.bot || undefined,
      botInfoVersion: u.bot ? 1 : undefined,
      accessHash: long(this.world.accessHash(viewerId, u.id)),
      firstName: u.firstName,
      lastName: u.lastName || undefined,
      username: u.username,
      phone: self || !u.phoneHidden ? u.phone : undefined,
      photo: u.photo ? new Api.UserProfilePhoto({ photoId: long(u.photo.id), dcId: this.world.dcId }) : undefined,
      status: u.bot ? undefined : new Api.UserStatusRecently({}),
      verified: u.id === 777000 || undefined,
      support: u.id === 777000 || undefined,
    });
  }

  users(viewerId: number, ids: Iterable<number>): Api.User[] {
    const out: Api.User[] = [];
    for (const id of new Set(ids)) {
      const u = this.world.users.get(id);
      if (u) out.push(this.user(viewerId, u));
    }
    return out;
  }

  chat(c: WorldChat): Api.Chat {
    return new Api.Chat({
      id: long(c.id),
      title: c.title,
      photo: new Api.ChatPhotoEmpty(),
      participantsCount: c.members.size,
      date: c.date,
      version: c.version,
    });
  }

  chats(ids: Iterable<number>): Api.Chat[] {
    const out: Api.Chat[] = [];
    for (const id of new Set(ids)) {
      const c = this.world.chats.get(id);
      if (c) out.push(this.chat(c));
    }
    return out;
  }

  photo(p: PhotoRecord): Api.Photo {
    return new Api.Photo({
      id: long(p.id),
      accessHash: long(p.accessHash),
      fileReference: this.world.edges.stamp(p.fileReference),
      date: p.date,
      sizes: [new Api.PhotoSize({ type: "x", w: p.w, h: p.h, size: p.bytes.length })],
      dcId: this.world.edges.mediaDcOf(this.world, p.id),
    });
  }

  document(d: DocumentRecord): Api.Document {
    return new Api.Document({
      id: long(d.id),
      accessHash: long(d.accessHash),
      fileReference: this.world.edges.stamp(d.fileReference),
      date: d.date,
      mimeType: d.mimeType,
      size: long(d.bytes.length),
      dcId: this.world.edges.mediaDcOf(this.world, d.id),
      attributes: d.attributes,
    });
  }

  media(m: MediaRef): Api.TypeMessageMedia {
    switch (m.kind) {
      case "photo":
        return new Api.MessageMediaPhoto({ photo: this.photo(m) });
      case "document":
        return new Api.MessageMediaDocument({
          document: this.document(m),
          voice: m.docKind === "voice" || undefined,
          video: m.docKind === "video" || undefined,
          round: m.docKind === "video_note" || undefined,
        });
      case "contact":
        return new Api.MessageMediaContact({
          phoneNumber: m.phone,
          firstName: m.firstName,
          lastName: m.lastName,
          vcard: m.vcard,
          userId: long(m.userId),
        });
      case "geo":
        return new Api.MessageMediaGeo({ geo: new Api.GeoPoint({ lat: m.lat, long: m.long, accessHash: long(0) }) });
    }
  }

  message(m: StoredMessage): Api.Message {
    // Private chats: incoming messages carry no from_id (peer_id is the sender); outgoing ones and
    // group messages name the sender, as Telegram does since layer 119.
    const fromId = m.out || m.peer.kind === "chat" ? new Api.PeerUser({ userId: long(m.fromId) }) : undefined;
    return new Api.Message({
      id: m.id,
      out: m.out || undefined,
      peerId: apiPeer(m.peer),
      fromId,
      date: m.date,
      message: m.text,
      media: m.media ? this.media(m.media) : undefined,
      entities: m.entities?.length ? m.entities : undefined,
      editDate: m.editDate,
    });
  }

  /** Users and chats a message refers to. */
  refs(m: StoredMessage, users: Set<number>, chats: Set<number>): void {
    users.add(m.owner);
    users.add(m.fromId);
    if (m.peer.kind === "user") users.add(m.peer.id);
    else chats.add(m.peer.id);
    if (m.media?.kind === "contact" && m.media.userId) users.add(m.media.userId);
  }

  /** A full `updates` container with the entities the updates mention. */
  updates(viewerId: number, updates: Api.TypeUpdate[], msgs: StoredMessage[], extraUsers: number[] = []): Api.Updates {
    const users = new Set<number>(extraUsers);
    const chats = new Set<number>();
    for (const m of msgs) this.refs(m, users, chats);
    users.add(viewerId);
    return new Api.Updates({
      updates,
      users: this.users(viewerId, users),
      chats: this.chats(chats),
      date: nowSeconds(),
      seq: 0,
    });
  }

  // ---- Renderer (pushed updates) ----------------------------------------------------------------

  newMessage(m: StoredMessage, pts: number): Api.TypeUpdates | Buffer {
    // Plain incoming text comes as the short constructors; everything else as full updates.
    if (!m.out && !m.media) {
      if (!m.entities?.length) {
        return m.peer.kind === "user"
          ? updateShortMessage({ id: m.id, userId: m.fromId, message: m.text, pts, date: m.date })
          : updateShortChatMessage({ id: m.id, fromId: m.fromId, chatId: m.peer.id, message: m.text, pts, date: m.date });
      }
      if (m.peer.kind === "user") {
        return new Api.UpdateShortMessage({
          id: m.id,
          userId: long(m.fromId),
          message: m.text,
          pts,
          ptsCount: 1,
          date: m.date,
          entities: m.entities?.length ? m.entities : undefined,
        });
      }
      return new Api.UpdateShortChatMessage({
        id: m.id,
        fromId: long(m.fromId),
        chatId: long(m.peer.id),
        message: m.text,
        pts,
        ptsCount: 1,
        date: m.date,
        entities: m.entities?.length ? m.entities : undefined,
      });
    }
    return this.updates(m.owner, [new Api.UpdateNewMessage({ message: this.message(m), pts, ptsCount: 1 })], [m]);
  }

  editMessage(m: StoredMessage, pts: number): Api.TypeUpdates {
    return this.updates(m.owner, [new Api.UpdateEditMessage({ message: this.message(m), pts, ptsCount: 1 })], [m]);
  }

  ptsUpdate(entry: PtsEntry): Api.TypeUpdate {
    switch (entry.kind) {
      case "new":
        return new Api.UpdateNewMessage({ message: this.message(entry.msg), pts: entry.pts, ptsCount: 1 });
      case "edit":
        return new Api.UpdateEditMessage({ message: this.message(entry.msg), pts: entry.pts, ptsCount: 1 });
      case "readInbox":
        return new Api.UpdateReadHistoryInbox({
          peer: apiPeer(entry.peer),
          maxId: entry.maxId,
          stillUnreadCount: entry.stillUnread,
          pts: entry.pts,
          ptsCount: 1,
        });
      case "readOutbox":
        return new Api.UpdateReadHistoryOutbox({ peer: apiPeer(entry.peer), maxId: entry.maxId, pts: entry.pts, ptsCount: 1 });
    }
  }

  pts(viewerId: number, entry: PtsEntry): Api.TypeUpdates {
    const msgs = entry.kind === "new" || entry.kind === "edit" ? [entry.msg] : [];
    const extra = entry.kind === "readInbox" || entry.kind === "readOutbox" ? peerUsers(entry.peer) : [];
    return this.updates(viewerId, [this.ptsUpdate(entry)], msgs, extra);
  }

  profile(_viewerId: number, u: WorldUser, what: "name" | "user"): Api.TypeUpdates {
    // As Telegram sends them: a bare updateShort, no user object attached (the client keeps its own copy).
    const update =
      what === "name"
        ? new Api.UpdateUserName({
            userId: long(u.id),
            firstName: u.firstName,
            lastName: u.lastName,
            usernames: u.username ? [new Api.Username({ username: u.username, active: true, editable: true })] : [],
          })
        : new Api.UpdateUser({ userId: long(u.id) });
    return new Api.UpdateShort({ update, date: nowSeconds() });
  }

  state(viewer: WorldUser, pts = viewer.mailbox.pts): Api.updates.State {
    return new Api.updates.State({ pts, qts: 0, date: nowSeconds(), seq: 0, unreadCount: 0 });
  }
}

const peerUsers = (p: PeerRef): number[] => (p.kind === "user" ? [p.id] : []);

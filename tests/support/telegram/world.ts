// The world model: users, their sessions (auth keys), chats, media and per-user mailboxes.
// Private and basic-group messages live in each participant's own mailbox with its own message id
// sequence and pts, as Telegram stores them; one logical message links its copies.
// Nothing here knows about sockets: operations report who must be told what through `onDeliver`.
import { createHmac, randomBytes } from "node:crypto";
import type { Api } from "telegram";
import { EdgeState } from "./edges.ts";

export type PeerRef = { kind: "user"; id: number } | { kind: "chat"; id: number };

export const peerKey = (p: PeerRef): string => (p.kind === "user" ? `u${p.id}` : `c${p.id}`);

export interface PhotoRecord {
  kind: "photo";
  id: bigint;
  accessHash: bigint;
  fileReference: Buffer;
  date: number;
  bytes: Buffer;
  w: number;
  h: number;
}

export type DocumentKind = "document" | "voice" | "audio" | "video" | "video_note" | "sticker";

export interface DocumentRecord {
  kind: "document";
  id: bigint;
  accessHash: bigint;
  fileReference: Buffer;
  date: number;
  bytes: Buffer;
  mimeType: string;
  fileName?: string;
  /** GramJS DocumentAttribute objects, kept as sent (or as the driver built them). */
  attributes: Api.TypeDocumentAttribute[];
  docKind: DocumentKind;
}

export type MediaRef =
  | PhotoRecord
  | DocumentRecord
  | { kind: "contact"; phone: string; firstName: string; lastName: string; vcard: string; userId: number }
  | { kind: "geo"; lat: number; long: number };

export interface LogicalMessage {
  /** Copies keyed by mailbox owner. */
  copies: Map<number, StoredMessage>;
}

export interface StoredMessage {
  id: number;
  owner: number;
  /** The dialog this message belongs to, from the owner's point of view. */
  peer: PeerRef;
  fromId: number;
  out: boolean;
  date: number;
  text: string;
  entities?: Api.TypeMessageEntity[];
  media?: MediaRef;
  /** Only on the sender's copy of messages sent through messages.sendMessage/sendMedia or the driver. */
  randomId?: bigint;
  editDate?: number;
  /** Position in the owner's mailbox (0-based), i.e. arrival order. */
  order: number;
  /** The owner's pts right after this message arrived. */
  pts: number;
  logical: LogicalMessage;
}

export type PtsEntry =
  | { pts: number; kind: "new"; msg: StoredMessage }
  | { pts: number; kind: "edit"; msg: StoredMessage }
  | { pts: number; kind: "readInbox"; peer: PeerRef; maxId: number; stillUnread: number }
  | { pts: number; kind: "readOutbox"; peer: PeerRef; maxId: number };

export class Mailbox {
  pts = 0;
  private nextId = 1;
  readonly messages = new Map<number, StoredMessage>();
  /** log[i].pts === i + 1: every entry here has pts_count 1, so lookups by pts are O(1). */
  readonly log: PtsEntry[] = [];
  readonly dialogs = new Map<string, StoredMessage[]>();
  readonly readInboxMaxId = new Map<string, number>();
  readonly readOutboxMaxId = new Map<string, number>();

  allocId(): number {
    return this.nextId++;
  }

  add(msg: StoredMessage): void {
    this.messages.set(msg.id, msg);
    const key = peerKey(msg.peer);
    let d = this.dialogs.get(key);
    if (!d) this.dialogs.set(key, (d = []));
    d.push(msg);
  }

  record<E extends PtsEntry>(entry: Omit<E, "pts">): E {
    const e = { ...entry, pts: ++this.pts } as E;
    this.log.push(e);
    return e;
  }
}

/** What a client declared in initConnection (shown in account.getAuthorizations). */
export interface DeviceInfo {
  deviceModel: string;
  systemVersion: string;
  appVersion: string;
  apiId: number;
  langCode: string;
  ip: string;
}

export interface WorldSession {
  keyId: bigint;
  key: Buffer;
  /** 0 while the key is not signed in (made by a key exchange, login pending). */
  userId: number;
  dcId: number;
  /** Every request that needs authorization gets this error from now on. */
  revoked?: { code: number; message: string };
  /** Set when the key was used by two clients at once; the key is dead afterwards. */
  duplicated: boolean;
  label?: string;
  /** Set by the last initConnection on this key. */
  device?: DeviceInfo;
  /** API layer of the last invokeWithLayer on this key. */
  layer?: number;
  /** Unix seconds: made / last request. */
  createdAt: number;
  activeAt: number;
}

export interface WorldUser {
  id: number;
  firstName: string;
  lastName: string;
  username?: string;
  phone: string;
  phoneHidden: boolean;
  bot: boolean;
  photo?: PhotoRecord;
  banned: boolean;
  sessions: WorldSession[];
  contacts: Set<number>;
  mailbox: Mailbox;
  /** random_id → the sender's copy, so a repeated send returns the same message. */
  sentByRandomId: Map<bigint, StoredMessage>;
}

export interface WorldChat {
  id: number;
  title: string;
  members: Set<number>;
  date: number;
  version: number;
}

export interface UserSpec {
  id?: number;
  firstName: string;
  lastName?: string;
  username?: string;
  phone?: string;
  phoneHidden?: boolean;
  bot?: boolean;
  /** Profile photo bytes (e.g. a JPEG); served as Telegram serves profile photos. */
  photo?: Uint8Array;
  /** How many sessions (auth keys) to create; default 1 (0 for bots and the service user). */
  sessions?: number;
}

export interface MessageContent {
  text: string;
  entities?: Api.TypeMessageEntity[];
  media?: MediaRef;
}

/** Who must be told: a user's live sessions except `exceptKeyId` (the session that caused it). */
export interface Delivery {
  userId: number;
  exceptKeyId?: bigint;
  kind: "message" | "edit" | "read" | "profile";
  /** Built lazily: only when that user has a live connection (a Buffer is already serialized TL). */
  build: () => Api.TypeUpdates | Buffer;
}

export interface SendOutcome {
  /** The sender's copy. */
  message: StoredMessage;
  duplicate: boolean;
}

export const SERVICE_USER_ID = 777000;
export const DEFAULT_DC = 2;

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export const randomLong = (): bigint => randomBytes(8).readBigInt64LE(0) & 0x7fffffffffffffffn;

export const digitsOnly = (phone: string): string => phone.replace(/\D/g, "");

export class WorldError extends Error {}

export interface WorldOptions {
  /** Max pts entries per updates.getDifference answer before it becomes a differenceSlice. */
  differenceLimit?: number;
  dcId?: number;
}

export class World {
  readonly dcId: number;
  differenceLimit: number;
  readonly users = new Map<number, WorldUser>();
  readonly chats = new Map<number, WorldChat>();
  readonly photos = new Map<bigint, PhotoRecord>();
  readonly documents = new Map<bigint, DocumentRecord>();
  readonly sessionsByKeyId = new Map<bigint, WorldSession>();
  /** Telegram's sharp edges (expiring file references, media on other DCs, frozen accounts…). */
  readonly edges = new EdgeState();
  private readonly byUsername = new Map<string, WorldUser>();
  private readonly byPhone = new Map<string, WorldUser>();
  /** `${userId}:${fileId}` → parts being uploaded. */
  private readonly uploads = new Map<string, { parts: Buffer[]; totalParts?: number; at: number }>();
  private readonly hashSecret = randomBytes(32);
  private readonly hashCache = new Map<string, bigint>();
  private nextUserId = 1_000_001;
  private nextChatId = 4_000_001;
  private nextPhone = 1;
  /** Set by the server; the driver and RPC handlers both mutate the world through the methods below. */
  onDeliver: (d: Delivery) => void = () => {};

  constructor(opts: WorldOptions = {}) {
    this.dcId = opts.dcId ?? DEFAULT_DC;
    this.differenceLimit = opts.differenceLimit ?? 100;
  }

  // ---- users, sessions, chats --------------------------------------------------------------------

  addUser(spec: UserSpec, keyFactory: () => { key: Buffer; keyId: bigint }): WorldUser {
    const id = spec.id ?? this.nextUserId++;
    if (this.users.has(id)) throw new WorldError(`user ${id} exists`);
    if (id >= this.nextUserId) this.nextUserId = id + 1;
    let phone = spec.phone === undefined ? "" : digitsOnly(spec.phone);
    while (!phone || (spec.phone === undefined && this.byPhone.has(phone))) phone = `7999${String(this.nextPhone++).padStart(7, "0")}`;
    if (this.byPhone.has(phone)) throw new WorldError(`phone ${phone} is taken`);
    if (spec.username && !/^[a-zA-Z][a-zA-Z0-9_]{3,31}$/.test(spec.username)) throw new WorldError(`bad username ${spec.username}`);
    if (spec.username && this.byUsername.has(spec.username.toLowerCase())) throw new WorldError(`username ${spec.username} is taken`);
    const user: WorldUser = {
      id,
      firstName: spec.firstName,
      lastName: spec.lastName ?? "",
      username: spec.username,
      phone,
      phoneHidden: spec.phoneHidden ?? false,
      bot: spec.bot ?? false,
      banned: false,
      sessions: [],
      contacts: new Set(),
      mailbox: new Mailbox(),
      sentByRandomId: new Map(),
    };
    if (spec.photo) user.photo = this.addPhoto(Buffer.from(spec.photo));
    this.users.set(id, user);
    this.byPhone.set(phone, user);
    if (user.username) this.byUsername.set(user.username.toLowerCase(), user);
    const sessions = spec.sessions ?? (user.bot || id === SERVICE_USER_ID ? 0 : 1);
    for (let i = 0; i < sessions; i++) this.addSession(id, keyFactory());
    return user;
  }

  addSession(userId: number, k: { key: Buffer; keyId: bigint }, label?: string): WorldSession {
    const user = this.user(userId);
    const now = nowSeconds();
    const s: WorldSession = { keyId: k.keyId, key: k.key, userId, dcId: this.dcId, duplicated: false, label, createdAt: now, activeAt: now };
    this.sessionsByKeyId.set(k.keyId, s);
    user.sessions.push(s);
    return s;
  }

  /** A key made by a key exchange: known to the server, not signed in to any user yet. */
  addAuthKey(k: { key: Buffer; keyId: bigint }): WorldSession {
    const now = nowSeconds();
    const s: WorldSession = { keyId: k.keyId, key: k.key, userId: 0, dcId: this.dcId, duplicated: false, createdAt: now, activeAt: now };
    this.sessionsByKeyId.set(k.keyId, s);
    return s;
  }

  /** Signs a pending key in as `userId` (a finished login). */
  bindSession(s: WorldSession, userId: number): void {
    if (s.userId !== 0) throw new WorldError(`key already belongs to user ${s.userId}`);
    s.userId = userId;
    s.createdAt = nowSeconds();
    this.user(userId).sessions.push(s);
  }

  addChat(title: string, memberIds: number[], id?: number): WorldChat {
    const chatId = id ?? this.nextChatId++;
    for (const m of memberIds) this.user(m);
    const chat: WorldChat = { id: chatId, title, members: new Set(memberIds), date: nowSeconds(), version: 1 };
    this.chats.set(chatId, chat);
    return chat;
  }

  user(id: number): WorldUser {
    const u = this.users.get(id);
    if (!u) throw new WorldError(`no user ${id}`);
    return u;
  }

  chat(id: number): WorldChat {
    const c = this.chats.get(id);
    if (!c) throw new WorldError(`no chat ${id}`);
    return c;
  }

  userByUsername(name: string): WorldUser | undefined {
    return this.byUsername.get(name.replace(/^@/, "").toLowerCase());
  }

  userByPhone(phone: string): WorldUser | undefined {
    return this.byPhone.get(digitsOnly(phone));
  }

  /** Access hashes differ per viewer, as in Telegram: HMAC(viewer, target) as a signed 64-bit value. */
  accessHash(viewerId: number, targetId: number): bigint {
    const key = `${viewerId}:${targetId}`;
    let h = this.hashCache.get(key);
    if (h === undefined) {
      h = createHmac("sha256", this.hashSecret).update(key).digest().readBigInt64LE(0);
      if (this.hashCache.size > 200_000) this.hashCache.clear();
      this.hashCache.set(key, h);
    }
    return h;
  }

  setName(userId: number, firstName: string, lastName = ""): void {
    const u = this.user(userId);
    u.firstName = firstName;
    u.lastName = lastName;
    this.announceProfile(u, "name");
  }

  /** A new username (or none): like a name change, those who know the user get updateUserName. */
  setUsername(userId: number, username: string | undefined): void {
    const u = this.user(userId);
    if (username && !/^[a-zA-Z][a-zA-Z0-9_]{3,31}$/.test(username)) throw new WorldError(`bad username ${username}`);
    const taken = username ? this.byUsername.get(username.toLowerCase()) : undefined;
    if (taken && taken !== u) throw new WorldError(`username ${username} is taken`);
    if (u.username) this.byUsername.delete(u.username.toLowerCase());
    u.username = username;
    if (username) this.byUsername.set(username.toLowerCase(), u);
    this.announceProfile(u, "name");
  }

  /** A new profile photo (or none): those who know the user get updateUser and must fetch the user again. */
  setPhoto(userId: number, bytes: Buffer | undefined): void {
    const u = this.user(userId);
    u.photo = bytes ? this.addPhoto(bytes) : undefined;
    this.announceProfile(u, "user");
  }

  /**
   * Telegram tells the users who have a private dialog with `u` (or have it as a contact) about a
   * profile change; such updates carry no pts, so a client that was offline never hears of them.
   */
  private announceProfile(u: WorldUser, what: "name" | "user"): void {
    for (const other of this.users.values()) {
      if (other.id === u.id || (!other.mailbox.dialogs.has(`u${u.id}`) && !other.contacts.has(u.id))) continue;
      this.onDeliver({ userId: other.id, kind: "profile", build: () => this.render.profile(other.id, u, what) });
    }
  }

  // ---- media -------------------------------------------------------------------------------------

  addPhoto(bytes: Buffer): PhotoRecord {
    const { w, h } = imageSize(bytes);
    const p: PhotoRecord = {
      kind: "photo",
      id: randomLong(),
      accessHash: randomLong(),
      fileReference: randomBytes(8),
      date: nowSeconds(),
      bytes,
      w,
      h,
    };
    this.photos.set(p.id, p);
    return p;
  }

  addDocument(bytes: Buffer, mimeType: string, attributes: Api.TypeDocumentAttribute[], docKind: DocumentKind, fileName?: string): DocumentRecord {
    const d: DocumentRecord = {
      kind: "document",
      id: randomLong(),
      accessHash: randomLong(),
      fileReference: randomBytes(8),
      date: nowSeconds(),
      bytes,
      mimeType,
      fileName,
      attributes,
      docKind,
    };
    this.documents.set(d.id, d);
    return d;
  }

  saveFilePart(userId: number, fileId: bigint, part: number, bytes: Buffer, totalParts?: number): void {
    const key = `${userId}:${fileId}`;
    let u = this.uploads.get(key);
    if (!u) {
      // Uploads never used by a send are forgotten after 10 minutes (checked as new ones start).
      if (this.uploads.size >= 256) {
        const cutoff = Date.now() - 10 * 60_000;
        for (const [k, v] of this.uploads) if (v.at < cutoff) this.uploads.delete(k);
      }
      this.uploads.set(key, (u = { parts: [], totalParts, at: Date.now() }));
    }
    u.parts[part] = bytes;
    if (totalParts !== undefined) u.totalParts = totalParts;
  }

  /** Assembles an uploaded file (InputFile / InputFileBig) and forgets its parts. */
  takeUpload(userId: number, fileId: bigint, parts: number): Buffer | undefined {
    const key = `${userId}:${fileId}`;
    const u = this.uploads.get(key);
    if (!u || u.parts.length !== parts) return undefined;
    for (let i = 0; i < parts; i++) if (!u.parts[i]) return undefined;
    this.uploads.delete(key);
    return Buffer.concat(u.parts);
  }

  // ---- messages ----------------------------------------------------------------------------------

  /**
   * Sends a message from `fromId` to a user or basic chat. With a randomId already used by this sender
   * the original message comes back (duplicate: true) and nothing is delivered again.
   * `build` callbacks render the updates for each recipient; see server.ts for how they are built.
   */
  sendMessage(fromId: number, peer: PeerRef, content: MessageContent, opts: { randomId?: bigint; originKeyId?: bigint } = {}): SendOutcome {
    const sender = this.user(fromId);
    if (opts.randomId !== undefined) {
      const prior = sender.sentByRandomId.get(opts.randomId);
      if (prior) return { message: prior, duplicate: true };
    }
    const date = nowSeconds();
    const logical: LogicalMessage = { copies: new Map() };
    const owners: number[] = peer.kind === "user" ? (peer.id === fromId ? [fromId] : [fromId, this.user(peer.id).id]) : [...this.chat(peer.id).members];
    if (peer.kind === "chat" && !this.chat(peer.id).members.has(fromId)) throw new WorldError("not a chat member");
    let senderCopy: StoredMessage | undefined;
    for (const ownerId of owners) {
      const owner = this.user(ownerId);
      const out = ownerId === fromId;
      const msg: StoredMessage = {
        id: owner.mailbox.allocId(),
        owner: ownerId,
        peer: peer.kind === "chat" ? peer : out ? peer : { kind: "user", id: fromId },
        fromId,
        out,
        date,
        text: content.text,
        entities: content.entities,
        media: content.media,
        randomId: out ? opts.randomId : undefined,
        order: owner.mailbox.messages.size,
        pts: 0,
        logical,
      };
      logical.copies.set(ownerId, msg);
      owner.mailbox.add(msg);
      const entry = owner.mailbox.record<Extract<PtsEntry, { kind: "new" }>>({ kind: "new", msg });
      msg.pts = entry.pts;
      if (out) senderCopy = msg;
      this.onDeliver({
        userId: ownerId,
        exceptKeyId: out ? opts.originKeyId : undefined,
        kind: "message",
        build: () => this.render.newMessage(msg, entry.pts),
      });
    }
    if (!senderCopy) throw new WorldError("sender copy missing");
    if (opts.randomId !== undefined) sender.sentByRandomId.set(opts.randomId, senderCopy);
    return { message: senderCopy, duplicate: false };
  }

  /** Edits a message its author sent (by its id in the author's mailbox); every copy changes. */
  editMessage(authorId: number, messageId: number, text: string, originKeyId?: bigint): StoredMessage {
    const msg = this.user(authorId).mailbox.messages.get(messageId);
    if (!msg || !msg.out) throw new WorldError(`no outgoing message ${messageId} of user ${authorId}`);
    const editDate = nowSeconds();
    for (const [ownerId, copy] of msg.logical.copies) {
      copy.text = text;
      copy.editDate = editDate;
      const entry = this.user(ownerId).mailbox.record<Extract<PtsEntry, { kind: "edit" }>>({ kind: "edit", msg: copy });
      this.onDeliver({
        userId: ownerId,
        exceptKeyId: ownerId === authorId ? originKeyId : undefined,
        kind: "edit",
        build: () => this.render.editMessage(copy, entry.pts),
      });
    }
    return msg;
  }

  /**
   * Marks a dialog read up to maxId (default: everything) for `readerId`. The reader's other sessions
   * get updateReadHistoryInbox; in private chats the other side gets updateReadHistoryOutbox with the
   * id of the newest read message in *its* mailbox. Returns the reader's pts entry (or null: nothing new).
   */
  readHistory(readerId: number, peer: PeerRef, maxId?: number, originKeyId?: bigint): { pts: number; ptsCount: number } {
    const reader = this.user(readerId);
    const key = peerKey(peer);
    const dialog = reader.mailbox.dialogs.get(key) ?? [];
    const last = dialog.length ? dialog[dialog.length - 1]!.id : 0;
    const upTo = Math.min(maxId && maxId > 0 ? maxId : last, last);
    const before = reader.mailbox.readInboxMaxId.get(key) ?? 0;
    if (upTo <= before) return { pts: reader.mailbox.pts, ptsCount: 0 };
    reader.mailbox.readInboxMaxId.set(key, upTo);
    // Newest incoming message at or below upTo, and how many incoming stay unread above it.
    let stillUnread = 0;
    let newestRead: StoredMessage | undefined;
    for (let i = dialog.length - 1; i >= 0; i--) {
      const m = dialog[i]!;
      if (m.id > upTo) {
        if (!m.out) stillUnread++;
        continue;
      }
      if (m.id <= before) break;
      if (!m.out) {
        newestRead = m;
        break;
      }
    }
    const entry = reader.mailbox.record<Extract<PtsEntry, { kind: "readInbox" }>>({
      kind: "readInbox",
      peer,
      maxId: upTo,
      stillUnread,
    });
    this.onDeliver({
      userId: readerId,
      exceptKeyId: originKeyId,
      kind: "read",
      build: () => this.render.pts(readerId, entry),
    });
    if (newestRead && peer.kind === "user" && peer.id !== readerId) {
      const otherCopy = newestRead.logical.copies.get(peer.id);
      const other = this.users.get(peer.id);
      const readerKey = peerKey({ kind: "user", id: readerId });
      if (otherCopy && other && otherCopy.id > (other.mailbox.readOutboxMaxId.get(readerKey) ?? 0)) {
        other.mailbox.readOutboxMaxId.set(readerKey, otherCopy.id);
        const outEntry = other.mailbox.record<Extract<PtsEntry, { kind: "readOutbox" }>>({
          kind: "readOutbox",
          peer: { kind: "user", id: readerId },
          maxId: otherCopy.id,
        });
        this.onDeliver({ userId: peer.id, kind: "read", build: () => this.render.pts(peer.id, outEntry) });
      }
    }
    return { pts: entry.pts, ptsCount: 1 };
  }

  /** Entries after `pts`, at most `limit` of them; `more` tells whether a slice was cut. */
  difference(userId: number, pts: number, limit: number): { entries: PtsEntry[]; more: boolean; lastPts: number } {
    const mb = this.user(userId).mailbox;
    const from = Math.max(0, Math.min(pts, mb.pts));
    const entries = mb.log.slice(from, from + Math.max(1, limit));
    const lastPts = entries.length ? entries[entries.length - 1]!.pts : mb.pts;
    return { entries, more: lastPts < mb.pts, lastPts };
  }

  /** Renders world objects as TL; installed by the server (keeps this module free of TL details). */
  render: Renderer = {
    newMessage: () => {
      throw new WorldError("renderer not installed");
    },
    editMessage: () => {
      throw new WorldError("renderer not installed");
    },
    pts: () => {
      throw new WorldError("renderer not installed");
    },
    profile: () => {
      throw new WorldError("renderer not installed");
    },
  };
}

export interface Renderer {
  newMessage(copy: StoredMessage, pts: number): Api.TypeUpdates | Buffer;
  editMessage(copy: StoredMessage, pts: number): Api.TypeUpdates;
  pts(viewerId: number, entry: PtsEntry): Api.TypeUpdates;
  /** updateUserName ("name": names and usernames) or updateUser ("user": fetch it again, e.g. a new photo). */
  profile(viewerId: number, user: WorldUser, what: "name" | "user"): Api.TypeUpdates;
}

/** Width and height of a PNG or JPEG (Telegram reports them in PhotoSize); 512×512 if unknown. */
export function imageSize(b: Buffer): { w: number; h: number } {
  if (b.length > 24 && b.readUInt32BE(0) === 0x89504e47) return { w: b.readUInt32BE(16), h: b.readUInt32BE(20) };
  if (b.length > 4 && b[0] === 0xff && b[1] === 0xd8) {
    let p = 2;
    while (p + 9 < b.length) {
      if (b[p] !== 0xff) break;
      const marker = b[p + 1]!;
      const len = b.readUInt16BE(p + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return { h: b.readUInt16BE(p + 5), w: b.readUInt16BE(p + 7) };
      p += 2 + len;
    }
  }
  return { w: 512, h: 512 };
}

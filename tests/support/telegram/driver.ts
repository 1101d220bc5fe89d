// Acting as any user without an MTProto client, and looking into what every user received.
// Everything goes through the same World operations the RPC handlers use, so clients see driver
// actions exactly as they would see another client's.
import { Api } from "telegram";
import type { TelegramServer } from "./server.ts";
import type { DocumentKind, MediaRef, PeerRef, StoredMessage, WorldChat, WorldUser } from "./world.ts";
import { randomLong, WorldError } from "./world.ts";
import { serializeResult } from "./tl.ts";
import type { AuthorizationInfo } from "./login.ts";

export type UserRef = number | WorldUser;
/** A user id, a user, a chat, or an explicit peer. */
export type PeerTarget = number | WorldUser | WorldChat | PeerRef;

export interface DriverMedia {
  kind: "photo" | "document" | "contact" | "geo";
  docKind?: DocumentKind;
  bytes?: Buffer;
  fileName?: string;
  mimeType?: string;
  phone?: string;
  lat?: number;
  long?: number;
}

/** One message as stored in one user's mailbox. */
export interface DriverMessage {
  owner: number;
  id: number;
  peer: PeerRef;
  fromId: number;
  out: boolean;
  date: number;
  text: string;
  randomId?: bigint;
  /** 0-based arrival position in the owner's mailbox. */
  order: number;
  pts: number;
  editDate?: number;
  media?: DriverMedia;
  /** The id of this message in every participant's mailbox (owner → id). */
  copies: Record<number, number>;
}

export interface SendFileOptions {
  caption?: string;
  kind?: DocumentKind;
  /** Seconds, for voice/audio/video/video_note. */
  duration?: number;
}

const uid = (u: UserRef): number => (typeof u === "number" ? u : u.id);

export class Driver {
  constructor(private readonly server: TelegramServer) {}

  private get world() {
    return this.server.world;
  }

  private peer(to: PeerTarget): PeerRef {
    if (typeof to === "number") return this.world.chats.has(to) && !this.world.users.has(to) ? { kind: "chat", id: to } : { kind: "user", id: to };
    if ("kind" in to) return to;
    if ("members" in to) return { kind: "chat", id: to.id };
    return { kind: "user", id: to.id };
  }

  private send(from: UserRef, to: PeerTarget, text: string, media?: MediaRef): DriverMessage {
    const { message } = this.world.sendMessage(uid(from), this.peer(to), { text, media }, { randomId: randomLong() });
    return view(message);
  }

  sendText(from: UserRef, to: PeerTarget, text: string): DriverMessage {
    return this.send(from, to, text);
  }

  sendPhoto(from: UserRef, to: PeerTarget, bytes: Uint8Array, caption = ""): DriverMessage {
    return this.send(from, to, caption, this.world.addPhoto(Buffer.from(bytes)));
  }

  sendFile(from: UserRef, to: PeerTarget, bytes: Uint8Array, fileName: string, mimeType: string, opts: SendFileOptions = {}): DriverMessage {
    const kind = opts.kind ?? "document";
    const duration = opts.duration ?? 1;
    const attrs: Api.TypeDocumentAttribute[] = [];
    if (kind === "voice") attrs.push(new Api.DocumentAttributeAudio({ voice: true, duration }));
    if (kind === "audio") attrs.push(new Api.DocumentAttributeAudio({ duration, title: fileName }));
    if (kind === "video") attrs.push(new Api.DocumentAttributeVideo({ duration, w: 640, h: 360, supportsStreaming: true }));
    if (kind === "video_note") attrs.push(new Api.DocumentAttributeVideo({ roundMessage: true, duration, w: 240, h: 240 }));
    if (kind === "sticker") {
      attrs.push(new Api.DocumentAttributeImageSize({ w: 512, h: 512 }));
      attrs.push(new Api.DocumentAttributeSticker({ alt: "🙂", stickerset: new Api.InputStickerSetEmpty() }));
    }
    attrs.push(new Api.DocumentAttributeFilename({ fileName }));
    const doc = this.world.addDocument(Buffer.from(bytes), mimeType, attrs, kind, fileName);
    return this.send(from, to, opts.caption ?? "", doc);
  }

  sendContact(from: UserRef, to: PeerTarget, contact: { phone: string; firstName: string; lastName?: string }): DriverMessage {
    return this.send(from, to, "", {
      kind: "contact",
      phone: contact.phone,
      firstName: contact.firstName,
      lastName: contact.lastName ?? "",
      vcard: "",
      userId: this.world.userByPhone(contact.phone)?.id ?? 0,
    });
  }

  sendLocation(from: UserRef, to: PeerTarget, lat: number, lng: number): DriverMessage {
    return this.send(from, to, "", { kind: "geo", lat, long: lng });
  }

  /** Edits a message by its id in the author's mailbox; recipients get updateEditMessage. */
  editMessage(author: UserRef, messageId: number, text: string): DriverMessage {
    return view(this.world.editMessage(uid(author), messageId, text));
  }

  /** `reader` reads its dialog with `peer` up to maxId (default: all); the peer gets updateReadHistoryOutbox. */
  readHistory(reader: UserRef, peer: PeerTarget, maxId?: number): void {
    this.world.readHistory(uid(reader), this.peer(peer), maxId);
  }

  setName(user: UserRef, firstName: string, lastName = ""): void {
    this.world.setName(uid(user), firstName, lastName);
  }

  /** A new username (undefined: none); users with a dialog with `user` get updateUserName. */
  setUsername(user: UserRef, username: string | undefined): void {
    this.world.setUsername(uid(user), username);
  }

  /** A new profile photo (undefined: removed); users with a dialog with `user` get updateUser. */
  setPhoto(user: UserRef, bytes: Uint8Array | undefined): void {
    this.world.setPhoto(uid(user), bytes ? Buffer.from(bytes) : undefined);
  }

  /** A user's mailbox in arrival order, optionally only one dialog. */
  messages(user: UserRef, peer?: PeerTarget): DriverMessage[] {
    const mb = this.world.user(uid(user)).mailbox;
    if (peer === undefined) return [...mb.messages.values()].map(view);
    const p = this.peer(peer);
    return (mb.dialogs.get(p.kind === "user" ? `u${p.id}` : `c${p.id}`) ?? []).map(view);
  }

  lastMessage(user: UserRef, peer?: PeerTarget): DriverMessage | undefined {
    const all = this.messages(user, peer);
    return all[all.length - 1];
  }

  // ---- Telegram's sharp edges ----------------------------------------------------------------------

  /** Pushes updatesTooLong to the user's live connections: "too much happened, call getDifference". */
  updatesTooLong(user: UserRef): void {
    const body = serializeResult(new Api.UpdatesTooLong());
    for (const s of this.world.user(uid(user)).sessions) if (!s.revoked && !s.duplicated) this.server.pushToKey(s.keyId, body);
  }

  /** The user's next `times` updates.getDifference calls answer updates.differenceTooLong. */
  differenceTooLong(user: UserRef, times = 1): void {
    this.world.edges.differenceTooLongFor.set(uid(user), times);
  }

  /** Every file reference handed out so far is expired (FILE_REFERENCE_EXPIRED until fetched again). */
  expireFileReferences(): void {
    this.world.edges.fileReferenceGeneration++;
  }

  /** Keeps the photo/document of `owner`'s message `messageId` on DC `dc`: downloads asked elsewhere get
   * FILE_MIGRATE_<dc>; the message renders with that dc_id from now on. */
  keepMediaOnDc(owner: UserRef, messageId: number, dc: number): void {
    const m = this.world.user(uid(owner)).mailbox.messages.get(messageId)?.media;
    if (!m || (m.kind !== "photo" && m.kind !== "document")) throw new WorldError(`message ${messageId} has no photo or document`);
    this.world.edges.mediaDc.set(m.id, dc);
  }

  /** `blocker` blocks `blocked`: their messages to `blocker` get USER_IS_BLOCKED. */
  block(blocker: UserRef, blocked: UserRef): void {
    const set = this.world.edges.blocked.get(uid(blocker)) ?? new Set<number>();
    set.add(uid(blocked));
    this.world.edges.blocked.set(uid(blocker), set);
  }

  /** A spam-limited account: writing first to anyone gets PEER_FLOOD. */
  limitAccount(user: UserRef, on = true): void {
    if (on) this.world.edges.limited.add(uid(user));
    else this.world.edges.limited.delete(uid(user));
  }

  /** The user's privacy refuses messages from people they have not written to: USER_PRIVACY_RESTRICTED. */
  restrictPrivacy(user: UserRef, on = true): void {
    if (on) this.world.edges.privacyRestricted.add(uid(user));
    else this.world.edges.privacyRestricted.delete(uid(user));
  }

  // ---- logins (the user acting from one of their signed-in devices) ---------------------------------

  /** The last login code Telegram sent to a user (or to a phone number, e.g. one not registered). */
  lastLoginCode(user: UserRef | string): string | undefined {
    const phone = typeof user === "string" ? user : this.world.user(uid(user)).phone;
    return this.server.logins.lastCode(phone)?.code;
  }

  /** Waits until a login code was sent to the user (or phone) after `sinceMs` (default: any). */
  waitForLoginCode(user: UserRef | string, timeoutMs = 5000, sinceMs = 0): Promise<string> {
    const phone = typeof user === "string" ? user : this.world.user(uid(user)).phone;
    return waitFor(
      () => {
        const c = this.server.logins.lastCode(phone);
        return c && c.sentAt >= sinceMs ? c.code : undefined;
      },
      timeoutMs,
      `login code for ${phone}`,
    );
  }

  /** Turns on 2FA (cloud password) for a user; logins then need auth.checkPassword. */
  setPassword(user: UserRef, password: string, hint = ""): void {
    this.server.logins.setPassword(uid(user), password, hint);
  }

  clearPassword(user: UserRef): void {
    this.server.logins.clearPassword(uid(user));
  }

  /**
   * The user scans a login QR code on a signed-in device (auth.acceptLoginToken): `token` as bytes, as
   * base64url, or as the `tg://login?token=…` link. The waiting client gets updateLoginToken. Throws the
   * RpcError Telegram gives (AUTH_TOKEN_EXPIRED, AUTH_TOKEN_INVALID, AUTH_TOKEN_ALREADY_ACCEPTED).
   */
  acceptLoginToken(user: UserRef, token: Uint8Array | string): AuthorizationInfo {
    const bytes = typeof token === "string" ? Buffer.from(token.replace(/^tg:\/\/login\?token=/, ""), "base64url") : token;
    return this.server.logins.acceptLoginToken(uid(user), bytes);
  }

  /** The user's signed-in devices as account.getAuthorizations lists them. */
  authorizations(user: UserRef): AuthorizationInfo[] {
    return this.server.logins.authorizations(uid(user));
  }

  /** Polls `predicate` (every 10 ms) until it returns something truthy; rejects after timeoutMs. */
  waitFor<T>(predicate: () => T | undefined | null | false, timeoutMs = 5000, what = "condition"): Promise<T> {
    return waitFor(predicate, timeoutMs, what);
  }

  /** Waits for a message in `user`'s mailbox matching `match`. */
  waitForMessage(user: UserRef, match: (m: DriverMessage) => boolean, timeoutMs = 5000): Promise<DriverMessage> {
    return waitFor(() => this.messages(user).find(match), timeoutMs, `message for user ${uid(user)}`);
  }
}

export function waitFor<T>(predicate: () => T | undefined | null | false, timeoutMs = 5000, what = "condition"): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const tick = () => {
      let v: T | undefined | null | false;
      try {
        v = predicate();
      } catch (e) {
        return reject(e);
      }
      if (v) return resolve(v);
      if (Date.now() >= deadline) return reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

function mediaView(m: MediaRef): DriverMedia {
  switch (m.kind) {
    case "photo":
      return { kind: "photo", bytes: m.bytes, mimeType: "image/jpeg" };
    case "document":
      return { kind: "document", docKind: m.docKind, bytes: m.bytes, fileName: m.fileName, mimeType: m.mimeType };
    case "contact":
      return { kind: "contact", phone: m.phone };
    case "geo":
      return { kind: "geo", lat: m.lat, long: m.long };
  }
}

export function view(m: StoredMessage): DriverMessage {
  const copies: Record<number, number> = {};
  for (const [owner, c] of m.logical.copies) copies[owner] = c.id;
  return {
    owner: m.owner,
    id: m.id,
    peer: m.peer,
    fromId: m.fromId,
    out: m.out,
    date: m.date,
    text: m.text,
    randomId: m.randomId,
    order: m.order,
    pts: m.pts,
    editDate: m.editDate,
    media: m.media ? mediaView(m.media) : undefined,
    copies,
  };
}

// RPC handlers: one function per Telegram method a userbot bridge (and GramJS itself) uses.
// Handlers are synchronous, take the parsed GramJS request, return a TL-serializable result or throw
// RpcError. Anything not listed here is answered 400 METHOD_NOT_SUPPORTED_BY_LOOPBACK by the connection.
import { Api } from "telegram";
import { RpcError } from "./tl.ts";
import { updateShortSentMessage, type RawInputPeer } from "./fastpath.ts";
import { apiPeer, long, toBigint, type Render } from "./render.ts";
import { nowSeconds, WorldError, type DocumentKind, type MediaRef, type PeerRef, type StoredMessage, type World, type WorldSession, type WorldUser } from "./world.ts";

export interface CallContext {
  world: World;
  render: Render;
  session: WorldSession;
  user: WorldUser;
  /** Address the server tells clients to use in help.getConfig. */
  host: string;
  port: number;
}

// GramJS request objects are loosely typed at runtime; each handler narrows the one it gets.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Handler = (ctx: CallContext, req: any) => unknown;

/** Methods Telegram answers without an authorized session (so revoked/banned keys still connect). */
export const AUTH_FREE = new Set(["help.GetConfig", "help.GetNearestDc"]);

/** Methods a key that is not signed in may call besides logins: taking an exported authorization
 * (another DC's key signing in, as GramJS does for media kept there). */
export const IMPORT_FREE = new Set(["auth.ImportAuthorization"]);

const MAX_MESSAGE_LENGTH = 4096;
const MAX_FILE_PART = 512 * 1024;

// ---- input resolution ------------------------------------------------------------------------------

const peerInvalid = (): RpcError => new RpcError(400, "PEER_ID_INVALID");

function checkUser(ctx: CallContext, userId: unknown, accessHash: unknown): WorldUser {
  const id = Number(toBigint(userId));
  const target = ctx.world.users.get(id);
  if (!target) throw peerInvalid();
  // Telegram accepts the own id with any hash; for everyone else the hash must be the one *this* user got.
  if (id !== ctx.user.id && toBigint(accessHash) !== ctx.world.accessHash(ctx.user.id, id)) throw peerInvalid();
  return target;
}

export function resolveInputPeer(ctx: CallContext, peer: unknown): PeerRef {
  if (peer && typeof peer === "object" && "kind" in peer) peer = fromRawPeer(peer as RawInputPeer);
  if (peer instanceof Api.InputPeerSelf) return { kind: "user", id: ctx.user.id };
  if (peer instanceof Api.InputPeerUser) return { kind: "user", id: checkUser(ctx, peer.userId, peer.accessHash).id };
  if (peer instanceof Api.InputPeerChat) {
    const chat = ctx.world.chats.get(Number(toBigint(peer.chatId)));
    if (!chat || !chat.members.has(ctx.user.id)) throw peerInvalid();
    return { kind: "chat", id: chat.id };
  }
  throw peerInvalid();
}

/** The fast parser's peers, as the GramJS classes the rest of this module checks for. */
function fromRawPeer(p: RawInputPeer): Api.TypeInputPeer {
  if (p.kind === "self") return new Api.InputPeerSelf();
  if (p.kind === "chat") return new Api.InputPeerChat({ chatId: long(p.chatId) });
  return new Api.InputPeerUser({ userId: long(p.userId), accessHash: long(p.accessHash) });
}

function resolveInputUser(ctx: CallContext, u: unknown): WorldUser {
  if (u instanceof Api.InputUserSelf || u instanceof Api.InputPeerSelf) return ctx.user;
  if (u instanceof Api.InputUser || u instanceof Api.InputPeerUser) return checkUser(ctx, u.userId, u.accessHash);
  throw peerInvalid();
}

function worldCall<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof WorldError) throw new RpcError(400, "PEER_ID_INVALID");
    throw e;
  }
}

// ---- media -----------------------------------------------------------------------------------------

function uploadedBytes(ctx: CallContext, file: unknown): Buffer {
  if (!(file instanceof Api.InputFile || file instanceof Api.InputFileBig)) throw new RpcError(400, "FILE_PARTS_INVALID");
  const bytes = ctx.world.takeUpload(ctx.user.id, toBigint(file.id), file.parts);
  if (!bytes) throw new RpcError(400, "FILE_PARTS_INVALID");
  return bytes;
}

export function documentKind(attrs: Api.TypeDocumentAttribute[]): DocumentKind {
  for (const a of attrs) {
    if (a instanceof Api.DocumentAttributeAudio) return a.voice ? "voice" : "audio";
    if (a instanceof Api.DocumentAttributeVideo) return a.roundMessage ? "video_note" : "video";
    if (a instanceof Api.DocumentAttributeSticker) return "sticker";
  }
  return "document";
}

export function fileNameOf(attrs: Api.TypeDocumentAttribute[]): string | undefined {
  for (const a of attrs) if (a instanceof Api.DocumentAttributeFilename) return a.fileName;
  return undefined;
}

function inputMedia(ctx: CallContext, media: unknown): MediaRef {
  const w = ctx.world;
  if (media instanceof Api.InputMediaUploadedPhoto) return w.addPhoto(uploadedBytes(ctx, media.file));
  if (media instanceof Api.InputMediaUploadedDocument) {
    const attrs = media.attributes ?? [];
    return w.addDocument(uploadedBytes(ctx, media.file), media.mimeType || "application/octet-stream", attrs, documentKind(attrs), fileNameOf(attrs));
  }
  if (media instanceof Api.InputMediaPhoto && media.id instanceof Api.InputPhoto) {
    const p = w.photos.get(toBigint(media.id.id));
    if (!p || p.accessHash !== toBigint(media.id.accessHash)) throw new RpcError(400, "MEDIA_INVALID");
    return p;
  }
  if (media instanceof Api.InputMediaDocument && media.id instanceof Api.InputDocument) {
    const d = w.documents.get(toBigint(media.id.id));
    if (!d || d.accessHash !== toBigint(media.id.accessHash)) throw new RpcError(400, "MEDIA_INVALID");
    return d;
  }
  if (media instanceof Api.InputMediaContact) {
    return {
      kind: "contact",
      phone: media.phoneNumber,
      firstName: media.firstName,
      lastName: media.lastName,
      vcard: media.vcard,
      userId: w.userByPhone(media.phoneNumber)?.id ?? 0,
    };
  }
  if (media instanceof Api.InputMediaGeoPoint && media.geoPoint instanceof Api.InputGeoPoint) {
    return { kind: "geo", lat: media.geoPoint.lat, long: media.geoPoint.long };
  }
  throw new RpcError(400, "MEDIA_INVALID");
}

function fileType(mime: string): Api.storage.TypeFileType {
  if (mime === "image/jpeg") return new Api.storage.FileJpeg();
  if (mime === "image/png") return new Api.storage.FilePng();
  if (mime === "application/pdf") return new Api.storage.FilePdf();
  if (mime === "video/mp4") return new Api.storage.FileMp4();
  return new Api.storage.FileUnknown();
}

function fileBytes(ctx: CallContext, loc: unknown): { bytes: Buffer; mime: string; date: number } {
  const w = ctx.world;
  if (loc instanceof Api.InputPhotoFileLocation) {
    const p = w.photos.get(toBigint(loc.id));
    if (p && p.accessHash === toBigint(loc.accessHash)) {
      w.edges.checkMediaDc(w, p.id, ctx.session);
      w.edges.checkReference(p.fileReference, loc.fileReference);
      return { bytes: p.bytes, mime: "image/jpeg", date: p.date };
    }
  } else if (loc instanceof Api.InputDocumentFileLocation) {
    const d = w.documents.get(toBigint(loc.id));
    if (d && d.accessHash === toBigint(loc.accessHash)) {
      w.edges.checkMediaDc(w, d.id, ctx.session);
      w.edges.checkReference(d.fileReference, loc.fileReference);
      return { bytes: d.bytes, mime: d.mimeType, date: d.date };
    }
  } else if (loc instanceof Api.InputPeerPhotoFileLocation) {
    const peer = resolveInputPeer(ctx, loc.peer);
    const photo = peer.kind === "user" ? w.users.get(peer.id)?.photo : undefined;
    if (photo && photo.id === toBigint(loc.photoId)) return { bytes: photo.bytes, mime: "image/jpeg", date: photo.date };
  }
  throw new RpcError(400, "LOCATION_INVALID");
}

// ---- results ---------------------------------------------------------------------------------------

function messagesResult(ctx: CallContext, msgs: (StoredMessage | number)[]): Api.messages.Messages {
  const users = new Set<number>([ctx.user.id]);
  const chats = new Set<number>();
  const out: Api.TypeMessage[] = [];
  for (const m of msgs) {
    if (typeof m === "number") out.push(new Api.MessageEmpty({ id: m }));
    else {
      ctx.render.refs(m, users, chats);
      out.push(ctx.render.message(m));
    }
  }
  return new Api.messages.Messages({ messages: out, users: ctx.render.users(ctx.user.id, users), chats: ctx.render.chats(chats) });
}

function sendResult(ctx: CallContext, msg: StoredMessage, randomId: bigint, short: boolean): Api.TypeUpdates | Buffer {
  if (short && !msg.entities?.length) return updateShortSentMessage({ id: msg.id, pts: msg.pts, date: msg.date });
  if (short) {
    return new Api.UpdateShortSentMessage({
      out: true,
      id: msg.id,
      pts: msg.pts,
      ptsCount: 1,
      date: msg.date,
      entities: msg.entities?.length ? msg.entities : undefined,
    });
  }
  return ctx.render.updates(
    ctx.user.id,
    [new Api.UpdateMessageID({ id: msg.id, randomId: long(randomId) }), new Api.UpdateNewMessage({ message: ctx.render.message(msg), pts: msg.pts, ptsCount: 1 })],
    [msg],
  );
}

function config(ctx: CallContext): Api.Config {
  const now = nowSeconds();
  const dcOptions: Api.DcOption[] = [];
  for (let id = 1; id <= 5; id++) {
    // GramJS takes the first IPv4 entry per DC for its extra (upload/download) connections.
    dcOptions.push(new Api.DcOption({ id, ipAddress: ctx.host, port: ctx.port }));
    dcOptions.push(new Api.DcOption({ id, ipAddress: ctx.host, port: ctx.port, mediaOnly: true }));
  }
  return new Api.Config({
    date: now,
    expires: now + 3600,
    testMode: false,
    thisDc: ctx.world.dcId,
    dcOptions,
    dcTxtDomainName: "loopback.invalid",
    chatSizeMax: 200,
    megagroupSizeMax: 200000,
    forwardedCountMax: 100,
    onlineUpdatePeriodMs: 210000,
    offlineBlurTimeoutMs: 5000,
    offlineIdleTimeoutMs: 30000,
    onlineCloudTimeoutMs: 300000,
    notifyCloudDelayMs: 30000,
    notifyDefaultDelayMs: 1500,
    pushChatPeriodMs: 60000,
    pushChatLimit: 2,
    editTimeLimit: 172800,
    revokeTimeLimit: 2147483647,
    revokePmTimeLimit: 2147483647,
    ratingEDecay: 2419200,
    stickersRecentLimit: 200,
    channelsReadMediaPeriod: 604800,
    callReceiveTimeoutMs: 20000,
    callRingTimeoutMs: 90000,
    callConnectTimeoutMs: 30000,
    callPacketTimeoutMs: 10000,
    meUrlPrefix: "https://t.me/",
    captionLengthMax: 1024,
    messageLengthMax: MAX_MESSAGE_LENGTH,
    webfileDcId: 4,
  });
}

// ---- the table -------------------------------------------------------------------------------------

export const handlers: Record<string, Handler> = {
  "help.GetConfig": (ctx) => config(ctx),

  "help.GetAppConfig": (ctx, req: Api.help.GetAppConfig) => ctx.world.edges.appConfig(ctx.user.id, req.hash ?? 0),

  "help.GetNearestDc": (ctx) => new Api.NearestDc({ country: "ZZ", thisDc: ctx.world.dcId, nearestDc: ctx.world.dcId }),

  "users.GetUsers": (ctx, req: Api.users.GetUsers) => {
    const out: Api.User[] = [];
    for (const u of req.id) {
      // Like Telegram, inaccessible entries (wrong hash, unknown id) are left out rather than failing all.
      try {
        out.push(ctx.render.user(ctx.user.id, resolveInputUser(ctx, u)));
      } catch (e) {
        if (!(e instanceof RpcError)) throw e;
      }
    }
    return out;
  },

  "users.GetFullUser": (ctx, req: Api.users.GetFullUser) => {
    const u = resolveInputUser(ctx, req.id);
    return new Api.users.UserFull({
      fullUser: new Api.UserFull({
        id: long(u.id),
        settings: new Api.PeerSettings({}),
        notifySettings: new Api.PeerNotifySettings({}),
        commonChatsCount: 0,
        profilePhoto: u.photo ? ctx.render.photo(u.photo) : undefined,
      }),
      chats: [],
      users: [ctx.render.user(ctx.user.id, u)],
    });
  },

  "updates.GetState": (ctx) => ctx.render.state(ctx.user),

  "updates.GetDifference": (ctx, req: Api.updates.GetDifference) => {
    const mb = ctx.user.mailbox;
    if (req.pts >= mb.pts) return new Api.updates.DifferenceEmpty({ date: nowSeconds(), seq: 0 });
    // Too far behind (or told so by the driver): the client must rebuild from history, as on Telegram.
    if (ctx.world.edges.differenceTooLong(ctx.user.id, req.pts, mb.pts)) return new Api.updates.DifferenceTooLong({ pts: mb.pts });
    const limit = Math.min(ctx.world.differenceLimit, req.ptsTotalLimit || Infinity, req.ptsLimit || Infinity);
    const { entries, more, lastPts } = ctx.world.difference(ctx.user.id, req.pts, limit);
    const newMessages: Api.TypeMessage[] = [];
    const other: Api.TypeUpdate[] = [];
    const users = new Set<number>([ctx.user.id]);
    const chats = new Set<number>();
    for (const e of entries) {
      if (e.kind === "new") {
        newMessages.push(ctx.render.message(e.msg));
        ctx.render.refs(e.msg, users, chats);
      } else {
        other.push(ctx.render.ptsUpdate(e));
        if (e.kind === "edit") ctx.render.refs(e.msg, users, chats);
        else if (e.peer.kind === "user") users.add(e.peer.id);
        else chats.add(e.peer.id);
      }
    }
    const body = {
      newMessages,
      newEncryptedMessages: [],
      otherUpdates: other,
      users: ctx.render.users(ctx.user.id, users),
      chats: ctx.render.chats(chats),
    };
    return more
      ? new Api.updates.DifferenceSlice({ ...body, intermediateState: ctx.render.state(ctx.user, lastPts) })
      : new Api.updates.Difference({ ...body, state: ctx.render.state(ctx.user) });
  },

  "messages.SendMessage": (ctx, req: Api.messages.SendMessage) => {
    const peer = resolveInputPeer(ctx, req.peer);
    if (!req.message) throw new RpcError(400, "MESSAGE_EMPTY");
    if (peer.kind === "user") ctx.world.edges.checkFirstContact(ctx.world, ctx.user, peer.id);
    if (req.message.length > MAX_MESSAGE_LENGTH) throw new RpcError(400, "MESSAGE_TOO_LONG");
    const randomId = toBigint(req.randomId);
    const { message } = worldCall(() => ctx.world.sendMessage(ctx.user.id, peer, { text: req.message, entities: req.entities }, { randomId, originKeyId: ctx.session.keyId }));
    return sendResult(ctx, message, randomId, true);
  },

  "messages.SendMedia": (ctx, req: Api.messages.SendMedia) => {
    const peer = resolveInputPeer(ctx, req.peer);
    const randomId = toBigint(req.randomId);
    const prior = ctx.user.sentByRandomId.get(randomId);
    if (prior) return sendResult(ctx, prior, randomId, false);
    if ((req.message ?? "").length > 1024) throw new RpcError(400, "MEDIA_CAPTION_TOO_LONG");
    if (peer.kind === "user") ctx.world.edges.checkFirstContact(ctx.world, ctx.user, peer.id);
    const media = inputMedia(ctx, req.media);
    const { message } = worldCall(() =>
      ctx.world.sendMessage(ctx.user.id, peer, { text: req.message ?? "", entities: req.entities, media }, { randomId, originKeyId: ctx.session.keyId }),
    );
    return sendResult(ctx, message, randomId, false);
  },

  "messages.EditMessage": (ctx, req: Api.messages.EditMessage) => {
    resolveInputPeer(ctx, req.peer);
    if (req.message === undefined) throw new RpcError(400, "MESSAGE_EDIT_TIME_EXPIRED");
    const text = req.message;
    const msg = ctx.user.mailbox.messages.get(req.id);
    if (!msg || !msg.out) throw new RpcError(400, "MESSAGE_ID_INVALID");
    if (msg.text === text) throw new RpcError(400, "MESSAGE_NOT_MODIFIED");
    worldCall(() => ctx.world.editMessage(ctx.user.id, req.id, text, ctx.session.keyId));
    return ctx.render.updates(ctx.user.id, [new Api.UpdateEditMessage({ message: ctx.render.message(msg), pts: ctx.user.mailbox.pts, ptsCount: 1 })], [msg]);
  },

  "messages.GetMessages": (ctx, req: Api.messages.GetMessages) => {
    const mb = ctx.user.mailbox;
    const found: (StoredMessage | number)[] = [];
    for (const im of req.id) {
      if (im instanceof Api.InputMessageID) found.push(mb.messages.get(im.id) ?? im.id);
    }
    return messagesResult(ctx, found);
  },

  "messages.GetHistory": (ctx, req: Api.messages.GetHistory) => {
    const peer = resolveInputPeer(ctx, req.peer);
    const dialog = ctx.user.mailbox.dialogs.get(peer.kind === "user" ? `u${peer.id}` : `c${peer.id}`) ?? [];
    const picked: StoredMessage[] = [];
    let skip = req.addOffset > 0 ? req.addOffset : 0;
    for (let i = dialog.length - 1; i >= 0 && picked.length < Math.min(req.limit || 100, 100); i--) {
      const m = dialog[i]!;
      if (req.offsetId && m.id >= req.offsetId) continue;
      if (req.maxId && m.id >= req.maxId) continue;
      if (req.minId && m.id <= req.minId) break;
      if (skip > 0) {
        skip--;
        continue;
      }
      picked.push(m);
    }
    return messagesResult(ctx, picked);
  },

  "messages.GetDialogs": (ctx, req: Api.messages.GetDialogs) => {
    // Newest dialog first (by its last message; message ids grow with arrival in each mailbox).
    const mb = ctx.user.mailbox;
    const all = [...mb.dialogs.entries()]
      .map(([key, msgs]) => ({ key, top: msgs[msgs.length - 1]! }))
      .filter((d) => d.top)
      .sort((a, b) => b.top.id - a.top.id);
    let rest = all;
    if (req.offsetId > 0) rest = all.filter((d) => d.top.id < req.offsetId);
    else if (req.offsetDate > 0) rest = all.filter((d) => d.top.date < req.offsetDate);
    const limit = Math.min(req.limit > 0 ? req.limit : 100, 100);
    const page = rest.slice(0, limit);
    const users = new Set<number>([ctx.user.id]);
    const chats = new Set<number>();
    const dialogs: Api.Dialog[] = [];
    const messages: Api.TypeMessage[] = [];
    for (const { key, top } of page) {
      const readIn = mb.readInboxMaxId.get(key) ?? 0;
      const msgs = mb.dialogs.get(key)!;
      dialogs.push(
        new Api.Dialog({
          peer: apiPeer(top.peer),
          topMessage: top.id,
          readInboxMaxId: readIn,
          readOutboxMaxId: mb.readOutboxMaxId.get(key) ?? 0,
          unreadCount: msgs.filter((m) => !m.out && m.id > readIn).length,
          unreadMentionsCount: 0,
          unreadReactionsCount: 0,
          notifySettings: new Api.PeerNotifySettings({}),
        }),
      );
      messages.push(ctx.render.message(top));
      ctx.render.refs(top, users, chats);
      if (top.peer.kind === "user") users.add(top.peer.id);
      else chats.add(top.peer.id);
    }
    const body = { dialogs, messages, users: ctx.render.users(ctx.user.id, users), chats: ctx.render.chats(chats) };
    return page.length < all.length ? new Api.messages.DialogsSlice({ ...body, count: all.length }) : new Api.messages.Dialogs(body);
  },

  "auth.ExportAuthorization": (ctx, req: Api.auth.ExportAuthorization) => ctx.world.edges.exportAuthorization(ctx.session, req.dcId),

  "auth.ImportAuthorization": (ctx, req: Api.auth.ImportAuthorization) => {
    const user = ctx.world.edges.importAuthorization(ctx.world, ctx.session, toBigint(req.id), Buffer.from(req.bytes));
    return new Api.auth.Authorization({ user: ctx.render.user(user.id, user) });
  },

  "messages.ReadHistory": (ctx, req: Api.messages.ReadHistory) => {
    const peer = resolveInputPeer(ctx, req.peer);
    const { pts, ptsCount } = ctx.world.readHistory(ctx.user.id, peer, req.maxId, ctx.session.keyId);
    return new Api.messages.AffectedMessages({ pts, ptsCount });
  },

  "messages.SetTyping": (ctx, req: Api.messages.SetTyping) => {
    resolveInputPeer(ctx, req.peer);
    return true;
  },

  "messages.GetChats": (ctx, req: Api.messages.GetChats) =>
    new Api.messages.Chats({
      chats: ctx.render.chats(req.id.map((id) => Number(toBigint(id))).filter((id) => ctx.world.chats.get(id)?.members.has(ctx.user.id))),
    }),

  "account.UpdateStatus": () => true,

  "upload.SaveFilePart": (ctx, req: Api.upload.SaveFilePart) => {
    if (req.bytes.length > MAX_FILE_PART) throw new RpcError(400, "FILE_PART_TOO_BIG");
    ctx.world.saveFilePart(ctx.user.id, toBigint(req.fileId), req.filePart, req.bytes);
    return true;
  },

  "upload.SaveBigFilePart": (ctx, req: Api.upload.SaveBigFilePart) => {
    if (req.bytes.length > MAX_FILE_PART) throw new RpcError(400, "FILE_PART_TOO_BIG");
    ctx.world.saveFilePart(ctx.user.id, toBigint(req.fileId), req.filePart, req.bytes, req.fileTotalParts);
    return true;
  },

  "upload.GetFile": (ctx, req: Api.upload.GetFile) => {
    const { bytes, mime, date } = fileBytes(ctx, req.location);
    const offset = Number(toBigint(req.offset));
    if (offset < 0 || req.limit <= 0 || req.limit > 1024 * 1024) throw new RpcError(400, "LIMIT_INVALID");
    if (offset > bytes.length) throw new RpcError(400, "OFFSET_INVALID");
    return new Api.upload.File({ type: fileType(mime), mtime: date, bytes: bytes.subarray(offset, offset + req.limit) });
  },

  "contacts.ResolveUsername": (ctx, req: Api.contacts.ResolveUsername) => {
    const name = req.username.replace(/^@/, "");
    if (!/^[a-zA-Z][a-zA-Z0-9_]{3,31}$/.test(name)) throw new RpcError(400, "USERNAME_INVALID");
    const u = ctx.world.userByUsername(name);
    if (!u) throw new RpcError(400, "USERNAME_NOT_OCCUPIED");
    return new Api.contacts.ResolvedPeer({
      peer: new Api.PeerUser({ userId: long(u.id) }),
      chats: [],
      users: [ctx.render.user(ctx.user.id, u)],
    });
  },

  "contacts.ImportContacts": (ctx, req: Api.contacts.ImportContacts) => {
    const imported: Api.ImportedContact[] = [];
    const users: WorldUser[] = [];
    for (const c of req.contacts) {
      if (!(c instanceof Api.InputPhoneContact)) continue;
      const u = ctx.world.userByPhone(c.phone);
      if (!u) continue;
      ctx.user.contacts.add(u.id);
      imported.push(new Api.ImportedContact({ userId: long(u.id), clientId: c.clientId }));
      users.push(u);
    }
    return new Api.contacts.ImportedContacts({
      imported,
      popularInvites: [],
      retryContacts: [],
      users: users.map((u) => ctx.render.user(ctx.user.id, u)),
    });
  },

  "contacts.GetContacts": (ctx) => {
    const ids = [...ctx.user.contacts];
    return new Api.contacts.Contacts({
      contacts: ids.map((id) => new Api.Contact({ userId: long(id), mutual: ctx.world.users.get(id)?.contacts.has(ctx.user.id) ?? false })),
      savedCount: 0,
      users: ctx.render.users(ctx.user.id, ids),
    });
  },
};

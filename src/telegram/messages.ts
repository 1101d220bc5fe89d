// Telegram messages → the port's ChatMessage (private one-to-one chats with users only).
import { Api } from "telegram";
import type { ChatMessage, MediaKind, MediaRef, PeerInfo, Rendering } from "../domain/telegram-port.ts";
import { longText } from "./gram.ts";

/** What MediaRef.handle holds: plain JSON, so the domain may store it and download much later. */
export interface MediaHandle {
  v: 1;
  loc: "photo" | "document";
  id: string;
  accessHash: string;
  /** base64 */
  fileReference: string;
  dcId: number;
  /** Photo size type to fetch ("" for documents). */
  thumbSize: string;
  /** The message holding the media, re-fetched on FILE_REFERENCE_EXPIRED. */
  messageId: number;
  peerUserId: string;
}

export function isMediaHandle(h: unknown): h is MediaHandle {
  const x = h as Partial<MediaHandle> | null;
  return (
    !!x &&
    x.v === 1 &&
    (x.loc === "photo" || x.loc === "document") &&
    typeof x.id === "string" &&
    typeof x.accessHash === "string" &&
    typeof x.fileReference === "string" &&
    typeof x.dcId === "number" &&
    typeof x.thumbSize === "string" &&
    typeof x.messageId === "number"
  );
}

const EXT_BY_MIME: Record<string, string> = {
  "image/jpeg": "jpg",
  "image/png": "png",
  "image/gif": "gif",
  "image/webp": "webp",
  "image/heic": "heic",
  "video/mp4": "mp4",
  "video/quicktime": "mov",
  "video/webm": "webm",
  "audio/ogg": "ogg",
  "audio/mpeg": "mp3",
  "audio/mp4": "m4a",
  "audio/x-m4a": "m4a",
  "audio/wav": "wav",
  "audio/x-wav": "wav",
  "audio/flac": "flac",
  "application/pdf": "pdf",
  "application/zip": "zip",
  "application/x-tgsticker": "tgs",
  "text/plain": "txt",
};

const DEFAULT_EXT: Record<MediaKind, string> = {
  photo: "jpg",
  document: "bin",
  voice: "ogg",
  audio: "mp3",
  video: "mp4",
  video_note: "mp4",
  sticker: "webp",
};

export function extensionFor(mime: string, kind: MediaKind): string {
  return EXT_BY_MIME[mime.toLowerCase()] ?? DEFAULT_EXT[kind];
}

/** The largest downloadable size of a photo: its type and byte size. */
export function largestPhotoSize(photo: Api.Photo): { type: string; size: number | null } | null {
  let best: { type: string; size: number | null; area: number } | null = null;
  for (const s of photo.sizes) {
    let size: number | null = null;
    let area = 0;
    if (s instanceof Api.PhotoSize) {
      size = s.size;
      area = s.w * s.h;
    } else if (s instanceof Api.PhotoSizeProgressive) {
      size = s.sizes.length ? Math.max(...s.sizes) : null;
      area = s.w * s.h;
    } else continue; // stripped/cached/path thumbnails are inline previews, not the picture
    if (!best || area > best.area || (area === best.area && (size ?? 0) > (best.size ?? 0))) best = { type: s.type, size, area };
  }
  return best ? { type: best.type, size: best.size } : null;
}

export function photoRef(photo: Api.Photo, messageId: number, peerUserId: string): MediaRef | null {
  const largest = largestPhotoSize(photo);
  if (!largest) return null;
  const handle: MediaHandle = {
    v: 1,
    loc: "photo",
    id: photo.id.toString(),
    accessHash: photo.accessHash.toString(),
    fileReference: Buffer.from(photo.fileReference).toString("base64"),
    dcId: photo.dcId,
    thumbSize: largest.type,
    messageId,
    peerUserId,
  };
  return { kind: "photo", fileName: `photo_${handle.id}.jpg`, mimeType: "image/jpeg", size: largest.size, handle };
}

export function documentRef(doc: Api.Document, media: Api.MessageMediaDocument | null, messageId: number, peerUserId: string): MediaRef {
  let fileName: string | null = null;
  let audio: Api.DocumentAttributeAudio | null = null;
  let video: Api.DocumentAttributeVideo | null = null;
  let sticker = false;
  for (const a of doc.attributes) {
    if (a instanceof Api.DocumentAttributeFilename) fileName = a.fileName;
    else if (a instanceof Api.DocumentAttributeAudio) audio = a;
    else if (a instanceof Api.DocumentAttributeVideo) video = a;
    else if (a instanceof Api.DocumentAttributeSticker) sticker = true;
  }
  let kind: MediaKind = "document";
  if (media?.voice || audio?.voice) kind = "voice";
  else if (media?.round || video?.roundMessage) kind = "video_note";
  else if (sticker) kind = "sticker";
  else if (media?.video || video) kind = "video";
  else if (audio) kind = "audio";
  const mimeType = doc.mimeType || "application/octet-stream";
  const id = doc.id.toString();
  const safeName = fileName?.replace(/[\\/\0]/g, "_").trim();
  const handle: MediaHandle = {
    v: 1,
    loc: "document",
    id,
    accessHash: doc.accessHash.toString(),
    fileReference: Buffer.from(doc.fileReference).toString("base64"),
    dcId: doc.dcId,
    thumbSize: "",
    messageId,
    peerUserId,
  };
  return {
    kind,
    fileName: safeName || `${kind}_${id}.${extensionFor(mimeType, kind)}`,
    mimeType,
    size: Number(longText(doc.size) ?? 0) || null,
    handle,
  };
}

/** The media of a message as a MediaRef (photo/document with content), else null. */
export function mediaRefOf(msg: Api.Message, peerUserId: string): MediaRef | null {
  const m = msg.media;
  if (m instanceof Api.MessageMediaPhoto && m.photo instanceof Api.Photo) return photoRef(m.photo, msg.id, peerUserId);
  if (m instanceof Api.MessageMediaDocument && m.document instanceof Api.Document) return documentRef(m.document, m, msg.id, peerUserId);
  return null;
}

function joinText(...parts: (string | null | undefined)[]): string {
  return parts.filter((p): p is string => !!p && p.trim() !== "").join("\n");
}

function fullName(first: string | undefined | null, last: string | undefined | null): string {
  return [first, last].filter((x) => x && x.trim()).join(" ");
}

function geoText(geo: Api.TypeGeoPoint): string | null {
  if (!(geo instanceof Api.GeoPoint)) return null;
  const lat = geo.lat.toFixed(6);
  const long = geo.long.toFixed(6);
  return `${lat}, ${long}\nhttps://maps.google.com/?q=${lat},${long}`;
}

type Content = Pick<ChatMessage, "text" | "kind" | "media" | "caption" | "rendering">;

/** The English text (as before) plus what it was made of, so the bridge can write it in another language. */
function rendered(kind: ChatMessage["kind"], text: string, caption: string, rendering: Rendering): Content {
  return { text, kind, media: null, caption, rendering };
}

function geoOf(geo: Api.TypeGeoPoint): { lat: number; long: number } | null {
  return geo instanceof Api.GeoPoint ? { lat: geo.lat, long: geo.long } : null;
}

/** Text, kind and media of a message (without the peer). */
export function contentOf(msg: Api.Message, peerUserId: string): Content {
  const caption = msg.message ?? "";
  const m = msg.media;
  if (!m || m instanceof Api.MessageMediaEmpty || m instanceof Api.MessageMediaWebPage) {
    return { text: caption, kind: "text", media: null };
  }
  if (m instanceof Api.MessageMediaPhoto || m instanceof Api.MessageMediaDocument) {
    const ref = mediaRefOf(msg, peerUserId);
    if (ref) return { text: caption, kind: "media", media: ref };
    const what = m instanceof Api.MessageMediaPhoto ? "photo" : "file";
    return rendered("other", joinText(`[${what} unavailable]`, caption), caption, { kind: "unavailable", what });
  }
  if (m instanceof Api.MessageMediaContact) {
    const name = fullName(m.firstName, m.lastName);
    const phone = m.phoneNumber ? (m.phoneNumber.startsWith("+") ? m.phoneNumber : `+${m.phoneNumber}`) : "";
    return rendered("contact", joinText(`Contact: ${[name, phone].filter(Boolean).join(", ")}`, caption), caption, { kind: "contact", name, phone });
  }
  if (m instanceof Api.MessageMediaVenue) {
    const place = [m.title, m.address].filter(Boolean).join(", ");
    return rendered("location", joinText(`Location: ${place}`, geoText(m.geo), caption), caption, { kind: "location", live: false, place, geo: geoOf(m.geo) });
  }
  if (m instanceof Api.MessageMediaGeo || m instanceof Api.MessageMediaGeoLive) {
    const live = m instanceof Api.MessageMediaGeoLive ? " (live)" : "";
    return rendered("location", joinText(`Location${live}: ${geoText(m.geo) ?? "unknown"}`, caption), caption, { kind: "location", live: !!live, place: null, geo: geoOf(m.geo) });
  }
  if (m instanceof Api.MessageMediaPoll) {
    const q = m.poll.question?.text ?? "";
    const answers = m.poll.answers.map((a) => `- ${a.text?.text ?? ""}`);
    return rendered("poll", joinText(`Poll: ${q}`, ...answers, caption), caption, { kind: "poll", question: q, answers: m.poll.answers.map((a) => a.text?.text ?? "") });
  }
  if (m instanceof Api.MessageMediaDice) {
    return { text: joinText(`${m.emoticon} ${m.value}`, caption), kind: "other", media: null };
  }
  const type = m.className.replace(/^MessageMedia/, "").toLowerCase() || "media";
  return rendered("other", joinText(`[unsupported message: ${type}]`, caption), caption, { kind: "unsupported", type });
}

/** A private-chat message as the port wants it; null for anything else (groups, channels, service messages). */
export function toChatMessage(msg: Api.TypeMessage, peer: PeerInfo): ChatMessage | null {
  if (!(msg instanceof Api.Message)) return null;
  if (!(msg.peerId instanceof Api.PeerUser)) return null;
  return {
    peer,
    messageId: msg.id,
    out: !!msg.out,
    date: msg.date,
    ...contentOf(msg, peer.userId),
    editDate: msg.editDate ?? null,
  };
}

/** UpdateShortMessage: a text message in a private chat, sender known by id only. */
export function shortToChatMessage(u: Api.UpdateShortMessage, peer: PeerInfo): ChatMessage {
  return { peer, messageId: u.id, out: !!u.out, date: u.date, text: u.message ?? "", kind: "text", media: null, editDate: null };
}

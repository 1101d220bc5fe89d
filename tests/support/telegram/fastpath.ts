// Hand-written TL for the hottest path (plain-text messages.sendMessage and the short updates it
// produces). GramJS's generated classes go through big-integer for every `long`, which profiled as about
// half of the server's CPU per message; these few fixed layouts avoid it. Anything unusual (entities,
// replies, markup…) falls back to GramJS. A unit test checks the bytes against GramJS's own.
import { readTlBytes, tlBytes } from "./tl.ts";

const SEND_MESSAGE = 0x983f9745;
const INPUT_PEER_SELF = 0x7da07ec9;
const INPUT_PEER_USER = 0xdde8a54c;
const INPUT_PEER_CHAT = 0x35a95cb9;
const UPDATE_SHORT_MESSAGE = 0x313bc7f8;
const UPDATE_SHORT_CHAT_MESSAGE = 0x4d6deea5;
const UPDATE_SHORT_SENT_MESSAGE = 0x9015e101;

/** sendMessage flags that carry no data (no_webpage, silent, background, clear_draft, noforwards,
 * update_stickersets_order, invert_media, allow_paid_floodskip). Any other flag → GramJS parses it. */
const DATALESS_FLAGS = (1 << 1) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 19);

export type RawInputPeer = { kind: "self" } | { kind: "user"; userId: bigint; accessHash: bigint } | { kind: "chat"; chatId: bigint };

/** A messages.sendMessage parsed without GramJS; shaped like the GramJS request where handlers look. */
export interface FastSendMessage {
  className: "messages.SendMessage";
  classType: "request";
  CONSTRUCTOR_ID: number;
  peer: RawInputPeer;
  message: string;
  randomId: bigint;
  entities?: undefined;
}

export function parseSendMessage(body: Buffer): FastSendMessage | null {
  if (body.length < 16 || body.readUInt32LE(0) !== SEND_MESSAGE) return null;
  const flags = body.readUInt32LE(4);
  if ((flags & ~DATALESS_FLAGS) !== 0) return null;
  let p = 8;
  let peer: RawInputPeer;
  const ctor = body.readUInt32LE(p);
  p += 4;
  if (ctor === INPUT_PEER_SELF) peer = { kind: "self" };
  else if (ctor === INPUT_PEER_USER) {
    peer = { kind: "user", userId: body.readBigInt64LE(p), accessHash: body.readBigInt64LE(p + 8) };
    p += 16;
  } else if (ctor === INPUT_PEER_CHAT) {
    peer = { kind: "chat", chatId: body.readBigInt64LE(p) };
    p += 8;
  } else return null;
  const { data, end } = readTlBytes(body, p);
  if (end + 8 > body.length) return null;
  return {
    className: "messages.SendMessage",
    classType: "request",
    CONSTRUCTOR_ID: SEND_MESSAGE,
    peer,
    message: data.toString("utf8"),
    randomId: body.readBigInt64LE(end),
  };
}

export function updateShortMessage(m: { id: number; userId: number; message: string; pts: number; date: number; out?: boolean }): Buffer {
  const text = tlBytes(Buffer.from(m.message, "utf8"));
  const b = Buffer.allocUnsafe(8 + 4 + 8 + text.length + 12);
  b.writeUInt32LE(UPDATE_SHORT_MESSAGE, 0);
  b.writeUInt32LE(m.out ? 1 << 1 : 0, 4);
  b.writeInt32LE(m.id, 8);
  b.writeBigInt64LE(BigInt(m.userId), 12);
  text.copy(b, 20);
  const p = 20 + text.length;
  b.writeInt32LE(m.pts, p);
  b.writeInt32LE(1, p + 4);
  b.writeInt32LE(m.date, p + 8);
  return b;
}

export function updateShortChatMessage(m: { id: number; fromId: number; chatId: number; message: string; pts: number; date: number }): Buffer {
  const text = tlBytes(Buffer.from(m.message, "utf8"));
  const b = Buffer.allocUnsafe(8 + 4 + 16 + text.length + 12);
  b.writeUInt32LE(UPDATE_SHORT_CHAT_MESSAGE, 0);
  b.writeUInt32LE(0, 4);
  b.writeInt32LE(m.id, 8);
  b.writeBigInt64LE(BigInt(m.fromId), 12);
  b.writeBigInt64LE(BigInt(m.chatId), 20);
  text.copy(b, 28);
  const p = 28 + text.length;
  b.writeInt32LE(m.pts, p);
  b.writeInt32LE(1, p + 4);
  b.writeInt32LE(m.date, p + 8);
  return b;
}

export function updateShortSentMessage(m: { id: number; pts: number; date: number }): Buffer {
  const b = Buffer.allocUnsafe(24);
  b.writeUInt32LE(UPDATE_SHORT_SENT_MESSAGE, 0);
  b.writeUInt32LE(1 << 1, 4); // out
  b.writeInt32LE(m.id, 8);
  b.writeInt32LE(m.pts, 12);
  b.writeInt32LE(1, 16);
  b.writeInt32LE(m.date, 20);
  return b;
}

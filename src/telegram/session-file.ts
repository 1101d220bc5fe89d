// Reads a session file by its content: a StringSession text (GramJS or Telethon flavour),
// a Telethon `.session` SQLite file (with its stored access hashes and update state),
// or a Pyrogram SQLite file (no server address: taken from Telegram's published DC list).
// The core locates and reads the bytes (confined to a client's folder, src/sessions/); what they mean
// is Telegram's: the core gets an opaque SessionHandle, never the key or the data centre.
import { Database } from "bun:sqlite";
import { readFileSync } from "node:fs";
import { readRegisteredBytes } from "../sessions/locate.ts";
import { type PeerInfo, type ReadSession, type SessionFormats, type SessionHandle, SessionReadError } from "../domain/telegram-port.ts";

export { SessionReadError };

export interface SessionData {
  dcId: number;
  serverAddress: string;
  port: number;
  authKey: Uint8Array;
}

export interface KnownEntity {
  userId: string;
  accessHash: string;
  username: string | null;
  phone: string | null;
  name: string | null;
}

export interface SessionFile {
  session: SessionData;
  format: "string" | "telethon-string" | "telethon-sqlite" | "pyrogram-sqlite";
  entities: KnownEntity[];
  updateState: { pts: number; qts: number; date: number; seq: number } | null;
}

/**
 * The handle the core holds: the session inside a private field, so that a handle logged or serialised
 * by mistake shows nothing of the key.
 */
class TelegramSession {
  readonly #data: SessionData;
  constructor(data: SessionData) {
    this.#data = data;
  }
  static dataOf(handle: SessionHandle): SessionData {
    // A bare SessionData (as the connector's own tests build one) is taken as it is.
    return handle instanceof TelegramSession ? handle.#data : (handle as SessionData);
  }
  toJSON(): string {
    return "[session]";
  }
}

/** The session a handle stands for (inside src/telegram/ only). */
export const sessionDataOf = (handle: SessionHandle): SessionData => TelegramSession.dataOf(handle);

/** What the core gets of a session file (see SessionFormats). */
export function toReadSession(file: SessionFile): ReadSession {
  const knownPeers: PeerInfo[] = file.entities.map((e) => ({
    userId: e.userId,
    accessHash: e.accessHash,
    username: e.username,
    phone: e.phone,
    firstName: e.name,
    lastName: null,
    isBot: false,
    hasPhoto: false,
  }));
  const u = file.updateState;
  return { handle: new TelegramSession(file.session), updateState: u ? { pts: u.pts, qts: u.qts, date: u.date } : null, knownPeers };
}

/** Telegram's session formats, for the core: bytes in, an opaque session out. */
export const telegramSessionFormats: SessionFormats = {
  read: (bytes) => toReadSession(parseSessionBytes(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))),
};

// Telegram's production DC addresses, for session formats that do not store one.
const DC_ADDRESSES: Record<number, string> = {
  1: "149.154.175.53",
  2: "149.154.167.51",
  3: "149.154.175.100",
  4: "149.154.167.91",
  5: "91.108.56.130",
};

const SQLITE_MAGIC = "SQLite format 3\0";

export function readSessionFile(file: string): SessionFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    throw new SessionReadError("cannot be read");
  }
  return parseSessionBytes(bytes);
}

/** A registered session file, read as a start reads it (confined to its folder: see readRegisteredBytes) and parsed. */
export function readRegisteredSession(sessionsDir: string, sessionPath: string, folder: string | null): SessionFile {
  return parseSessionBytes(readRegisteredBytes(sessionsDir, sessionPath, folder));
}

/** Reads a session from its bytes (read once, after the confinement check: see confine.ts). */
export function parseSessionBytes(bytes: Buffer): SessionFile {
  if (bytes.subarray(0, 16).toString("latin1") === SQLITE_MAGIC) return readSqliteSession(bytes);
  return { session: parseStringSession(bytes.toString("utf8")), format: "string", entities: [], updateState: null };
}

/** Parses a StringSession text. Telethon's flavour packs the IP as 4 or 16 raw bytes. */
export function parseStringSession(text: string): SessionData {
  const s = text.trim();
  if (!s.startsWith("1") || s.length < 100) throw new SessionReadError("is not a session string or session file");
  const raw = Buffer.from(s.slice(1).replace(/-/g, "+").replace(/_/g, "/"), "base64");
  const dcId = raw[0] ?? 0;
  let serverAddress: string;
  let offset: number;
  // GramJS: int16 address length + address. Telethon: 4 or 16 raw IP bytes. A plausible GramJS length
  // wins, as in GramJS's own decoder (an IPv6 address starts with a "length" far above 100).
  const len = raw.length >= 3 ? raw.readInt16BE(1) : -1;
  if (len > 0 && len <= 100 && raw.length === 3 + len + 2 + 256) {
    serverAddress = raw.subarray(3, 3 + len).toString("utf8");
    offset = 3 + len;
  } else if (raw.length === 1 + 4 + 2 + 256) {
    serverAddress = Array.from(raw.subarray(1, 5)).join(".");
    offset = 5;
  } else if (raw.length === 1 + 16 + 2 + 256) {
    serverAddress = ipv6(raw.subarray(1, 17));
    offset = 17;
  } else {
    throw new SessionReadError("is not a valid session string");
  }
  const port = raw.readUInt16BE(offset);
  const authKey = new Uint8Array(raw.subarray(offset + 2));
  if (dcId < 1 || authKey.length !== 256) throw new SessionReadError("is not a valid session string");
  return { dcId, serverAddress, port, authKey };
}

/** GramJS StringSession text for a session (ports above 32767 would make GramJS's own save() throw). */
export function toStringSession(s: SessionData): string {
  const addr = Buffer.from(s.serverAddress, "utf8");
  const head = Buffer.alloc(3);
  head.writeUInt8(s.dcId, 0);
  head.writeInt16BE(addr.length, 1);
  const port = Buffer.alloc(2);
  port.writeUInt16BE(s.port, 0);
  return "1" + Buffer.concat([head, addr, port, Buffer.from(s.authKey)]).toString("base64");
}

function ipv6(b: Uint8Array): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return parts.join(":");
}

function readSqliteSession(bytes: Buffer): SessionFile {
  let db: Database;
  try {
    // From memory, not the path: the bytes are the ones that passed the confinement check. A WAL-mode
    // header (bytes 18–19 = 2) would make SQLite look for a -wal file, which a copy in memory has not.
    const copy = Buffer.from(bytes);
    if (copy.length > 19 && copy[18] === 2 && copy[19] === 2) copy[18] = copy[19] = 1;
    // safeIntegers: access hashes are full 64-bit values that a JS number would round.
    db = Database.deserialize(copy, { readonly: true, safeIntegers: true });
  } catch {
    throw new SessionReadError("is an SQLite file that cannot be opened");
  }
  try {
    const columns = new Set((db.query("PRAGMA table_info(sessions)").all() as { name: string }[]).map((c) => c.name));
    if (columns.has("server_address")) return readTelethon(db);
    if (columns.has("dc_id") && columns.has("auth_key")) return readPyrogram(db);
    throw new SessionReadError("is an SQLite file without a Telethon or Pyrogram sessions table");
  } catch (e) {
    if (e instanceof SessionReadError) throw e;
    throw new SessionReadError("is an SQLite file that cannot be read as a session");
  } finally {
    db.close();
  }
}

function authKeyOf(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== 256) throw new SessionReadError("holds no 256-byte auth key");
  return value;
}

function readTelethon(db: Database): SessionFile {
  const row = db.query("SELECT dc_id, server_address, port, auth_key FROM sessions LIMIT 1").get() as {
    dc_id: bigint;
    server_address: string;
    port: bigint;
    auth_key: unknown;
  } | null;
  if (!row) throw new SessionReadError("has an empty sessions table");
  const session = { dcId: Number(row.dc_id), serverAddress: row.server_address, port: Number(row.port), authKey: authKeyOf(row.auth_key) };
  const tables = new Set((db.query("SELECT name FROM sqlite_master WHERE type='table'").all() as { name: string }[]).map((t) => t.name));
  const entities: KnownEntity[] = [];
  if (tables.has("entities")) {
    // Telethon stores users with positive ids; chats/channels are negative (marked) and not bridged.
    for (const e of db.query("SELECT id, hash, username, phone, name FROM entities WHERE id > 0").all() as {
      id: bigint;
      hash: bigint;
      username: string | null;
      phone: string | number | null;
      name: string | null;
    }[]) {
      entities.push({ userId: String(e.id), accessHash: String(e.hash), username: e.username, phone: e.phone === null ? null : String(e.phone), name: e.name });
    }
  }
  let updateState: SessionFile["updateState"] = null;
  if (tables.has("update_state")) {
    const u = db.query("SELECT pts, qts, date, seq FROM update_state WHERE id = 0").get() as Record<"pts" | "qts" | "date" | "seq", bigint> | null;
    if (u) updateState = { pts: Number(u.pts), qts: Number(u.qts), date: Number(u.date), seq: Number(u.seq) };
  }
  return { session, format: "telethon-sqlite", entities, updateState };
}

function readPyrogram(db: Database): SessionFile {
  const row = db.query("SELECT dc_id, auth_key FROM sessions LIMIT 1").get() as { dc_id: bigint; auth_key: unknown } | null;
  if (!row) throw new SessionReadError("has an empty sessions table");
  const dcId = Number(row.dc_id);
  const serverAddress = DC_ADDRESSES[dcId];
  if (!serverAddress) throw new SessionReadError(`names an unknown data centre ${dcId}`);
  return { session: { dcId, serverAddress, port: 443, authKey: authKeyOf(row.auth_key) }, format: "pyrogram-sqlite", entities: [], updateState: null };
}

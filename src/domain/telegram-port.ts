// What the appliance needs from Telegram, in plain types. src/telegram/ implements it with GramJS;
// nothing outside src/telegram/ imports GramJS.
import type { ProxySpec } from "./proxy.ts";

/** Why a connection could not be made or was lost. Terminal kinds need an operator (PUT) to recover. */
export type FailureKind =
  | "unauthorized" // AUTH_KEY_UNREGISTERED, SESSION_REVOKED, USER_MIGRATE_n, …: the key is not (or no longer) valid
  | "banned" // USER_DEACTIVATED(_BAN)
  | "duplicated" // AUTH_KEY_DUPLICATED: the key was used by two connections at once and is dead
  | "flood_wait" // FLOOD_WAIT_n on connect: retry after `floodSeconds`
  | "frozen" // Telegram froze the account (its app config, or FROZEN_METHOD_INVALID: a 420 like a flood wait, but no wait ends it)
  | "network" // refused, reset, dropped
  | "timeout" // no answer within our own timeout (GramJS's connect() may hang forever)
  | "proxy" // the number's proxy cannot be reached or refused the connection: retried like network
  | "error"; // anything else

export const TERMINAL_FAILURES: ReadonlySet<FailureKind> = new Set(["unauthorized", "banned", "duplicated", "frozen"]);

export class TelegramFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    /** Readable, secret-free: e.g. the RPC error name. */
    readonly reason: string,
    readonly floodSeconds?: number,
  ) {
    super(`${kind}: ${reason}`);
  }
}

/**
 * A Telegram user as one account sees it. The access hash (valid for that account only) is the
 * connector's: it puts it on what it reports and fills it in on what it is handed; the core neither
 * keeps nor reads it (it asks `KeepingConnector.knows` instead).
 */
export interface PeerInfo {
  userId: string;
  accessHash: string | null;
  username: string | null;
  phone: string | null;
  firstName: string | null;
  lastName: string | null;
  isBot: boolean;
  hasPhoto: boolean;
}

export interface SelfInfo {
  userId: string;
  firstName: string | null;
  lastName: string | null;
  username: string | null;
  phone: string | null;
}

export interface UpdateState {
  pts: number;
  qts: number;
  date: number;
}

export type MediaKind = "photo" | "document" | "voice" | "audio" | "video" | "video_note" | "sticker";

/** A handle to download media later (the adapter encodes what it needs; opaque to the domain). */
export interface MediaRef {
  kind: MediaKind;
  fileName: string;
  mimeType: string;
  size: number | null;
  /** Opaque adapter data (e.g. the message id to re-fetch on FILE_REFERENCE_EXPIRED). */
  handle: unknown;
}

/**
 * What a contact card, location, poll or unusable media consists of, so the bridge can write it in the
 * customer's language (`text` holds an English rendering, for anything that does not know these).
 */
export type Rendering =
  | { kind: "contact"; name: string; phone: string }
  | { kind: "location"; live: boolean; place: string | null; geo: { lat: number; long: number } | null }
  | { kind: "poll"; question: string; answers: string[] }
  | { kind: "unavailable"; what: "photo" | "file" }
  | { kind: "unsupported"; type: string };

/** A private-chat message as the bridge needs it (already filtered to one-to-one chats). */
export interface ChatMessage {
  /** The other side of the chat (not the account owner). */
  peer: PeerInfo;
  messageId: number;
  /** true: written by the account owner (from any device, including us). */
  out: boolean;
  date: number;
  text: string;
  media: MediaRef | null;
  /** Contacts, locations, polls … rendered as readable text by the adapter. */
  kind: "text" | "media" | "contact" | "location" | "poll" | "other";
  /** With `rendering`: the sender's own caption, apart from the rendered part. */
  caption?: string;
  rendering?: Rendering;
  editDate: number | null;
}

/** A file to send: in memory, or on disk (downloads are streamed there rather than held in memory). */
export type OutgoingFile = { name: string; mimeType: string } & ({ bytes: Uint8Array } | { path: string; size: number });

export interface SentMessage {
  messageId: number;
}

/** Callbacks from a live connection. Each returns once the event is durably handled. */
export interface TelegramEvents {
  /** New or edited private message. Resolve only after it is stored: the update state moves on after. */
  onMessage(message: ChatMessage): Promise<void>;
  /**
   * The peer read our messages up to `maxId`: what a bare connector reports. A keeping connector
   * (`KeepingConnector`) turns it into `onRead`, by the idempotency keys of the sends read.
   */
  onReadOutbox?(peerUserId: string, maxId: number): Promise<void>;
  /**
   * The peer read these sends of ours (the idempotency keys they were sent with, each reported until
   * taken). Resolves once durably handled, with the keys not taken yet (their send has not settled in
   * the core): those are reported again with the next read of the chat.
   */
  onRead?(peerUserId: string, idempotencyKeys: string[]): Promise<string[]>;
  /** Users seen in updates (access hashes to keep). */
  onPeers(peers: PeerInfo[]): void;
  /**
   * A user changed their name, username or profile photo (Telegram's updateUserName / updateUser).
   * `peer` is the user as now known; `photoChanged` when the photo may have changed. Resolve once handled.
   */
  onContactChanged?(peer: PeerInfo, photoChanged: boolean): Promise<void>;
  /**
   * The update state after everything up to it was handled. The connector keeps it itself (its own
   * tables, by `ConnectOptions.accountId`); this is for observers only (tests).
   */
  onUpdateState?(state: UpdateState): void;
  /** The connection is gone and will not come back by itself; the pool decides what next. */
  onLost(failure: TelegramFailure): void;
}

declare const sessionHandle: unique symbol;
/**
 * A session as the connector read it from a file. Opaque to the core: what is in it (a key, a data
 * centre) is the network's; the core only hands it back to connect() and to SessionClaims.
 */
export type SessionHandle = object & { readonly [sessionHandle]?: "SessionHandle" };

/** Why a session file cannot be used; the message completes `session file "<path>" …` (no paths, no secrets). */
export class SessionReadError extends Error {}

/** What a session file gives the core. */
export interface ReadSession {
  handle: SessionHandle;
  /** Where catch-up may resume on a first start (a Telethon file's update state); null: none in the file. */
  updateState: UpdateState | null;
  /** Access hashes the file carries (a Telethon file's entities), for a first start. */
  knownPeers: PeerInfo[];
}

/**
 * Reading session files: the core finds a file and reads its bytes (confined to the client's folder);
 * what the bytes mean is the connector's.
 */
export interface SessionFormats {
  /** Throws SessionReadError when the bytes are no session the connector can use. */
  read(bytes: Uint8Array): ReadSession;
}

export interface ConnectOptions {
  /**
   * The number this connection is for: the connector keeps its own state (where catch-up resumes, the
   * access hashes it got) under this id, in its own tables. Absent: nothing is kept (a bare connection,
   * as in the connector's tests).
   */
  accountId?: number;
  session: SessionHandle;
  apiId: number;
  apiHash: string;
  /** Our own bound on connect + getMe (GramJS's connect() can hang forever). */
  timeoutMs: number;
  /**
   * Where to resume catch-up from when the connector has kept none for `accountId` (e.g. the update state
   * a Telethon session file carries); null: ask Telegram for the current state and start there.
   */
  updateState: UpdateState | null;
  /** Access hashes this account already knows (from our store or a Telethon session file). */
  knownPeers: PeerInfo[];
  /**
   * Asked with the session's own user id once it is known, before catch-up. False: the stored state and
   * peers belong to another Telegram account — they are not used (catch-up starts from the current state).
   */
  sameAccount?: (selfUserId: string) => boolean;
  events: TelegramEvents;
  log: import("../log.ts").Logger;
  /** What every connection of this account goes through; null: straight to Telegram. */
  proxy?: ProxySpec | null;
  /** Cancels a connect in progress (the number is being stopped): it rejects once everything is closed. */
  signal?: AbortSignal;
}

/** One live connection of one account. */
export interface TelegramConnection {
  readonly self: SelfInfo;
  /**
   * Sends once per `idempotencyKey`: the connector derives the network's own message key from it, so a
   * send repeated after a crash or a lost answer is refused as already sent (meaningOf: already_sent).
   */
  sendText(peer: PeerInfo, text: string, idempotencyKey: string): Promise<SentMessage>;
  sendFile(peer: PeerInfo, file: OutgoingFile, caption: string, idempotencyKey: string): Promise<SentMessage>;
  resolveUsername(username: string): Promise<PeerInfo | null>;
  resolvePhone(phone: string): Promise<PeerInfo | null>;
  /** Fetches a user by id with a known access hash (refreshes name, username, photo). */
  getUser(peer: PeerInfo): Promise<PeerInfo | null>;
  downloadMedia(media: MediaRef, maxBytes: number): Promise<Uint8Array>;
  /** The user's current profile photo, or null when none. */
  downloadProfilePhoto(peer: PeerInfo): Promise<Uint8Array | null>;
  /**
   * A cheap signed-in call (liveness): Telegram announces no session terminated from the user's phone,
   * so an idle number would look online until its next send. Rejects with the TelegramFailure; a
   * terminal one (unauthorized, banned, frozen…) also ends the connection through onLost.
   */
  probe(): Promise<void>;
  /** Closes every socket and timer of this connection; resolves only when nothing of it remains. */
  close(): Promise<void>;
}

/**
 * Why the other side will not take a message, whoever tries how often: the account may not write first to
 * new contacts for now (`peer_flood`), the recipient's privacy refuses strangers (`privacy`), one of the
 * two blocked the other (`blocked`), the recipient's account is gone (`deactivated`). Sending again does
 * not help, and for `peer_flood` retrying is what gets a limited account banned.
 */
export type Refusal = "peer_flood" | "privacy" | "blocked" | "deactivated";

/** What the core must know of the messenger's rules; the connector says, the core never spells them out. */
export interface MessengerCapabilities {
  /** The longest text one message may carry: longer texts go out as several. */
  maxTextLength: number;
  /** Accounts of the network itself (service notifications, login codes): never bridged. */
  isServiceAccount(userId: string): boolean;
  /**
   * What a failed call means beyond its kind: `already_sent` — a send whose idempotency key was used
   * before (it went out before a crash or a lost answer); `media_gone` — a file that cannot be fetched
   * any more (retrying will not help).
   */
  meaningOf(failure: TelegramFailure): "already_sent" | "media_gone" | null;
  /** A send the other side refuses for good (see Refusal), or null for any other failure. */
  refusalOf(failure: TelegramFailure): Refusal | null;
}

/**
 * One session runs once (a Telegram key live twice is killed): the connector knows what makes two
 * sessions the same; the pool asks it before a start.
 */
export interface SessionClaims {
  /** Claims `session` for `accountId`: the running account already holding it, or null when it is now ours. */
  claim(accountId: number, session: SessionHandle, isRunning: (accountId: number) => boolean): number | null;
  release(accountId: number): void;
  /** The running account (other than `except`) holding this session, if any. */
  holder(session: SessionHandle, except: number | null, isRunning: (accountId: number) => boolean): number | null;
}

export interface TelegramConnector {
  readonly capabilities: MessengerCapabilities;
  readonly claims: SessionClaims;
  /** Connects, verifies with getMe, runs catch-up. Throws TelegramFailure. */
  connect(options: ConnectOptions): Promise<TelegramConnection>;
}

/** A connector that keeps what each number got (its own tables, by `ConnectOptions.accountId`). */
export interface KeepingConnector extends TelegramConnector {
  /**
   * Whether the number can address the user without a lookup (it got an access hash for them), asked
   * also while the number is offline: a message to such a user is accepted and waits for the number.
   */
  knows(accountId: number, userId: string): boolean;
  /**
   * Whether this message (of the number's chat with the user) is one of the number's own sends through
   * this connector. Their echoes are not reported as messages; this answers for one reported before the
   * send's result was kept (the core asks once the send has settled).
   */
  isOwnSend(accountId: number, peerUserId: string, messageId: number): boolean;
}

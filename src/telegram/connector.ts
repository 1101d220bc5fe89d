// The GramJS implementation of the TelegramConnector port: one TelegramClient per connection, never
// reconnected in place. Any loss (dropped socket, missing pong, dead key) closes the client completely
// and is reported once through events.onLost; the pool then connects again with a new client, so the
// same auth key is never live twice.
//
// connect(): new client → connect(), getMe and the app config (a frozen account) under
// options.timeoutMs → catch-up (getDifference from options.updateState, or updates.getState when there
// is none) → resolve. Catch-up runs BEFORE connect
// resolves, so events.onMessage may be called while connect() is still pending; handlers must not
// need the connection object. Catch-up is not bounded by timeoutMs (a long backlog is legitimate);
// a stalled server during it is caught by the keepalive.
// Faster 64-bit conversions for GramJS's reader and MTProto envelope (see longs.ts).
import "./longs.ts";
import { Api, TelegramClient, errors } from "telegram";
import { UpdateConnectionState } from "telegram/network";
import { StringSession } from "telegram/sessions";
import {
  TERMINAL_FAILURES,
  TelegramFailure,
  type ConnectOptions,
  type MediaRef,
  type OutgoingFile,
  type PeerInfo,
  type SelfInfo,
  type SentMessage,
  type TelegramConnection,
  type TelegramConnector,
  type TelegramEvents,
} from "../domain/telegram-port.ts";
import { errorText, type Logger } from "../log.ts";
import { sessionDataOf, toStringSession } from "./session-file.ts";
import type { DeviceInfo } from "./device.ts";
import { endpointConnection } from "./endpoint.ts";
import { randomIdOf, telegramCapabilities } from "./capabilities.ts";
import { isNotFound, toFailure, userMigrated } from "./errors.ts";
import { createSessionClaims } from "./session-claims.ts";
import { internals, longText, toLong, type ConnectionInternals, type SenderInternals } from "./gram.ts";
import { RoutedGramLogger } from "./gramlog.ts";
import { CrossDcDownloader } from "./crossdc.ts";
import { Keepalive } from "./keepalive.ts";
import { PHOTO_REFUSALS, downloadLocation, isFileReferenceError, locationOf, randomLong, sendsAsPhoto, tooLarge, uploadFile, uploadedMedia, type FileTransport } from "./media.ts";
import { isMediaHandle, mediaRefOf, type MediaHandle } from "./messages.ts";
import { gramjsProxy, proxyConnection, proxyFailure } from "./proxy.ts";
import { PeerBook, inputPeer, inputUser, peerFromUser } from "./peers.ts";
import { freezeOf } from "./freeze.ts";
import { shutdownClient } from "./shutdown.ts";
import { withTimeout } from "./timing.ts";
import { UpdateEngine } from "./updates.ts";

export interface GramjsConnectorOptions {
  /** `host:port` every MTProto connection goes to (tests, demos); null: Telegram's own addresses. */
  endpoint: string | null;
  /** Keepalive ping period (default 30 s). */
  pingIntervalMs?: number;
  /** How long a ping may wait for its pong before the connection counts as dead (default 15 s). */
  pingTimeoutMs?: number;
  /** updates.getState every this many pings (default 20, i.e. every 10 min). */
  stateCheckEvery?: number;
  /** Most users remembered per connection for filling in short updates (default 5000). */
  peerBookLimit?: number;
  /** Device model, system and app version declared to Telegram (TELEGRAM_DEVICE_MODEL etc.). */
  device?: DeviceInfo;
}

/** Largest profile photo we download. */
const MAX_PROFILE_PHOTO_BYTES = 10 * 1024 * 1024;

export function createGramjsConnector(opts: GramjsConnectorOptions): TelegramConnector {
  const connection = opts.endpoint ? endpointConnection(opts.endpoint) : undefined;
  const cfg: Config = {
    connection,
    device: opts.device,
    pingIntervalMs: opts.pingIntervalMs ?? 30_000,
    pingTimeoutMs: opts.pingTimeoutMs ?? 15_000,
    stateCheckEvery: opts.stateCheckEvery ?? 20,
    peerBookLimit: opts.peerBookLimit ?? 5000,
  };
  return { capabilities: telegramCapabilities, claims: createSessionClaims(), connect: (o) => GramjsConnection.open(o, cfg) };
}

type Config = Required<Omit<GramjsConnectorOptions, "endpoint" | "device">> & { connection: ReturnType<typeof endpointConnection> | undefined; device: DeviceInfo | undefined };

class GramjsConnection implements TelegramConnection {
  self!: SelfInfo;
  private readonly client: TelegramClient;
  private readonly log: Logger;
  private readonly events: TelegramEvents;
  private readonly peers: PeerBook;
  private readonly engine: UpdateEngine;
  private readonly keepalive: Keepalive;
  private readonly transport: FileTransport;
  private readonly crossDc: CrossDcDownloader;
  private sender: SenderInternals | undefined;
  /** connect() has resolved: from now on losses go to events.onLost. */
  private live = false;
  private lost: TelegramFailure | null = null;
  private closing: Promise<void> | null = null;
  private readonly lostSignal: Promise<never>;
  private signalLost!: (f: TelegramFailure) => void;
  private lastError: unknown = null;
  private readonly pingIntervalMs: number;
  /** Telegram answered on this connection (getMe): a failure after that is not the proxy's to explain. */
  private reachedTelegram = false;
  /** help.getAppConfig's hash: an unchanged config is answered notModified. */
  private appConfigHash = 0;

  static async open(o: ConnectOptions, cfg: Config): Promise<GramjsConnection> {
    let c: GramjsConnection;
    try {
      c = new GramjsConnection(o, cfg);
    } catch (e) {
      throw new TelegramFailure("error", `cannot set up the client: ${errorText(e)}`);
    }
    try {
      await withTimeout(c.race(c.handshake()), o.timeoutMs, () => new TelegramFailure("timeout", `no answer within ${o.timeoutMs} ms`));
      c.keepalive.start();
      // A session of the same account (signed in again after a revocation) resumes where the last one
      // stopped, so nothing written meanwhile is skipped; another account's state and peers are useless.
      const same = o.sameAccount?.(c.self.userId) ?? true;
      if (!same) c.peers.clear();
      await c.race(c.engine.start(same ? o.updateState : null));
      if (c.lost) throw c.lost;
      c.live = true;
      return c;
    } catch (e) {
      let failure = c.lost ?? toFailure(e);
      c.lost ??= failure;
      await c.close();
      // Through a proxy, a connect that never reached Telegram is most often the proxy's fault: say so.
      if (o.proxy && !c.reachedTelegram && (failure.kind === "network" || failure.kind === "timeout")) failure = (await proxyFailure(o.proxy, failure)) ?? failure;
      c.log.info("telegram connect failed", { kind: failure.kind, reason: failure.reason });
      throw failure;
    }
  }

  private constructor(o: ConnectOptions, cfg: Config) {
    this.log = o.log;
    this.events = o.events;
    this.pingIntervalMs = cfg.pingIntervalMs;
    this.lostSignal = new Promise<never>((_, reject) => (this.signalLost = reject));
    this.lostSignal.catch(() => {});
    const cancel = () => {
      if (!this.live) this.lose(new TelegramFailure("error", "connect cancelled: the number is stopping"));
    };
    if (o.signal?.aborted) queueMicrotask(cancel);
    else o.signal?.addEventListener("abort", cancel, { once: true });
    this.peers = new PeerBook(o.knownPeers, cfg.peerBookLimit);

    const data = sessionDataOf(o.session);
    const session = new StringSession(toStringSession(data));
    // We keep access hashes ourselves (onPeers); GramJS's session cache grows with every update.
    session.processEntities = () => {};
    // Nothing is persisted through GramJS (and its save() throws for ports above 32767).
    session.save = () => "";
    this.client = new TelegramClient(session, o.apiId, o.apiHash, {
      ...(cfg.connection ? { connection: cfg.connection } : {}),
      // With MTProxy GramJS swaps the connection class for its MTProxy transport to the proxy itself.
      ...(o.proxy ? { proxy: gramjsProxy(o.proxy, o.timeoutMs) } : {}),
      connectionRetries: 1,
      reconnectRetries: 0,
      retryDelay: 0,
      autoReconnect: false,
      floodSleepThreshold: 0,
      requestRetries: 2,
      baseLogger: new RoutedGramLogger(o.log),
      ...cfg.device,
    });
    const c = internals(this.client);
    c._loopStarted = true; // no GramJS ping loop: ours is stoppable and does not reconnect
    c._entityCache.add = () => {};
    // GramJS switches DC only on USER_MIGRATE_n of a signed-in key (the account moved): the key is not
    // signed in there, so this ends as "log in again" rather than a reconnect loop.
    c._switchDC = async (dc: number) => {
      throw userMigrated(dc);
    };
    this.client.onError = async (e: Error) => {
      this.lastError = e;
      this.log.debug("gramjs error", { error: e });
    };
    // GramJS creates the main sender inside connect(); take it over the moment it is assigned.
    Object.defineProperty(this.client, "_sender", {
      configurable: true,
      enumerable: false,
      get: () => this.sender,
      set: (s: SenderInternals | undefined) => {
        this.sender = s;
        if (s) this.hookSender(s);
      },
    });

    this.engine = new UpdateEngine({
      getState: () => this.call<Api.updates.State>(new Api.updates.GetState()),
      getDifference: (s) => this.call<Api.updates.TypeDifference>(new Api.updates.GetDifference({ pts: s.pts, qts: s.qts, date: s.date })),
      call: (r) => this.call(r),
      events: this.events,
      peers: this.peers,
      selfId: () => this.self?.userId ?? null,
      log: this.log,
      fail: (f) => this.lose(f),
      getUser: (p) => this.getUser(p),
    });
    this.keepalive = new Keepalive({
      intervalMs: cfg.pingIntervalMs,
      timeoutMs: cfg.pingTimeoutMs,
      stateEvery: cfg.stateCheckEvery,
      ping: () => this.ping(),
      checkState: () => this.checkState(),
      onDead: (f) => this.lose(f),
    });
    this.transport = {
      call: (r) => this.call(r),
      homeDcId: data.dcId,
      getFileFromDc: (dcId, request) => this.crossDc.getFile(dcId, request),
    };
    this.crossDc = new CrossDcDownloader({
      client: this.client,
      log: this.log,
      connection: proxyConnection(o.proxy ?? null) ?? cfg.connection,
      proxy: o.proxy ? gramjsProxy(o.proxy, o.timeoutMs) : undefined,
      call: (r) => this.call(r),
      race: (p) => this.race(p),
      timeoutMs: Math.max(o.timeoutMs, 10_000),
    });
  }

  // ── lifecycle ───────────────────────────────────────────────────────────────────────────────

  private hookSender(s: SenderInternals): void {
    s._updateCallback = (_client, update) => this.onPushed(update);
    const connect = s.connect.bind(s);
    s.connect = (connection, force) => {
      this.watchTransport(connection as ConnectionInternals);
      return connect(connection, force);
    };
    // Every broken-connection path of MTProtoSender (recv/send failure, bad buffer) calls reconnect().
    // We never reconnect in place: the client is closed and the pool decides.
    s.reconnect = () => this.lose(new TelegramFailure("network", "connection to Telegram dropped"));
  }

  /**
   * Transport errors (a 4-byte negative code instead of a packet) are swallowed by GramJS's TCP
   * connection, which just closes: -404 (the server does not know our auth key) would look like a
   * dropped connection and be retried forever. Catch it on the way.
   */
  private watchTransport(connection: ConnectionInternals): void {
    const recv = connection._recv.bind(connection);
    connection._recv = async () => {
      try {
        return await recv();
      } catch (e) {
        if (e instanceof errors.InvalidBufferError) {
          if (e.code === 404) this.lose(new TelegramFailure("unauthorized", "AUTH_KEY_UNREGISTERED (transport error -404)"));
          else if (e.code !== undefined) this.lose(new TelegramFailure("network", `transport error -${e.code}`));
        }
        throw e;
      }
    };
  }

  private onPushed(update: unknown): void {
    if (update instanceof UpdateConnectionState) {
      // broken: the server answered -404, it does not know our auth key.
      if (update.state === UpdateConnectionState.broken) this.lose(new TelegramFailure("unauthorized", "AUTH_KEY_UNREGISTERED (transport error -404)"));
      return;
    }
    if (this.closing || this.lost) return;
    this.engine.push(update as Api.TypeUpdates);
  }

  private async handshake(): Promise<void> {
    const ok = await this.client.connect();
    if (!ok) {
      const why = this.lastError ? toFailure(this.lastError) : null;
      throw new TelegramFailure(why?.kind === "network" || why?.kind === "timeout" ? why.kind : "network", why?.reason ?? "could not connect");
    }
    const users = await this.call<Api.TypeUser[]>(new Api.users.GetUsers({ id: [new Api.InputUserSelf()] }));
    const me = users[0];
    this.reachedTelegram = true;
    if (!(me instanceof Api.User)) throw new TelegramFailure("unauthorized", "getMe returned no user");
    internals(this.client)._selfInputPeer = new Api.InputPeerUser({ userId: me.id, accessHash: me.accessHash ?? toLong("0") });
    this.self = {
      userId: me.id.toString(),
      firstName: me.firstName ?? null,
      lastName: me.lastName ?? null,
      username: me.username ?? null,
      phone: me.phone ?? null,
    };
    await this.checkFreeze();
  }

  /**
   * Ends the connection as `frozen` when Telegram's app config names a freeze (a frozen account
   * connects and reads normally). A refusal of the call itself other than a terminal or network one is
   * only logged: the config is a hint, never a reason not to run.
   */
  private async checkFreeze(): Promise<void> {
    let r: Api.help.TypeAppConfig;
    try {
      r = await this.call<Api.help.TypeAppConfig>(new Api.help.GetAppConfig({ hash: this.appConfigHash }));
    } catch (e) {
      const f = toFailure(e);
      if (TERMINAL_FAILURES.has(f.kind) || f.kind === "network" || f.kind === "timeout") throw f;
      this.log.debug("telegram getAppConfig failed", { kind: f.kind, reason: f.reason });
      return;
    }
    if (!(r instanceof Api.help.AppConfig)) return; // not modified since the last look
    this.appConfigHash = r.hash;
    const freeze = freezeOf(r.config);
    if (!freeze) return;
    const f = new TelegramFailure("frozen", freeze);
    this.lose(f);
    throw f;
  }

  /** The connection is gone: close everything, then (if connect() had resolved) tell the pool once. */
  private lose(failure: TelegramFailure): void {
    if (this.lost || this.closing) return;
    this.lost = failure;
    this.log.warn("telegram connection lost", { kind: failure.kind, reason: failure.reason });
    void this.close().then(() => {
      if (!this.live) return; // connect() is still running: it rejects with this failure instead
      try {
        this.events.onLost(failure);
      } catch (e) {
        this.log.error("telegram onLost handler failed", { error: e });
      }
    });
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    const reason = this.lost ?? new TelegramFailure("network", "connection closed");
    this.signalLost(reason);
    this.keepalive.stop();
    this.engine.stop();
    this.closing = Promise.all([this.crossDc.close(), shutdownClient(this.client, this.log, reason)]).then(
      () => {},
      (e) => {
        this.log.warn("telegram close: cleanup error", { error: e });
      },
    );
    return this.closing;
  }

  /** `p`, or the connection's loss if that comes first. */
  private race<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.lostSignal]);
  }

  /** An RPC on the main connection with errors mapped; a dead key drops the connection. */
  private async call<R>(request: Api.AnyRequest): Promise<R> {
    if (this.lost) throw this.lost;
    if (this.closing) throw new TelegramFailure("network", "connection closed");
    try {
      return (await this.race(this.client.invoke(request))) as R;
    } catch (e) {
      const f = toFailure(e);
      if (TERMINAL_FAILURES.has(f.kind)) this.lose(f);
      throw f;
    }
  }

  private async ping(): Promise<void> {
    const s = this.sender;
    if (!s || this.closing) throw new TelegramFailure("network", "connection closed");
    // Telegram closes the connection by itself if the next ping does not come within disconnectDelay.
    const disconnectDelay = Math.ceil(this.pingIntervalMs / 1000) + 45;
    await this.race(s.send(new Api.PingDelayDisconnect({ pingId: randomLong(), disconnectDelay })));
  }

  private async checkState(): Promise<void> {
    try {
      const s = await this.call<Api.updates.State>(new Api.updates.GetState());
      this.engine.check({ pts: s.pts });
    } catch (e) {
      const f = toFailure(e);
      if (f.kind === "network" || f.kind === "timeout" || TERMINAL_FAILURES.has(f.kind)) throw f;
      this.log.debug("telegram getState failed", { kind: f.kind, reason: f.reason });
    }
  }

  /**
   * Liveness: updates.getState is cheap, needs a signed-in key, and is what a revoked, banned or moved
   * account fails first; the app config (hash-cached) says whether the account was frozen meanwhile.
   */
  async probe(): Promise<void> {
    await this.call<Api.updates.State>(new Api.updates.GetState());
    await this.checkFreeze();
  }

  // ── sending ─────────────────────────────────────────────────────────────────────────────────

  async sendText(peer: PeerInfo, text: string, idempotencyKey: string): Promise<SentMessage> {
    const rid = toLong(randomIdOf(idempotencyKey));
    const request = new Api.messages.SendMessage({ peer: inputPeer(peer), message: text, randomId: rid });
    const result = await this.engine.trackSend(peer.userId, this.call<Api.TypeUpdates>(request));
    return this.sentId(result, rid.toString());
  }

  async sendFile(peer: PeerInfo, file: OutgoingFile, caption: string, idempotencyKey: string): Promise<SentMessage> {
    const rid = toLong(randomIdOf(idempotencyKey));
    const asPhoto = sendsAsPhoto(file);
    const input = await uploadFile(this.transport, file);
    const send = (photo: boolean) =>
      this.engine.trackSend(
        peer.userId,
        this.call<Api.TypeUpdates>(new Api.messages.SendMedia({ peer: inputPeer(peer), media: uploadedMedia(file, input, photo), message: caption, randomId: rid })),
      );
    let result: Api.TypeUpdates;
    try {
      result = await send(asPhoto);
    } catch (e) {
      if (!(asPhoto && e instanceof TelegramFailure && PHOTO_REFUSALS.has(e.reason))) throw e;
      this.log.info("telegram refused a picture as photo; sending it as a document", { reason: e.reason });
      result = await send(false);
    }
    return this.sentId(result, rid.toString());
  }

  private sentId(result: Api.TypeUpdates, randomId: string): SentMessage {
    const id = this.engine.acceptOwnResult(result, randomId);
    if (id === null) throw new TelegramFailure("error", `NO_MESSAGE_ID in ${result.className}`);
    return { messageId: id };
  }

  // ── lookups ─────────────────────────────────────────────────────────────────────────────────

  async resolveUsername(username: string): Promise<PeerInfo | null> {
    const name = username.trim().replace(/^@/, "");
    if (!/^[A-Za-z0-9_]{4,32}$/.test(name)) return null;
    let res: Api.contacts.ResolvedPeer;
    try {
      res = await this.call<Api.contacts.ResolvedPeer>(new Api.contacts.ResolveUsername({ username: name }));
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
    if (!(res.peer instanceof Api.PeerUser)) return null;
    const id = res.peer.userId.toString();
    const user = res.users.find((u) => u.id.toString() === id);
    return this.remember(user ? peerFromUser(user) : null);
  }

  async resolvePhone(phone: string): Promise<PeerInfo | null> {
    const digits = phone.replace(/\D/g, "");
    if (digits.length < 5) return null;
    let res: Api.contacts.ImportedContacts;
    try {
      res = await this.call<Api.contacts.ImportedContacts>(
        new Api.contacts.ImportContacts({
          contacts: [new Api.InputPhoneContact({ clientId: randomLong(), phone: `+${digits}`, firstName: `+${digits}`, lastName: "" })],
        }),
      );
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
    const imported = res.imported[0];
    const user = imported ? res.users.find((u) => u.id.toString() === imported.userId.toString()) : res.users[0];
    return this.remember(user ? peerFromUser(user) : null);
  }

  /** users.getUsers for one peer; null when Telegram does not know it (for this account). */
  private async fetchUser(peer: PeerInfo): Promise<Api.TypeUser | null> {
    try {
      const users = await this.call<Api.TypeUser[]>(new Api.users.GetUsers({ id: [inputUser(peer)] }));
      return users[0] ?? null;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async getUser(peer: PeerInfo): Promise<PeerInfo | null> {
    const user = await this.fetchUser(peer);
    const info = user ? peerFromUser(user) : null;
    if (info && info.accessHash === null) info.accessHash = peer.accessHash;
    return this.remember(info);
  }

  /** Users we looked up are known from now on (their short updates need no getDifference). */
  private remember(p: PeerInfo | null): PeerInfo | null {
    if (p?.accessHash) this.peers.put(p);
    return p;
  }

  // ── files ───────────────────────────────────────────────────────────────────────────────────

  async downloadMedia(media: MediaRef, maxBytes: number): Promise<Uint8Array> {
    const h = media.handle;
    if (!isMediaHandle(h)) throw new TelegramFailure("error", "MEDIA_HANDLE_INVALID");
    if (media.size !== null && media.size > maxBytes) throw tooLarge(media.size, maxBytes);
    try {
      return await downloadLocation(this.transport, locationOf(h), h.dcId, media.size, maxBytes);
    } catch (e) {
      if (!isFileReferenceError(e)) throw e;
      const fresh = await this.refetchMedia(h);
      if (!fresh) throw new TelegramFailure("error", "MEDIA_GONE");
      return downloadLocation(this.transport, locationOf(fresh), fresh.dcId, media.size, maxBytes);
    }
  }

  /** The media handle of the same message again, with a fresh file reference. */
  private async refetchMedia(h: MediaHandle): Promise<MediaHandle | null> {
    const res = await this.call<Api.messages.TypeMessages>(new Api.messages.GetMessages({ id: [new Api.InputMessageID({ id: h.messageId })] }));
    if (res instanceof Api.messages.MessagesNotModified) return null;
    const msg = res.messages.find((m) => m.id === h.messageId);
    if (!(msg instanceof Api.Message)) return null;
    const ref = mediaRefOf(msg, h.peerUserId);
    return ref && isMediaHandle(ref.handle) ? ref.handle : null;
  }

  async downloadProfilePhoto(peer: PeerInfo): Promise<Uint8Array | null> {
    const user = await this.fetchUser(peer);
    if (!(user instanceof Api.User) || !(user.photo instanceof Api.UserProfilePhoto)) return null;
    const hash = user.min ? peer.accessHash : (longText(user.accessHash) ?? peer.accessHash);
    const location = new Api.InputPeerPhotoFileLocation({
      big: true,
      peer: inputPeer({ ...peer, accessHash: hash }),
      photoId: user.photo.photoId,
    });
    return downloadLocation(this.transport, location, user.photo.dcId, null, MAX_PROFILE_PHOTO_BYTES);
  }
}

// The loopback Telegram server: listens on 127.0.0.1, owns the world, routes updates to live
// connections, and exposes faults, metrics and the driver.
import { createServer, type Server, type Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { deflateSync } from "node:zlib";
import { crc32 } from "./transport.ts";
import { authKeyId } from "./crypto.ts";
import { Connection, type ConnectionHost } from "./connection.ts";
import { Driver } from "./driver.ts";
import { Faults } from "./faults.ts";
import type { FrozenInfo } from "./edges.ts";
import { makeServerRsaKey, type ServerRsaKey } from "./handshake.ts";
import { Logins, type LoginOptions } from "./login.ts";
import { Render } from "./render.ts";
import { MsgIdGenerator, serializeResult } from "./tl.ts";
import { SERVICE_USER_ID, World, type UserSpec, type WorldChat, type WorldSession, type WorldUser } from "./world.ts";

export interface ServerOptions extends LoginOptions {
  /** Fixed port; by default a free one in 20000–32000 is picked (GramJS cannot save ports > 32767). */
  port?: number;
  /** Users to create besides the built-ins. */
  users?: UserSpec[];
  /** updates.getDifference page size before it answers differenceSlice (default 100). */
  differenceLimit?: number;
  /** Create the built-in users and group (default true). */
  builtins?: boolean;
  /** How long a second initConnection on a live key waits for the first connection to close before it
   * counts as AUTH_KEY_DUPLICATED (covers a client that was just stopped; default 150 ms). */
  duplicateGraceMs?: number;
  /** The RSA key for key exchanges (TEST-ONLY). Default: one made for this process on first use;
   * `false` turns key exchange off (a zero auth key id gets -404, as before logins existed). */
  rsaKey?: ServerRsaKey | false;
  /** Accept obfuscated connections only with this MTProxy secret (32 hex digits or 16 bytes), as an
   * MTProxy in front of Telegram would; default: plain obfuscation (keys straight from the header). */
  obfuscationSecret?: string | Buffer;
  /** Answer each new MTProto session's first request (any request with a salt other than ours)
   * with bad_server_salt, as Telegram does when a client's salt is stale (default false). */
  enforceSalt?: boolean;
  /** The server clock runs this many seconds ahead of the machine's (negative: behind); clients whose
   * msg_ids fall outside Telegram's window get bad_msg_notification 16/17 (default 0). */
  clockSkewSeconds?: number;
  /** File references expire this long after they were handed out (default: never). */
  fileReferenceTtlMs?: number;
  /** updates.getDifference answers differenceTooLong beyond this many missed pts (default: never). */
  differenceTooLongGap?: number;
}

export interface Builtins {
  /** 777000 "Telegram", the service notifications account. */
  service: WorldUser;
  /** A generic bot (`bot: true`), username loopback_bot. */
  bot: WorldUser;
  /** A user named planfix_bot (an ordinary account with that username). */
  planfixBot: WorldUser;
  /** Alice and Bob: ordinary users with one session each; Alice has a profile photo. */
  alice: WorldUser;
  bob: WorldUser;
  /** A basic group with Alice, Bob and planfix_bot. */
  group: WorldChat;
}

export const LOOPBACK_HOST = "127.0.0.1";
const PORT_MIN = 20000;
const PORT_MAX = 32000;

/** A valid 2×2 PNG made on the spot: the built-in profile photo. */
export function tinyPng(rgb: [number, number, number] = [200, 60, 60]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(2, 0);
  ihdr.writeUInt32BE(2, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  const row = Buffer.from([0, ...rgb, ...rgb]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.concat([row, row]))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

export function newAuthKey(): { key: Buffer; keyId: bigint } {
  const key = randomBytes(256);
  return { key, keyId: authKeyId(key) };
}

/** StringSession text ("1" + base64(dc · addr len · addr · port · key)) that GramJS loads as is. */
export function stringSession(session: WorldSession, host: string, port: number): string {
  const addr = Buffer.from(host, "utf8");
  const head = Buffer.alloc(5 + addr.length);
  head.writeUInt8(session.dcId, 0);
  head.writeInt16BE(addr.length, 1);
  addr.copy(head, 3);
  head.writeInt16BE(port, 3 + addr.length);
  return "1" + Buffer.concat([head, session.key]).toString("base64");
}

export class TelegramServer implements ConnectionHost {
  readonly world: World;
  readonly render: Render;
  readonly faults = new Faults();
  readonly driver: Driver;
  readonly host = LOOPBACK_HOST;
  readonly msgIds = new MsgIdGenerator();
  readonly duplicateGraceMs: number;
  /** Method class name → number of calls that reached dispatch. */
  readonly calls = new Map<string, number>();
  /** Handler crashes (bugs in this server); tests can assert it stays empty. */
  readonly internalErrors: { method: string; error: unknown }[] = [];
  /** keyId → how many times that key was caught connected twice (AUTH_KEY_DUPLICATED). */
  readonly duplicates = new Map<bigint, number>();
  builtins?: Builtins;
  stalled = false;
  /** Transport name (full, abridged, intermediate, padded, obfuscated-abridged…) → connections. */
  readonly transportsSeen = new Map<string, number>();
  readonly obfuscationSecret?: Buffer;
  enforceSalt: boolean;
  readonly corrections = { badServerSalt: 0, badMsgTime: 0 };
  /** Layers of requests refused with CONNECTION_LAYER_INVALID (one entry per refused request). */
  readonly refusedLayers: number[] = [];
  /** Phone/QR/2FA logins and their settings (loginTokenPeriodMs, loginCodeTtlMs, minLoginLayer are live). */
  readonly logins: Logins;
  private _rsaKey?: ServerRsaKey | false;
  private _port = 0;
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly conns = new Set<Connection>();
  private readonly byKey = new Map<bigint, Set<Connection>>();
  private readonly byUser = new Map<number, Set<Connection>>();

  private constructor(opts: ServerOptions) {
    this.world = new World({ differenceLimit: opts.differenceLimit });
    this.render = new Render(this.world);
    this.world.render = this.render;
    this.world.onDeliver = (d) => {
      const conns = this.byUser.get(d.userId);
      if (!conns || conns.size === 0) return;
      const user = this.world.users.get(d.userId);
      if (!user || user.banned) return;
      let bytes: Buffer | undefined;
      for (const c of conns) {
        const s = c.session!;
        if (s.keyId === d.exceptKeyId || s.duplicated || s.revoked) continue;
        bytes ??= serializeResult(d.build());
        c.push(bytes);
      }
    };
    this.driver = new Driver(this);
    this.duplicateGraceMs = opts.duplicateGraceMs ?? 150;
    this.logins = new Logins(this, opts);
    this._rsaKey = opts.rsaKey;
    this.enforceSalt = opts.enforceSalt ?? false;
    this.clockSkewSeconds = opts.clockSkewSeconds ?? 0;
    if (opts.fileReferenceTtlMs !== undefined) this.world.edges.fileReferenceTtlMs = opts.fileReferenceTtlMs;
    if (opts.differenceTooLongGap !== undefined) this.world.edges.differenceTooLongGap = opts.differenceTooLongGap;
    if (opts.obfuscationSecret !== undefined) {
      this.obfuscationSecret = typeof opts.obfuscationSecret === "string" ? Buffer.from(opts.obfuscationSecret, "hex") : opts.obfuscationSecret;
    }
  }

  get clockSkewSeconds(): number {
    return this.msgIds.offsetSeconds;
  }

  /** Live: the server's msg_ids and its msg_id window move with it. */
  set clockSkewSeconds(s: number) {
    this.msgIds.offsetSeconds = s;
  }

  /** The key-exchange RSA key (made on first use), or undefined when key exchange is off. */
  get rsaKey(): ServerRsaKey | undefined {
    if (this._rsaKey === false) return undefined;
    this._rsaKey ??= processRsaKey();
    return this._rsaKey;
  }

  /** PEM of the RSA public key clients must trust (e.g. the appliance's TELEGRAM_SERVER_KEYS). */
  get rsaPublicKeyPem(): string | undefined {
    return this.rsaKey?.publicPem;
  }

  /** Starts a server with the built-ins and `opts.users`. */
  static async start(opts: ServerOptions = {}): Promise<TelegramServer> {
    const s = new TelegramServer(opts);
    if (opts.builtins !== false) s.builtins = s.createBuiltins();
    for (const spec of opts.users ?? []) s.addUser(spec);
    await s.listen(opts.port);
    return s;
  }

  get port(): number {
    return this._port;
  }

  private createBuiltins(): Builtins {
    const service = this.addUser({ id: SERVICE_USER_ID, firstName: "Telegram", phone: "42777", sessions: 0 });
    const bot = this.addUser({ firstName: "Loopback Bot", username: "loopback_bot", bot: true, sessions: 0 });
    const planfixBot = this.addUser({ firstName: "Planfix", lastName: "Bot", username: "planfix_bot" });
    const alice = this.addUser({ firstName: "Alice", lastName: "Example", username: "alice", photo: tinyPng() });
    const bob = this.addUser({ firstName: "Bob", lastName: "Example", username: "bob_example", phoneHidden: true });
    const group = this.world.addChat("Loopback group", [alice.id, bob.id, planfixBot.id]);
    return { service, bot, planfixBot, alice, bob, group };
  }

  // ---- world helpers ----------------------------------------------------------------------------

  addUser(spec: UserSpec): WorldUser {
    return this.world.addUser(spec, newAuthKey);
  }

  /** A new session (auth key) for a user, e.g. a second device. */
  addSession(userId: number, label?: string): WorldSession {
    return this.world.addSession(userId, newAuthKey(), label);
  }

  /** StringSession text for a session (or the user's first session). */
  sessionString(s: WorldSession | WorldUser | number): string {
    return stringSession(this.sessionOf(s), this.host, this._port);
  }

  sessionOf(s: WorldSession | WorldUser | number): WorldSession {
    if (typeof s === "number") s = this.world.user(s);
    if ("sessions" in s) {
      const first = s.sessions[0];
      if (!first) throw new Error(`user ${s.id} has no session`);
      return first;
    }
    return s;
  }

  // ---- faults -----------------------------------------------------------------------------------

  /** From now on every request (except help.getConfig) with this key gets a 401. */
  revokeSession(s: WorldSession | WorldUser | number, message: "AUTH_KEY_UNREGISTERED" | "SESSION_REVOKED" = "SESSION_REVOKED"): void {
    this.sessionOf(s).revoked = { code: 401, message };
  }

  /**
   * The user terminated this session from their phone (Settings → Devices): the key is no longer signed
   * in, its later calls get 401 AUTH_KEY_UNREGISTERED and it gets no more updates. Telegram announces
   * nothing: open connections stay open and nothing is pushed.
   */
  terminateSession(s: WorldSession | WorldUser | number): void {
    const session = this.sessionOf(s);
    const userId = session.userId;
    if (userId === 0) return;
    const list = this.world.user(userId).sessions;
    const i = list.indexOf(session);
    if (i >= 0) list.splice(i, 1);
    session.userId = 0;
    for (const c of this.byKey.get(session.keyId) ?? []) removeFrom(this.byUser, userId, c);
  }

  /** The account is frozen (Telegram's anti-spam): everything but a few reads gets 420
   * FROZEN_METHOD_INVALID, which is not a flood wait — no wait ever ends it. */
  freezeAccount(userId: number, info: Partial<FrozenInfo> = {}): void {
    const now = Math.floor(Date.now() / 1000);
    this.world.edges.frozen.set(userId, { since: now, until: now + 30 * 86400, appealUrl: "https://t.me/spambot", ...info });
  }

  unfreezeAccount(userId: number): void {
    this.world.edges.frozen.delete(userId);
  }

  /** Every call (but help.getConfig/getNearestDc) of the user's keys on this DC gets 303 USER_MIGRATE_<dc>:
   * the account moved; a key made on the new DC is not signed in there, so GramJS, which switches DC,
   * ends with an unauthorized key. `undefined` undoes it. */
  userMigrate(userId: number, dc: number | undefined): void {
    if (dc === undefined) this.world.edges.userMigrated.delete(userId);
    else this.world.edges.userMigrated.set(userId, dc);
  }

  /** USER_DEACTIVATED_BAN (401) on every session of the user. */
  banUser(userId: number): void {
    this.world.user(userId).banned = true;
  }

  unbanUser(userId: number): void {
    this.world.user(userId).banned = false;
  }

  /** Closes every TCP connection; GramJS clients reconnect by themselves. */
  dropAllConnections(): void {
    for (const c of [...this.conns]) c.close();
    for (const s of [...this.sockets]) s.destroy();
  }

  /** While stalled, TCP is accepted but nothing is answered (requests queue; pushes are dropped). */
  stall(on = true): void {
    this.stalled = on;
    if (!on) for (const c of this.conns) c.pump();
  }

  // ---- metrics ----------------------------------------------------------------------------------

  /** Live connections: all, of a user, or of one session (auth key). */
  liveConnections(of?: { userId?: number; session?: WorldSession }): number {
    if (of?.session) return this.byKey.get(of.session.keyId)?.size ?? 0;
    if (of?.userId !== undefined) return this.byUser.get(of.userId)?.size ?? 0;
    return this.conns.size;
  }

  metrics(): {
    sockets: number;
    connections: number;
    byUser: Record<number, number>;
    duplicatedKeys: number;
    duplicateEvents: number;
    calls: Record<string, number>;
  } {
    const byUser: Record<number, number> = {};
    for (const [id, set] of this.byUser) if (set.size) byUser[id] = set.size;
    let duplicateEvents = 0;
    for (const n of this.duplicates.values()) duplicateEvents += n;
    return {
      sockets: this.sockets.size,
      connections: this.conns.size,
      byUser,
      duplicatedKeys: this.duplicates.size,
      duplicateEvents,
      calls: Object.fromEntries(this.calls),
    };
  }

  duplicateCount(s: WorldSession | WorldUser | number): number {
    return this.duplicates.get(this.sessionOf(s).keyId) ?? 0;
  }

  // ---- ConnectionHost ---------------------------------------------------------------------------

  attach(conn: Connection): void {
    const s = conn.session!;
    addTo(this.byKey, s.keyId, conn);
    if (s.userId !== 0) addTo(this.byUser, s.userId, conn);
  }

  detach(conn: Connection): void {
    this.conns.delete(conn);
    const s = conn.session;
    if (!s) return;
    removeFrom(this.byKey, s.keyId, conn);
    removeFrom(this.byUser, s.userId, conn);
  }

  private otherInitialized(conn: Connection): Connection | undefined {
    for (const c of this.byKey.get(conn.session!.keyId) ?? []) {
      if (c !== conn && !c.closed && c.initialized && c.mtSessionId !== conn.mtSessionId) return c;
    }
    return undefined;
  }

  checkDuplicate(conn: Connection): "ok" | "suspect" {
    return this.otherInitialized(conn) ? "suspect" : "ok";
  }

  settleDuplicate(conn: Connection): void {
    if (conn.closed || !this.otherInitialized(conn)) return;
    const s = conn.session!;
    s.duplicated = true;
    this.duplicates.set(s.keyId, (this.duplicates.get(s.keyId) ?? 0) + 1);
  }

  registerAuthKey(key: Buffer): void {
    this.world.addAuthKey({ key, keyId: authKeyId(key) });
  }

  pushToKey(keyId: bigint, body: Buffer): void {
    for (const c of this.byKey.get(keyId) ?? []) c.push(body);
  }

  bindSession(session: WorldSession, userId: number): void {
    this.world.bindSession(session, userId);
    for (const c of this.byKey.get(session.keyId) ?? []) addTo(this.byUser, userId, c);
  }

  serviceUser(): WorldUser {
    return this.world.users.get(SERVICE_USER_ID) ?? this.addUser({ id: SERVICE_USER_ID, firstName: "Telegram", phone: "42777", sessions: 0 });
  }

  refusedLayer(layer: number): void {
    this.refusedLayers.push(layer);
  }

  sawTransport(name: string): void {
    this.transportsSeen.set(name, (this.transportsSeen.get(name) ?? 0) + 1);
  }

  countCall(method: string): void {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
  }

  internalError(method: string, error: unknown): void {
    this.internalErrors.push({ method, error });
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  private async listen(port?: number): Promise<void> {
    const server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      this.conns.add(new Connection(socket, this));
    });
    const tryListen = (p: number) =>
      new Promise<boolean>((resolve, reject) => {
        const onError = (e: NodeJS.ErrnoException) => {
          server.off("listening", onListening);
          if (e.code === "EADDRINUSE" && port === undefined) resolve(false);
          else reject(e);
        };
        const onListening = () => {
          server.off("error", onError);
          resolve(true);
        };
        server.once("error", onError);
        server.once("listening", onListening);
        server.listen(p, this.host);
      });
    if (port !== undefined) {
      await tryListen(port);
      this._port = port;
    } else {
      for (let attempt = 0; ; attempt++) {
        const p = PORT_MIN + Math.floor(Math.random() * (PORT_MAX - PORT_MIN));
        if (await tryListen(p)) {
          this._port = p;
          break;
        }
        if (attempt > 100) throw new Error("no free port in 20000-32000");
      }
    }
    this.server = server;
  }

  async stop(): Promise<void> {
    this.dropAllConnections();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

let sharedRsaKey: ServerRsaKey | undefined;
/** One RSA key per process: making one costs ~0.1 s and servers in one test process may share it. */
function processRsaKey(): ServerRsaKey {
  return (sharedRsaKey ??= makeServerRsaKey());
}

function addTo<K>(m: Map<K, Set<Connection>>, k: K, c: Connection): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(c);
}

function removeFrom<K>(m: Map<K, Set<Connection>>, k: K, c: Connection): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(c);
  if (s.size === 0) m.delete(k);
}

// Logging accounts in, as Telegram does it for a new auth key: phone code (auth.sendCode → a message
// from 777000 to the user's other sessions → auth.signIn), QR (auth.exportLoginToken, rotating tokens,
// accepted from another session → updateLoginToken → auth.exportLoginToken/importLoginToken again),
// and 2FA (SESSION_PASSWORD_NEEDED → account.getPassword → auth.checkPassword with SRP).
// Also the session list (account.getAuthorizations). Handlers throw RpcError like the others.
import { randomBytes, randomInt } from "node:crypto";
import { Api } from "telegram";
import { long, toBigint, type Render } from "./render.ts";
import { makePasswordRecord, newChallenge, srpBytes, TELEGRAM_G, TELEGRAM_PRIME_BYTES, verifyProof, type PasswordRecord, type SrpChallenge } from "./srp.ts";
import { RpcError } from "./tl.ts";
import { digitsOnly, nowSeconds, SERVICE_USER_ID, type World, type WorldSession, type WorldUser } from "./world.ts";

export interface LoginOptions {
  /** How long a QR login token lives before exportLoginToken hands out a new one (Telegram: 30 s). */
  loginTokenPeriodMs?: number;
  /** How long a phone code stays valid (Telegram: a few minutes; default 5 min). */
  loginCodeTtlMs?: number;
  /** Clients whose invokeWithLayer layer is below this get 406 UPDATE_APP_TO_LOGIN on every login
   * method (Telegram refuses logins from outdated apps; a GramJS release is pinned to one layer). 0 = off. */
  minLoginLayer?: number;
}

/** What the login service needs from the server. */
export interface LoginHost {
  readonly world: World;
  readonly render: Render;
  /** Sends a server-initiated object to every live connection of one auth key. */
  pushToKey(keyId: bigint, body: Buffer): void;
  /** Signs a pending key in (and starts routing the user's updates to its connections). */
  bindSession(session: WorldSession, userId: number): void;
  /** Adds the service user 777000 if the world has none (a world without built-ins). */
  serviceUser(): WorldUser;
}

interface SentCode {
  phone: string;
  code: string;
  hash: string;
  keyId: bigint;
  sentAt: number;
  expiresAt: number;
  /** Set when resent or cancelled: the hash answers PHONE_CODE_EXPIRED from then on. */
  dead: boolean;
  /** How the code was delivered: "app" (message from 777000) or "sms" (no other session / resend). */
  via: "app" | "sms";
}

interface LoginToken {
  token: Buffer;
  expiresAt: number;
  acceptedBy?: number;
}

export interface AuthorizationInfo {
  current: boolean;
  hash: bigint;
  deviceModel: string;
  systemVersion: string;
  appVersion: string;
  apiId: number;
  ip: string;
  dateCreated: number;
  dateActive: number;
}

export interface LoginContext {
  session: WorldSession;
  /** The client's layer on this connection (for UPDATE_APP_TO_LOGIN). */
  layer?: number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type LoginHandler = (svc: Logins, ctx: LoginContext, req: any) => unknown;

const phoneValid = (digits: string): boolean => /^[1-9]\d{4,14}$/.test(digits);

export class Logins {
  loginTokenPeriodMs: number;
  loginCodeTtlMs: number;
  minLoginLayer: number;
  private readonly codes = new Map<string, SentCode>();
  private readonly lastCodeByPhone = new Map<string, SentCode>();
  private readonly passwords = new Map<number, PasswordRecord>();
  private readonly challenges = new Map<number, SrpChallenge>();
  /** keyId → the user whose password the key must still prove (after SESSION_PASSWORD_NEEDED). */
  private readonly passwordPending = new Map<bigint, number>();
  private readonly tokens = new Map<bigint, LoginToken>();
  /** Rotated-out tokens (hex), so accepting one says AUTH_TOKEN_EXPIRED rather than INVALID. */
  private readonly expiredTokens = new Set<string>();

  constructor(
    private readonly host: LoginHost,
    opts: LoginOptions = {},
  ) {
    this.loginTokenPeriodMs = opts.loginTokenPeriodMs ?? 30_000;
    this.loginCodeTtlMs = opts.loginCodeTtlMs ?? 300_000;
    this.minLoginLayer = opts.minLoginLayer ?? 0;
  }

  // ---- driver side ------------------------------------------------------------------------------

  setPassword(userId: number, password: string, hint = ""): void {
    this.host.world.user(userId);
    this.passwords.set(userId, makePasswordRecord(password, hint));
    this.challenges.delete(userId);
  }

  clearPassword(userId: number): void {
    this.passwords.delete(userId);
    this.challenges.delete(userId);
  }

  hasPassword(userId: number): boolean {
    return this.passwords.has(userId);
  }

  /** The last code sent to a phone number (any format), or undefined. */
  lastCode(phone: string): { code: string; phone: string; via: "app" | "sms"; sentAt: number; expiresAt: number } | undefined {
    const c = this.lastCodeByPhone.get(digitsOnly(phone));
    return c && { code: c.code, phone: c.phone, via: c.via, sentAt: c.sentAt, expiresAt: c.expiresAt };
  }

  /** The user scans a QR token from another device (auth.acceptLoginToken): the waiting key is told. */
  acceptLoginToken(userId: number, token: Uint8Array): AuthorizationInfo {
    const user = this.host.world.user(userId);
    if (user.banned) throw new RpcError(401, "USER_DEACTIVATED_BAN");
    for (const [keyId, t] of this.tokens) {
      if (!t.token.equals(Buffer.from(token))) continue;
      if (t.expiresAt <= Date.now()) throw new RpcError(400, "AUTH_TOKEN_EXPIRED");
      if (t.acceptedBy !== undefined) throw new RpcError(400, "AUTH_TOKEN_ALREADY_ACCEPTED");
      t.acceptedBy = userId;
      const session = this.host.world.sessionsByKeyId.get(keyId)!;
      const update = new Api.UpdateShort({ update: new Api.UpdateLoginToken(), date: nowSeconds() });
      this.host.pushToKey(keyId, update.getBytes());
      return this.info(session, false);
    }
    if (this.expiredTokens.has(Buffer.from(token).toString("hex"))) throw new RpcError(400, "AUTH_TOKEN_EXPIRED");
    throw new RpcError(400, "AUTH_TOKEN_INVALID");
  }

  /** Every signed-in key of the user, as account.getAuthorizations lists them. */
  authorizations(userId: number, currentKeyId?: bigint): AuthorizationInfo[] {
    return this.host.world.user(userId).sessions.map((s) => this.info(s, s.keyId === currentKeyId));
  }

  private info(s: WorldSession, current: boolean): AuthorizationInfo {
    return {
      current,
      hash: current ? 0n : s.keyId,
      deviceModel: s.device?.deviceModel ?? s.label ?? "",
      systemVersion: s.device?.systemVersion ?? "",
      appVersion: s.device?.appVersion ?? "",
      apiId: s.device?.apiId ?? 0,
      ip: s.device?.ip ?? "",
      dateCreated: s.createdAt,
      dateActive: s.activeAt,
    };
  }

  // ---- RPC side ---------------------------------------------------------------------------------

  private checkLayer(ctx: LoginContext): void {
    if (this.minLoginLayer > 0 && (ctx.layer ?? ctx.session.layer ?? 0) < this.minLoginLayer) throw new RpcError(406, "UPDATE_APP_TO_LOGIN");
  }

  private userForPhone(phone: string): { digits: string; user?: WorldUser } {
    const digits = digitsOnly(phone);
    if (!phoneValid(digits) || /[^\d\s+()-]/.test(phone)) throw new RpcError(400, "PHONE_NUMBER_INVALID");
    const user = this.host.world.userByPhone(digits);
    if (user?.banned) throw new RpcError(400, "PHONE_NUMBER_BANNED");
    if (user?.bot) throw new RpcError(400, "PHONE_NUMBER_INVALID");
    return { digits, user };
  }

  private sendCodeTo(ctx: LoginContext, digits: string, user: WorldUser | undefined, hash: string, forceSms: boolean): Api.auth.SentCode {
    const code = String(randomInt(0, 100000)).padStart(5, "0");
    // In-app delivery needs another signed-in session to show the message on; otherwise "SMS".
    const via = !forceSms && user && user.sessions.length > 0 ? "app" : "sms";
    const now = Date.now();
    if (this.codes.size > 1000) for (const [h, c] of this.codes) if (c.dead || c.expiresAt <= now) this.codes.delete(h);
    const sent: SentCode = { phone: digits, code, hash, keyId: ctx.session.keyId, sentAt: now, expiresAt: now + this.loginCodeTtlMs, dead: false, via };
    this.codes.set(hash, sent);
    this.lastCodeByPhone.set(digits, sent);
    // "SMS" codes go to the phone, outside Telegram: only the driver (lastCode) sees them.
    if (user && via === "app") {
      this.host.serviceUser();
      this.host.world.sendMessage(
        SERVICE_USER_ID,
        { kind: "user", id: user.id },
        {
          text: `Login code: ${code}. Do not give this code to anyone, even if they say they are from Telegram!`,
        },
      );
    }
    const length = code.length;
    return new Api.auth.SentCode({
      type: via === "app" ? new Api.auth.SentCodeTypeApp({ length }) : new Api.auth.SentCodeTypeSms({ length }),
      phoneCodeHash: hash,
      nextType: via === "app" ? new Api.auth.CodeTypeSms() : undefined,
      timeout: 60,
    });
  }

  /** The live code for (phone, hash) made on this key, or the error Telegram gives. */
  private codeFor(ctx: LoginContext, phone: string, hash: string): SentCode {
    if (!hash) throw new RpcError(400, "PHONE_CODE_HASH_EMPTY");
    const sent = this.codes.get(hash);
    if (!sent || sent.keyId !== ctx.session.keyId || sent.phone !== digitsOnly(phone)) throw new RpcError(400, "PHONE_CODE_EXPIRED");
    if (sent.dead || sent.expiresAt <= Date.now()) throw new RpcError(400, "PHONE_CODE_EXPIRED");
    return sent;
  }

  /** The key is now the user's: bind it, or ask for the password first. */
  private complete(ctx: LoginContext, userId: number): Api.auth.Authorization {
    if (this.passwords.has(userId)) {
      this.passwordPending.set(ctx.session.keyId, userId);
      throw new RpcError(401, "SESSION_PASSWORD_NEEDED");
    }
    return this.finish(ctx, userId);
  }

  private finish(ctx: LoginContext, userId: number): Api.auth.Authorization {
    if (ctx.session.userId !== 0) throw new RpcError(400, "SESSION_ALREADY_AUTHORIZED");
    this.passwordPending.delete(ctx.session.keyId);
    this.tokens.delete(ctx.session.keyId);
    this.host.bindSession(ctx.session, userId);
    // Telegram tells every device of the account about the new one, from 777000.
    const d = ctx.session.device;
    this.host.serviceUser();
    this.host.world.sendMessage(
      SERVICE_USER_ID,
      { kind: "user", id: userId },
      {
        text: `New login. We detected a login into your account from a new device: ${d?.deviceModel ?? "unknown device"}, ${d?.appVersion ?? ""}, IP ${d?.ip ?? ""}.`,
      },
    );
    return new Api.auth.Authorization({ user: this.host.render.user(userId, this.host.world.user(userId)) });
  }

  private passwordInfo(userId: number | undefined): Api.account.Password {
    const newAlgo = new Api.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow({
      salt1: randomBytes(8),
      salt2: randomBytes(16),
      g: TELEGRAM_G,
      p: TELEGRAM_PRIME_BYTES,
    });
    const base = {
      newAlgo,
      newSecureAlgo: new Api.SecurePasswordKdfAlgoSHA512({ salt: randomBytes(8) }),
      secureRandom: randomBytes(32),
    };
    const rec = userId === undefined ? undefined : this.passwords.get(userId);
    if (userId === undefined || !rec) return new Api.account.Password({ ...base, hasPassword: false });
    const ch = newChallenge(rec);
    this.challenges.set(userId, ch);
    return new Api.account.Password({
      ...base,
      hasPassword: true,
      currentAlgo: new Api.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow({
        salt1: rec.salt1,
        salt2: rec.salt2,
        g: TELEGRAM_G,
        p: TELEGRAM_PRIME_BYTES,
      }),
      srp_B: srpBytes(ch.B, 256),
      srpId: long(ch.srpId),
      hint: rec.hint || undefined,
    });
  }

  private exportOrImport(ctx: LoginContext, t: LoginToken | undefined): Api.auth.LoginTokenSuccess | undefined {
    if (t?.acceptedBy === undefined) return undefined;
    return new Api.auth.LoginTokenSuccess({ authorization: this.complete(ctx, t.acceptedBy) });
  }

  static readonly handlers: Record<string, LoginHandler> = {
    "auth.SendCode": (svc, ctx, req: Api.auth.SendCode) => {
      svc.checkLayer(ctx);
      const { digits, user } = svc.userForPhone(req.phoneNumber);
      return svc.sendCodeTo(ctx, digits, user, randomBytes(9).toString("hex"), false);
    },

    "auth.ResendCode": (svc, ctx, req: Api.auth.ResendCode) => {
      svc.checkLayer(ctx);
      const old = svc.codeFor(ctx, req.phoneNumber, req.phoneCodeHash);
      old.dead = true;
      const { digits, user } = svc.userForPhone(req.phoneNumber);
      // Same hash, a new code by "SMS"; the old code stops working.
      return svc.sendCodeTo(ctx, digits, user, old.hash, true);
    },

    "auth.CancelCode": (svc, ctx, req: Api.auth.CancelCode) => {
      svc.codeFor(ctx, req.phoneNumber, req.phoneCodeHash).dead = true;
      return true;
    },

    "auth.SignIn": (svc, ctx, req: Api.auth.SignIn) => {
      svc.checkLayer(ctx);
      const { user } = svc.userForPhone(req.phoneNumber);
      const sent = svc.codeFor(ctx, req.phoneNumber, req.phoneCodeHash);
      if (!req.phoneCode) throw new RpcError(400, "PHONE_CODE_EMPTY");
      if (req.phoneCode !== sent.code) throw new RpcError(400, "PHONE_CODE_INVALID");
      sent.dead = true;
      if (!user) return new Api.auth.AuthorizationSignUpRequired({});
      return svc.complete(ctx, user.id);
    },

    "account.GetPassword": (svc, ctx) => svc.passwordInfo(ctx.session.userId || svc.passwordPending.get(ctx.session.keyId)),

    "auth.CheckPassword": (svc, ctx, req: Api.auth.CheckPassword) => {
      const userId = svc.passwordPending.get(ctx.session.keyId);
      if (userId === undefined) throw new RpcError(400, "PASSWORD_HASH_INVALID");
      const rec = svc.passwords.get(userId);
      const ch = svc.challenges.get(userId);
      const check = req.password;
      if (!rec) return svc.finish(ctx, userId); // the password was removed meanwhile
      if (!(check instanceof Api.InputCheckPasswordSRP) || !ch) throw new RpcError(400, "PASSWORD_HASH_INVALID");
      if (toBigint(check.srpId) !== ch.srpId) throw new RpcError(400, "SRP_ID_INVALID");
      // One proof per challenge, as Telegram: the next try needs a fresh account.getPassword.
      svc.challenges.delete(userId);
      if (!verifyProof(rec, ch, check.A, check.M1)) throw new RpcError(400, "PASSWORD_HASH_INVALID");
      return svc.finish(ctx, userId);
    },

    "auth.ExportLoginToken": (svc, ctx) => {
      svc.checkLayer(ctx);
      const current = svc.tokens.get(ctx.session.keyId);
      const done = svc.exportOrImport(ctx, current);
      if (done) return done;
      let t = current;
      if (!t || t.expiresAt <= Date.now()) {
        if (t) {
          if (svc.expiredTokens.size > 10_000) svc.expiredTokens.clear();
          svc.expiredTokens.add(t.token.toString("hex"));
        }
        t = { token: randomBytes(32), expiresAt: Date.now() + svc.loginTokenPeriodMs };
        svc.tokens.set(ctx.session.keyId, t);
      }
      return new Api.auth.LoginToken({ expires: Math.ceil(t.expiresAt / 1000), token: t.token });
    },

    "auth.ImportLoginToken": (svc, ctx, req: Api.auth.ImportLoginToken) => {
      svc.checkLayer(ctx);
      const t = svc.tokens.get(ctx.session.keyId);
      if (!t || !t.token.equals(Buffer.from(req.token))) throw new RpcError(400, "AUTH_TOKEN_INVALID");
      const done = svc.exportOrImport(ctx, t);
      if (done) return done;
      if (t.expiresAt <= Date.now()) throw new RpcError(400, "AUTH_TOKEN_EXPIRED");
      return new Api.auth.LoginToken({ expires: Math.ceil(t.expiresAt / 1000), token: t.token });
    },

    "auth.AcceptLoginToken": (svc, ctx, req: Api.auth.AcceptLoginToken) => {
      if (!ctx.session.userId) throw new RpcError(401, "AUTH_KEY_UNREGISTERED");
      return toApiAuthorization(svc.acceptLoginToken(ctx.session.userId, req.token));
    },

    "account.GetAuthorizations": (svc, ctx) => {
      if (!ctx.session.userId) throw new RpcError(401, "AUTH_KEY_UNREGISTERED");
      return new Api.account.Authorizations({
        authorizationTtlDays: 180,
        authorizations: svc.authorizations(ctx.session.userId, ctx.session.keyId).map(toApiAuthorization),
      });
    },
  };
}

/** Login methods a key may call before it is signed in (the rest get 401 AUTH_KEY_UNREGISTERED). */
export const LOGIN_FREE = new Set([
  "auth.SendCode",
  "auth.ResendCode",
  "auth.CancelCode",
  "auth.SignIn",
  "account.GetPassword",
  "auth.CheckPassword",
  "auth.ExportLoginToken",
  "auth.ImportLoginToken",
]);

export function toApiAuthorization(a: AuthorizationInfo): Api.Authorization {
  return new Api.Authorization({
    current: a.current || undefined,
    hash: long(a.hash),
    deviceModel: a.deviceModel,
    platform: a.systemVersion,
    systemVersion: a.systemVersion,
    apiId: a.apiId,
    appName: a.apiId ? `app ${a.apiId}` : "loopback",
    appVersion: a.appVersion,
    dateCreated: a.dateCreated,
    dateActive: a.dateActive,
    ip: a.ip,
    country: "Loopback",
    region: "",
  });
}

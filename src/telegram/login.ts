// The GramJS implementation of the login port: one TelegramClient, kept alive across the steps (the
// phone code hash and a QR token are bound to its key), ends with a StringSession. Errors Telegram gives
// become LoginFailures with a readable reason; codes and passwords are never logged.
import { Api, TelegramClient } from "telegram";
import { Raw } from "telegram/events/Raw";
import { computeCheck } from "telegram/Password";
import { StringSession } from "telegram/sessions";
import { LoginFailure, type LoginConnector, type LoginFlow, type LoginStart, type LoginStep } from "../domain/login-port.ts";
import { errorText, type Logger } from "../log.ts";
import type { DeviceInfo } from "./device.ts";
import { endpointConnection, parseTelegramEndpoint } from "./endpoint.ts";
import { rpcName } from "./errors.ts";
import { gramjsProxy, proxyFailure } from "./proxy.ts";
import { effectiveProxy, type ProxySpec } from "../domain/proxy.ts";
import { internals } from "./gram.ts";
import { RoutedGramLogger } from "./gramlog.ts";
import { shutdownClient } from "./shutdown.ts";

export interface GramjsLoginOptions {
  apiId: number;
  apiHash: string;
  endpoint: string | null;
  /** TELEGRAM_PROXY: logins connect through it as the numbers do; null: straight to Telegram. */
  proxy?: ProxySpec | null;
  device: DeviceInfo;
  log: Logger;
  /** How long connecting may take (default 15 s). */
  connectTimeoutMs?: number;
}

/** Telegram's error names in words an operator can act on; `retry`: the same step may be tried again. */
export function loginFailure(e: unknown): LoginFailure {
  if (e instanceof LoginFailure) return e;
  const name = rpcName(e);
  if (!name) return new LoginFailure("NETWORK", `cannot reach Telegram: ${errorText(e)}`, false);
  const flood = /^FLOOD_WAIT_(\d+)$/.exec(name);
  if (flood) return new LoginFailure("FLOOD_WAIT", `Telegram asks to wait ${flood[1]} seconds before the next login attempt (too many attempts); try again later`, false);
  const known: Record<string, [string, boolean]> = {
    PHONE_NUMBER_INVALID: ["Telegram does not accept this phone number: give it in international format with the country code, e.g. +380955821319", false],
    PHONE_NUMBER_BANNED: ["Telegram has banned this phone number: it cannot log in", false],
    PHONE_NUMBER_FLOOD: ["Telegram refuses codes for this number for now (too many requests); try again later", false],
    PHONE_CODE_INVALID: ["the code is wrong: type the code Telegram sent again", true],
    PHONE_CODE_EMPTY: ["the code is empty: type the code Telegram sent", true],
    PHONE_CODE_EXPIRED: ["the code has expired: start the login again to get a new code", false],
    PASSWORD_HASH_INVALID: ["the two-step verification password is wrong: try again", true],
    UPDATE_APP_TO_LOGIN: [
      "Telegram refuses new logins from this version of the Telegram library (it is too old): update planfix-telegram to log in. Numbers already running are not affected",
      false,
    ],
    AUTH_TOKEN_EXPIRED: ["the QR code expired before it was scanned: start the login again", false],
  };
  const k = known[name];
  if (k) return new LoginFailure(name, k[0], k[1]);
  return new LoginFailure(name, `Telegram refused the login: ${name}`, false);
}

export function createGramjsLogin(opts: GramjsLoginOptions): LoginConnector {
  return { start: (s) => GramjsLogin.open(s, opts) };
}

const tokenLink = (token: Buffer) => `tg://login?token=${token.toString("base64url")}`;

class GramjsLogin implements LoginFlow {
  step: LoginStep = { kind: "failed", code: "STARTING", reason: "starting" };
  private readonly listeners: ((s: LoginStep) => void)[] = [];
  private phoneCodeHash = "";
  private rotation: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private busy: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly client: TelegramClient,
    private readonly phone: string,
    private readonly opts: GramjsLoginOptions,
  ) {}

  static async open(s: LoginStart, opts: GramjsLoginOptions): Promise<GramjsLogin> {
    const session = new StringSession("");
    const proxy = effectiveProxy(s.proxy ?? null, opts.proxy ?? null);
    const endpoint = parseTelegramEndpoint(opts.endpoint);
    // A private/test endpoint is one DC: start there (GramJS would start in DC 4 and need migrations).
    if (endpoint) session.setDC(2, endpoint.host, endpoint.port);
    const client = new TelegramClient(session, opts.apiId, opts.apiHash, {
      ...(opts.endpoint ? { connection: endpointConnection(opts.endpoint) } : {}),
      ...(proxy ? { proxy: gramjsProxy(proxy, opts.connectTimeoutMs ?? 15_000) } : {}),
      // A new key: a key exchange can fail now and then and is simply retried.
      connectionRetries: 3,
      retryDelay: 200,
      requestRetries: 2,
      floodSleepThreshold: 0,
      baseLogger: new RoutedGramLogger(opts.log),
      ...opts.device,
    });
    const flow = new GramjsLogin(client, s.phone, opts);
    try {
      const connected = await Promise.race([client.connect(), Bun.sleep(opts.connectTimeoutMs ?? 15_000).then(() => "timeout" as const)]);
      if (connected !== true)
        throw new LoginFailure("NETWORK", connected === "timeout" ? "cannot reach Telegram: no answer in time" : "cannot reach Telegram: the connection was refused", false);
      if (s.method === "code") await flow.sendCode();
      else {
        client.addEventHandler((u: unknown) => flow.onUpdate(u), new Raw({}));
        await flow.exportToken();
      }
      return flow;
    } catch (e) {
      await flow.cancel();
      const failure = loginFailure(e);
      if (proxy && failure.code === "NETWORK") {
        const why = await proxyFailure(proxy, e);
        if (why) throw new LoginFailure("NETWORK", `cannot reach Telegram: ${why.reason}`, false);
      }
      throw failure;
    }
  }

  onStep(listener: (step: LoginStep) => void): void {
    this.listeners.push(listener);
  }

  private set(step: LoginStep): LoginStep {
    this.step = step;
    if (step.kind === "done" || step.kind === "failed") void this.cancel();
    for (const l of this.listeners) l(step);
    return step;
  }

  private async sendCode(): Promise<void> {
    const sent = await this.client.invoke(
      new Api.auth.SendCode({ phoneNumber: this.phone, apiId: this.opts.apiId, apiHash: this.opts.apiHash, settings: new Api.CodeSettings({}) }),
    );
    if (sent instanceof Api.auth.SentCodeSuccess) return void (await this.authorized(sent.authorization));
    this.phoneCodeHash = sent.phoneCodeHash;
    const via = sent.type instanceof Api.auth.SentCodeTypeApp ? "app" : sent.type instanceof Api.auth.SentCodeTypeSms ? "sms" : "other";
    this.set({ kind: "waiting_code", via });
  }

  /** QR: export a token (or finish, once it was accepted); re-export when it expires. */
  private async exportToken(): Promise<void> {
    clearTimeout(this.rotation);
    if (this.closed) return;
    let r: Api.auth.TypeLoginToken;
    try {
      r = await this.client.invoke(new Api.auth.ExportLoginToken({ apiId: this.opts.apiId, apiHash: this.opts.apiHash, exceptIds: [] }));
    } catch (e) {
      if (rpcName(e) === "SESSION_PASSWORD_NEEDED") return void (await this.askPassword());
      throw e;
    }
    if (r instanceof Api.auth.LoginTokenMigrateTo) {
      await internals(this.client)._switchDC(r.dcId);
      r = await this.client.invoke(new Api.auth.ImportLoginToken({ token: r.token }));
    }
    if (r instanceof Api.auth.LoginTokenSuccess) return void (await this.authorized(r.authorization));
    if (r instanceof Api.auth.LoginToken) {
      const expiresAt = r.expires * 1000;
      if (this.step.kind !== "waiting_qr" || this.step.link !== tokenLink(r.token)) this.set({ kind: "waiting_qr", link: tokenLink(r.token), expiresAt });
      // A new token as soon as this one expires (Telegram rotates them every 30 s).
      this.rotation = setTimeout(() => this.background(() => this.exportToken()), Math.max(1000, expiresAt - Date.now() + 200));
    }
  }

  private onUpdate(u: unknown): void {
    const update = u instanceof Api.UpdateShort ? u.update : u;
    if (update instanceof Api.UpdateLoginToken && this.step.kind === "waiting_qr") this.background(() => this.exportToken());
  }

  /** Steps the messenger side takes (QR accepted, token rotated): failures end the flow. */
  private background(run: () => Promise<void>): void {
    this.busy = this.busy.then(run).catch((e) => {
      if (!this.closed) this.set({ kind: "failed", ...failedOf(loginFailure(e)) });
    });
  }

  private async askPassword(): Promise<void> {
    clearTimeout(this.rotation);
    const pw = await this.client.invoke(new Api.account.GetPassword());
    this.set({ kind: "waiting_password", hint: pw.hint ?? null });
  }

  private async authorized(a: Api.auth.TypeAuthorization): Promise<LoginStep> {
    if (a instanceof Api.auth.AuthorizationSignUpRequired) {
      throw new LoginFailure("SIGN_UP_REQUIRED", "this phone number has no Telegram account: sign it up in the Telegram app first", false);
    }
    const session = (this.client.session as StringSession).save();
    return this.set({ kind: "done", session, userId: a.user.id.toString() });
  }

  async submitCode(code: string): Promise<LoginStep> {
    if (this.step.kind !== "waiting_code") throw new LoginFailure("WRONG_STEP", `no code is expected now (the login is ${this.step.kind})`, false);
    try {
      const a = await this.client.invoke(new Api.auth.SignIn({ phoneNumber: this.phone, phoneCodeHash: this.phoneCodeHash, phoneCode: code.trim() }));
      return await this.authorized(a);
    } catch (e) {
      if (rpcName(e) === "SESSION_PASSWORD_NEEDED") {
        await this.askPassword().catch((x) => this.fail(x));
        return this.step;
      }
      return this.fail(e);
    }
  }

  async submitPassword(password: string): Promise<LoginStep> {
    if (this.step.kind !== "waiting_password") throw new LoginFailure("WRONG_STEP", `no password is expected now (the login is ${this.step.kind})`, false);
    try {
      const pw = await this.client.invoke(new Api.account.GetPassword());
      const a = await this.client.invoke(new Api.auth.CheckPassword({ password: await computeCheck(pw, password) }));
      return await this.authorized(a);
    } catch (e) {
      return this.fail(e);
    }
  }

  /** A refusal that allows another try keeps the step; any other ends the flow. Either way it is thrown. */
  private fail(e: unknown): never {
    const f = loginFailure(e);
    if (!f.retry && !this.closed) this.set({ kind: "failed", ...failedOf(f) });
    throw f;
  }

  async cancel(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.rotation);
    await shutdownClient(this.client, this.opts.log, new Error("login closed")).catch(() => {});
  }
}

const failedOf = (f: LoginFailure) => ({ code: f.code, reason: f.message });

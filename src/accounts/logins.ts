// Logins (issue #11): a client's number logged in from the appliance by QR or phone code (+ 2FA).
// A login lives in memory only (codes and passwords are never stored or logged); when it is done the
// session goes into the client's own folder (SESSIONS_DIR/<client>/<number>.session, 0600) and the
// number starts exactly as POST /client starts it. An unfinished login expires after 10 minutes.
import { randomBytes } from "node:crypto";
import { chmodSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import QRCode from "qrcode";
import { LoginFailure, type LoginConnector, type LoginFlow, type LoginMethod, type LoginStep } from "../domain/login-port.ts";
import type { Logger } from "../log.ts";
import { clientFolderProblem } from "../sessions/confine.ts";
import { ensureClientFolder } from "../sessions/folders.ts";
import type { ClientRepository } from "../domain/repositories.ts";
import type { StartInput } from "./input.ts";
import { BadInput, Conflict, NotFound, TooMany, Unavailable, UpstreamFailed, Unprocessable } from "../domain/errors.ts";
import type { Caller, ClientService, NumberView } from "./service.ts";

export const LOGIN_TTL_MS = 10 * 60_000;

export type LoginStartInput = Omit<StartInput, "name_session" | "path_session"> & { method: LoginMethod };

export interface LoginView {
  id: string;
  name: string;
  number: string;
  method: LoginMethod;
  state: "starting" | "waiting_qr" | "waiting_code" | "waiting_password" | "done" | "failed" | "expired" | "cancelled";
  qr_link?: string;
  qr_svg?: string;
  qr_expires_at?: string;
  code_via?: string;
  password_hint?: string | null;
  reason: string | null;
  error_code?: string;
  expires_at: string;
  /** With done: the session file written (relative to the sessions directory) and the number's state. */
  session_file?: string;
  number_state?: NumberView;
  /** With done, when the login created the client: its token, shown once. */
  token?: string;
}

interface Login {
  id: string;
  clientName: string;
  input: LoginStartInput;
  flow: LoginFlow | null;
  state: LoginView["state"];
  step: LoginStep | null;
  reason: string | null;
  errorCode?: string;
  expiresAt: number;
  timer: ReturnType<typeof setTimeout>;
  qrSvg?: { link: string; svg: string };
  sessionFile?: string;
  numberState?: NumberView;
  token?: string | null;
  attempts: number;
  finishing?: Promise<void>;
}

/** A sliding window: at most `max` events per `windowMs` per key. */
class RateLimit {
  private readonly hits = new Map<string, number[]>();
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}
  take(key: string): boolean {
    const now = Date.now();
    const list = (this.hits.get(key) ?? []).filter((t) => now - t < this.windowMs);
    if (list.length >= this.max) return (this.hits.set(key, list), false);
    list.push(now);
    this.hits.set(key, list);
    return true;
  }
}

export interface LoginLimits {
  /** Logins started per number per 10 minutes (default 5). */
  perNumber?: number;
  /** Logins started per client per 10 minutes (default 20). */
  perClient?: number;
  /** Codes + passwords tried per login (default 10). */
  attemptsPerLogin?: number;
}

export class LoginService {
  private readonly logins = new Map<string, Login>();
  private readonly perNumber: RateLimit;
  private readonly perClient: RateLimit;
  private readonly attemptsPerLogin: number;

  constructor(
    private readonly connector: LoginConnector,
    private readonly service: ClientService,
    private readonly store: ClientRepository,
    private readonly sessionsDir: string,
    private readonly log: Logger,
    limits: LoginLimits = {},
    /** What keeps logins from working (e.g. "TELEGRAM_API_ID is not set"), null when nothing. */
    private readonly unavailable: string | null = null,
    private readonly ttlMs = LOGIN_TTL_MS,
  ) {
    this.perNumber = new RateLimit(limits.perNumber ?? 5, 10 * 60_000);
    this.perClient = new RateLimit(limits.perClient ?? 20, 10 * 60_000);
    this.attemptsPerLogin = limits.attemptsPerLogin ?? 10;
  }

  async start(caller: Caller, input: LoginStartInput): Promise<LoginView> {
    if (this.unavailable) throw new Unavailable(`cannot log in: ${this.unavailable}`);
    if (caller.kind === "client" && input.name !== caller.client.name) throw new BadInput("name does not match the client of this token", "name");
    const problem = clientFolderProblem(input.name);
    if (problem) throw new BadInput(`name: ${problem}`, "name");
    const existing = await this.store.accountByNumber(input.number);
    const owner = await this.store.clientByName(input.name);
    if (existing && existing.clientId !== owner?.id) {
      throw caller.kind === "admin" ? new Conflict(`number ${input.number} belongs to another client`, "number") : new NotFound(`number ${input.number} not found`, "number");
    }
    for (const l of this.logins.values()) {
      if (l.input.number === input.number && isOpen(l.state))
        throw new Conflict(`a login for number ${input.number} is already under way (id ${l.id}); finish or cancel it first`, "number");
    }
    // The login connects as the number will: through its own proxy (given now, or set before), else TELEGRAM_PROXY.
    const proxy = await this.service.ownProxy(input.proxy !== undefined ? input.proxy : (existing?.proxy ?? null));
    if (!this.perNumber.take(input.number)) throw new TooMany(`too many logins for number ${input.number}: at most a few per 10 minutes; try again later`, "number");
    if (!this.perClient.take(input.name)) throw new TooMany(`too many logins for client "${input.name}": try again later`, "name");

    const id = randomBytes(12).toString("hex");
    const login: Login = {
      id,
      clientName: input.name,
      input,
      flow: null,
      state: "starting",
      step: null,
      reason: null,
      expiresAt: Date.now() + this.ttlMs,
      timer: setTimeout(() => void this.expire(id), this.ttlMs),
      attempts: 0,
    };
    this.logins.set(id, login);
    this.log.info("login started", { login: id, client: input.name, method: input.method });
    try {
      login.flow = await this.connector.start({ method: input.method, phone: input.number, proxy });
    } catch (e) {
      const f = e instanceof LoginFailure ? e : new LoginFailure("ERROR", String(e), false);
      this.settle(login, { kind: "failed", code: f.code, reason: f.message });
      this.log.info("login failed", { login: id, code: f.code });
      throw f.code === "FLOOD_WAIT" ? new TooMany(f.message, "number") : f.code === "NETWORK" ? new UpstreamFailed(f.message, "number") : new Unprocessable(f.message, "number");
    }
    login.flow.onStep((s) => this.settle(login, s));
    this.settle(login, login.flow.step);
    return this.view(caller, login);
  }

  async get(caller: Caller, id: string): Promise<LoginView> {
    const login = this.own(caller, id);
    if (login.finishing) await login.finishing;
    return this.view(caller, login);
  }

  async submitCode(caller: Caller, id: string, code: string): Promise<LoginView> {
    return this.submit(caller, id, (f) => f.submitCode(code));
  }

  async submitPassword(caller: Caller, id: string, password: string): Promise<LoginView> {
    return this.submit(caller, id, (f) => f.submitPassword(password));
  }

  async cancel(caller: Caller, id: string): Promise<LoginView> {
    const login = this.own(caller, id);
    if (isOpen(login.state)) {
      this.close(login, "cancelled", "cancelled");
      this.log.info("login cancelled", { login: id });
    }
    return this.view(caller, login);
  }

  /** Ends every open login (the appliance stops). */
  async stopAll(): Promise<void> {
    for (const l of this.logins.values()) if (isOpen(l.state)) this.close(l, "cancelled", "the appliance stopped");
  }

  private async submit(caller: Caller, id: string, run: (f: LoginFlow) => Promise<LoginStep>): Promise<LoginView> {
    const login = this.own(caller, id);
    if (!isOpen(login.state) || !login.flow) throw new Conflict(`the login is ${login.state}${login.reason ? `: ${login.reason}` : ""}`, "id");
    if (++login.attempts > this.attemptsPerLogin) {
      this.close(login, "failed", "too many wrong codes or passwords: start the login again");
      throw new TooMany("too many wrong codes or passwords: start the login again", "id");
    }
    try {
      this.settle(login, await run(login.flow));
    } catch (e) {
      if (!(e instanceof LoginFailure)) throw e;
      this.log.info("login step refused", { login: id, code: e.code });
      {
        const field = e.code.startsWith("PASSWORD") ? "password" : "code";
        throw e.code === "FLOOD_WAIT" ? new TooMany(e.message, field) : e.code === "WRONG_STEP" ? new Conflict(e.message, field) : new Unprocessable(e.message, field);
      }
    }
    if (login.finishing) await login.finishing;
    return this.view(caller, login);
  }

  private own(caller: Caller, id: string): Login {
    const login = this.logins.get(id);
    // Another client's login answers exactly like an unknown one.
    if (!login || (caller.kind === "client" && login.clientName !== caller.client.name)) throw new NotFound(`login ${id} not found`, "id");
    return login;
  }

  private settle(login: Login, step: LoginStep): void {
    if (!isOpen(login.state)) return;
    login.step = step;
    if (step.kind === "failed") {
      this.close(login, "failed", step.reason, step.code);
      return;
    }
    if (step.kind === "done") {
      login.state = "done";
      this.forgetLater(login);
      login.finishing = this.finish(login, step.session).catch((e) => {
        login.reason = `logged in, but the number could not be started: ${e instanceof Error ? e.message : String(e)}`;
        this.log.warn("login done, start failed", { login: login.id, reason: login.reason });
      });
      return;
    }
    login.state = step.kind;
  }

  /** Writes the session into the client's folder, then starts the number as POST /client (or PUT for a known one) would. */
  private async finish(login: Login, session: string): Promise<void> {
    const { name, number } = login.input;
    ensureClientFolder(this.sessionsDir, name);
    const rel = `${name}/${number}.session`;
    const path = join(this.sessionsDir, rel);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, session, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
    login.sessionFile = rel;
    this.log.info("login done: session written", { login: login.id, client: name, file: rel });
    const client = await this.store.clientByName(name);
    // The number starts under its own client's token (the admin may log in for any client).
    const as: Caller = client ? { kind: "client", client } : { kind: "admin" };
    const existing = await this.store.accountByNumber(number);
    const { method: _m, ...fields } = login.input;
    if (existing && client && existing.clientId === client.id) {
      login.numberState = await this.service.update(as, { ...fields, path_session: rel });
      return;
    }
    const r = await this.service.start(as, { ...fields, path_session: rel });
    login.numberState = r.view;
    login.token = r.token;
  }

  private close(login: Login, state: "failed" | "expired" | "cancelled", reason: string, code?: string): void {
    login.state = state;
    login.reason = reason;
    if (code) login.errorCode = code;
    this.forgetLater(login);
    void login.flow?.cancel();
  }

  /** A finished login is kept for GET a while (one TTL), then forgotten. */
  private forgetLater(login: Login): void {
    clearTimeout(login.timer);
    login.timer = setTimeout(() => this.logins.delete(login.id), this.ttlMs);
    login.timer.unref?.();
  }

  private async expire(id: string): Promise<void> {
    const login = this.logins.get(id);
    if (login && isOpen(login.state)) this.close(login, "expired", "the login was not finished within 10 minutes: start it again");
  }

  private async qrSvg(login: Login, link: string): Promise<string> {
    if (login.qrSvg?.link !== link) login.qrSvg = { link, svg: await QRCode.toString(link, { type: "svg", margin: 2 }) };
    return login.qrSvg.svg;
  }

  private async view(caller: Caller, login: Login): Promise<LoginView> {
    const s = login.step;
    const v: LoginView = {
      id: login.id,
      name: login.clientName,
      number: login.input.number,
      method: login.input.method,
      state: login.state,
      reason: login.reason,
      expires_at: new Date(login.expiresAt).toISOString(),
    };
    if (login.errorCode) v.error_code = login.errorCode;
    if (login.state === "waiting_qr" && s?.kind === "waiting_qr") {
      v.qr_link = s.link;
      v.qr_svg = await this.qrSvg(login, s.link);
      v.qr_expires_at = new Date(s.expiresAt).toISOString();
    }
    if (login.state === "waiting_code" && s?.kind === "waiting_code") v.code_via = s.via;
    if (login.state === "waiting_password" && s?.kind === "waiting_password") v.password_hint = s.hint;
    if (login.sessionFile) v.session_file = login.sessionFile;
    if (login.numberState) v.number_state = login.numberState;
    // The new client's token goes to whoever sees the finished login first, once.
    if (login.token && (caller.kind === "admin" || caller.client.name === login.clientName)) {
      v.token = login.token;
      login.token = null;
    }
    return v;
  }
}

const isOpen = (s: LoginView["state"]) => s === "starting" || s === "waiting_qr" || s === "waiting_code" || s === "waiting_password";

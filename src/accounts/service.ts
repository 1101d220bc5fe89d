// The management operations of spec §1 (start, status, stop, update a number), free of HTTP.
// Every method checks the caller's token first and answers another client's number exactly as an
// unknown one, so a token reveals nothing about numbers it does not own.
import { hashToken, newToken, sameSecret } from "../auth/tokens.ts";
import type { Logger } from "../log.ts";
import { locateSessionFile, SessionFileError } from "../sessions/locate.ts";
import { readSessionFile, type SessionFile } from "../sessions/read.ts";
import type { Account, Client, ClientStore } from "../store/clients.ts";
import type { StartInput, UpdateInput } from "./input.ts";
import type { AccountPool } from "./pool.ts";
import { statSync } from "node:fs";
import { join } from "node:path";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export type Caller = { kind: "admin" } | { kind: "client"; client: Client };

export interface NumberView {
  name: string;
  number: string;
  status: "online" | "offline";
  state: string;
  reason: string | null;
  since: string;
  flood_until: string | null;
  telegram_user_id: string | null;
  planfix_error: string | null;
  /** The number's own language for texts written into Planfix; null: the appliance's LANGUAGE. */
  language: string | null;
}

export interface ServiceSettings {
  sessionsDir: string;
  apiId: number | null;
  apiHash: string | null;
  startTimeoutMs: number;
  adminToken: string;
}

export class ClientService {
  constructor(
    private readonly store: ClientStore,
    private readonly pool: AccountPool,
    private readonly settings: ServiceSettings,
    private readonly log: Logger,
  ) {}

  authenticate(token: string | null): Caller {
    if (!token) throw new ApiError(401, "missing token: send 'Authorization: Bearer <token>' or a 'token' header");
    if (sameSecret(token, this.settings.adminToken)) return { kind: "admin" };
    const client = this.store.clientByTokenHash(hashToken(token));
    if (!client) throw new ApiError(401, "invalid token");
    return { kind: "client", client };
  }

  view(account: Account): NumberView {
    const fresh = this.store.accountById(account.id) ?? account;
    const client = this.store.clientById(fresh.clientId);
    return {
      name: client?.name ?? "",
      number: fresh.number,
      status: fresh.state === "online" ? "online" : "offline",
      state: fresh.state,
      reason: fresh.stateReason,
      since: new Date(fresh.stateSince).toISOString(),
      flood_until: fresh.floodUntil ? new Date(fresh.floodUntil).toISOString() : null,
      telegram_user_id: fresh.selfUserId,
      planfix_error: fresh.planfixError,
      language: fresh.language,
    };
  }

  /** The caller's own number; another client's number is "not found", exactly like an unknown one. */
  private ownAccount(caller: Caller, number: string, name?: string): Account {
    const account = caller.kind === "admin" ? this.store.accountByNumber(number) : this.store.accountOfClient(caller.client.id, number);
    if (!account) throw new ApiError(404, `number ${number} not found`, "number");
    if (name !== undefined && caller.kind === "client" && name !== caller.client.name) {
      throw new ApiError(400, "name does not match the client of this token", "name");
    }
    return account;
  }

  private requireTelegramSettings(): void {
    const missing = [!this.settings.apiId && "TELEGRAM_API_ID", !this.settings.apiHash && "TELEGRAM_API_HASH"].filter(Boolean);
    if (missing.length) throw new ApiError(503, `cannot start numbers: ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not set on the appliance`);
  }

  /** Resolves and reads the session file; errors name the field and the file, never its content. */
  private sessionPath(pathSession: string | undefined, nameSession: string | undefined, exceptAccountId: number | null): string {
    let rel: string;
    try {
      rel = locateSessionFile(this.settings.sessionsDir, pathSession, nameSession);
    } catch (e) {
      if (e instanceof SessionFileError) throw new ApiError(e.status, e.message, e.field);
      throw e;
    }
    const field = pathSession ? "path_session" : "name_session";
    let file: SessionFile;
    try {
      file = readSessionFile(join(this.settings.sessionsDir, rel));
    } catch (e) {
      throw new ApiError(422, `session file "${rel}" ${(e as Error).message}`, field);
    }
    // The same file under another name (a symlink, a hard link) is the same session.
    const identity = fileIdentity(join(this.settings.sessionsDir, rel));
    const other = this.store
      .allAccounts()
      .find((a) => a.id !== exceptAccountId && (a.sessionPath === rel || (identity !== null && fileIdentity(join(this.settings.sessionsDir, a.sessionPath)) === identity)));
    if (other) throw new ApiError(409, `session file "${rel}" is already used by another number; a session may run only once`, field);
    // A copy of a running number's session carries its key: starting it would only fail (one key, one connection).
    if (this.pool.keyHolder(file.session.authKey, exceptAccountId) !== null) {
      throw new ApiError(409, `session file "${rel}" holds the key of a session another number is running; a session may run only once`, field);
    }
    return rel;
  }

  async start(caller: Caller, input: StartInput): Promise<{ created: boolean; token: string | null; view: NumberView }> {
    this.requireTelegramSettings();
    let client: Client | undefined;
    if (caller.kind === "client") {
      if (input.name !== caller.client.name) throw new ApiError(400, "name does not match the client of this token", "name");
      client = caller.client;
    } else {
      client = this.store.clientByName(input.name);
      if (client) throw new ApiError(409, `client "${input.name}" exists already; add numbers with that client's token`, "name");
    }

    const existing = this.store.accountByNumber(input.number);
    if (existing && (!client || existing.clientId !== client.id)) throw new ApiError(409, `number ${input.number} belongs to another client`, "number");
    if (existing) {
      // Starting a number again is harmless: a running one stays as it is, a stopped one starts.
      if (this.pool.runner(existing.id)?.running) return { created: false, token: null, view: this.view(existing) };
      await this.pool.start(existing);
      await this.pool.waitDecided(existing.id, this.settings.startTimeoutMs);
      return { created: false, token: null, view: this.view(existing) };
    }

    const sessionPath = this.sessionPath(input.path_session, input.name_session, null);
    let token: string | null = null;
    if (!client) {
      token = newToken();
      client = this.store.createClient(input.name, hashToken(token));
      this.log.info("client created", { client: client.id, name: client.name });
    }
    const account = this.store.insertAccount({
      clientId: client.id,
      number: input.number,
      urlPlanfix: input.url_planfix,
      tokenPlanfix: input.token_planfix,
      providerId: input.provider_id ?? null,
      language: input.language ?? null,
      nameSession: input.name_session ?? null,
      sessionPath,
      wanted: "running",
    });
    await this.pool.start(account);
    await this.pool.waitDecided(account.id, this.settings.startTimeoutMs);
    return { created: true, token, view: this.view(account) };
  }

  status(caller: Caller, number: string, name?: string): NumberView {
    return this.view(this.ownAccount(caller, number, name));
  }

  list(caller: Caller): NumberView[] {
    const accounts = caller.kind === "admin" ? this.store.allAccounts() : this.store.accountsOfClient(caller.client.id);
    return accounts.map((a) => this.view(a));
  }

  async stop(caller: Caller, number: string, name?: string): Promise<NumberView> {
    const account = this.ownAccount(caller, number, name);
    await this.pool.stop(account);
    return this.view(account);
  }

  async update(caller: Caller, input: UpdateInput): Promise<NumberView> {
    const account = this.ownAccount(caller, input.number, input.name);
    this.requireTelegramSettings();
    const sessionChanged = input.path_session !== undefined || input.name_session !== undefined;
    const sessionPath = sessionChanged ? this.sessionPath(input.path_session, input.name_session ?? account.nameSession ?? undefined, account.id) : account.sessionPath;
    await this.pool.restart(account, () => {
      this.store.updateAccount(account.id, {
        urlPlanfix: input.url_planfix ?? account.urlPlanfix,
        tokenPlanfix: input.token_planfix ?? account.tokenPlanfix,
        providerId: input.provider_id ?? account.providerId,
        language: input.language ?? account.language,
        nameSession: input.name_session ?? account.nameSession,
        sessionPath,
        planfixError: null,
      });
      if (sessionPath !== account.sessionPath) this.store.resetTelegramIdentity(account.id);
    });
    await this.pool.waitDecided(account.id, this.settings.startTimeoutMs);
    return this.view(account);
  }

  adminOverview(): { name: string; created_at: string; numbers: NumberView[] }[] {
    return this.store.allClients().map((c) => ({
      name: c.name,
      created_at: new Date(c.createdAt).toISOString(),
      numbers: this.store.accountsOfClient(c.id).map((a) => this.view(a)),
    }));
  }
}

/** Device and inode of the file a path leads to (symlinks followed), or null when there is none. */
function fileIdentity(path: string): string | null {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

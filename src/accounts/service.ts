// The management operations of spec §1 (start, status, stop, update a number), free of HTTP.
// Every method checks the caller's token first and answers another client's number exactly as an
// unknown one, so a token reveals nothing about numbers it does not own.
import { hashToken, newToken, sameSecret } from "../auth/tokens.ts";
import { BadInput, Conflict, Forbidden, NotFound, Unauthorized, Unavailable, Unprocessable } from "../domain/errors.ts";
import type { Logger } from "../log.ts";
import type { QueueStatus } from "../bridge/queues.ts";
import { clientFolderProblem } from "../sessions/confine.ts";
import { deleteSessionFile, ensureClientFolder, removeClientFolderIfEmpty } from "../sessions/folders.ts";
import { locateSessionFile, SessionFileError } from "../sessions/locate.ts";
import type { ReadSession } from "../domain/telegram-port.ts";
import type { Account, Client } from "../domain/accounts.ts";
import { checkProxy, DIRECT, parseNumberProxy, redactProxy, type NumberProxy, type ProxyHostCheck } from "../domain/proxy.ts";
import type { ClientRepository } from "../domain/repositories.ts";
import type { StartInput, UpdateInput } from "./input.ts";
import type { AccountPool } from "./pool.ts";
import type { NumberView, Removed, RotatedToken } from "./views.ts";

export type { NumberView, Removed } from "./views.ts";
import { rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";

export type Caller = { kind: "admin" } | { kind: "client"; client: Client };

export interface ServiceSettings {
  sessionsDir: string;
  apiId: number | null;
  apiHash: string | null;
  startTimeoutMs: number;
  adminToken: string;
  /** Where media files are kept (DATA_DIR/files): removing a number deletes its media too. */
  filesDir?: string;
  /** Where a number's own proxy may point (the outbound address policy); unchecked when absent. */
  proxyHosts?: ProxyHostCheck;
}

export class ClientService {
  constructor(
    private readonly store: ClientRepository,
    private readonly pool: AccountPool,
    private readonly settings: ServiceSettings,
    private readonly log: Logger,
    private readonly queues?: { status(accountId: number): Promise<QueueStatus>; statusOfAll(): Promise<(accountId: number) => QueueStatus> },
  ) {}

  async authenticate(token: string | null): Promise<Caller> {
    if (!token) throw new Unauthorized("missing token: send 'Authorization: Bearer <token>' or a 'token' header");
    if (sameSecret(token, this.settings.adminToken)) return { kind: "admin" };
    const client = await this.store.clientByTokenHash(hashToken(token));
    if (!client) throw new Unauthorized("invalid token");
    return { kind: "client", client };
  }

  /** `listed`: the account was just read and its client and queues are known (a listing); otherwise both are read now. */
  async view(account: Account): Promise<NumberView> {
    const fresh = (await this.store.accountById(account.id)) ?? account;
    const clientName = (await this.store.clientById(fresh.clientId))?.name ?? "";
    const queues = this.queues && (await this.queues.status(fresh.id));
    return this.viewOf(fresh, clientName, queues);
  }

  /** A number as listed: the account was just read and its client and queues are known. */
  private viewOf(fresh: Account, clientName: string, queues: QueueStatus | undefined): NumberView {
    return {
      name: clientName,
      number: fresh.number,
      status: fresh.state === "online" ? "online" : "offline",
      state: fresh.state,
      reason: fresh.stateReason,
      since: new Date(fresh.stateSince).toISOString(),
      flood_until: fresh.floodUntil ? new Date(fresh.floodUntil).toISOString() : null,
      telegram_user_id: fresh.selfUserId,
      planfix_error: fresh.planfixError,
      ...(queues ? { queues } : {}),
      language: fresh.language,
      proxy: shownProxy(fresh.proxy),
    };
  }

  /** The caller's own number (admin: any), for the queue calls; another client's is "not found". */
  accountFor(caller: Caller, number: string, name?: string): Promise<Account> {
    return this.ownAccount(caller, number, name);
  }

  /** The caller's own number; another client's number is "not found", exactly like an unknown one. */
  private async ownAccount(caller: Caller, number: string, name?: string): Promise<Account> {
    const account = caller.kind === "admin" ? await this.store.accountByNumber(number) : await this.store.accountOfClient(caller.client.id, number);
    if (!account) throw new NotFound(`number ${number} not found`, "number");
    if (name !== undefined && caller.kind === "client" && name !== caller.client.name) {
      throw new BadInput("name does not match the client of this token", "name");
    }
    return account;
  }

  /**
   * A number's own proxy setting (as stored), checked against the outbound address policy: a refused
   * destination is a 422 naming `proxy`. A name that does not resolve now passes (the connect reports it).
   */
  async ownProxy(stored: string | null | undefined): Promise<NumberProxy> {
    const own = parseNumberProxy(stored);
    if (own === null || own === DIRECT || !this.settings.proxyHosts) return own;
    const checked = await checkProxy(own, this.settings.proxyHosts);
    if ("refused" in checked) throw new Unprocessable(checked.refused, "proxy");
    return "proxy" in checked ? checked.proxy : own;
  }

  private requireTelegramSettings(): void {
    const missing = [!this.settings.apiId && "TELEGRAM_API_ID", !this.settings.apiHash && "TELEGRAM_API_HASH"].filter(Boolean);
    if (missing.length) throw new Unavailable(`cannot start numbers: ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not set on the appliance`);
  }

  /** The folder a caller's session files must be in: its own for a client token, none (all) for the admin. */
  private folderOf(caller: Caller): string | null {
    if (caller.kind === "admin") return null;
    if (clientFolderProblem(caller.client.name) !== null) {
      // A client created before client folders, with a name no folder can have: only the admin adds its files.
      throw new Unprocessable("this client's name cannot name a sessions folder; the operator adds its numbers with the admin token", "path_session");
    }
    return caller.client.name;
  }

  /**
   * Resolves and reads the session file; errors name the field and the caller's own file, never its
   * content, another client's file or the folder layout. The file is read exactly as a start will read
   * it (confined to the client's folder when it lies there), so what registers also starts.
   */
  private async sessionPath(caller: Caller, clientName: string, pathSession: string | undefined, nameSession: string | undefined, exceptAccountId: number | null): Promise<string> {
    const field = pathSession ? "path_session" : "name_session";
    let rel: string;
    try {
      rel = locateSessionFile(this.settings.sessionsDir, pathSession, nameSession, this.folderOf(caller));
    } catch (e) {
      if (e instanceof SessionFileError) throw e.status === 400 ? new BadInput(e.message, e.field) : new Unprocessable(e.message, e.field);
      throw e;
    }
    let file: ReadSession;
    try {
      file = this.pool.readSession(rel, clientName);
    } catch (e) {
      throw new Unprocessable(`session file "${rel}" ${(e as Error).message}`, field);
    }
    // The same file under another name (a symlink, a hard link) is the same session.
    const identity = fileIdentity(join(this.settings.sessionsDir, rel));
    const other = (await this.store.allAccounts()).find(
      (a) => a.id !== exceptAccountId && (a.sessionPath === rel || (identity !== null && fileIdentity(join(this.settings.sessionsDir, a.sessionPath)) === identity)),
    );
    if (other) throw new Conflict(`session file "${rel}" is already used by another number; a session may run only once`, field);
    // A copy of a running number's session carries its key: starting it would only fail (one key, one connection).
    if (this.pool.keyHolder(file.handle, exceptAccountId) !== null) {
      throw new Conflict(`session file "${rel}" holds the key of a session another number is running; a session may run only once`, field);
    }
    return rel;
  }

  async start(caller: Caller, input: StartInput): Promise<{ created: boolean; token: string | null; view: NumberView }> {
    this.requireTelegramSettings();
    let client: Client | undefined;
    if (caller.kind === "client") {
      if (input.name !== caller.client.name) throw new BadInput("name does not match the client of this token", "name");
      client = caller.client;
    } else {
      client = await this.store.clientByName(input.name);
      if (client) throw new Conflict(`client "${input.name}" exists already; add numbers with that client's token`, "name");
      const problem = clientFolderProblem(input.name);
      if (problem) throw new BadInput(`name: ${problem}`, "name");
    }

    const existing = await this.store.accountByNumber(input.number);
    if (existing && client && existing.clientId === client.id) {
      // Starting a number again is harmless: a running one stays as it is, a stopped one starts.
      if (this.pool.runner(existing.id)?.running) return { created: false, token: null, view: await this.view(existing) };
      await this.pool.start(existing);
      await this.pool.waitDecided(existing.id, this.settings.startTimeoutMs);
      return { created: false, token: null, view: await this.view(existing) };
    }

    // The caller's own session file first: without a valid file of its own, a caller cannot tell another
    // client's number from an unknown one (both answer the same 422).
    const sessionPath = await this.sessionPath(caller, input.name, input.path_session, input.name_session, null);
    if (existing) throw new Conflict(`number ${input.number} belongs to another client`, "number");
    await this.ownProxy(input.proxy);
    let token: string | null = null;
    if (!client) {
      token = newToken();
      client = await this.store.createClient(input.name, hashToken(token));
      // Creating the client's folder is the admin's act: from now on its token may use files in it.
      ensureClientFolder(this.settings.sessionsDir, client.name);
      this.log.info("client created", { client: client.id, name: client.name });
    }
    const account = await this.store.insertAccount({
      clientId: client.id,
      number: input.number,
      urlPlanfix: input.url_planfix,
      tokenPlanfix: input.token_planfix,
      providerId: input.provider_id ?? null,
      language: input.language ?? null,
      proxy: input.proxy ?? null,
      nameSession: input.name_session ?? null,
      sessionPath,
      wanted: "running",
    });
    await this.pool.start(account);
    await this.pool.waitDecided(account.id, this.settings.startTimeoutMs);
    return { created: true, token, view: await this.view(account) };
  }

  async status(caller: Caller, number: string, name?: string): Promise<NumberView> {
    return this.view(await this.ownAccount(caller, number, name));
  }

  async list(caller: Caller): Promise<NumberView[]> {
    const accounts = caller.kind === "admin" ? await this.store.allAccounts() : await this.store.accountsOfClient(caller.client.id);
    // Two queries for every number's queues and one client read per client, not several queries a number:
    // /admin/clients with a thousand numbers stays cheap (it is polled).
    const queueOf = await this.queues?.statusOfAll();
    const names = new Map<number, string>();
    for (const a of accounts) if (!names.has(a.clientId)) names.set(a.clientId, (await this.store.clientById(a.clientId))?.name ?? "");
    return accounts.map((a) => this.viewOf(a, names.get(a.clientId) ?? "", queueOf?.(a.id)));
  }

  async stop(caller: Caller, number: string, name?: string): Promise<NumberView> {
    const account = await this.ownAccount(caller, number, name);
    await this.pool.stop(account);
    return this.view(account);
  }

  async update(caller: Caller, input: UpdateInput): Promise<NumberView> {
    const account = await this.ownAccount(caller, input.number, input.name);
    this.requireTelegramSettings();
    const sessionChanged = input.path_session !== undefined || input.name_session !== undefined;
    const clientName = (await this.store.clientById(account.clientId))?.name ?? "";
    const sessionPath = sessionChanged
      ? await this.sessionPath(caller, clientName, input.path_session, input.name_session ?? account.nameSession ?? undefined, account.id)
      : account.sessionPath;
    if (input.proxy !== undefined) await this.ownProxy(input.proxy);
    await this.pool.restart(account, async () => {
      await this.store.updateAccount(account.id, {
        urlPlanfix: input.url_planfix ?? account.urlPlanfix,
        tokenPlanfix: input.token_planfix ?? account.tokenPlanfix,
        providerId: input.provider_id ?? account.providerId,
        language: input.language ?? account.language,
        proxy: input.proxy !== undefined ? input.proxy : account.proxy,
        nameSession: input.name_session ?? account.nameSession,
        sessionPath,
        planfixError: null,
      });
      // A new session of the same Telegram account keeps the update state and peers (a re-login after a
      // revocation must catch up from where the old key stopped); the runner drops them if the account differs.
    });
    await this.pool.waitDecided(account.id, this.settings.startTimeoutMs);
    return this.view(account);
  }

  /**
   * A new token for a client, shown once: a client token rotates itself, the admin token names the
   * client. The old token stops working at once (only the new hash is kept).
   */
  async rotateToken(caller: Caller, name: string | undefined): Promise<RotatedToken> {
    let client: Client | undefined;
    if (caller.kind === "client") {
      if (name !== undefined && name !== caller.client.name) throw new BadInput("name does not match the client of this token", "name");
      client = caller.client;
    } else {
      if (name === undefined) throw new BadInput("name: is required with the admin token", "name");
      client = await this.store.clientByName(name);
      if (!client) throw new NotFound(`client "${name}" not found`, "name");
    }
    const token = newToken();
    await this.store.setTokenHash(client.id, hashToken(token));
    this.log.info("client token rotated", { client: client.id, name: client.name, by: caller.kind });
    return { name: client.name, token };
  }

  private requireAdmin(caller: Caller): void {
    if (caller.kind !== "admin") throw new Forbidden("this needs the admin token");
  }

  /** Stops a number and forgets it with all its rows; its session file is deleted only when asked. */
  async removeNumber(caller: Caller, number: string, deleteSession: boolean): Promise<Removed> {
    this.requireAdmin(caller);
    const account = await this.store.accountByNumber(number);
    if (!account) throw new NotFound(`number ${number} not found`, "number");
    const name = (await this.store.clientById(account.clientId))?.name ?? "";
    const deleted = await this.forget(account, deleteSession);
    return { removed: "number", name, numbers: [account.number], session_files_deleted: deleted ? 1 : 0 };
  }

  /** Stops every number of a client, forgets them and the client; its token stops working at once. */
  async removeClient(caller: Caller, name: string, deleteSession: boolean): Promise<Removed> {
    this.requireAdmin(caller);
    const client = await this.store.clientByName(name);
    if (!client) throw new NotFound(`client "${name}" not found`, "name");
    // The token goes first, so nothing of this client is accepted while its numbers are being stopped.
    await this.store.setTokenHash(client.id, `removed:${client.id}:${newToken()}`);
    const numbers: string[] = [];
    let deleted = 0;
    for (const account of await this.store.accountsOfClient(client.id)) {
      if (await this.forget(account, deleteSession)) deleted++;
      numbers.push(account.number);
    }
    await this.store.deleteClient(client.id);
    if (deleteSession) removeClientFolderIfEmpty(this.settings.sessionsDir, client.name);
    this.log.info("client removed", { client: client.id, name: client.name, numbers: numbers.length, sessionFilesDeleted: deleted });
    return { removed: "client", name: client.name, numbers, session_files_deleted: deleted };
  }

  private async forget(account: Account, deleteSession: boolean): Promise<boolean> {
    let media: string[] = [];
    await this.pool.remove(account, async () => {
      media = await this.store.deleteAccount(account.id);
    });
    if (this.settings.filesDir) for (const m of media) rmSync(join(this.settings.filesDir, basename(m)), { force: true });
    const deleted = deleteSession && deleteSessionFile(this.settings.sessionsDir, account.sessionPath);
    this.log.info("number removed", { client: account.clientId, number: account.number, mediaFiles: media.length, sessionFileDeleted: deleted });
    return deleted;
  }

  async adminOverview(): Promise<{ name: string; created_at: string; numbers: NumberView[] }[]> {
    const queueOf = await this.queues?.statusOfAll();
    const overview = [];
    for (const c of await this.store.allClients()) {
      const numbers = (await this.store.accountsOfClient(c.id)).map((a) => this.viewOf(a, c.name, queueOf?.(a.id)));
      overview.push({ name: c.name, created_at: new Date(c.createdAt).toISOString(), numbers });
    }
    return overview;
  }
}

/** A number's own proxy as the API shows it: credentials and MTProxy secrets masked. */
function shownProxy(stored: string | null): string | null {
  try {
    const p = parseNumberProxy(stored);
    return p === null || p === DIRECT ? p : redactProxy(p);
  } catch {
    // Stored values were checked on the way in; a broken one is not shown (it may hold a secret).
    return stored === null ? null : "invalid";
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

// A tiny HTTP control API over the driver, faults and metrics, so scripts outside the process can make
// users write, read, get banned… JSON in, JSON out; bigints become strings, media bytes base64.
import type { TelegramServer } from "./server.ts";
import { RpcError } from "./tl.ts";
import { WorldError, type DocumentKind, type UserSpec, type WorldUser } from "./world.ts";

export interface UserInfo {
  id: number;
  firstName: string;
  lastName: string;
  username: string | null;
  phone: string;
  phoneHidden: boolean;
  bot: boolean;
  /** StringSession text per session (auth key), first = main. */
  sessions: string[];
}

export function userInfo(server: TelegramServer, u: WorldUser): UserInfo {
  return {
    id: u.id,
    firstName: u.firstName,
    lastName: u.lastName,
    username: u.username ?? null,
    phone: u.phone,
    phoneHidden: u.phoneHidden,
    bot: u.bot,
    sessions: u.sessions.map((s) => server.sessionString(s)),
  };
}

export function worldInfo(server: TelegramServer): {
  host: string;
  port: number;
  serverKeyPem: string | null;
  users: UserInfo[];
  chats: { id: number; title: string; members: number[] }[];
} {
  return {
    host: server.host,
    port: server.port,
    serverKeyPem: server.rsaPublicKeyPem ?? null,
    users: [...server.world.users.values()].map((u) => userInfo(server, u)),
    chats: [...server.world.chats.values()].map((c) => ({ id: c.id, title: c.title, members: [...c.members] })),
  };
}

/** JSON with bigints as strings and Buffers as base64. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === "bigint") return v.toString();
    if (v && typeof v === "object" && (v as { type?: string }).type === "Buffer" && Array.isArray((v as { data?: unknown }).data))
      return Buffer.from((v as { data: number[] }).data).toString("base64");
    return v;
  });
}

class BadRequest extends Error {}

type Body = Record<string, unknown>;

/** A user by id (number or numeric string) or username. */
function user(server: TelegramServer, ref: unknown): number {
  if (typeof ref === "number") return server.world.user(ref).id;
  if (typeof ref === "string") {
    if (/^\d+$/.test(ref)) return server.world.user(Number(ref)).id;
    const u = server.world.userByUsername(ref);
    if (u) return u.id;
  }
  throw new BadRequest(`unknown user ${String(ref)}`);
}

function peer(server: TelegramServer, ref: unknown): number {
  if (typeof ref === "number" && server.world.chats.has(ref)) return ref;
  return user(server, ref);
}

const str = (b: Body, k: string): string => {
  const v = b[k];
  if (typeof v !== "string") throw new BadRequest(`${k} must be a string`);
  return v;
};
const optStr = (b: Body, k: string): string | undefined => (b[k] === undefined ? undefined : str(b, k));
const num = (b: Body, k: string): number => {
  const v = b[k];
  if (typeof v !== "number" || !Number.isFinite(v)) throw new BadRequest(`${k} must be a number`);
  return v;
};
const bytes = (b: Body, k: string): Buffer => Buffer.from(str(b, k), "base64");

/** Routes one control request; exported so tests can call it without a port. */
export async function handleControl(server: TelegramServer, req: Request): Promise<Response> {
  const url = new URL(req.url);
  const d = server.driver;
  let body: Body = {};
  try {
    if (req.method === "POST") {
      const text = await req.text();
      body = text ? (JSON.parse(text) as Body) : {};
    }
    const route = `${req.method} ${url.pathname}`;
    let result: unknown;
    switch (route) {
      case "GET /users":
        result = worldInfo(server);
        break;
      case "GET /metrics":
        result = server.metrics();
        break;
      case "GET /messages":
        result = d.messages(user(server, url.searchParams.get("user")));
        break;
      case "POST /users":
        result = userInfo(server, server.addUser(body as unknown as UserSpec));
        break;
      case "POST /send-text":
        result = d.sendText(user(server, body.from), peer(server, body.to), str(body, "text"));
        break;
      case "POST /send-photo":
        result = d.sendPhoto(user(server, body.from), peer(server, body.to), bytes(body, "base64"), optStr(body, "caption"));
        break;
      case "POST /send-file":
        result = d.sendFile(user(server, body.from), peer(server, body.to), bytes(body, "base64"), str(body, "fileName"), str(body, "mimeType"), {
          caption: optStr(body, "caption"),
          kind: optStr(body, "kind") as DocumentKind | undefined,
        });
        break;
      case "POST /edit":
        result = d.editMessage(user(server, body.from), num(body, "messageId"), str(body, "text"));
        break;
      case "POST /read":
        d.readHistory(user(server, body.reader), peer(server, body.peer), body.maxId === undefined ? undefined : num(body, "maxId"));
        result = { ok: true };
        break;
      case "POST /set-name":
        d.setName(user(server, body.user), str(body, "firstName"), optStr(body, "lastName") ?? "");
        result = { ok: true };
        break;
      case "POST /set-username":
        d.setUsername(user(server, body.user), optStr(body, "username"));
        result = { ok: true };
        break;
      case "POST /set-photo":
        d.setPhoto(user(server, body.user), body.base64 === undefined ? undefined : bytes(body, "base64"));
        result = { ok: true };
        break;
      case "GET /login-code": {
        const phone = url.searchParams.get("phone");
        const info = server.logins.lastCode(phone ?? server.world.user(user(server, url.searchParams.get("user"))).phone);
        if (!info) throw new BadRequest("no login code was sent to that user");
        result = info;
        break;
      }
      case "POST /password":
        d.setPassword(user(server, body.user), str(body, "password"), optStr(body, "hint") ?? "");
        result = { ok: true };
        break;
      case "POST /clear-password":
        d.clearPassword(user(server, body.user));
        result = { ok: true };
        break;
      case "POST /accept-login-token":
        result = d.acceptLoginToken(user(server, body.user), str(body, "token"));
        break;
      case "GET /authorizations":
        result = d.authorizations(user(server, url.searchParams.get("user")));
        break;
      case "POST /login-settings": {
        const l = server.logins;
        if (body.loginTokenPeriodMs !== undefined) l.loginTokenPeriodMs = num(body, "loginTokenPeriodMs");
        if (body.loginCodeTtlMs !== undefined) l.loginCodeTtlMs = num(body, "loginCodeTtlMs");
        if (body.minLoginLayer !== undefined) l.minLoginLayer = num(body, "minLoginLayer");
        result = { loginTokenPeriodMs: l.loginTokenPeriodMs, loginCodeTtlMs: l.loginCodeTtlMs, minLoginLayer: l.minLoginLayer };
        break;
      }
      case "POST /fault": {
        const times = body.times === "always" ? "always" : body.times === undefined ? 1 : num(body, "times");
        result = server.faults.fail(str(body, "method"), num(body, "code"), str(body, "message"), { times });
        break;
      }
      case "POST /flood-wait": {
        const times = body.times === "always" ? "always" : body.times === undefined ? 1 : num(body, "times");
        result = server.faults.floodWait(str(body, "method"), num(body, "seconds"), { times });
        break;
      }
      case "POST /clear-faults":
        server.faults.clear();
        result = { ok: true };
        break;
      case "POST /revoke":
        server.revokeSession(user(server, body.user), (optStr(body, "message") as "SESSION_REVOKED" | undefined) ?? "SESSION_REVOKED");
        result = { ok: true };
        break;
      case "POST /ban":
        server.banUser(user(server, body.user));
        result = { ok: true };
        break;
      case "POST /drop":
        server.dropAllConnections();
        result = { ok: true };
        break;
      case "POST /stall":
        server.stall(body.on !== false);
        result = { ok: true, stalled: server.stalled };
        break;
      // ---- Telegram's sharp edges (docs/testing.md) ----
      case "POST /terminate-session":
        server.terminateSession(user(server, body.user));
        result = { ok: true };
        break;
      case "POST /freeze":
        if (body.on === false) server.unfreezeAccount(user(server, body.user));
        else server.freezeAccount(user(server, body.user));
        result = { ok: true };
        break;
      case "POST /user-migrate":
        server.userMigrate(user(server, body.user), body.dc === undefined || body.dc === null ? undefined : num(body, "dc"));
        result = { ok: true };
        break;
      case "POST /updates-too-long":
        d.updatesTooLong(user(server, body.user));
        result = { ok: true };
        break;
      case "POST /difference-too-long":
        d.differenceTooLong(user(server, body.user), body.times === undefined ? 1 : num(body, "times"));
        result = { ok: true };
        break;
      case "POST /expire-file-references":
        d.expireFileReferences();
        result = { ok: true };
        break;
      case "POST /keep-media-on-dc":
        d.keepMediaOnDc(user(server, body.owner), num(body, "messageId"), num(body, "dc"));
        result = { ok: true };
        break;
      case "POST /block":
        d.block(user(server, body.blocker), user(server, body.blocked));
        result = { ok: true };
        break;
      case "POST /limit-account":
        d.limitAccount(user(server, body.user), body.on !== false);
        result = { ok: true };
        break;
      case "POST /restrict-privacy":
        d.restrictPrivacy(user(server, body.user), body.on !== false);
        result = { ok: true };
        break;
      case "POST /edge-settings": {
        const e = server.world.edges;
        if (body.enforceSalt !== undefined) server.enforceSalt = body.enforceSalt === true;
        if (body.clockSkewSeconds !== undefined) server.clockSkewSeconds = num(body, "clockSkewSeconds");
        if (body.fileReferenceTtlMs !== undefined) e.fileReferenceTtlMs = body.fileReferenceTtlMs === null ? Infinity : num(body, "fileReferenceTtlMs");
        if (body.differenceTooLongGap !== undefined) e.differenceTooLongGap = body.differenceTooLongGap === null ? Infinity : num(body, "differenceTooLongGap");
        const fin = (v: number) => (Number.isFinite(v) ? v : null);
        result = {
          enforceSalt: server.enforceSalt,
          clockSkewSeconds: server.clockSkewSeconds,
          fileReferenceTtlMs: fin(e.fileReferenceTtlMs),
          differenceTooLongGap: fin(e.differenceTooLongGap),
        };
        break;
      }
      default:
        return new Response(toJson({ error: `no route ${route}` }), { status: 404, headers: { "content-type": "application/json" } });
    }
    return new Response(toJson(result), { headers: { "content-type": "application/json" } });
  } catch (e) {
    // RpcErrors (e.g. AUTH_TOKEN_EXPIRED from accept-login-token) are the caller's mistake too.
    const status = e instanceof BadRequest || e instanceof SyntaxError || e instanceof WorldError || e instanceof RpcError ? 400 : 500;
    return new Response(toJson({ error: e instanceof Error ? e.message : String(e) }), {
      status,
      headers: { "content-type": "application/json" },
    });
  }
}

/** Serves the control API on 127.0.0.1:port (0 = any free port). */
export function serveControl(server: TelegramServer, port: number): { port: number; stop(): void } {
  const http = Bun.serve({ hostname: "127.0.0.1", port, fetch: (req) => handleControl(server, req) });
  return { port: http.port ?? port, stop: () => void http.stop(true) };
}

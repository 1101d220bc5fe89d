// Reads a generated request the way the appliance will, with the appliance's own parsing code (token
// from headers, body fields, validation schemas, webhook parser). The fuzzer uses it for two things:
// never sending a request that would legitimately stop or reconfigure a live number (a valid PUT or
// DELETE by its owner or the admin), and knowing what the answer must be (401 for a bad token, never
// 2xx for another client's number).
import { ListInput, NumberInput, StartInput, UpdateInput, validate } from "../../src/accounts/input.ts";
import { tokenFromHeaders } from "../../src/auth/tokens.ts";
import { readFields } from "../../src/http/body.ts";
import { parsePlanfixWebhook } from "../../src/planfix/index.ts";
import { confinementFolder } from "../../src/sessions/confine.ts";
import { locateSessionFile } from "../../src/sessions/locate.ts";
import { readRegisteredSession, readSessionFile } from "../../src/telegram/session-file.ts";
import { statSync } from "node:fs";
import { join } from "node:path";
import type { Ctx } from "./values.ts";

export type Caller = "none" | "forged" | "admin" | "acme" | "beta";

/** Header lookup as the server sees it: case-insensitive, repeated headers joined with ", ". */
export function headerGetter(headers: [string, string][]): (name: string) => string | null {
  return (name) => {
    const values = headers.filter(([k]) => k.toLowerCase() === name).map(([, v]) => v.trim());
    return values.length ? values.join(", ") : null;
  };
}

export function callerOf(headers: [string, string][], ctx: Ctx): Caller {
  const token = tokenFromHeaders(headerGetter(headers));
  if (!token) return "none";
  if (token === ctx.adminToken) return "admin";
  if (token === ctx.acme.token) return "acme";
  if (token === ctx.beta.token) return "beta";
  return "forged";
}

export interface ClientReading {
  caller: Caller;
  /** The digits-only number the request names, when its fields validate. */
  number?: string;
  /** The fields validate for this method's schema and the service would act on them. */
  valid: boolean;
  /** The body could not be read the way the server will (unknown: assume the worst). */
  unknown: boolean;
}

const SCHEMA = { POST: StartInput, PUT: UpdateInput, DELETE: NumberInput, GET: ListInput, HEAD: ListInput } as const;

/** `body`: the decoded body bytes (framing removed), or undefined for none. */
export async function readClientRequest(method: string, target: string, headers: [string, string][], body: Uint8Array | undefined, ctx: Ctx): Promise<ClientReading> {
  const caller = callerOf(headers, ctx);
  const schema = SCHEMA[method as keyof typeof SCHEMA];
  if (!schema) return { caller, valid: false, unknown: false };
  let query: Record<string, string>;
  try {
    query = Object.fromEntries(new URL(`http://127.0.0.1${target.startsWith("/") ? "" : "/"}${target}`).searchParams);
  } catch {
    return { caller, valid: false, unknown: true };
  }
  // A GET (or HEAD) request's body never reaches the application; one that sends a body is refused.
  if ((method === "GET" || method === "HEAD") && body && body.byteLength > 0) return { caller, valid: false, unknown: false };
  let fields: Record<string, unknown>;
  try {
    const get = headerGetter(headers);
    const h = new Headers();
    const ct = get("content-type");
    if (ct !== null) h.set("content-type", ct);
    if (body) h.set("content-length", String(body.byteLength));
    const request = new Request("http://127.0.0.1/client", { method: "POST", headers: h, body: body ? new Uint8Array(body) : undefined });
    fields = { ...query, ...(await readFields(request)) };
  } catch (e) {
    // A body the server refuses (400/413/415) cannot carry a valid request.
    if (e && typeof e === "object" && "status" in e) return { caller, valid: false, unknown: false };
    return { caller, valid: false, unknown: true };
  }
  const r = validate(schema, fields);
  if (!r.ok) return { caller, valid: false, unknown: false };
  const value = r.value as { number?: string; name?: string; path_session?: string; name_session?: string };
  const number = value.number;
  // Valid as input, but refused by the service before anything changes: another client's name on a
  // client token, or a session file that cannot be used (escapes, missing, unreadable, someone else's).
  let refused = false;
  if ((method === "PUT" || method === "DELETE") && (caller === "acme" || caller === "beta") && value.name !== undefined && value.name !== ctx[caller].name) refused = true;
  if (method === "PUT" && !refused && (value.path_session !== undefined || value.name_session !== undefined)) {
    const own = number === ctx.acme.number ? ctx.acme : number === ctx.beta.number ? ctx.beta : null;
    // A client token names only files in its own folder (SESSIONS_DIR/<client name>/).
    const folder = caller === "acme" || caller === "beta" ? ctx[caller].name : null;
    refused = sessionRefused(ctx, value.path_session, value.name_session, own?.sessionFile ?? null, folder, own?.name ?? "");
  }
  return { caller, valid: !refused, unknown: false, ...(number ? { number } : {}) };
}

/** Whether the service refuses this session for a number whose own session file is `ownFile`. */
function sessionRefused(ctx: Ctx, pathSession: string | undefined, nameSession: string | undefined, ownFile: string | null, folder: string | null, owner: string): boolean {
  let full: string;
  let key: Uint8Array;
  try {
    const rel = locateSessionFile(ctx.sessionsDir, pathSession, nameSession, folder);
    full = join(ctx.sessionsDir, rel);
    key = readRegisteredSession(ctx.sessionsDir, rel, confinementFolder(rel, owner)).session.authKey;
  } catch {
    return true;
  }
  const identity = (p: string) => {
    const st = statSync(p);
    return `${st.dev}:${st.ino}`;
  };
  for (const c of [ctx.acme, ctx.beta]) {
    if (c.sessionFile === ownFile) continue;
    const theirs = join(ctx.sessionsDir, c.sessionFile);
    if (identity(theirs) === identity(full) || Buffer.from(readSessionFile(theirs).session.authKey).equals(Buffer.from(key))) return true;
  }
  return false;
}

export interface PlanfixReading {
  /** Which client the token in the body belongs to. */
  caller: Caller;
  /** The body is valid UTF-8 within the size cap (the server gets as far as the token). */
  readable: boolean;
  /** The webhook parses; the number its chatId or channel names. */
  parsed: boolean;
  targetNumber?: string;
}

export function readPlanfixRequest(headers: [string, string][], body: Uint8Array | undefined, ctx: Ctx): PlanfixReading {
  const bytes = body ?? new Uint8Array(0);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { caller: "none", readable: false, parsed: false };
  }
  if (bytes.byteLength > 1024 * 1024) return { caller: "none", readable: false, parsed: false };
  const type = headerGetter(headers)("content-type");
  const parsed = parsePlanfixWebhook(text, type);
  let token: string | null = null;
  if (parsed.ok) token = parsed.value.token;
  else {
    try {
      if ((type ?? "").includes("json") || text.trimStart().startsWith("{")) {
        const v = JSON.parse(text) as { token?: unknown };
        token = typeof v.token === "string" ? v.token : null;
      } else token = new URLSearchParams(text).get("token");
    } catch {
      token = null;
    }
  }
  const caller: Caller = !token ? "none" : token === ctx.acme.token ? "acme" : token === ctx.beta.token ? "beta" : token === ctx.adminToken ? "admin" : "forged";
  if (!parsed.ok) return { caller, readable: true, parsed: false };
  const m = parsed.value;
  const target = m.chatId ? m.chatId.split("_")[0] : m.channel?.replace(/\D/g, "");
  return { caller, readable: true, parsed: true, ...(target ? { targetNumber: target } : {}) };
}

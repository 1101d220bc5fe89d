// Us → Planfix: the commands of the "Planfix API for chats", POSTed form-encoded to a client's
// url_planfix. Every call ends in a classified outcome so the outbox can decide (retry or give up)
// without knowing HTTP. Nothing here throws for a failed call, and no outcome carries the token.
import { DestinationRefused, NetGuard } from "../net/guarded-fetch.ts";
import { BodyTooLarge, readCapped } from "../net/read-body.ts";
import { encodeForm, type FormPair, type PlanfixAttachment } from "./form.ts";

/** Ids arrive as Telegram/JS numbers, bigints or strings; on the wire they are all text. */
export type PlanfixId = string | number | bigint;

export interface PlanfixEndpoint {
  /** url_planfix, e.g. `https://acme.planfix.com/webchat/api`. */
  url: string;
  /** token_planfix, sent as `planfix_token`. */
  token: string;
  providerId: string;
}

export interface PlanfixClientOptions {
  /** Whole-call limit (connect, answer and body), default 15 000 ms. */
  timeoutMs?: number;
  /** The fetch guard every call goes through; by default one that allows no private destination. */
  guard?: NetGuard;
}

export interface ContactCard {
  /** Our id of the person (the Telegram user id). */
  contactId: PlanfixId;
  /** Required by Planfix: the caller falls back to username or phone when Telegram has no first name. */
  contactName: string;
  contactLastName?: string;
  /** Avatar URL. */
  contactIco?: string;
  contactEmail?: string;
  contactPhone?: string;
  /** Free text, e.g. `Telegram: https://t.me/<username>`. */
  contactData?: string;
}

export interface NewMessageCommand extends ContactCard {
  /** Our conversation id: one chat ⇒ one Planfix task. */
  chatId: PlanfixId;
  /** Our channel id (the account's phone number). */
  channel?: string;
  /** Text. When empty and there are attachments, the file names are sent instead (Planfix may reject empty text). */
  message: string;
  /** Task name, used when this message creates the task. */
  title?: string;
  /** Sent as repeated un-indexed `attachments[name]`/`attachments[url]` pairs, in this order. */
  attachments?: readonly PlanfixAttachment[];
  /** An outgoing message written by the account owner. */
  isEcho?: boolean;
  /** With isEcho: the Planfix employee shown as author. */
  userEmail?: string;
  /** Task String fields: `{ source: "tg" }` is sent as `data_source=tg`. */
  data?: Readonly<Record<string, string | number>>;
  /** The customer's task lists both among newMessage's fields: the person's Telegram username (no `@`) and id. */
  telegramUserName?: string;
  telegramUserId?: PlanfixId;
}

export type MessageStatus = "sent" | "read" | "error";

export interface MessageStatusCommand {
  /** Planfix's messageId from its newMessage to us. */
  messageId: PlanfixId;
  status: MessageStatus;
  /** Shown beside the status in Planfix, e.g. the reason of an error. */
  text?: string;
}

export type PlanfixFailureKind =
  | "network" // refused, reset, DNS: Planfix never answered
  | "timeout" // no complete answer within timeoutMs
  | "server" // 5xx
  | "rejected" // 400: Planfix (or our own pre-check) refused the parameters; sending again will not help
  | "unauthorized" // 401: token_planfix is wrong
  | "other"; // other 4xx, 3xx, unreadable answers, a bad url_planfix

export interface PlanfixFailure {
  ok: false;
  /** true for network, timeout, 5xx, 408 and 429. */
  retry: boolean;
  kind: PlanfixFailureKind;
  /** HTTP status when Planfix answered. */
  status?: number;
  /** Readable and free of the token, e.g. `Planfix answered newMessage with 400: Invalid parameters`. */
  message: string;
  /** From a Retry-After header (429/503), when present. */
  retryAfterMs?: number;
}

export type PlanfixOutcome = { ok: true } | PlanfixFailure;

/** getTask/getContact: "task not found" / "unknown contact" is an answer, not a failure. */
export type PlanfixLookupOutcome =
  | { ok: true; found: true; number: number /** `statusIsActive` when Planfix sends it. */; active?: boolean }
  | { ok: true; found: false /** Planfix's words, e.g. `task not found`. */; message: string }
  | PlanfixFailure;

const DEFAULT_TIMEOUT_MS = 15_000;
/** Planfix answers are a few hundred bytes; more than this (after decompression) is not read. */
export const MAX_ANSWER_BYTES = 64 * 1024;
const STRICT_GUARD = new NetGuard();

export class PlanfixClient {
  readonly timeoutMs: number;
  private readonly guard: NetGuard;

  constructor(
    readonly endpoint: PlanfixEndpoint,
    options: PlanfixClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.guard = options.guard ?? STRICT_GUARD;
  }

  /** A message from Telegram into Planfix. Planfix cannot de-duplicate these: do not resend after `ok`. */
  async newMessage(m: NewMessageCommand): Promise<PlanfixOutcome> {
    const attachments = (m.attachments ?? []).map((a) => ({ name: a.name.trim() === "" ? fileNameOf(a.url) : a.name, url: a.url }));
    let message = m.message;
    if (message.trim() === "" && attachments.length > 0) message = attachments.map((a) => a.name).join(", ");
    const missing = firstEmpty({ chatId: m.chatId, message, contactId: m.contactId, contactName: m.contactName });
    if (missing) return localReject("newMessage", missing);
    for (const [i, a] of attachments.entries()) {
      if (a.url.trim() === "") return localReject("newMessage", `attachments[url] #${i + 1}`);
    }

    const pairs: FormPair[] = [["chatId", text(m.chatId)]];
    push(pairs, "channel", m.channel);
    pairs.push(["message", message]);
    push(pairs, "title", m.title);
    pushContact(pairs, m);
    for (const a of attachments) {
      pairs.push(["attachments[name]", a.name]);
      pairs.push(["attachments[url]", a.url]);
    }
    push(pairs, "telegramUserName", m.telegramUserName?.replace(/^@/, ""));
    if (m.telegramUserId !== undefined) push(pairs, "telegramUserId", text(m.telegramUserId));
    if (m.isEcho === true) pairs.push(["isEcho", "true"]);
    push(pairs, "userEmail", m.userEmail);
    for (const [k, v] of Object.entries(m.data ?? {})) push(pairs, `data_${k}`, String(v));
    return this.scrubbed(accepted(await this.call("newMessage", pairs)));
  }

  /** ✓ / ✓✓ / failure of a message Planfix sent out through us. */
  async messageStatus(s: MessageStatusCommand): Promise<PlanfixOutcome> {
    const missing = firstEmpty({ messageId: s.messageId });
    if (missing) return localReject("messageStatus", missing);
    const pairs: FormPair[] = [
      ["messageId", text(s.messageId)],
      ["messageStatus", s.status],
    ];
    push(pairs, "messageStatusText", s.text);
    return this.scrubbed(accepted(await this.call("messageStatus", pairs)));
  }

  async getTask(chatId: PlanfixId): Promise<PlanfixLookupOutcome> {
    if (firstEmpty({ chatId })) return localReject("getTask", "chatId");
    return this.scrubbed(lookup(await this.call("getTask", [["chatId", text(chatId)]])));
  }

  async getContact(contactId: PlanfixId): Promise<PlanfixLookupOutcome> {
    if (firstEmpty({ contactId })) return localReject("getContact", "contactId");
    return this.scrubbed(lookup(await this.call("getContact", [["contactId", text(contactId)]])));
  }

  async updateContact(c: ContactCard): Promise<PlanfixOutcome> {
    const missing = firstEmpty({ contactId: c.contactId, contactName: c.contactName });
    if (missing) return localReject("updateContact", missing);
    const pairs: FormPair[] = [];
    pushContact(pairs, c);
    return this.scrubbed(accepted(await this.call("updateContact", pairs)));
  }

  /** One POST; resolves to Planfix's answer or a failure, never throws. */
  private async call(cmd: string, fields: FormPair[]): Promise<Answer | PlanfixFailure> {
    const { url, token, providerId } = this.endpoint;
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return this.fail({ retry: false, kind: "other", message: `url_planfix is not a valid URL` });
    }
    if (target.protocol !== "http:" && target.protocol !== "https:") {
      return this.fail({ retry: false, kind: "other", message: `url_planfix must be http(s), got ${target.protocol}` });
    }
    // Only origin + path in messages: a query string or user-info could hold secrets.
    const where = `${target.origin}${target.pathname}`;
    const body = encodeForm([["cmd", cmd], ["providerId", providerId], ["planfix_token", token], ...fields]);

    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, this.timeoutMs);
    try {
      const res = await this.guard.fetch(target, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8", accept: "application/json", "accept-encoding": "gzip, deflate, br" },
        body,
        signal: abort.signal,
        // A redirected POST turns into a GET and loses the body: report it instead of following.
        redirect: "manual",
      });
      const answer = new TextDecoder().decode(await readCapped(res, MAX_ANSWER_BYTES));
      return { cmd, status: res.status, text: answer, retryAfter: res.headers.get("retry-after") };
    } catch (e) {
      // Refused before any byte was sent: nothing of what lives at that address is shown.
      if (e instanceof DestinationRefused) return this.fail({ retry: false, kind: "other", message: `url_planfix ${where}: ${e.message}` });
      if (e instanceof BodyTooLarge) {
        return this.fail({ retry: true, kind: "other", message: `Planfix at ${where} answered ${cmd} with more than ${MAX_ANSWER_BYTES / 1024} KiB; not read` });
      }
      if (timedOut) {
        return this.fail({ retry: true, kind: "timeout", message: `Planfix at ${where} did not answer ${cmd} within ${this.timeoutMs} ms` });
      }
      return this.fail({ retry: true, kind: "network", message: `cannot reach Planfix at ${where} for ${cmd}: ${networkReason(e)}` });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Planfix's own answer text is quoted in messages; make sure it cannot leak the token either. */
  private scrubbed<T extends { ok: boolean }>(o: T): T {
    if (o.ok || !("message" in o) || typeof o.message !== "string") return o;
    return { ...o, message: scrub(o.message, this.endpoint.token) };
  }

  private fail(f: Omit<PlanfixFailure, "ok">): PlanfixFailure {
    const message = scrub(f.message, this.endpoint.token);
    return { ok: false, ...f, message };
  }
}

interface Answer {
  cmd: string;
  status: number;
  text: string;
  retryAfter: string | null;
}

function isAnswer(a: Answer | PlanfixFailure): a is Answer {
  return !("ok" in a);
}

/** 2xx = accepted (Planfix answers 200 with an empty body); anything else is classified. */
function accepted(a: Answer | PlanfixFailure): PlanfixOutcome {
  if (!isAnswer(a)) return a;
  if (a.status >= 200 && a.status < 300) return { ok: true };
  return classify(a);
}

function lookup(a: Answer | PlanfixFailure): PlanfixLookupOutcome {
  if (!isAnswer(a)) return a;
  if (a.status >= 200 && a.status < 300) {
    const found = readNumber(a.text);
    if (found) return { ok: true, found: true, ...found };
    return { ok: false, retry: false, kind: "other", status: a.status, message: `Planfix answered ${a.cmd} with ${a.status} but no number: ${excerpt(a.text)}` };
  }
  if (a.status === 400) {
    const error = errorOf(a.text);
    if (error && /not found|unknown/i.test(error)) return { ok: true, found: false, message: error };
  }
  return classify(a);
}

function classify(a: Answer): PlanfixFailure {
  const s = a.status;
  // Planfix's own words, cut short: they end up on the number's status and in the log.
  const error = errorOf(a.text);
  const said = error === undefined ? excerpt(a.text) : excerpt(error);
  const message = `Planfix answered ${a.cmd} with ${s}${said ? `: ${said}` : ""}`;
  const retryAfterMs = parseRetryAfter(a.retryAfter);
  const base = retryAfterMs === undefined ? {} : { retryAfterMs };
  if (s >= 500) return { ok: false, retry: true, kind: "server", status: s, message, ...base };
  if (s === 400) return { ok: false, retry: false, kind: "rejected", status: s, message };
  if (s === 401) return { ok: false, retry: false, kind: "unauthorized", status: s, message };
  if (s === 408 || s === 429) return { ok: false, retry: true, kind: "other", status: s, message, ...base };
  if (s >= 300 && s < 400) return { ok: false, retry: false, kind: "other", status: s, message: `Planfix answered ${a.cmd} with ${s} (a redirect): check url_planfix` };
  return { ok: false, retry: false, kind: "other", status: s, message };
}

/** Accepts `{"data":{"number":N}}`, `{"data":"{\"number\":N,…}"}` and a bare `{"number":N}`. */
function readNumber(body: string): { number: number; active?: boolean } | undefined {
  let value: unknown = parseJson(body);
  if (isRecord(value) && "data" in value) value = value.data;
  if (typeof value === "string") value = parseJson(value);
  if (!isRecord(value)) return undefined;
  const n = typeof value.number === "string" ? Number(value.number.trim()) : value.number;
  if (typeof n !== "number" || !Number.isFinite(n) || (typeof value.number === "string" && value.number.trim() === "")) return undefined;
  const active = value.statusIsActive;
  if (typeof active === "boolean") return { number: n, active };
  if (active === 1 || active === 0 || active === "1" || active === "0" || active === "true" || active === "false") {
    return { number: n, active: active === 1 || active === "1" || active === "true" };
  }
  return { number: n };
}

function errorOf(body: string): string | undefined {
  const v = parseJson(body);
  if (isRecord(v) && typeof v.error === "string") return v.error;
  return undefined;
}

function parseJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function excerpt(s: string): string {
  const t = s.trim().replace(/\s+/g, " ");
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}

function parseRetryAfter(h: string | null): number | undefined {
  if (!h) return undefined;
  const secs = Number(h);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const at = Date.parse(h);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Bun/undici errors carry a code (ECONNREFUSED, ConnectionRefused, ENOTFOUND…); keep it short. */
function networkReason(e: unknown): string {
  if (e && typeof e === "object") {
    const code = (e as { code?: unknown }).code;
    const msg = e instanceof Error ? e.message : "";
    if (typeof code === "string" && code !== "") return msg && !msg.startsWith(code) ? `${code} (${msg.split(". ")[0]})` : code;
    if (msg) return msg;
  }
  return String(e);
}

function scrub(message: string, token: string): string {
  if (token.length < 4) return message; // too short to replace without mangling ordinary words
  let out = message.split(token).join("***");
  const encoded = encodeURIComponent(token);
  if (encoded !== token) out = out.split(encoded).join("***");
  return out;
}

function localReject(cmd: string, field: string): PlanfixFailure {
  return { ok: false, retry: false, kind: "rejected", message: `${cmd} not sent: ${field} is empty (Planfix requires it)` };
}

function firstEmpty(fields: Record<string, PlanfixId | undefined>): string | undefined {
  for (const [k, v] of Object.entries(fields)) if (v === undefined || text(v).trim() === "") return k;
  return undefined;
}

function text(id: PlanfixId): string {
  return typeof id === "string" ? id.trim() : String(id);
}

function push(pairs: FormPair[], key: string, value: string | undefined): void {
  if (value !== undefined && value !== "") pairs.push([key, value]);
}

function pushContact(pairs: FormPair[], c: ContactCard): void {
  pairs.push(["contactId", text(c.contactId)]);
  pairs.push(["contactName", c.contactName]);
  push(pairs, "contactLastName", c.contactLastName);
  push(pairs, "contactIco", c.contactIco);
  push(pairs, "contactEmail", c.contactEmail);
  push(pairs, "contactPhone", c.contactPhone);
  push(pairs, "contactData", c.contactData);
}

function fileNameOf(url: string): string {
  try {
    const last = new URL(url).pathname.split("/").filter(Boolean).pop();
    if (last) return decodeURIComponent(last);
  } catch {
    // not a URL: fall through
  }
  return "file";
}

/** One client per call site, for a number's url_planfix, token_planfix and providerId (PROVIDER_ID when unset). */
export function planfixClients(opts: { defaultProviderId: string } & PlanfixClientOptions) {
  return (account: { urlPlanfix: string; tokenPlanfix: string; providerId: string | null }): PlanfixClient =>
    new PlanfixClient({ url: account.urlPlanfix, token: account.tokenPlanfix, providerId: account.providerId ?? opts.defaultProviderId }, opts);
}

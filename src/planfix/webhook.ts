// Planfix → us: the `newMessage` webhook (an employee's message to the chat) as a typed value.
// Liberal in what it accepts (form, JSON or multipart; numbers for ids; indexed or repeated
// attachment keys; stray whitespace), strict about what delivery needs (token, messageId, a text
// or a file, a recipient). messageId may be missing (Planfix's own samples omit it): the message is
// still sent, only a repeated call can no longer be recognised. Comparing the token with the client's is the caller's job (→ 401).
import * as v from "valibot";
import { decodeForm, type FormPair, type PlanfixAttachment } from "./form.ts";

export interface PlanfixInboundMessage {
  cmd: "newMessage";
  providerId?: string;
  /** "Your token" from the integration settings: our client token. */
  token: string;
  /** Absent on the first message an employee writes to a contact with no chat yet. */
  chatId?: string;
  channel?: string;
  /** As sent (not trimmed); may be "" when there are attachments. */
  message: string;
  /** Planfix message id: for messageStatus and for treating a repeated call as the same message. Absent in some of Planfix's own samples. */
  messageId?: string;
  userName?: string;
  userLastName?: string;
  userIco?: string;
  taskEmail?: string;
  contactPhone?: string;
  /** Without a leading `@`. */
  telegramUserName?: string;
  telegramUserId?: string;
  /** In the order Planfix sent them; a missing name is taken from the URL's last path segment. */
  attachments: PlanfixAttachment[];
}

/** `field` names the offending field as Planfix spells it, e.g. `messageId`, `cmd`, `attachments[1][url]`, `body`. */
export interface WebhookFailure {
  ok: false;
  field: string;
  problem: string;
}

export type WebhookParseResult = { ok: true; value: PlanfixInboundMessage } | WebhookFailure;

const SCALARS = [
  "cmd",
  "providerId",
  "token",
  "chatId",
  "channel",
  "message",
  "messageId",
  "userName",
  "userLastName",
  "userIco",
  "taskEmail",
  "contactPhone",
  "telegramUserName",
  "telegramUserId",
] as const;
type Scalar = (typeof SCALARS)[number];

// Before the schema runs, every known field is either a trimmed non-empty string, absent, or (from
// JSON) a value that is not text — which the schema reports as such.
type Normalized = Partial<Record<Scalar, unknown>> & { attachments: Array<{ name?: unknown; url?: unknown }> };

const textMessage = (issue: v.BaseIssue<unknown>) => (issue.input === undefined ? "required" : "must be text");
const required = v.pipe(v.string(textMessage), v.nonEmpty("required"));
const optional = v.optional(v.string(textMessage));
// Ids, names and the token are matched and stored as they are: a control character (a NUL, a line break)
// is never part of one, and would let a chat id slip past the check that it names the caller's own number.
const NO_CONTROL = /^[^\p{Cc}]*$/u;
const identifier = v.optional(v.pipe(v.string(textMessage), v.regex(NO_CONTROL, "must not contain control characters")));

const isHttpUrl = (s: string) => {
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
};

const AttachmentSchema = v.object(
  {
    name: v.optional(v.string(textMessage)),
    url: v.pipe(required, v.check(isHttpUrl, "must be an http(s) URL")),
  },
  textMessage,
);

const WebhookSchema = v.pipe(
  v.object(
    {
      cmd: v.pipe(
        required,
        v.check((c) => c === "newMessage", "unsupported command (only newMessage)"),
      ),
      providerId: identifier,
      token: v.pipe(required, v.regex(NO_CONTROL, "must not contain control characters")),
      chatId: identifier,
      channel: identifier,
      message: v.optional(v.string(textMessage), ""),
      messageId: identifier,
      userName: optional,
      userLastName: optional,
      userIco: optional,
      taskEmail: optional,
      contactPhone: identifier,
      telegramUserName: identifier,
      telegramUserId: identifier,
      attachments: v.array(AttachmentSchema),
    },
    textMessage,
  ), // an absent key is reported by the object itself: make that "required" too
  v.forward(
    v.partialCheck([["message"], ["attachments"]], (i) => i.message.trim() !== "" || i.attachments.length > 0, "required (empty text and no attachments)"),
    ["message"],
  ),
  // Without any of these there is nobody to deliver to.
  v.forward(
    v.partialCheck(
      [["chatId"], ["contactPhone"], ["telegramUserId"], ["telegramUserName"]],
      (i) => !!(i.chatId || i.contactPhone || i.telegramUserId || i.telegramUserName),
      "required (or contactPhone / telegramUserId / telegramUserName for a first message)",
    ),
    ["chatId"],
  ),
);

/**
 * Parses a webhook body. `contentType` picks the format; when it is missing or unknown the body is
 * sniffed (`{` → JSON, else form).
 */
export function parsePlanfixWebhook(body: string | Uint8Array | ArrayBuffer, contentType?: string | null): WebhookParseResult {
  const text = typeof body === "string" ? body : new TextDecoder().decode(body);
  const ct = (contentType ?? "").toLowerCase();
  if (ct.includes("multipart/form-data")) {
    const pairs = decodeMultipart(text, contentType ?? "");
    if (!pairs) return { ok: false, field: "body", problem: "unreadable multipart/form-data" };
    return parseWebhookPairs(pairs);
  }
  const looksJson = text.trimStart().startsWith("{");
  if (ct.includes("json") || (!ct.includes("x-www-form-urlencoded") && looksJson)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return { ok: false, field: "body", problem: "invalid JSON" };
    }
    return parseWebhookJson(value);
  }
  return parseWebhookPairs(decodeForm(text));
}

/** Form fields as an ordered list of pairs: repeated `attachments[name]`/`attachments[url]` are zipped in order. */
export function parseWebhookPairs(pairs: readonly FormPair[]): WebhookParseResult {
  const { fields, attachments } = splitPairs(pairs);
  return validate(fields, attachments);
}

/**
 * An already-parsed JSON object. Attachments may be `[{name,url}]`, `{name:[…],url:[…]}`,
 * `{"0":{name,url}}`, or keys `attachments[name]`/`attachments[url]` holding strings or arrays.
 */
export function parseWebhookJson(value: unknown): WebhookParseResult {
  if (!isRecord(value)) return { ok: false, field: "body", problem: "must be a JSON object" };
  const formStyle: FormPair[] = [];
  const fields: Record<string, unknown> = {};
  let attachments: Array<{ name?: unknown; url?: unknown }> = [];
  for (const [key, val] of Object.entries(value)) {
    if (key === "attachments") {
      attachments = jsonAttachments(val);
    } else if (key.startsWith("attachments[")) {
      // Form-style keys inside JSON: flatten to pairs and reuse the form rules.
      for (const item of Array.isArray(val) ? val : [val]) if (item !== undefined && item !== null) formStyle.push([key, scalarText(item)]);
    } else {
      fields[key] = Array.isArray(val) ? val[0] : val;
    }
  }
  return validate(fields, attachments.concat(splitPairs(formStyle).attachments));
}

function splitPairs(pairs: readonly FormPair[]): { fields: Record<string, string>; attachments: Array<{ name?: string; url?: string }> } {
  const fields: Record<string, string> = {};
  const names: string[] = [];
  const urls: string[] = [];
  const indexed = new Map<number, { name?: string; url?: string }>();
  for (const [rawKey, value] of pairs) {
    const key = rawKey.trim();
    const plain = /^attachments\[(name|url)\](?:\[\])?$/.exec(key);
    if (plain) {
      (plain[1] === "name" ? names : urls).push(value);
      continue;
    }
    const idx = /^attachments\[(\d+)\]\[(name|url)\]$/.exec(key);
    if (idx) {
      const i = Number(idx[1]);
      const slot = indexed.get(i) ?? {};
      slot[idx[2] as "name" | "url"] = value;
      indexed.set(i, slot);
      continue;
    }
    fields[key] = value; // a repeated scalar: the last one wins
  }
  const attachments = zip(names, urls);
  for (const i of [...indexed.keys()].sort((a, b) => a - b)) attachments.push(indexed.get(i)!);
  return { fields, attachments };
}

function jsonAttachments(val: unknown): Array<{ name?: unknown; url?: unknown }> {
  if (Array.isArray(val)) {
    return val.map((item) => (isRecord(item) ? { name: item.name, url: item.url } : { url: item }));
  }
  if (!isRecord(val)) return val === undefined || val === null ? [] : [{ url: val }];
  if ("name" in val || "url" in val) {
    const names = (Array.isArray(val.name) ? val.name : val.name === undefined ? [] : [val.name]).map(scalarText);
    const urls = (Array.isArray(val.url) ? val.url : val.url === undefined ? [] : [val.url]).map(scalarText);
    return zip(names, urls);
  }
  return Object.keys(val)
    .filter((k) => /^\d+$/.test(k))
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => {
      const item = val[k];
      return isRecord(item) ? { name: item.name, url: item.url } : { url: item };
    });
}

function zip(names: string[], urls: string[]): Array<{ name?: string; url?: string }> {
  const out: Array<{ name?: string; url?: string }> = [];
  for (let i = 0; i < Math.max(names.length, urls.length); i++) {
    const slot: { name?: string; url?: string } = {};
    if (names[i] !== undefined) slot.name = names[i];
    if (urls[i] !== undefined) slot.url = urls[i];
    out.push(slot);
  }
  return out;
}

/** More files than this in one message is refused (each is a download and a Telegram message). */
export const MAX_ATTACHMENTS = 50;

function validate(fields: Record<string, unknown>, rawAttachments: Array<{ name?: unknown; url?: unknown }>): WebhookParseResult {
  if (rawAttachments.length > MAX_ATTACHMENTS) {
    return { ok: false, field: "attachments", problem: `at most ${MAX_ATTACHMENTS} attachments per message, got ${rawAttachments.length}` };
  }
  const input: Normalized = { attachments: rawAttachments.map((a) => ({ name: clean(a.name), url: clean(a.url) })) };
  for (const key of SCALARS) {
    const value = key === "message" ? messageText(fields[key]) : clean(fields[key]);
    if (value !== undefined) input[key] = value;
  }
  const result = v.safeParse(WebhookSchema, input, { abortEarly: true });
  if (!result.success) {
    const issue = result.issues[0];
    return { ok: false, field: fieldName(issue.path), problem: issue.message };
  }
  const o = result.output;
  const value: PlanfixInboundMessage = {
    cmd: "newMessage",
    token: o.token,
    message: o.message,
    attachments: o.attachments.map((a) => ({ name: a.name ?? nameFromUrl(a.url), url: a.url })),
  };
  for (const key of ["providerId", "chatId", "channel", "messageId", "userName", "userLastName", "userIco", "taskEmail", "contactPhone", "telegramUserId"] as const) {
    if (o[key] !== undefined) value[key] = o[key];
  }
  if (o.telegramUserName !== undefined) value.telegramUserName = o.telegramUserName.replace(/^@/, "");
  return { ok: true, value };
}

/** Trimmed text, or undefined when absent/empty; non-text JSON values pass through for the schema to reject. */
function clean(value: unknown): unknown {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string" || typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") {
    const s = String(value).trim();
    return s === "" ? undefined : s;
  }
  return value;
}

/** The text keeps its own whitespace (indentation, line breaks); only a whitespace-only text counts as empty. */
function messageText(value: unknown): unknown {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value.trim() === "" ? "" : value;
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value);
  return value;
}

function scalarText(v: unknown): string {
  return typeof v === "string" ? v : v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
}

type IssuePath = v.BaseIssue<unknown>["path"];

/** `attachments.1.url` → `attachments[1][url]`, the way the field looks in a form. */
function fieldName(path: IssuePath): string {
  if (!path || path.length === 0) return "body";
  const keys = path.map((p) => String(p.key));
  return (
    keys[0] +
    keys
      .slice(1)
      .map((k) => `[${k}]`)
      .join("")
  );
}

function nameFromUrl(url: string): string {
  try {
    const last = new URL(url).pathname.split("/").filter(Boolean).pop();
    if (last) return decodeURIComponent(last);
  } catch {
    // the schema already checked the URL; decodeURIComponent may still fail on a bad escape
  }
  return "file";
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Text fields of a multipart body, in order; uploaded-file parts are skipped (Planfix sends links, not files). */
function decodeMultipart(body: string, contentType: string): FormPair[] | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) return undefined;
  const pairs: FormPair[] = [];
  const parts = body.split(`--${boundary}`);
  for (const part of parts.slice(1)) {
    if (part.startsWith("--")) break; // closing delimiter
    const sep = part.indexOf("\r\n\r\n");
    const sepLen = sep >= 0 ? 4 : 2;
    const at = sep >= 0 ? sep : part.indexOf("\n\n");
    if (at < 0) continue;
    const head = part.slice(0, at);
    const name = /content-disposition:[^\n]*?\bname="([^"]*)"/i.exec(head)?.[1];
    if (name === undefined) continue;
    if (/\bfilename=/i.test(head)) continue; // an uploaded file, not a field
    const value = part.slice(at + sepLen).replace(/\r?\n$/, "");
    pairs.push([name, value]);
  }
  return pairs;
}

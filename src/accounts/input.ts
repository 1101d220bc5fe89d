// The management API's input, validated with valibot. Field names are the customer's (see the task).
import * as v from "valibot";
import { LANGUAGES } from "../bridge/texts.ts";
import { DIRECT, parseNumberProxy, proxyUrl } from "../domain/proxy.ts";

/**
 * Digits written as a decimal or exponent number ("380950000001.0", "1e12"): never a phone number, and
 * stripping the dot would silently make another one. (The JSON reader hands such number literals over
 * as their text, see http/body.ts.)
 */
const DECIMAL_LIKE = /^\s*[+-]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+)\s*$/;

/** Phone numbers arrive as "+380 95-582-13-19", "380955821319" or 380955821319; we keep digits only. */
export const NumberField = v.pipe(
  v.union([v.string(), v.pipe(v.number(), v.integer(), v.minValue(0))], "must be a phone number (string or integer)"),
  v.check(
    (x) => typeof x !== "string" || !DECIMAL_LIKE.test(x),
    "must be a whole phone number, not a decimal or exponent number (e.g. 380950000001, not 380950000001.0 or 3.8e11)",
  ),
  v.transform((x) => String(x).replace(/[\s\-+().]/g, "")),
  v.regex(/^\d{5,15}$/, "must be 5 to 15 digits (international format; +, spaces and dashes allowed)"),
  v.description(
    'The Telegram account\'s phone number in international format: digits, optionally with +, spaces, dashes or parentheses; a JSON integer works too (not a decimal). Example: "+380 95 582 13 19".',
  ),
);

const text = (max: number, what: string) =>
  v.pipe(v.string(`must be a string`), v.trim(), v.minLength(1, `must not be empty`), v.maxLength(max, `must be at most ${max} characters (${what})`));

export const UrlField = v.pipe(
  v.string("must be a string"),
  v.trim(),
  v.maxLength(2000, "must be at most 2000 characters"),
  v.check((s) => {
    try {
      const u = new URL(s);
      return u.protocol === "http:" || u.protocol === "https:";
    } catch {
      return false;
    }
  }, "must be an http(s) URL, e.g. https://example.planfix.com/webchat/api"),
);

const ProviderId = v.pipe(
  text(100, "providerId"),
  v.check((s) => !s.includes("~"), "must not contain '~' (Planfix reserves it)"),
);

const described = <S extends v.GenericSchema>(schema: S, description: string) => v.pipe(schema, v.description(description));

const NameField = described(
  text(200, "client name"),
  "The client (company) the number belongs to, 1–200 characters. A new name creates the client (admin token); a known one adds the number to it (that client's token).",
);
const SESSION_FILES = "StringSession text file (GramJS or Telethon) or a Telethon / Pyrogram .session SQLite file";

const PROXY_DESCRIPTION =
  'The proxy this number\'s Telegram connections go through: "socks5://user:password@host:port" (or without user:password@), "mtproxy://secret@host:port" (secret: 32 hex digits or dd + 32), a tg://proxy?server=…&port=…&secret=… link, or "direct" for none. Unset or "": the appliance\'s TELEGRAM_PROXY (if any). The password and the secret are never shown back.';

/** A number's proxy as it is stored: the normalized URL, "direct", or null (the default). Never echoes the value. */
const ProxyField = v.pipe(
  v.string('must be a string (a proxy URL or "direct")'),
  v.trim(),
  v.maxLength(2000, "must be at most 2000 characters"),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    try {
      const p = parseNumberProxy(dataset.value);
      return p === null ? null : p === DIRECT ? DIRECT : proxyUrl(p);
    } catch (e) {
      addIssue({ message: (e as Error).message });
      return NEVER;
    }
  }),
);

/** POST /client: everything needed to start a number. */
export const StartInput = v.object({
  name: NameField,
  number: NumberField,
  url_planfix: described(
    UrlField,
    "Planfix's API address for this chat integration (Planfix: Integrations → Chats → Planfix API for chats), e.g. https://acme.planfix.com/webchat/api.",
  ),
  token_planfix: described(text(500, "Planfix chat key"), "The key Planfix shows for that chat integration. Stored, sent only to url_planfix, never shown back."),
  name_session: v.optional(
    described(
      text(255, "session name"),
      `A session file's name (a ${SESSION_FILES}), looked up inside the sessions directory — or inside the folder path_session names; "x" also finds "x.session". Give name_session, path_session, or both.`,
    ),
  ),
  path_session: v.optional(
    described(
      text(1000, "session path"),
      `Where the session file is, relative to the sessions directory: the file itself (e.g. "acme/380955821319.session") or a folder, then name_session picks the file in it. Nothing outside the sessions directory is accepted.`,
    ),
  ),
  provider_id: v.optional(
    described(ProviderId, "The providerId sent to Planfix for this number; defaults to the appliance's PROVIDER_ID. Must match what the Planfix integration is set up with."),
  ),
  /** Language of the notes and statuses this number writes into Planfix; default: the appliance's LANGUAGE. */
  language: v.optional(
    described(
      v.picklist(LANGUAGES, `must be one of ${LANGUAGES.join(", ")}`),
      "Language of the notes and statuses this number writes into Planfix (uk, ru or en); default: the appliance's LANGUAGE.",
    ),
  ),
  proxy: v.optional(described(ProxyField, PROXY_DESCRIPTION)),
});

/** PUT /client: the number plus whatever changes. */
export const UpdateInput = v.object({
  ...v.partial(StartInput).entries,
  number: NumberField,
  proxy: v.optional(described(v.nullable(ProxyField), `${PROXY_DESCRIPTION} In a PUT, null goes back to the appliance's TELEGRAM_PROXY; absent keeps the number's setting.`)),
});

/** GET / DELETE /client: which number. */
export const NumberInput = v.object({
  name: v.optional(NameField),
  number: NumberField,
});

export const ListInput = v.object({
  name: v.optional(NameField),
  number: v.optional(NumberField),
});

export type StartInput = v.InferOutput<typeof StartInput>;
export type UpdateInput = v.InferOutput<typeof UpdateInput>;

export interface FieldProblem {
  field: string;
  problem: string;
}

/**
 * Every field's problem (the first per field) in words a person can act on: `field`/`problem` are the
 * first, `problems` all of them, `message` all in one line ("name: is required; number: is required").
 */
export function validate<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
): { ok: true; value: v.InferOutput<S> } | ({ ok: false; problems: FieldProblem[]; message: string } & FieldProblem) {
  const r = v.safeParse(schema, input);
  if (r.success) return { ok: true, value: r.output };
  const problems: FieldProblem[] = [];
  for (const issue of r.issues) {
    const field = issue.path?.map((p) => String(p.key)).join(".") ?? "body";
    if (problems.some((p) => p.field === field)) continue;
    problems.push({ field, problem: issue.kind === "schema" && issue.received === "undefined" ? "is required" : issue.message });
  }
  const message = problems.map((p) => `${p.field}: ${p.problem}`).join("; ");
  return { ok: false, ...problems[0]!, problems, message };
}

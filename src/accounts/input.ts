// The management API's input, validated with valibot. Field names are the customer's (see the task).
import * as v from "valibot";
import { LANGUAGES } from "../bridge/texts.ts";

/** Phone numbers arrive as "+380 95-582-13-19", "380955821319" or 380955821319; we keep digits only. */
export const NumberField = v.pipe(
  v.union([v.string(), v.pipe(v.number(), v.integer(), v.minValue(0))], "must be a phone number (string or integer)"),
  v.transform((x) => String(x).replace(/[\s\-+().]/g, "")),
  v.regex(/^\d{5,15}$/, "must be 5 to 15 digits (international format; +, spaces and dashes allowed)"),
);

const text = (max: number, what: string) => v.pipe(v.string(`must be a string`), v.trim(), v.minLength(1, `must not be empty`), v.maxLength(max, `must be at most ${max} characters (${what})`));

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

const ProviderId = v.pipe(text(100, "providerId"), v.check((s) => !s.includes("~"), "must not contain '~' (Planfix reserves it)"));

/** POST /client: everything needed to start a number. */
export const StartInput = v.object({
  name: text(200, "client name"),
  number: NumberField,
  url_planfix: UrlField,
  token_planfix: text(500, "Planfix chat key"),
  name_session: v.optional(text(255, "session name")),
  path_session: v.optional(text(1000, "session path")),
  provider_id: v.optional(ProviderId),
  /** Language of the notes and statuses this number writes into Planfix; default: the appliance's LANGUAGE. */
  language: v.optional(v.picklist(LANGUAGES, `must be one of ${LANGUAGES.join(", ")}`)),
});

/** PUT /client: the number plus whatever changes. */
export const UpdateInput = v.object({ ...v.partial(StartInput).entries, number: NumberField });

/** GET / DELETE /client: which number. */
export const NumberInput = v.object({
  name: v.optional(text(200, "client name")),
  number: NumberField,
});

export const ListInput = v.object({
  name: v.optional(text(200, "client name")),
  number: v.optional(NumberField),
});

export type StartInput = v.InferOutput<typeof StartInput>;
export type UpdateInput = v.InferOutput<typeof UpdateInput>;

export interface FieldProblem {
  field: string;
  problem: string;
}

/** The first problem, named by field, in words a person can act on. */
export function validate<S extends v.GenericSchema>(schema: S, input: unknown): { ok: true; value: v.InferOutput<S> } | ({ ok: false } & FieldProblem) {
  const r = v.safeParse(schema, input);
  if (r.success) return { ok: true, value: r.output };
  const issue = r.issues[0]!;
  const field = issue.path?.map((p) => String(p.key)).join(".") ?? "body";
  const problem = issue.kind === "schema" && issue.received === "undefined" ? "is required" : issue.message;
  return { ok: false, field, problem };
}

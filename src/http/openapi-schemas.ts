// OpenAPI fragments for the Swagger page, derived from the same valibot schemas that validate requests.
import { toJsonSchema } from "@valibot/to-json-schema";
import * as v from "valibot";

export function jsonSchema(schema: v.GenericSchema): Record<string, unknown> {
  // errorMode "ignore": transforms (digits-only numbers) have no JSON Schema; the input side is documented.
  const { $schema: _, ...s } = toJsonSchema(schema, { errorMode: "ignore" }) as Record<string, unknown>;
  return withExample(s) as Record<string, unknown>;
}

/** OpenAPI 3.0 shows `example`, JSON Schema has `examples`: the first of them becomes the example. */
function withExample(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withExample);
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(node)) out[k] = k === "examples" ? val : withExample(val);
  if (Array.isArray(out.examples) && out.example === undefined) out.example = out.examples[0];
  return out;
}

/** The one JSON error shape of the management API (http/errors.ts answers it). */
export const ErrorBodySchema = v.object({
  error: v.pipe(v.string(), v.description("What is wrong, in words (every field at fault, when several are)")),
  field: v.optional(v.pipe(v.string(), v.description("The (first) request field at fault, when there is one"))),
});
export type ErrorBody = v.InferOutput<typeof ErrorBodySchema>;
export const ErrorBody = jsonSchema(ErrorBodySchema);

const TEXT: Record<number, string> = {
  400: "Bad input: broken JSON, wrong type, missing fields (all named), path escape",
  401: "Missing or invalid token, or an Authorization header without the word Bearer",
  403: "A client token where the admin token is needed",
  404: "Unknown number (or another client's: the answer is the same)",
  409: "The number or session belongs to another client, or the client exists",
  413: "Body larger than 1 MiB",
  415: "Unsupported content type",
  422: "Session file missing or unreadable",
  429: "Too many failed token checks from this address; wait Retry-After seconds",
  503: "TELEGRAM_API_ID / TELEGRAM_API_HASH not set on the appliance",
};

/** One example per status, as the management routes answer it. */
const EXAMPLES: Record<number, ErrorBody> = {
  400: { error: "name: is required; url_planfix: is required", field: "name" },
  401: { error: "invalid token" },
  403: { error: "this needs the admin token" },
  404: { error: "number 380955821319 not found", field: "number" },
  409: { error: 'client "acme" exists already; add numbers with that client\'s token', field: "name" },
  413: { error: "body is larger than 1048576 bytes", field: "body" },
  415: { error: 'unsupported content type "text/xml"; send JSON or a form', field: "body" },
  422: { error: 'path_session: session file "acme/380955821319.session" not found in the sessions directory', field: "path_session" },
  429: { error: "too many failed token checks from this address; try again in 42 s" },
  503: { error: "cannot start numbers: TELEGRAM_API_ID and TELEGRAM_API_HASH are not set on the appliance" },
};

const retryAfter = { "retry-after": { description: "Seconds to wait", schema: { type: "integer" } } };

export const errorResponses = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((c) => [
      String(c),
      {
        description: TEXT[c] ?? "Error",
        ...(c === 429 ? { headers: retryAfter } : {}),
        content: { "application/json": { schema: ErrorBody, example: EXAMPLES[c] ?? { error: "error" } } },
      },
    ]),
  );

/** Planfix's error shape on /planfix: `error` as Planfix expects it, `field` and `problem` for people. */
export const PlanfixErrorBodySchema = v.object({
  error: v.pipe(v.string(), v.description('"Invalid parameters", "Invalid token", "Body too large"… — what Planfix shows')),
  field: v.optional(v.pipe(v.string(), v.description("The request field at fault"))),
  problem: v.optional(v.pipe(v.string(), v.description("What is wrong with it, in words"))),
});
export type PlanfixErrorBody = v.InferOutput<typeof PlanfixErrorBodySchema>;
export const PlanfixErrorBody = jsonSchema(PlanfixErrorBodySchema);

const PLANFIX_EXAMPLES: Record<number, PlanfixErrorBody> = {
  400: { error: "Invalid parameters", field: "chatId", problem: 'chatId "380955821319_6800630955" is not a chat of this client\'s numbers' },
  401: { error: "Invalid token" },
  413: { error: "Body too large", field: "body", problem: "body is larger than 1048576 bytes" },
};

export const planfixErrorResponses = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((c) => [
      String(c),
      {
        description: TEXT[c] ?? "Error",
        ...(c === 429 ? { headers: retryAfter } : {}),
        content: { "application/json": { schema: PlanfixErrorBody, example: PLANFIX_EXAMPLES[c] ?? { error: "error" } } },
      },
    ]),
  );

export function requestBody(schema: v.GenericSchema, example: Record<string, unknown>) {
  const s = jsonSchema(schema);
  return {
    required: true,
    content: {
      "application/json": { schema: s, example },
      "application/x-www-form-urlencoded": { schema: s, example },
    },
  };
}

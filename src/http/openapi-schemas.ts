// OpenAPI fragments for the Swagger page, derived from the same valibot schemas that validate requests.
import { toJsonSchema } from "@valibot/to-json-schema";
import type * as v from "valibot";

export function jsonSchema(schema: v.GenericSchema): Record<string, unknown> {
  // errorMode "ignore": transforms (digits-only numbers) have no JSON Schema; the input side is documented.
  return toJsonSchema(schema, { errorMode: "ignore" }) as Record<string, unknown>;
}

export const ErrorBody = {
  type: "object",
  required: ["error"],
  properties: {
    error: { type: "string", description: "What is wrong, in words", example: "number: is required" },
    field: { type: "string", description: "The request field at fault, when there is one", example: "number" },
  },
} as const;

export const errorResponses = (...codes: number[]) => {
  const text: Record<number, string> = {
    400: "Bad input: broken JSON, wrong type, missing field, path escape",
    401: "Missing or invalid token",
    403: "A client token where the admin token is needed",
    404: "Unknown number (or another client's: the answer is the same)",
    409: "The number or session belongs to another client, or the client exists",
    413: "Body larger than 1 MiB",
    415: "Unsupported content type",
    422: "Session file missing or unreadable",
    503: "TELEGRAM_API_ID / TELEGRAM_API_HASH not set on the appliance",
  };
  return Object.fromEntries(codes.map((c) => [String(c), { description: text[c] ?? "Error", content: { "application/json": { schema: ErrorBody } } }]));
};

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

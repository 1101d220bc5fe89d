// The one way a management route runs: the token checked before anything else (the body included),
// the fields read from query and body, the service called, and whatever it threw mapped by errors.ts.
import type { OpenAPIV3 } from "openapi-types";
import type * as v from "valibot";
import { validate } from "../accounts/input.ts";
import type { Caller, ClientService } from "../accounts/service.ts";
import { sameSecret, tokenFromHeaders } from "../auth/tokens.ts";
import { readFields } from "./body.ts";
import { errorAnswer, HttpError } from "./errors.ts";
import { errorResponse } from "./respond.ts";

export const security: OpenAPIV3.SecurityRequirementObject[] = [{ bearer: [] }, { tokenHeader: [] }];

export interface HandleOptions {
  /** Refuse any token but the admin's, with this text (401). */
  adminOnly?: string;
  /** What a GET with a body is told to send in the query string instead. */
  queryHint?: string;
  /** Read no body on GET (the queue routes): the query string is all. */
  skipGetBody?: boolean;
}

export async function handleRequest(
  request: Request,
  service: ClientService,
  run: (caller: Caller, fields: Record<string, unknown>) => Promise<Response> | Response,
  opts: HandleOptions = {},
): Promise<Response> {
  try {
    const caller = await service.authenticate(tokenFromHeaders((n) => request.headers.get(n)));
    if (opts.adminOnly && caller.kind !== "admin") throw new HttpError(401, opts.adminOnly);
    // Bun never hands a GET request's body to the application: refuse one rather than answer as if
    // its fields had not been sent.
    const isGet = request.method === "GET" || request.method === "HEAD";
    if (isGet && sendsBody(request)) {
      throw new HttpError(400, `a GET request's body is not read: send ${opts.queryHint ?? "name and number"} in the query string`, "body");
    }
    const body = isGet && opts.skipGetBody ? {} : await readFields(request);
    return await run(caller, { ...Object.fromEntries(new URL(request.url).searchParams), ...body });
  } catch (e) {
    const answer = errorAnswer(e);
    if (answer) return answer;
    throw e;
  }
}

function sendsBody(request: Request): boolean {
  return Number(request.headers.get("content-length") ?? "0") > 0 || request.headers.has("transfer-encoding");
}

/** The schema's output, or a 400 naming every field at fault (`firstOnly`: just the first). */
export function parse<S extends v.GenericSchema>(schema: S, fields: Record<string, unknown>, firstOnly = false): v.InferOutput<S> {
  const r = validate(schema, fields);
  if (!r.ok) throw new HttpError(400, firstOnly ? `${r.field}: ${r.problem}` : r.message, r.field);
  return r.value;
}

/**
 * The token check of routes that take a fixed secret (the admin token, METRICS_TOKEN) rather than a
 * client's: null when the request carries one of `secrets`, else the 401 saying what is missing or wrong.
 */
export function secretCheck(request: Request, secrets: readonly (string | null)[], said: { missing: string; wrong: string }): Response | null {
  const token = tokenFromHeaders((n) => request.headers.get(n));
  if (!token) return errorResponse(401, said.missing);
  if (!secrets.some((secret) => secret !== null && sameSecret(token, secret))) return errorResponse(401, said.wrong);
  return null;
}

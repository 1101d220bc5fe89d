// The one HTTP error type, the one mapping from domain errors to statuses and the one JSON error shape
// ({ error, field? }) of the management API. Routes throw; `errorAnswer` turns what they threw into a
// response, or null for what is not ours to answer (Elysia's handler in app.ts takes those).
import { DomainError, type Problem } from "../domain/errors.ts";
import { errorResponse } from "./respond.ts";

/** An error that already knows its HTTP status: body problems (413, 415) and the like. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

const STATUS: Record<Problem, number> = {
  bad_input: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unprocessable: 422,
  too_many: 429,
  unavailable: 503,
  upstream_failed: 502,
};

export const statusOf = (problem: Problem): number => STATUS[problem];

/** The response for an error a route threw, or null when it is not a domain or HTTP error. */
export function errorAnswer(e: unknown): Response | null {
  if (e instanceof HttpError) return errorResponse(e.status, e.message, e.field);
  if (e instanceof DomainError) return errorResponse(statusOf(e.problem), e.message, e.field);
  return null;
}

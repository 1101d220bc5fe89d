// JSON answers. Errors always name the problem, and the field when there is one.
export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8", ...headers } });
}

export function errorResponse(status: number, error: string, field?: string): Response {
  return json(status, field ? { error, field } : { error });
}

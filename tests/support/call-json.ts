// An HTTP call to the appliance's API: a JSON (or raw string) body, a bearer token, the answer parsed.
export interface JsonAnswer {
  status: number;
  json: any;
  text: string;
}

export async function callJson(baseUrl: string, method: string, path: string, body?: unknown, token?: string | null, headers: Record<string, string> = {}): Promise<JsonAnswer> {
  const h: Record<string, string> = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  let payload: string | undefined;
  if (body !== undefined) {
    payload = typeof body === "string" ? body : JSON.stringify(body);
    h["content-type"] ??= "application/json";
  }
  const res = await fetch(baseUrl + path, { method, headers: h, body: payload });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text };
}

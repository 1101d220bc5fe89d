// Reads a request body with a size cap and turns JSON, form-encoded or multipart bodies into fields.
import { HttpError } from "./errors.ts";

/** The body cannot be read: always the field "body". */
export class BodyError extends HttpError {
  constructor(
    override readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super(status, message, "body");
  }
}

export const MAX_BODY_BYTES = 1024 * 1024;

/** The body's bytes, at most `maxBytes` (declared or streamed); a body cut off by the client is a 400. */
export async function readBodyBytes(request: Request, maxBytes = MAX_BODY_BYTES): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBytes) throw new BodyError(413, `body is larger than ${maxBytes} bytes`);
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let chunk: Awaited<ReturnType<typeof reader.read>>;
    try {
      chunk = await reader.read();
    } catch {
      // The client closed the connection before the body was complete (shorter than its
      // Content-Length, or a chunked body without its last chunk): nobody is left to answer.
      throw new BodyError(400, "the body ended before it was complete (the connection closed)");
    }
    if (chunk.done) break;
    size += chunk.value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new BodyError(413, `body is larger than ${maxBytes} bytes`);
    }
    chunks.push(chunk.value);
  }
  return Buffer.concat(chunks);
}

export async function readBodyText(request: Request, maxBytes = MAX_BODY_BYTES): Promise<string> {
  const bytes = await readBodyBytes(request, maxBytes);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new BodyError(400, "body is not valid UTF-8");
  }
}

/** Fields of a JSON object, form-encoded or multipart body. Empty body → no fields. */
export async function readFields(request: Request, maxBytes = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  const type = (request.headers.get("content-type") ?? "").toLowerCase();
  if (type.startsWith("multipart/form-data")) {
    // Read under the same cap first: request.formData() would buffer a chunked body of any size.
    const bytes = await readBodyBytes(request, maxBytes);
    let form: Awaited<ReturnType<Request["formData"]>>;
    try {
      form = await new Response(bytes, { headers: { "content-type": request.headers.get("content-type") ?? "" } }).formData();
    } catch {
      throw new BodyError(400, "body is not valid multipart/form-data");
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of form.entries()) if (typeof v === "string") out[k] = v;
    return out;
  }
  const text = await readBodyText(request, maxBytes);
  if (text.trim() === "") return {};
  // A body that starts like JSON is JSON whatever its declared type: curl's `-d` labels a JSON body
  // x-www-form-urlencoded, and reading it as a form would lose every field. No form starts with "{".
  if (type.includes("json") || /^\s*[{[]/.test(text)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
      // Reparsed with decimal/exponent literals as their text: JSON.parse turns 380950000001.0 into an
      // integer, and the fields' checks must be able to see it was not written as one.
      if (hasNonIntegerLiteral(text)) parsed = JSON.parse(nonIntegerLiteralsAsText(text));
    } catch (e) {
      throw new BodyError(400, `body is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new BodyError(400, "body must be a JSON object");
    return parsed as Record<string, unknown>;
  }
  if (type === "" || type.startsWith("application/x-www-form-urlencoded") || type.startsWith("text/plain")) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  throw new BodyError(415, `unsupported content type "${type.split(";")[0]}"; send JSON or a form`);
}

/** Calls `visit` with each number literal of (valid) JSON text, outside strings, and its position. */
function eachNumberLiteral(text: string, visit: (start: number, end: number) => void): void {
  for (let i = 0; i < text.length; ) {
    const c = text[i]!;
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
      i++;
    } else if (c === "-" || (c >= "0" && c <= "9")) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400))!;
      visit(i, i + m[0].length);
      i += m[0].length;
    } else i++;
  }
}

const isNonInteger = (literal: string) => /[.eE]/.test(literal);

export function hasNonIntegerLiteral(text: string): boolean {
  if (!/[.eE]/.test(text)) return false;
  let found = false;
  eachNumberLiteral(text, (s, e) => (found ||= isNonInteger(text.slice(s, e))));
  return found;
}

/** The JSON text with every decimal or exponent number literal turned into a string of its text. */
export function nonIntegerLiteralsAsText(text: string): string {
  let out = "";
  let last = 0;
  eachNumberLiteral(text, (s, e) => {
    const literal = text.slice(s, e);
    if (!isNonInteger(literal)) return;
    out += text.slice(last, s) + JSON.stringify(literal);
    last = e;
  });
  return out + text.slice(last);
}

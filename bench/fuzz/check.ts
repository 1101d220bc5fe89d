// Judges one exchange against its case's expectations, and finds secrets in any text.
import type { FuzzCase } from "./cases.ts";
import type { Exchange, RawResponse } from "./http.ts";

export interface Secret {
  label: string;
  value: string | Uint8Array;
}

interface Needle {
  label: string;
  form: string;
  text: string;
}

/**
 * Every form a secret could leak in: as is, base64, base64url, hex, URL-encoded, and long slices of
 * those (a secret cut short by a redaction that kept too much, or one embedded in a longer encoding).
 */
export class SecretScanner {
  readonly needles: Needle[] = [];

  constructor(secrets: Secret[]) {
    for (const s of secrets) {
      const bytes = typeof s.value === "string" ? Buffer.from(s.value, "utf8") : Buffer.from(s.value);
      const forms: [string, string][] = [];
      if (typeof s.value === "string") {
        forms.push(["raw", s.value], ["url-encoded", encodeURIComponent(s.value)]);
        if (s.value.length >= 32) forms.push(["raw slice", s.value.slice(5, 29)], ["raw tail", s.value.slice(-24)]);
      }
      const b64 = bytes.toString("base64");
      const b64u = bytes.toString("base64url");
      const hex = bytes.toString("hex");
      forms.push(["base64", b64.replace(/=+$/, "")], ["base64url", b64u], ["hex", hex], ["HEX", hex.toUpperCase()]);
      if (bytes.length >= 48) {
        // Slices at offsets that are multiples of 3 bytes are substrings of the whole base64 text.
        for (const at of [0, 30, 99, 201]) {
          if (at + 24 > bytes.length) continue;
          const part = bytes.subarray(at, at + 24);
          forms.push(
            [`base64 of bytes ${at}..${at + 24}`, part.toString("base64")],
            [`base64url of bytes ${at}..${at + 24}`, part.toString("base64url")],
            [`hex of bytes ${at}..${at + 16}`, part.subarray(0, 16).toString("hex")],
          );
        }
      }
      const seen = new Set<string>();
      for (const [form, text] of forms) {
        if (text.length < 16 || seen.has(text)) continue;
        seen.add(text);
        this.needles.push({ label: s.label, form, text });
      }
    }
  }

  /** The secrets found in `text`, as "label (form)". */
  scan(text: string): string[] {
    const found: string[] = [];
    for (const n of this.needles) if (text.includes(n.text)) found.push(`${n.label} (${n.form})`);
    return found;
  }

  /** `text` with every secret replaced by its label, for printing a request. */
  mask(text: string): string {
    let out = text;
    for (const n of this.needles) if (n.form === "raw" || n.form === "url-encoded") out = out.split(n.text).join(`<${n.label}>`);
    return out;
  }
}

export type Verdict = { ok: true; bucket: string; notes: string[] } | { ok: false; bucket: string; problems: string[]; notes: string[] };

const latin1 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");

/** A bare answer of the HTTP layer itself (Bun's parser): no content type, no body. */
export function isBare(r: RawResponse): boolean {
  return r.headers["content-type"] === undefined && r.body.byteLength === 0;
}

export function checkExchange(c: FuzzCase, x: Exchange, scanner: SecretScanner, requestText: string): Verdict {
  const e = c.expect;
  const problems: string[] = [];
  const notes: string[] = [];
  if (x.responses.length === 0) {
    if (x.timedOut) {
      if (e.mayHang || e.protocol) return { ok: true, bucket: "no answer (waiting for more body)", notes };
      return { ok: false, bucket: "timeout", problems: ["no answer before the time limit"], notes };
    }
    if (e.mayClose || e.protocol) return { ok: true, bucket: "closed without an answer", notes };
    // The server answered (or refused) before reading the whole body and closed; the rest of our
    // body made the connection reset, which can swallow the answer. Bun does not linger on close.
    if (!x.sentAll) return { ok: true, bucket: "reset while the body was still being sent", notes };
    return { ok: false, bucket: "closed", problems: [`the connection closed without an answer${x.error ? ` (${x.error})` : ""}`], notes };
  }
  const head = c.req.method === "HEAD";
  // 1xx answers (100 Continue) are interim: the real answer follows.
  const finals = x.responses.filter((r) => r.status >= 200 || r.status < 100);
  if (finals.length === 0) {
    if (e.mayClose || e.protocol || !x.sentAll) return { ok: true, bucket: "closed without an answer", notes };
    return { ok: false, bucket: "closed", problems: ["only an interim (1xx) answer, then nothing"], notes };
  }
  for (const [i, r] of finals.entries()) {
    const bare = isBare(r);
    const first = i === 0;
    const text = latin1(r.body);
    // Secrets: in any answer, headers included — even one the request carried (no answer echoes a token).
    const leaked = scanner.scan(`${r.rawHead}\r\n\r\n${text}`);
    if (leaked.length) problems.push(`secret in the answer: ${leaked.join(", ")}`);
    if (r.status >= 500) {
      // Bun's parser answers 505 to a request line it cannot read (a space in the target, a version
      // other than HTTP/1.x) before the application sees anything. Allowed only for such requests.
      if (!(r.status === 505 && bare && e.protocol)) problems.push(`status ${r.status}${bare ? " (bare, from the HTTP layer)" : `: ${text.slice(0, 200)}`}`);
      else notes.push("505 from the HTTP parser");
      continue;
    }
    if (!first) continue; // answers to left-over bytes after the request are the parser's business
    if (bare) {
      if (!e.protocol && !head) problems.push(`status ${r.status} with no body from the HTTP layer (not JSON)`);
      continue;
    }
    const type = (r.headers["content-type"] ?? "").toLowerCase();
    const status = r.status;
    if (e.status && !e.status.includes(status)) problems.push(`status ${status}, expected ${e.status.join("/")}${e.statusWhy ? ` (${e.statusWhy})` : ""}`);
    if (e.not2xx && status >= 200 && status < 300) problems.push(`status ${status}: must fail (${e.not2xx})`);
    if (e.no201 && status === 201) problems.push(`status 201: ${e.no201}`);
    for (const f of e.forbid ?? []) if (text.includes(f.text) && !requestText.includes(f.text)) problems.push(f.why);
    if (head) continue;
    const okBody = status >= 200 && status < 300;
    if (okBody && (e.bytes || e.kind === "file")) {
      if (e.bytes && Buffer.compare(Buffer.from(r.body), Buffer.from(e.bytes)) !== 0)
        problems.push(`a 200 with other bytes than the file's (${r.body.byteLength} vs ${e.bytes.byteLength})`);
      continue;
    }
    if (okBody && (e.kind === "html" || (e.kind === "docs" && type.includes("html")))) {
      if (!type.includes("text/html") || r.body.byteLength === 0) problems.push(`the docs page answered ${type || "no type"}, ${r.body.byteLength} bytes`);
      continue;
    }
    if (okBody && e.kind === "asset") {
      if (!/text\/(css|javascript)|application\/javascript/.test(type) || r.body.byteLength === 0)
        problems.push(`an asset answered ${type || "no type"}, ${r.body.byteLength} bytes`);
      continue;
    }
    if (status === 204 || status === 304) continue;
    // A Range the file cannot satisfy: Bun's file response answers 416 with Content-Range, no body.
    if (status === 416 && e.kind === "file" && r.headers["content-range"] !== undefined) continue;
    // Everything else is JSON, and an error says what is wrong.
    if (!type.includes("json")) {
      problems.push(`status ${status} with content type "${type}" (not JSON): ${text.slice(0, 120)}`);
      continue;
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.from(r.body).toString("utf8"));
    } catch {
      problems.push(`status ${status}: the body is not valid JSON: ${text.slice(0, 120)}`);
      continue;
    }
    if (status >= 400) {
      const err = (body as { error?: unknown } | null)?.error;
      if (typeof err !== "string" || err.trim() === "") problems.push(`status ${status} without an "error" naming the problem: ${text.slice(0, 200)}`);
    }
  }
  const first = finals[0]!;
  const bucket = isBare(first) ? `${first.status} (bare, HTTP layer)` : String(first.status);
  return problems.length ? { ok: false, bucket, problems, notes } : { ok: true, bucket, notes };
}

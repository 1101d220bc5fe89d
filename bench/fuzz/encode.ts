// Turns fields into request bodies — correctly, or broken in one of many ways — and frames them
// (Content-Length or chunked).
import type { RawBody } from "./http.ts";
import type { Rng } from "../../tests/support/rng.ts";
import { BAD_PERCENT, INVALID_UTF8, pct } from "./values.ts";

export type Pair = [string, string];

export interface Encoded {
  bytes: Uint8Array;
  /** The content type matching the encoding (null: none fits). */
  contentType: string | null;
  note: string;
}

const enc = new TextEncoder();
const utf8 = (s: string) => enc.encode(s);

/** Form-style pairs from fields: arrays become repeated keys, objects JSON text, null an empty value. */
export function toPairs(fields: Record<string, unknown>): Pair[] {
  const out: Pair[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (Array.isArray(v)) for (const item of v) out.push([k, scalar(item)]);
    else out.push([k, scalar(v)]);
  }
  return out;
}

function scalar(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "object") {
    try {
      return JSON.stringify(v) ?? "";
    } catch {
      return "[cyclic]";
    }
  }
  return String(v);
}

function safeStringify(v: unknown, space?: number): string {
  try {
    return JSON.stringify(v, null, space) ?? "null";
  } catch {
    return '{"deep":"too deep to stringify"}';
  }
}

export function encodeJson(rng: Rng, fields: Record<string, unknown>, brokenRate = 0.25): Encoded {
  const ct = "application/json";
  const text = safeStringify(fields);
  if (!rng.chance(brokenRate)) {
    const form = rng.weighted<() => Encoded>([
      [6, () => ({ bytes: utf8(text), contentType: ct, note: "json" })],
      [1, () => ({ bytes: utf8(safeStringify(fields, 2)), contentType: ct, note: "json pretty" })],
      [1, () => ({ bytes: utf8("\ufeff" + text), contentType: ct, note: "json with BOM" })],
      [1, () => ({ bytes: utf8(`\r\n\t ${text} \n\n`), contentType: ct, note: "json with whitespace around" })],
      [
        1,
        () => {
          // Keys JSON.parse keeps as own properties but that mean something to JavaScript objects.
          const key = rng.pick(["__proto__", "constructor", "prototype"]);
          const inner = safeStringify({ ...fields, admin: true, prototype: { admin: true } });
          return { bytes: utf8(text.length > 2 ? `{"${key}":${inner},${text.slice(1)}` : `{"${key}":${inner}}`), contentType: ct, note: `json with a "${key}" key` };
        },
      ],
      [
        1,
        () => {
          // A repeated key: JSON.parse keeps the last one.
          const entries = Object.entries(fields);
          const e = entries.length ? rng.pick(entries) : ["number", "1"];
          const dup = text.length > 2 ? `{${JSON.stringify(e[0])}:${safeStringify(rng.chance(0.5) ? "dup" : e[1])},${text.slice(1)}` : text;
          return { bytes: utf8(dup), contentType: ct, note: "json with a repeated key" };
        },
      ],
    ]);
    return form();
  }
  const broken = rng.pick<() => Encoded>([
    () => ({ bytes: utf8(text.slice(0, rng.int(0, Math.max(0, text.length - 1)))), contentType: ct, note: "json truncated" }),
    () => ({ bytes: utf8(text.replace(/"/, "")), contentType: ct, note: "json missing a quote" }),
    () => ({ bytes: utf8(text.replace(/}$/, ",}")), contentType: ct, note: "json trailing comma" }),
    () => ({ bytes: utf8(text.replace(/"/g, "'")), contentType: ct, note: "json single quotes" }),
    () => ({ bytes: utf8(`// comment\n${text}`), contentType: ct, note: "json with a comment" }),
    () => ({ bytes: utf8(text.replace(/:("[^"]*"|[^,}]*)/, ":NaN")), contentType: ct, note: "json NaN literal" }),
    () => ({ bytes: utf8(text.replace(/"([a-z_]+)":/g, "$1:")), contentType: ct, note: "json unquoted keys" }),
    () => ({ bytes: utf8(`${text}}{`), contentType: ct, note: "json trailing garbage" }),
    () => ({ bytes: utf8(`${text}${text}`), contentType: ct, note: "json twice" }),
    () => ({ bytes: utf8(safeStringify(Object.entries(fields))), contentType: ct, note: "json array of entries" }),
    () => ({ bytes: utf8(rng.pick(['"a string"', "42", "null", "true", "[]", "[{}]", '""', "-0", "1e999"])), contentType: ct, note: "json scalar at top level" }),
    () => ({ bytes: utf8("[".repeat(rng.int(1000, 200_000))), contentType: ct, note: "json deep open brackets" }),
    () => ({ bytes: utf8(`${"[".repeat(5000)}${"]".repeat(5000)}`), contentType: ct, note: "json deeply nested array" }),
    () => ({ bytes: utf8(`{"a":${'{"a":'.repeat(3000)}1${"}".repeat(3000)}}`), contentType: ct, note: "json deeply nested object" }),
    () => ({ bytes: withInvalidUtf8(rng, utf8(text)), contentType: ct, note: "json with invalid UTF-8" }),
    () => ({ bytes: utf16(rng, text), contentType: rng.pick([ct, "application/json; charset=utf-16"]), note: "json as UTF-16" }),
    () => ({ bytes: utf8(text.replace(/"([^"\\]{1,20})"/, '"$1\\ud800"')), contentType: ct, note: "json lone surrogate escape" }),
    () => ({ bytes: utf8(text.replace(/"([^"\\]{1,20})"/, '"$1\\u00"')), contentType: ct, note: "json bad \\u escape" }),
    () => ({ bytes: utf8(text.replace(/"([^"\\]{1,20})"/, '"$1\n\t"')), contentType: ct, note: "json raw control characters" }),
    () => ({ bytes: new Uint8Array(0), contentType: ct, note: "json empty body" }),
    () => ({ bytes: utf8("   \n\t "), contentType: ct, note: "json whitespace body" }),
    () => ({ bytes: rng.bytes(rng.int(1, 400)), contentType: ct, note: "random bytes as json" }),
  ]);
  return broken();
}

export function encodeForm(rng: Rng, pairs: Pair[], brokenRate = 0.25): Encoded {
  const ct = "application/x-www-form-urlencoded";
  const good = () => {
    const p = new URLSearchParams();
    for (const [k, v] of pairs) p.append(k, v);
    return p.toString();
  };
  if (!rng.chance(brokenRate)) {
    const form = rng.weighted<() => Encoded>([
      [6, () => ({ bytes: utf8(good()), contentType: ct, note: "form" })],
      [1, () => ({ bytes: utf8(pairs.map(([k, v]) => `${pct(k)}=${pct(v)}`).join("&")), contentType: ct, note: "form %20-encoded" })],
      [1, () => ({ bytes: utf8(`&&${good()}&&`), contentType: ct, note: "form with empty pairs" })],
      [1, () => ({ bytes: utf8(pairs.map(([k, v]) => `${k}=${v}`).join("&")), contentType: ct, note: "form unescaped" })],
    ]);
    return form();
  }
  const broken = rng.pick<() => Encoded>([
    () => {
      const s = good();
      const at = rng.int(0, s.length);
      return { bytes: utf8(s.slice(0, at) + rng.pick(BAD_PERCENT) + s.slice(at)), contentType: ct, note: "form with a bad % escape" };
    },
    () => ({ bytes: utf8(good().replace(/=/g, rng.pick(["", "==", "%3D"]))), contentType: ct, note: "form with broken =" }),
    () => ({ bytes: utf8(good().replace(/&/g, ";")), contentType: ct, note: "form with ; separators" }),
    () => ({ bytes: withInvalidUtf8(rng, utf8(good())), contentType: ct, note: "form with invalid UTF-8" }),
    () => ({
      bytes: utf8(
        pairs
          .map(([k, v]) => `${k}=${v}`)
          .join("&")
          .replace(/./g, (c) => (rng.chance(0.05) ? "%" : c)),
      ),
      contentType: ct,
      note: "form with stray %",
    }),
    () => ({ bytes: utf8(good().slice(0, rng.int(0, good().length))), contentType: ct, note: "form truncated" }),
    () => ({ bytes: utf8(pairs.map(([k]) => k).join("&")), contentType: ct, note: "form keys without values" }),
    () => ({ bytes: utf8(`=${good()}`), contentType: ct, note: "form starting with =" }),
    () => ({ bytes: rng.bytes(rng.int(1, 300)), contentType: ct, note: "random bytes as form" }),
    () => ({ bytes: utf8(good().replace(/\+/g, "%2B").replace(/%20/g, " ")), contentType: ct, note: "form raw spaces" }),
  ]);
  return broken();
}

export function encodeMultipart(rng: Rng, pairs: Pair[], brokenRate = 0.3): Encoded {
  const boundary = rng.pick(["----fuzz" + rng.text(16), "x", "a".repeat(70), "b o u n d", "é-boundary", "--"]);
  const ct = `multipart/form-data; boundary=${boundary.includes(" ") ? `"${boundary}"` : boundary}`;
  const part = (name: string, value: string, eol = "\r\n") => `--${boundary}${eol}Content-Disposition: form-data; name="${name}"${eol}${eol}${value}${eol}`;
  const good = () => pairs.map(([k, v]) => part(k, v)).join("") + `--${boundary}--\r\n`;
  if (!rng.chance(brokenRate)) {
    return rng.weighted<() => Encoded>([
      [5, () => ({ bytes: utf8(good()), contentType: ct, note: "multipart" })],
      [1, () => ({ bytes: utf8(`preamble\r\n${good()}epilogue`), contentType: ct, note: "multipart with preamble/epilogue" })],
      [
        1,
        () => {
          const file = Buffer.concat([
            utf8(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="../../etc/passwd"\r\nContent-Type: application/octet-stream\r\n\r\n`),
            rng.bytes(rng.int(1, 5000)),
            utf8("\r\n"),
          ]);
          return {
            bytes: Buffer.concat([utf8(pairs.map(([k, v]) => part(k, v)).join("")), file, utf8(`--${boundary}--\r\n`)]),
            contentType: ct,
            note: "multipart with a file part",
          };
        },
      ],
    ])();
  }
  return rng.pick<() => Encoded>([
    () => ({ bytes: utf8(pairs.map(([k, v]) => part(k, v, "\n")).join("") + `--${boundary}--\n`), contentType: ct, note: "multipart LF only" }),
    () => ({ bytes: utf8(pairs.map(([k, v]) => part(k, v)).join("")), contentType: ct, note: "multipart without closing boundary" }),
    () => ({ bytes: utf8(good()), contentType: "multipart/form-data; boundary=other", note: "multipart boundary mismatch" }),
    () => ({ bytes: utf8(good()), contentType: "multipart/form-data", note: "multipart without boundary" }),
    () => ({ bytes: utf8(good()), contentType: "multipart/form-data; boundary=", note: "multipart empty boundary" }),
    () => ({ bytes: utf8(good()), contentType: `multipart/form-data; boundary=${"z".repeat(2000)}`, note: "multipart long boundary" }),
    () => ({ bytes: utf8(`--${boundary}\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--${boundary}--\r\n`), contentType: ct, note: "multipart part without name" }),
    () => ({ bytes: utf8(`--${boundary}\r\ngarbage header line\r\n\r\nx\r\n--${boundary}--\r\n`), contentType: ct, note: "multipart garbage part head" }),
    () => ({ bytes: utf8(`--${boundary}\r\nContent-Disposition: form-data; name="a"\r\n`), contentType: ct, note: "multipart cut in a part head" }),
    () => ({ bytes: rng.bytes(rng.int(1, 2000)), contentType: ct, note: "multipart random bytes" }),
    () => ({ bytes: withInvalidUtf8(rng, utf8(good())), contentType: ct, note: "multipart with invalid UTF-8" }),
    () => ({
      bytes: utf8(
        `--${boundary}\r\nContent-Disposition: form-data; name="a"\r\nContent-Type: multipart/mixed; boundary=inner\r\n\r\n--inner\r\n\r\nx\r\n--inner--\r\n--${boundary}--\r\n`,
      ),
      contentType: ct,
      note: "multipart nested",
    }),
    () => ({ bytes: utf8(`--${boundary}--\r\n`), contentType: ct, note: "multipart with no parts" }),
  ])();
}

/** A body that is none of the accepted formats, or a correct body under the wrong name. */
export function encodeOther(rng: Rng, fields: Record<string, unknown>): Encoded {
  return rng.pick<() => Encoded>([
    () => ({ bytes: utf8(`<client><number>${scalar(fields.number)}</number></client>`), contentType: "application/xml", note: "xml" }),
    () => ({ bytes: utf8(safeStringify(fields)), contentType: "text/plain", note: "json as text/plain" }),
    () => ({ bytes: utf8(new URLSearchParams(toPairs(fields)).toString()), contentType: "application/json", note: "form labelled json" }),
    () => ({ bytes: utf8(safeStringify(fields)), contentType: "application/x-www-form-urlencoded", note: "json labelled form" }),
    () => ({ bytes: utf8(safeStringify(fields)), contentType: "application/octet-stream", note: "json as octet-stream" }),
    () => ({ bytes: utf8(safeStringify(fields)), contentType: "image/png", note: "json as image/png" }),
    () => ({ bytes: utf8(safeStringify(fields)), contentType: "application/json-patch+json", note: "json-patch" }),
    () => ({ bytes: utf8(safeStringify(fields)), contentType: "APPLICATION/JSON; CHARSET=UTF-8", note: "upper-case json type" }),
    () => ({ bytes: utf8(safeStringify(fields)), contentType: "application/json; charset=koi8-r", note: "json koi8-r" }),
    () => ({ bytes: utf8(safeStringify(fields)), contentType: "\x01\x02garbage/\xff", note: "garbage content type" }),
    () => ({ bytes: utf8(safeStringify(fields)), contentType: "", note: "empty content type" }),
    () => ({ bytes: utf8(safeStringify(fields)), contentType: null, note: "no content type" }),
    () => ({ bytes: utf8(new URLSearchParams(toPairs(fields)).toString()), contentType: null, note: "form without content type" }),
    () => ({ bytes: rng.bytes(rng.int(1, 3000)), contentType: null, note: "random bytes, no content type" }),
    () => ({ bytes: utf8(safeStringify(fields)), contentType: "multipart/form-data; boundary=x", note: "json labelled multipart" }),
    () => ({ bytes: gzipLike(rng), contentType: "application/json", note: "gzip bytes as json" }),
  ])();
}

function withInvalidUtf8(rng: Rng, bytes: Uint8Array): Uint8Array {
  const bad = rng.pick(INVALID_UTF8);
  const at = rng.int(0, bytes.length);
  return Buffer.concat([bytes.subarray(0, at), Buffer.from(bad), bytes.subarray(at)]);
}

function utf16(rng: Rng, text: string): Uint8Array {
  const le = rng.chance(0.5);
  const buf = Buffer.from(text, "utf16le");
  if (!le) buf.swap16();
  return Buffer.concat([Buffer.from(le ? [0xff, 0xfe] : [0xfe, 0xff]), buf]);
}

function gzipLike(rng: Rng): Uint8Array {
  return Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), rng.bytes(rng.int(10, 200))]);
}

/**
 * Content-Length framing (mostly) or valid chunked framing with random chunk sizes. `trailer` says the
 * chunked body ends with a trailer field: valid HTTP/1.1, but Bun's parser reads it as a new request.
 */
export function frame(rng: Rng, bytes: Uint8Array): { body: RawBody; headers: [string, string][]; note: string; trailer?: string } {
  if (!rng.chance(0.15)) return { body: { kind: "bytes", bytes }, headers: [], note: "" };
  const parts: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    const n = Math.min(bytes.length - at, rng.pick([1, 7, 100, 4096, 65536, bytes.length]));
    const ext = rng.chance(0.1) ? ";name=value" : "";
    parts.push(utf8(`${n.toString(16)}${ext}\r\n`), bytes.subarray(at, at + n), utf8("\r\n"));
    at += n;
  }
  const trailer = rng.chance(0.05);
  parts.push(utf8(trailer ? "0\r\nX-Trailer: t\r\n\r\n" : "0\r\n\r\n"));
  return {
    body: { kind: "raw-parts", parts },
    headers: [["Transfer-Encoding", "chunked"]],
    note: trailer ? " chunked with a trailer" : " chunked",
    ...(trailer ? { trailer: "a chunked body with a trailer field (Bun's parser reads the trailer as a next request)" } : {}),
  };
}

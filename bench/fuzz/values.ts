// Pools of hostile values: odd Unicode, invalid UTF-8, broken percent-encoding, path tricks, phone
// numbers in every shape, URLs, wrong JSON types. Generators pick from here.
import type { Rng } from "../../tests/support/rng.ts";

/** What the generators know about the world (no secrets are invented here: they are the real ones). */
export interface Ctx {
  adminToken: string;
  acme: { name: string; token: string; number: string; chatId: string; userId: string; sessionFile: string };
  beta: { name: string; token: string; number: string; chatId: string; userId: string; sessionFile: string };
  customer: { id: string; phone: string; username: string };
  files: { id: string; name: string; bytes: Uint8Array }[];
  hostedUrl: string;
  deadPort: number;
  appPort: number;
  sessionsDir: string;
  dataDir: string;
  decoys: string[];
}

/** Strings that trip Unicode handling. */
export const ODD_UNICODE = [
  "\u202eevil\u202c",
  "\u200e\u200f",
  "\u200b\u200c\u200d\u2060\ufeff",
  "\0",
  "a\0b",
  "\x01\x02\x7f\x1b[31m",
  "\r\n\r\n",
  "\u2028\u2029",
  "👍🏽🇺🇦👨‍👩‍👧",
  "e\u0301\u0301\u0301\u0301",
  "Z̷̡̛a̸̢l̵̨g̴o̶",
  "\ud800",
  "\udc00",
  "\udbff\udfff",
  "x\ud83dy",
  "\uffff\ufffe",
  "\ufdd0",
  "３８０９５５８２１３１９",
  "٣٨٠٩٥٥٨٢١٣١٩",
  "аcmе", // Cyrillic а and е
  "ACME",
  " acme ",
  "acme\u200b",
  "\t",
  "null",
  "undefined",
  "true",
  "[object Object]",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log-injection probe, sent as written
  "${jndi:ldap://127.0.0.1/x}",
  "{{7*7}}",
  "'; DROP TABLE clients; --",
  '" OR 1=1 --',
  "<script>alert(1)</script>",
  "%s%s%s%n",
  "../../../../etc/passwd",
  "\\u0000",
  "丂ㄖ爪乇 ㄒ乇乂ㄒ",
  "ﷺ",
  "𝕬𝖈𝖒𝖊",
];

/** Byte sequences that are not UTF-8. */
export const INVALID_UTF8: number[][] = [
  [0xff],
  [0xfe, 0xff],
  [0xc0, 0xaf],
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xe2, 0x82],
  [0x80],
  [0xc3],
];

/** Percent escapes that do not decode. */
export const BAD_PERCENT = ["%", "%z", "%zz", "%E0%A4%A", "%C0%AF", "%ff", "%u0041", "%%", "%2", "%e2%82", "%ED%A0%80", "%F4%90%80%80", "%00", "%0", "%%30%30", "%2500"];

export function oddString(rng: Rng): string {
  const r = rng.int(0, 9);
  if (r < 5) return rng.pick(ODD_UNICODE);
  if (r < 7) return rng.pick(ODD_UNICODE) + rng.text(rng.int(1, 12)) + rng.pick(ODD_UNICODE);
  if (r < 8) return longString(rng);
  if (r === 8) return String.fromCharCode(...Array.from({ length: rng.int(1, 40) }, () => rng.int(0, 0xffff)));
  return "";
}

/** 1 KiB … 900 KiB of text (under the 1 MiB body cap once encoded, mostly). */
export function longString(rng: Rng): string {
  const n = rng.weighted([
    [5, rng.int(201, 1100)],
    [3, rng.int(5000, 70_000)],
    [1, rng.int(200_000, 900_000)],
  ]);
  const unit = rng.pick(["a", "ж", "👍", "\u200b", "x ", "%", "\u202e"]);
  return unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
}

/** Any JSON value that is not a string. */
export function wrongType(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => null,
    () => true,
    () => false,
    () => 0,
    () => -1,
    () => 1.5,
    () => 1e308,
    () => -0,
    () => Number.MAX_SAFE_INTEGER + 2,
    () => [],
    () => ["acme"],
    () => [1, [2, [3]]],
    () => ({}),
    () => ({ value: "x" }),
    () => ({ __proto__: { admin: true } }),
    () => deepNest(rng.int(50, 3000)),
  ])();
}

export function deepNest(depth: number): unknown {
  let v: unknown = "deep";
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

export function numberValue(rng: Rng, digits: string): unknown {
  const d = digits;
  return rng.pick<() => unknown>([
    () => d,
    () => `+${d}`,
    () => `+${d.slice(0, 3)} ${d.slice(3, 5)} ${d.slice(5, 8)} ${d.slice(8, 10)} ${d.slice(10)}`,
    () => `${d.slice(0, 3)}-${d.slice(3, 5)}-${d.slice(5)}`,
    () => `(${d.slice(0, 3)}) ${d.slice(3)}`,
    () => Number(d),
    () => ` ${d} `,
    () => `${d}.`,
    () => `+(${d})`,
  ])();
}

export function ghostDigits(rng: Rng): string {
  return `38099${rng.text(7, "0123456789")}`;
}

export function malformedNumber(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => "",
    () => " ",
    () => "abc",
    () => "1234",
    () => "1".repeat(16),
    () => "9".repeat(400),
    () => -380955821319,
    () => 380955821319.5,
    () => 1e21,
    // biome-ignore lint/correctness/noPrecisionLoss: Infinity on purpose, written as JSON sends it
    () => 1e400,
    () => "1e21",
    () => "0x1234567",
    () => "380955821319\0",
    () => "380955821319\u200b",
    () => "380955821319\u202e",
    () => "３８０９５５８２１３１９",
    () => "٣٨٠٩٥٥٨٢١٣١٩",
    () => "380955821319;DROP",
    () => "380955821319%00",
    () => "+-+-+-",
    () => "380 95 582 13 19 ext 5",
    () => "NaN",
    () => "Infinity",
    () => wrongType(rng),
  ])();
}

/** Values for path_session / name_session: escapes, absolute paths, encodings, decoys, odd names. */
export function pathTrick(rng: Rng, ctx: Ctx): string {
  return rng.pick<() => string>([
    () => "../../etc/passwd",
    () => "..",
    () => "../",
    () => "acme/../../x",
    () => "acme/../acme/anna.session",
    () => "/etc/passwd",
    () => "/etc/shadow",
    () => "/proc/self/environ",
    () => "/dev/zero",
    () => `${ctx.sessionsDir}/../admin-token`,
    () => `${ctx.dataDir}/planfix-telegram.db`,
    () => `${ctx.dataDir}/admin-token`,
    () => `${ctx.sessionsDir}/${ctx.acme.sessionFile}`,
    () => `${ctx.sessionsDir}//${ctx.beta.sessionFile}`,
    () => "acme\\..\\..\\x",
    () => "..\\..\\windows\\win.ini",
    () => "C:\\Windows\\win.ini",
    () => "\\\\127.0.0.1\\share\\x",
    () => "acme/anna.session\0.txt",
    () => "\0",
    () => "acme%2fanna.session",
    () => "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    () => "..%c0%af..%c0%afetc/passwd",
    () => "./acme/anna.session",
    () => "acme//anna.session",
    () => "acme/./anna.session",
    () => "~/x",
    () => "~root/.ssh/id_rsa",
    () => "file:///etc/passwd",
    () => "acme/",
    () => "acme",
    () => ".",
    () => "./",
    () => "/",
    () => "//",
    () => "a".repeat(rng.int(256, 1200)),
    () => "a/".repeat(rng.int(100, 600)),
    () => "con",
    () => "nul.session",
    () => "x\ny",
    () => "link-root/etc/passwd",
    () => "link-root/proc/self/environ",
    () => "link-root/dev/zero",
    () => "link-up/admin-token",
    () => "link-up/planfix-telegram.db",
    () => "link-up/sessions/acme/anna.session",
    () => "link-boris",
    () => "copy-boris.session",
    () => "link-anna",
    () => "acme/hard-anna",
    () => ctx.beta.sessionFile,
    () => ctx.acme.sessionFile,
    () => rng.pick(ctx.decoys),
    () => rng.pick(ctx.decoys),
    () => rng.pick(ctx.decoys),
    () => rng.pick(ODD_UNICODE),
    () => `${rng.pick(ODD_UNICODE)}.session`,
    () => `does-not-exist-${rng.text(6)}.session`,
  ])();
}

/** url_planfix values: valid local ones (never the internet) and invalid ones. */
export function urlValue(rng: Rng, ctx: Ctx): unknown {
  const dead = `127.0.0.1:${ctx.deadPort}`;
  return rng.pick<() => unknown>([
    () => `http://${dead}/webchat/api`,
    () => `https://${dead}/webchat/api`,
    () => `HTTP://${dead}/X`,
    () => `http://user:pass@${dead}/`,
    () => `http://[::1]:${ctx.deadPort}/`,
    () => `http://${dead}/${"a".repeat(rng.int(1990, 2100))}`,
    () => "javascript:alert(1)",
    () => "file:///etc/passwd",
    () => "ftp://127.0.0.1/x",
    () => "data:text/plain,hi",
    () => "http://",
    () => "http:// 127.0.0.1/",
    () => "http://127.0.0.1:99999/",
    () => `//${dead}/x`,
    () => "not a url",
    () => "",
    () => `http://${dead}/\u202e\u200b`,
    () => `http://${dead}/%zz`,
    () => oddString(rng),
    () => wrongType(rng),
  ])();
}

/** A URL the appliance may download from: only local addresses, valid or not. */
export function attachmentUrl(rng: Rng, ctx: Ctx): string {
  const f = ctx.files[0];
  return rng.pick<() => string>([
    () => ctx.hostedUrl,
    () => ctx.hostedUrl,
    () => `http://127.0.0.1:${ctx.deadPort}/file.pdf`,
    () => `http://127.0.0.1:${ctx.appPort}/files/${f?.id ?? "x"}/${encodeURIComponent(f?.name ?? "x")}`,
    () => `http://127.0.0.1:${ctx.appPort}/client`,
    () => `http://127.0.0.1:${ctx.appPort}/health`,
    () => "file:///etc/passwd",
    () => "ftp://127.0.0.1/x",
    () => "not a url",
    () => "",
    () => `http://127.0.0.1:${ctx.deadPort}/${rng.pick(BAD_PERCENT)}`,
    () => `http://127.0.0.1:${ctx.deadPort}/${"a".repeat(rng.int(100, 5000))}`,
    () => `http://127.0.0.1:${ctx.deadPort}/${rng.pick(ODD_UNICODE)}`,
  ])();
}

/** Keys nobody expects. */
export function extraKey(rng: Rng): string {
  return rng.pick([
    "__proto__",
    "constructor",
    "prototype",
    "toString",
    "hasOwnProperty",
    "valueOf",
    "token",
    "admin",
    "id",
    "client_id",
    "number ",
    " number",
    "NUMBER",
    "Number",
    "number[]",
    "number[0]",
    "name\0",
    "\u202ename",
    "",
    " ",
    "attachments",
    "attachments[0][url]",
    "a".repeat(5000),
    "👍",
    "path_session[]",
    rng.text(rng.int(1, 30)),
  ]);
}

/**
 * Percent-encodes like encodeURIComponent, but never throws: a lone surrogate is written as the
 * three bytes a careless encoder would produce (CESU-8), which is invalid UTF-8 once decoded.
 */
export function pct(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      out += encodeURIComponent(s[i]! + s[i + 1]!);
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join("");
    } else out += encodeURIComponent(s[i]!);
  }
  return out;
}

// The case generators: one malformed (or, now and then, well-formed) request per call, chosen by a
// seeded generator, with what its answer must look like.
import { createHash } from "node:crypto";
import { encodeForm, encodeJson, encodeMultipart, encodeOther, frame, toPairs, type Encoded, type Pair } from "./encode.ts";
import type { RawBody, RawRequest } from "./http.ts";
import { callerOf, readClientRequest, readPlanfixRequest } from "./oracle.ts";
import type { Rng } from "../../tests/support/rng.ts";
import {
  attachmentUrl,
  BAD_PERCENT,
  extraKey,
  ghostDigits,
  INVALID_UTF8,
  longString,
  malformedNumber,
  numberValue,
  ODD_UNICODE,
  oddString,
  pct,
  pathTrick,
  urlValue,
  wrongType,
  type Ctx,
} from "./values.ts";

export type Family = "client" | "client-auth" | "admin" | "planfix" | "files" | "docs" | "health" | "methods" | "paths" | "oversized" | "protocol" | "burst";

export interface Expect {
  /** api: JSON answers (4xx with `error`); html: the /docs page; asset: a Swagger UI file; docs: HTML or JSON; file: a /files download or a JSON error. */
  kind: "api" | "html" | "asset" | "docs" | "file";
  /** Malformed at the HTTP level: a bare answer from the HTTP parser (no JSON), or none, is fine. */
  protocol?: string;
  /** The connection may close without an answer (a big body still being written when the answer came). */
  mayClose?: string;
  /** The server may wait for the rest of a body we never send. */
  mayHang?: string;
  /** The answer's status must be one of these… */
  status?: number[];
  /** …because: */
  statusWhy?: string;
  /** Must not succeed, because: */
  not2xx?: string;
  /** Must not appear in the answer (unless the request itself carries it). */
  forbid?: { text: string; why: string }[];
  /** A 200 must carry exactly these bytes. */
  bytes?: Uint8Array;
  /** Must never be 201 (nothing in this world can create a number: every usable session is live). */
  no201?: string;
  /** Sent several times at once: every copy must get the same answer. */
  sameAnswer?: boolean;
}

export interface FuzzCase {
  index: number;
  family: Family;
  /** The route the request aims at: /client, /admin/clients, /planfix, /files, /docs, /docs/json, /docs/assets, /health, or "(other)". */
  route: string;
  method: string;
  note: string;
  req: RawRequest;
  /** The body without framing, for the record. */
  plainBody?: Uint8Array;
  /** Send this many copies at once (a burst). */
  repeat?: number;
  expect: Expect;
}

const enc = new TextEncoder();
const MiB = 1024 * 1024;

const FAMILIES: [number, Family][] = [
  [30, "client"],
  [10, "client-auth"],
  [4, "admin"],
  [24, "planfix"],
  [8, "files"],
  [5, "docs"],
  [2, "health"],
  [5, "methods"],
  [4, "paths"],
  [3, "oversized"],
  [5, "protocol"],
  [3, "burst"],
];

export async function generateCase(rng: Rng, ctx: Ctx, index: number): Promise<FuzzCase> {
  const family = rng.weighted(FAMILIES);
  const c = await GENERATORS[family](rng, ctx);
  return { index, family, ...c };
}

type Generated = Omit<FuzzCase, "index" | "family">;
const GENERATORS: Record<Family, (rng: Rng, ctx: Ctx) => Promise<Generated> | Generated> = {
  client: (rng, ctx) => genClient(rng, ctx, false),
  "client-auth": (rng, ctx) => genClient(rng, ctx, true),
  admin: genAdmin,
  planfix: genPlanfix,
  files: genFiles,
  docs: genDocs,
  health: genHealth,
  methods: genMethods,
  paths: genPaths,
  oversized: genOversized,
  protocol: genProtocol,
  burst: genBurst,
};

// ---- tokens ----------------------------------------------------------------------------------------

interface AuthChoice {
  headers: [string, string][];
  query: string;
  note: string;
}

function realToken(ctx: Ctx, who: "admin" | "acme" | "beta"): string {
  return who === "admin" ? ctx.adminToken : ctx[who].token;
}

/** A token that is not one: forged, mangled from a real one, or carried the wrong way. */
function forgedAuth(rng: Rng, ctx: Ctx): AuthChoice {
  const real = realToken(ctx, rng.pick(["admin", "acme", "beta"] as const));
  const flip = (s: string) => {
    const i = rng.int(0, s.length - 1);
    return s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
  };
  const bearer = (t: string) => ({ headers: [["Authorization", `Bearer ${t}`]] as [string, string][], query: "" });
  return rng.pick<() => AuthChoice>([
    () => ({ ...bearer(rng.text(43, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")), note: "random token" }),
    () => ({ ...bearer(flip(real)), note: "real token with one character changed" }),
    () => ({ ...bearer(real.slice(0, -1)), note: "real token cut short" }),
    () => ({ ...bearer(real + "x"), note: "real token with a character added" }),
    () => ({ ...bearer(real.toUpperCase()), note: "real token upper-cased" }),
    () => ({ ...bearer(createHash("sha256").update(real).digest("hex")), note: "sha256 of a real token" }),
    () => ({ ...bearer(Buffer.from(real).toString("base64")), note: "base64 of a real token" }),
    () => ({ headers: [["Authorization", `Basic ${Buffer.from(`admin:${real}`).toString("base64")}`]], query: "", note: "basic auth with a real token" }),
    () => ({ headers: [["Authorization", "Bearer"]], query: "", note: "bearer without a token" }),
    () => ({ headers: [["Authorization", "Bearer "]], query: "", note: "bearer with an empty token" }),
    () => ({ headers: [["Authorization", real]], query: "", note: "real token without 'Bearer'" }),
    () => ({ headers: [["Authorization", `Token ${real}`]], query: "", note: "'Token' scheme" }),
    () => ({ headers: [["Authorization", `Bearer ${real} extra`]], query: "", note: "bearer with two words" }),
    () => ({ headers: [["Authorization", `Bearer ${real}, Bearer ${real}`]], query: "", note: "two bearer values in one header" }),
    () => ({
      headers: [
        ["Authorization", `Bearer ${real}`],
        ["Authorization", `Bearer ${real}`],
      ],
      query: "",
      note: "authorization header twice",
    }),
    () => ({ headers: [["token", ""]], query: "", note: "empty token header" }),
    () => ({ headers: [["token", "   "]], query: "", note: "blank token header" }),
    () => ({ headers: [["token", `${real} ${real}`]], query: "", note: "token header with two tokens" }),
    () => ({ headers: [["Cookie", `token=${real}`]], query: "", note: "token in a cookie" }),
    () => ({ headers: [["X-Token", real]], query: "", note: "token in X-Token" }),
    () => ({ headers: [], query: `token=${pct(real)}`, note: "token in the query string" }),
    () => ({ headers: [], query: `access_token=${pct(real)}`, note: "access_token in the query string" }),
    () => ({ ...bearer("null"), note: "token 'null'" }),
    () => ({ ...bearer("undefined"), note: "token 'undefined'" }),
    () => ({ ...bearer("eyJhbGciOiJub25lIn0.eyJhZG1pbiI6dHJ1ZX0."), note: "unsigned JWT" }),
    () => ({ ...bearer("x".repeat(rng.int(1000, 12_000))), note: "very long token" }),
    () => ({ headers: [["Authorization", `Bearer ${real}\xa0`]], query: "", note: "real token + NBSP (latin1)" }),
    () => ({ headers: [["Authorization", `Bearer \xff\xfe${real.slice(2)}`]], query: "", note: "token with non-ASCII bytes" }),
    () => ({ headers: [["Authorization", `Bearer ${Buffer.from("токен👍", "utf8").toString("latin1")}`]], query: "", note: "UTF-8 token" }),
    () => ({ headers: [["token", `${real.slice(0, 20)}\u200b${real.slice(20)}`.replace(/[^\x00-\xff]/g, "?")]], query: "", note: "token with a mangled middle" }),
    () => ({ headers: [], query: "", note: "no token" }),
  ])();
}

/** A real token, carried in one of the accepted ways. */
function realAuth(rng: Rng, ctx: Ctx, who: "admin" | "acme" | "beta"): AuthChoice {
  const t = realToken(ctx, who);
  const other = realToken(ctx, who === "acme" ? "beta" : "acme");
  return rng.weighted<() => AuthChoice>([
    [10, () => ({ headers: [["Authorization", `Bearer ${t}`]], query: "", note: `${who} token` })],
    [4, () => ({ headers: [["token", t]], query: "", note: `${who} token in the token header` })],
    [1, () => ({ headers: [["authorization", `bearer ${t}`]], query: "", note: `${who} token, lower-case bearer` })],
    [1, () => ({ headers: [["Authorization", `  Bearer\t${t}  `]], query: "", note: `${who} token, odd whitespace` })],
    [1, () => ({ headers: [["token", `  ${t}  `]], query: "", note: `${who} token header with spaces` })],
    [
      2,
      () => ({
        headers: [
          ["Authorization", `Bearer ${t}`],
          ["token", other],
        ],
        query: "",
        note: `${who} bearer + another token header`,
      }),
    ],
    [
      1,
      () => ({
        headers: [
          ["Authorization", "Bearer"],
          ["token", t],
        ],
        query: "",
        note: `broken bearer + ${who} token header`,
      }),
    ],
  ])();
}

function pickAuth(rng: Rng, ctx: Ctx, weights: { none: number; forged: number; admin: number; acme: number; beta: number }): AuthChoice {
  const who = rng.weighted<"none" | "forged" | "admin" | "acme" | "beta">([
    [weights.none, "none"],
    [weights.forged, "forged"],
    [weights.admin, "admin"],
    [weights.acme, "acme"],
    [weights.beta, "beta"],
  ]);
  if (who === "none") return { headers: [], query: "", note: "no token" };
  if (who === "forged") return forgedAuth(rng, ctx);
  return realAuth(rng, ctx, who);
}

// ---- query strings ---------------------------------------------------------------------------------

function queryString(pairs: Pair[]): string {
  const p = new URLSearchParams();
  for (const [k, v] of pairs) p.append(k, v);
  return p.toString();
}

/** Noise added to a query string (or the whole query), to be joined with `&`. */
function queryNoise(rng: Rng): string {
  return rng.pick<() => string>([
    () => "",
    () => "&&&",
    () => "=",
    () => "a",
    () => "number",
    () => "number=",
    () => `number[]=${ghostDigits(rng)}`,
    () => `number[0]=${ghostDigits(rng)}`,
    () => `__proto__[admin]=1`,
    () => `constructor[prototype][admin]=1`,
    () => `${rng.pick(BAD_PERCENT)}=1`,
    () => `number=${rng.pick(BAD_PERCENT)}`,
    () => `name=${rng.pick(BAD_PERCENT)}acme`,
    () => `x=${"y".repeat(rng.int(100, 12_000))}`,
    () => `${pct(rng.pick(ODD_UNICODE))}=${pct(rng.pick(ODD_UNICODE))}`,
    () => `name=${Buffer.from("акме", "utf8").toString("latin1")}`,
    () => `number=${Buffer.from(INVALID_UTF8[0]!).toString("latin1")}`,
    () => ";;",
    () => "a=1;b=2",
    () => "number=380955821319%00",
    () => `format=xml&callback=alert`,
  ])();
}

function withQuery(path: string, ...parts: string[]): string {
  const q = parts.filter((p) => p !== "").join("&");
  return q ? `${path}?${q}` : path;
}

// ---- bodies ----------------------------------------------------------------------------------------

function encodeFields(rng: Rng, fields: Record<string, unknown>, weights = { json: 5, form: 3, multipart: 1, other: 1 }): Encoded {
  const how = rng.weighted<"json" | "form" | "multipart" | "other">([
    [weights.json, "json"],
    [weights.form, "form"],
    [weights.multipart, "multipart"],
    [weights.other, "other"],
  ]);
  if (how === "json") return encodeJson(rng, fields);
  if (how === "form") return encodeForm(rng, toPairs(fields));
  if (how === "multipart") return encodeMultipart(rng, toPairs(fields));
  return encodeOther(rng, fields);
}

/** Content-Type header(s) for an encoded body: usually its own, sometimes wrong, missing or doubled. */
function contentTypeHeaders(rng: Rng, e: Encoded): { headers: [string, string][]; note: string } {
  const r = rng.next();
  if (r < 0.85) return { headers: e.contentType === null ? [] : [["Content-Type", e.contentType]], note: "" };
  if (r < 0.9) return { headers: [], note: " (content type dropped)" };
  if (r < 0.95)
    return {
      headers: [["Content-Type", rng.pick(["application/json", "application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=zz", "application/xml"])]],
      note: " (wrong content type)",
    };
  return {
    headers: [
      ["Content-Type", e.contentType ?? "text/plain"],
      ["Content-Type", "application/json"],
    ],
    note: " (content type twice)",
  };
}

// ---- /client ---------------------------------------------------------------------------------------

type Who = "acme" | "beta";

function clientBase(rng: Rng, ctx: Ctx, method: string, numberDigits: string, name: string): Record<string, unknown> {
  const num = numberValue(rng, numberDigits);
  if (method === "POST") {
    const f: Record<string, unknown> = {
      name,
      number: num,
      url_planfix: rng.chance(0.6) ? `http://127.0.0.1:${ctx.deadPort}/webchat/api` : urlValue(rng, ctx),
      token_planfix: `fuzz-key-${rng.text(12)}`,
    };
    if (rng.chance(0.7)) f.path_session = pathTrick(rng, ctx);
    if (rng.chance(0.4)) f.name_session = rng.chance(0.5) ? pathTrick(rng, ctx) : rng.pick(["anna", "anna.session", "boris", "garbage", "dir.session", "x"]);
    if (rng.chance(0.2)) f.provider_id = rng.pick(["planfix-telegram", "a~b", "", "x".repeat(101), oddString(rng)]);
    return f;
  }
  if (method === "PUT") {
    const f: Record<string, unknown> = { number: num };
    if (rng.chance(0.3)) f.name = name;
    const opt: [string, () => unknown][] = [
      ["url_planfix", () => (rng.chance(0.5) ? `http://127.0.0.1:${ctx.deadPort}/webchat/api` : urlValue(rng, ctx))],
      ["token_planfix", () => rng.pick([`fuzz-key-${rng.text(8)}`, "", " ", "x".repeat(501), oddString(rng)])],
      ["path_session", () => pathTrick(rng, ctx)],
      ["name_session", () => pathTrick(rng, ctx)],
      ["provider_id", () => rng.pick(["a~b", "", "x".repeat(101), oddString(rng), "planfix-telegram"])],
    ];
    for (const [k, v] of opt) if (rng.chance(0.35)) f[k] = v();
    return f;
  }
  // GET, DELETE, HEAD
  const f: Record<string, unknown> = {};
  if (method === "DELETE" || rng.chance(0.7)) f.number = num;
  if (rng.chance(0.3)) f.name = name;
  return f;
}

function mutateFields(rng: Rng, ctx: Ctx, f: Record<string, unknown>, count: number): string[] {
  const notes: string[] = [];
  const keys = () => Object.keys(f);
  for (let i = 0; i < count; i++) {
    const m = rng.int(0, 10);
    const k = keys().length ? rng.pick(keys()) : "number";
    if (m === 0 && keys().length) {
      delete f[k];
      notes.push(`-${k}`);
    } else if (m === 1) {
      f[k] = wrongType(rng);
      notes.push(`${k}:wrong type`);
    } else if (m === 2) {
      f[k] = oddString(rng);
      notes.push(`${k}:odd text`);
    } else if (m === 3) {
      f[k] = longString(rng);
      notes.push(`${k}:long (${String(f[k]).length})`);
    } else if (m === 4) {
      const n = rng.chance(0.1) ? rng.int(1000, 20_000) : rng.int(1, 3);
      for (let j = 0; j < n; j++)
        f[n > 3 ? `k${j}` : extraKey(rng)] = n > 3 ? rng.pick([rng.text(rng.int(0, 12)), 1, null, true, [], {}]) : rng.chance(0.5) ? oddString(rng) : wrongType(rng);
      notes.push(`+${n} extra key(s)`);
    } else if (m === 5) {
      f.number = malformedNumber(rng);
      notes.push("number:malformed");
    } else if (m === 6) {
      f[rng.pick(["path_session", "name_session"])] = pathTrick(rng, ctx);
      notes.push("session path trick");
    } else if (m === 7) {
      f.url_planfix = urlValue(rng, ctx);
      notes.push("url_planfix varied");
    } else if (m === 8) {
      f.name = rng.pick([ctx.acme.name, ctx.beta.name, "gamma", "", oddString(rng), wrongType(rng)]);
      notes.push("name varied");
    } else if (m === 9) {
      f.number = rng.pick([ctx.acme.number, ctx.beta.number, ghostDigits(rng)]);
      notes.push("number swapped");
    } else {
      f.provider_id = rng.pick(["a~b", "~", "", "x".repeat(101), oddString(rng)]);
      notes.push("provider_id varied");
    }
  }
  return notes;
}

async function genClient(rng: Rng, ctx: Ctx, authFocus: boolean): Promise<Generated> {
  // Try until the request is safe to send: a valid PUT or DELETE of a live number by its owner or
  // the admin would legitimately stop or restart it, which is not what this run is about.
  for (let attempt = 0; ; attempt++) {
    const c = await genClientOnce(rng, ctx, authFocus);
    if (c.safe || attempt >= 50) return c.generated;
  }
}

async function genClientOnce(rng: Rng, ctx: Ctx, authFocus: boolean): Promise<{ generated: Generated; safe: boolean }> {
  const method = rng.weighted<string>([
    [35, "POST"],
    [25, "GET"],
    [22, "PUT"],
    [15, "DELETE"],
    [3, "HEAD"],
  ]);
  const auth = authFocus ? pickAuth(rng, ctx, { none: 2, forged: 10, admin: 3, acme: 5, beta: 5 }) : pickAuth(rng, ctx, { none: 1, forged: 3, admin: 3, acme: 5, beta: 4 });
  const target = rng.weighted<Who | "ghost">([
    [5, "acme"],
    [4, "beta"],
    [2, "ghost"],
  ]);
  const digits = target === "ghost" ? ghostDigits(rng) : ctx[target].number;
  const name = rng.weighted([
    [6, target === "ghost" ? "gamma" : ctx[target].name],
    [2, rng.pick([ctx.acme.name, ctx.beta.name])],
    [1, `fuzz-${rng.text(6)}`],
  ]);
  const fields = clientBase(rng, ctx, method, digits, name);
  const notes = [auth.note, `${method} aims at ${target}`];
  const mutations = authFocus
    ? rng.int(0, 1)
    : rng.weighted([
        [4, 0],
        [4, 1],
        [3, 2],
        [2, 3],
        [1, 4],
      ]);
  notes.push(...mutateFields(rng, ctx, fields, mutations));

  // Where the fields go: the body, the query string, or split between them.
  const placement =
    method === "GET" || method === "HEAD"
      ? rng.weighted([
          [6, "query"],
          [2, "body"],
          [1, "split"],
        ] as const)
      : rng.weighted([
          [7, "body"],
          [1, "query"],
          [2, "split"],
        ] as const);
  const bodyFields: Record<string, unknown> = {};
  const queryPairs: Pair[] = [];
  for (const [k, v] of Object.entries(fields)) {
    const inQuery = placement === "query" || (placement === "split" && rng.chance(0.5));
    if (inQuery) for (const p of toPairs({ [k]: v })) queryPairs.push(p);
    else bodyFields[k] = v;
  }
  if (placement !== "body") notes.push(`fields in ${placement}`);
  let query = queryString(queryPairs);
  if (rng.chance(0.25)) {
    const noise = queryNoise(rng);
    query = [query, noise].filter(Boolean).join("&");
    notes.push(`query noise "${clip(noise)}"`);
  }
  if (auth.query) query = [query, auth.query].filter(Boolean).join("&");
  let target_ = query ? `/client?${query}` : "/client";
  if (rng.chance(0.03)) {
    target_ = rng.pick(["/client/", "/client?", "/client#frag", "//client", "/client/.", "/CLIENT", "/client%20", "/client;x=1"]) + (query ? `?${query}` : "");
    notes.push("path variant");
  }

  let body: RawBody | undefined;
  let plain: Uint8Array | undefined;
  let trailer: string | undefined;
  const headers: [string, string][] = [...auth.headers];
  const sendBody = placement !== "query" || rng.chance(0.1);
  if (sendBody && (Object.keys(bodyFields).length > 0 || rng.chance(0.3))) {
    const e = encodeFields(rng, bodyFields);
    const ct = contentTypeHeaders(rng, e);
    headers.push(...ct.headers);
    const f = frame(rng, e.bytes);
    headers.push(...f.headers);
    body = f.body;
    plain = e.bytes;
    trailer = f.trailer;
    notes.push(`${e.note}${ct.note}${f.note}`);
  }
  if (rng.chance(0.05)) {
    headers.push([
      rng.pick(["X-Forwarded-For", "X-Real-IP", "Origin", "Referer", "User-Agent", "Accept", "Accept-Encoding", "Expect"]),
      rng.pick([
        "127.0.0.1",
        "evil.example",
        "*/*",
        "gzip, br",
        "100-continue",
        oddString(rng)
          .replace(/[^\x20-\x7e]/g, "?")
          .slice(0, 200),
      ]),
    ]);
  }

  const reading = await readClientRequest(method, target_, headers, plain, ctx);
  const live = reading.number === ctx.acme.number ? "acme" : reading.number === ctx.beta.number ? "beta" : null;
  const mutatesLive = (method === "PUT" || method === "DELETE") && live !== null && (reading.caller === "admin" || reading.caller === live);
  const safe = reading.unknown
    ? !(method === "PUT" || method === "DELETE") || (reading.caller !== "admin" && reading.caller !== "acme" && reading.caller !== "beta")
    : !(mutatesLive && reading.valid);

  const expect: Expect = { kind: "api", ...(trailer ? { protocol: trailer } : {}) };
  const caller = reading.caller;
  const pathOk = target_.startsWith("/client?") || target_ === "/client";
  if (pathOk && (caller === "none" || caller === "forged")) {
    expect.status = [401];
    expect.statusWhy = caller === "none" ? "no token" : "not a valid token";
  }
  if (caller === "acme" || caller === "beta") {
    const other = caller === "acme" ? ctx.beta : ctx.acme;
    if (reading.number === other.number && method !== "HEAD") expect.not2xx = `${caller}'s token on ${other.name}'s number`;
    expect.forbid = [
      { text: `"number":"${other.number}"`, why: `${other.name}'s number shown to ${caller}` },
      { text: `"telegram_user_id":"${other.userId}"`, why: `${other.name}'s Telegram id shown to ${caller}` },
    ];
  }
  if (method === "POST") expect.no201 = "every usable session file is already live, so no number can be created";
  const generated: Generated = {
    route: "/client",
    method,
    note: notes.filter(Boolean).join("; "),
    req: { method, target: target_, headers, ...(body ? { body } : {}) },
    ...(plain ? { plainBody: plain } : {}),
    expect,
  };
  return { generated, safe };
}

// ---- /admin/clients --------------------------------------------------------------------------------

function genAdmin(rng: Rng, ctx: Ctx): Generated {
  const auth = pickAuth(rng, ctx, { none: 2, forged: 5, admin: 4, acme: 3, beta: 3 });
  const method = rng.weighted([
    [8, "GET"],
    [1, "HEAD"],
    [1, rng.pick(["POST", "PUT", "DELETE", "PATCH"])],
  ] as const);
  const headers = [...auth.headers];
  const notes = [auth.note];
  let query = auth.query;
  if (rng.chance(0.4)) {
    const n = queryNoise(rng);
    query = [query, n].filter(Boolean).join("&");
    notes.push(`query "${clip(n)}"`);
  }
  let body: RawBody | undefined;
  let plain: Uint8Array | undefined;
  if (rng.chance(0.3)) {
    const e = encodeFields(rng, { name: rng.pick(["acme", "beta", oddString(rng)]), all: true });
    if (e.contentType) headers.push(["Content-Type", e.contentType]);
    body = { kind: "bytes", bytes: e.bytes };
    plain = e.bytes;
    notes.push(e.note);
  }
  const caller = callerOf(headers, ctx);
  const expect: Expect = { kind: "api" };
  if (method === "GET" || method === "HEAD") {
    if (caller !== "admin") {
      expect.status = [401];
      expect.statusWhy = "the list needs the admin token";
    }
  } else expect.status = [404, 405];
  return {
    route: "/admin/clients",
    method,
    note: notes.join("; "),
    req: { method, target: withQuery("/admin/clients", query), headers, ...(body ? { body } : {}) },
    ...(plain ? { plainBody: plain } : {}),
    expect,
  };
}

// ---- /planfix --------------------------------------------------------------------------------------

function genPlanfix(rng: Rng, ctx: Ctx): Generated {
  const notes: string[] = [];
  const tokenWho = rng.weighted<"acme" | "beta" | "forged" | "admin" | "none">([
    [40, "acme"],
    [20, "beta"],
    [25, "forged"],
    [5, "admin"],
    [10, "none"],
  ]);
  const token =
    tokenWho === "acme" || tokenWho === "beta"
      ? ctx[tokenWho].token
      : tokenWho === "admin"
        ? ctx.adminToken
        : tokenWho === "forged"
          ? rng.pick([rng.text(43), ctx.acme.token.slice(0, -1) + "Q", ctx.beta.token.toLowerCase(), "", " "])
          : undefined;
  notes.push(`${tokenWho} token`);
  const own = tokenWho === "beta" ? ctx.beta : ctx.acme;
  const other = tokenWho === "beta" ? ctx.acme : ctx.beta;
  const fields: Record<string, unknown> = { cmd: "newMessage", providerId: "planfix-telegram" };
  if (token !== undefined) fields.token = token;
  const to = rng.weighted<"own" | "other" | "ghost" | "malformed" | "lookup">([
    [50, "own"],
    [10, "other"],
    [10, "ghost"],
    [10, "malformed"],
    [20, "lookup"],
  ]);
  notes.push(`to ${to}`);
  if (to === "own") fields.chatId = own.chatId;
  else if (to === "other") fields.chatId = other.chatId;
  else if (to === "ghost")
    fields.chatId = rng.pick([
      `${own.number}_${rng.int(1, 9_999_999)}`,
      `${ghostDigits(rng)}_${ctx.customer.id}`,
      `${own.number}_99999999999999999999`,
      `${own.number}_9223372036854775808`,
      `${own.number}_0`,
      `${own.number}_${own.userId}`, // the number writing to itself
      `${own.number}_${other.userId}`, // to the other client's account, never met
    ]);
  else if (to === "malformed")
    fields.chatId = rng.pick([
      `${own.number}_`,
      `_${ctx.customer.id}`,
      "123",
      `${own.number}_${ctx.customer.id}_x`,
      `${own.number}_-5`,
      `${own.number}_1e5`,
      `${own.number}_０１`,
      `${own.number} _ ${ctx.customer.id}`,
      oddString(rng),
      `${own.number}_${ctx.customer.id}\0`,
    ]);
  else {
    const how = rng.pick(["phone", "username", "userid", "none"]);
    if (how === "phone") fields.contactPhone = rng.pick([ctx.customer.phone, `+${ctx.customer.phone}`, ghostDigits(rng), "+380 67 123 45 67", "abc", oddString(rng)]);
    if (how === "username") fields.telegramUserName = rng.pick([ctx.customer.username, `@${ctx.customer.username}`, `nobody_${rng.text(6)}`, "@", oddString(rng)]);
    if (how === "userid") fields.telegramUserId = rng.pick([ctx.customer.id, own.userId, other.userId, "0", "-1", "99999999999999999999", "1e5", oddString(rng)]);
  }
  if (rng.chance(0.3)) fields.channel = rng.pick([own.number, other.number, `+${own.number}`, ghostDigits(rng), oddString(rng)]);
  fields.message = rng.weighted<string>([
    [5, `fuzz message ${rng.text(8)}`],
    [2, oddString(rng)],
    [1, longString(rng)],
    [1, ""],
  ]);
  fields.messageId = rng.chance(0.1) ? `fz-dup-${rng.int(1, 5)}` : `fz-${rng.text(12)}`;
  if (rng.chance(0.5)) fields.userName = rng.pick(["Андрій", "Anna", oddString(rng)]);
  if (rng.chance(0.3)) fields.userLastName = oddString(rng);
  if (rng.chance(0.1)) fields.userIco = attachmentUrl(rng, ctx);
  if (rng.chance(0.1)) fields.taskEmail = rng.pick(["task+1@example.invalid", oddString(rng)]);

  // Attachments: Planfix's repeated attachments[name]/[url] pairs (or JSON-ish shapes).
  const attachments: { name?: string; url?: string }[] = [];
  const nAtt = rng.weighted([
    [6, 0],
    [3, 1],
    [1, rng.int(2, 4)],
  ]);
  for (let i = 0; i < nAtt; i++) {
    const a: { name?: string; url?: string } = {};
    if (rng.chance(0.9)) a.url = attachmentUrl(rng, ctx);
    if (rng.chance(0.8)) a.name = rng.pick(["report.txt", "../../etc/passwd", "photo.jpg", "a\0b.pdf", "x".repeat(rng.int(100, 600)), oddString(rng), "100% sure.pdf", "CON", ""]);
    attachments.push(a);
  }
  if (nAtt) notes.push(`${nAtt} attachment(s)`);
  const mutations = rng.weighted([
    [4, 0],
    [3, 1],
    [2, 2],
    [1, 3],
  ]);
  notes.push(...mutateWebhook(rng, fields, mutations));

  const how = rng.weighted<"form" | "json" | "multipart" | "other">([
    [60, "form"],
    [20, "json"],
    [10, "multipart"],
    [10, "other"],
  ]);
  const pairs = toPairs(fields);
  const attStyle = rng.pick(["plain", "plain", "indexed", "reversed", "brackets"]);
  for (const [i, a] of attachments.entries()) {
    const key = (k: "name" | "url") => (attStyle === "indexed" ? `attachments[${i}][${k}]` : attStyle === "brackets" ? `attachments[${k}][]` : `attachments[${k}]`);
    if (attStyle === "reversed") {
      if (a.url !== undefined) pairs.push([key("url"), a.url]);
      if (a.name !== undefined) pairs.push([key("name"), a.name]);
    } else {
      if (a.name !== undefined) pairs.push([key("name"), a.name]);
      if (a.url !== undefined) pairs.push([key("url"), a.url]);
    }
  }
  if (rng.chance(0.05)) {
    const t = rng.pick([ctx.acme.token, ctx.beta.token, "forged"]);
    pairs.push(["token", t]);
    notes.push("token repeated");
  }
  let e: Encoded;
  if (how === "form") e = encodeForm(rng, rng.chance(0.1) ? rng.shuffle(pairs) : pairs, 0.2);
  else if (how === "multipart") e = encodeMultipart(rng, pairs, 0.2);
  else if (how === "json") {
    const json: Record<string, unknown> = { ...fields };
    if (attachments.length) {
      json.attachments = rng.pick([
        () => attachments,
        () => ({ name: attachments.map((a) => a.name), url: attachments.map((a) => a.url) }),
        () => Object.fromEntries(attachments.map((a, i) => [String(i), a])),
        () => attachments.map((a) => a.url),
        () => wrongType(rng),
      ])();
    }
    e = encodeJson(rng, json, 0.2);
  } else e = encodeOther(rng, Object.fromEntries(pairs));
  const headers: [string, string][] = [];
  const ct = contentTypeHeaders(rng, e);
  headers.push(...ct.headers);
  const f = frame(rng, e.bytes);
  headers.push(...f.headers);
  notes.push(`${e.note}${ct.note}${f.note}`);
  let target = "/planfix";
  if (rng.chance(0.15)) {
    target = withQuery("/planfix", rng.pick([queryNoise(rng), `token=${pct(ctx.acme.token)}`, "cmd=newMessage", `chatId=${ctx.acme.chatId}`]));
    notes.push(`query on /planfix`);
  }
  const method = rng.chance(0.97) ? "POST" : rng.pick(["PUT", "PATCH"]);

  const reading = readPlanfixRequest(headers, e.bytes, ctx);
  const expect: Expect = { kind: "api", ...(f.trailer ? { protocol: f.trailer } : {}) };
  if (method !== "POST") expect.status = [404, 405];
  else if (reading.readable && reading.caller !== "acme" && reading.caller !== "beta") {
    expect.status = [401];
    expect.statusWhy = "the body carries no client token";
  } else if (reading.parsed && (reading.caller === "acme" || reading.caller === "beta")) {
    const theirs = reading.caller === "acme" ? ctx.beta.number : ctx.acme.number;
    if (reading.targetNumber === theirs) expect.not2xx = `${reading.caller}'s token on ${reading.caller === "acme" ? "beta" : "acme"}'s chat`;
  }
  return { route: "/planfix", method, note: notes.join("; "), req: { method, target, headers, body: f.body }, plainBody: e.bytes, expect };
}

function mutateWebhook(rng: Rng, f: Record<string, unknown>, count: number): string[] {
  const notes: string[] = [];
  for (let i = 0; i < count; i++) {
    const keys = Object.keys(f);
    const k = keys.length ? rng.pick(keys) : "cmd";
    const m = rng.int(0, 6);
    if (m === 0) {
      delete f[k];
      notes.push(`-${k}`);
    } else if (m === 1) {
      f[k] = wrongType(rng);
      notes.push(`${k}:wrong type`);
    } else if (m === 2) {
      f[k] = oddString(rng);
      notes.push(`${k}:odd text`);
    } else if (m === 3) {
      f.cmd = rng.pick(["NEWMESSAGE", "newMessage ", "getTask", "messageStatus", "", "newMessage\0", "new%20Message", oddString(rng)]);
      notes.push("cmd varied");
    } else if (m === 4) {
      for (let j = rng.int(1, 3); j > 0; j--) f[extraKey(rng)] = oddString(rng);
      notes.push("extra keys");
    } else if (m === 5) {
      f.messageId = rng.pick(["", " ", "0", "-1", "x".repeat(rng.int(200, 5000)), oddString(rng), wrongType(rng)]);
      notes.push("messageId varied");
    } else {
      f[k] = longString(rng);
      notes.push(`${k}:long`);
    }
  }
  return notes;
}

// ---- /files ----------------------------------------------------------------------------------------

function genFiles(rng: Rng, ctx: Ctx): Generated {
  const file = rng.pick(ctx.files);
  const otherFile = rng.pick(ctx.files);
  const notes: string[] = [];
  let id = file.id;
  let name = pct(file.name);
  const r = rng.int(0, 23);
  switch (r) {
    case 0:
    case 1:
    case 2:
      notes.push("the real link");
      break;
    case 3:
      name = Buffer.from(file.name, "utf8").toString("latin1").replace(/ /g, "%20");
      notes.push("name as raw UTF-8 bytes");
      break;
    case 4:
      name = pct(otherFile.name);
      notes.push("another file's name");
      break;
    case 5:
      name = pct(pct(file.name));
      notes.push("name encoded twice");
      break;
    case 6:
      name = `${name}${rng.pick(["%00", "%2500", "%", "%zz", "%E0%A4%A", "%C0%AF", "%ff", "%25", "%25zz"])}`;
      notes.push("name + bad escape");
      break;
    case 7:
      name = rng.pick(["..", "%2e%2e", "..%2f..%2fetc%2fpasswd", "%2e%2e%2f%2e%2e%2fplanfix-telegram.db", "....//....//etc/passwd", "%252e%252e%252f"]);
      notes.push("name path escape");
      break;
    case 8:
      id = rng.pick(["..", "%2e%2e", ".", "%2e", "%00", "a%2Fb", "a%5cb", "%2F", "*", "'", "1 OR 1=1", "%25"]);
      notes.push("id path trick");
      break;
    case 9:
      id = rng.pick(["A".repeat(22), "x".repeat(rng.int(100, 12_000)), "", "%20", file.id.toLowerCase(), file.id.toUpperCase(), file.id + "=", file.id.slice(1)]);
      notes.push("id varied");
      break;
    case 10:
      id = otherFile.id;
      name = pct(file.name);
      notes.push("id of one file, name of another");
      break;
    case 11:
      name = pct(rng.pick(ODD_UNICODE));
      notes.push("odd name");
      break;
    case 12:
      name = `${name}/${rng.pick(["", "x", "..", "%2e%2e"])}`;
      notes.push("extra segment");
      break;
    case 13:
      name = "";
      notes.push("no name");
      break;
    case 14:
      name = `${name}?${queryNoise(rng)}`;
      notes.push("query string");
      break;
    case 15:
      name = `${name}#x`;
      notes.push("fragment");
      break;
    case 16:
      name = pct(file.name).toUpperCase();
      notes.push("name upper-cased");
      break;
    case 17:
      name = pct(file.name) + rng.pick([";", ";x=1", "%3B", "%20", "."]);
      notes.push("name suffix");
      break;
    case 18:
      id = rng.pick(ctx.decoys).replace(/[^\x21-\x7e]/g, "_");
      name = "x";
      notes.push("decoy name as id");
      break;
    case 19:
      name = "x".repeat(rng.int(300, 12_000));
      notes.push("long name");
      break;
    case 20:
      id = `${file.id}%00`;
      notes.push("id + NUL");
      break;
    case 21:
      name = pct(`${rng.pick(BAD_PERCENT)}${rng.pick(ODD_UNICODE)}`);
      notes.push("name with an escaped bad escape");
      break;
    default:
      name = pct(file.name).replace(/%20/g, "+");
      notes.push("space as +");
  }
  const method = rng.weighted([
    [20, "GET"],
    [3, "HEAD"],
    [1, rng.pick(["POST", "PUT", "DELETE", "OPTIONS", "PATCH"])],
  ] as const);
  const target = rng.chance(0.02) ? rng.pick([`/files/${id}`, `/files/`, `/files`, `/files//${name}`, `//files/${id}/${name}`]) : `/files/${id}/${name}`;
  const headers: [string, string][] = [];
  if (rng.chance(0.1)) headers.push(["Range", rng.pick(["bytes=0-3", "bytes=-1", "bytes=99999999-", "bytes=a-b", "bytes=0-0,2-3"])]);
  if (rng.chance(0.05)) headers.push(["Authorization", `Bearer ${rng.pick([ctx.acme.token, "forged"])}`]);
  // Only the id and name of a stored file, each percent-decoded once, may answer 200 — with that file's bytes.
  const expect: Expect = { kind: "file" };
  const getLike = method === "GET" || method === "HEAD";
  const hit = servedBy(target, ctx);
  if (!getLike) expect.status = [404, 405];
  else if (hit) {
    expect.status = [200, 206, 416];
    expect.statusWhy = `the link of ${hit.name}`;
    if (!headers.some(([k]) => k === "Range")) {
      expect.status = [200];
      expect.bytes = hit.bytes;
    }
  } else {
    expect.status = [404];
    expect.statusWhy = "not the exact id and name of a stored file";
  }
  return { route: "/files", method, note: notes.join("; "), req: { method, target, headers }, expect };
}

/** The stored file a /files target names, decoding each path segment exactly once (as UTF-8). */
function servedBy(target: string, ctx: Ctx): Ctx["files"][number] | undefined {
  // The router ignores one trailing slash.
  const path = target.split("?")[0]!.replace(/(?<=.)\/$/, "");
  const m = /^\/files\/([^/]+)\/([^/]+)$/.exec(path);
  if (!m) return undefined;
  const once = (seg: string) => {
    try {
      return decodeURIComponent(Buffer.from(seg, "latin1").toString("utf8"));
    } catch {
      return null;
    }
  };
  const id = once(m[1]!);
  const name = once(m[2]!);
  return ctx.files.find((f) => f.id === id && f.name === name);
}

// ---- /docs, /health -------------------------------------------------------------------------------

function genDocs(rng: Rng): Generated {
  const which = rng.weighted<"/docs" | "/docs/json" | "/docs/assets">([
    [3, "/docs"],
    [3, "/docs/json"],
    [4, "/docs/assets"],
  ]);
  const method = rng.weighted([
    [12, "GET"],
    [2, "HEAD"],
    [1, rng.pick(["POST", "PUT", "DELETE", "OPTIONS"])],
  ] as const);
  const notes: string[] = [];
  let target: string = which;
  let kind: Expect["kind"] = which === "/docs" ? "html" : "api";
  if (which === "/docs/assets") {
    const file = rng.pick<() => string>([
      () => "swagger-ui-bundle.js",
      () => "swagger-ui.css",
      () => "swagger%2Dui.css",
      () => rng.pick(["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "__defineGetter__", "prototype", "isPrototypeOf"]),
      () =>
        rng.pick([
          "..%2f..%2fpackage.json",
          "%2e%2e",
          "..",
          "swagger-ui.css%00",
          "swagger-ui.css%00.js",
          "SWAGGER-UI.CSS",
          "swagger-ui.css.map",
          "index.html",
          "swagger-initializer.js",
        ]),
      () => pct(rng.pick(ODD_UNICODE)),
      () => "x".repeat(rng.int(100, 10_000)),
      () => rng.pick(BAD_PERCENT),
    ])();
    target = `/docs/assets/${file}`;
    notes.push(`asset "${clip(file)}"`);
    kind = "asset";
  }
  if (rng.chance(0.3)) {
    const q = rng.pick(["url=https://evil.example/spec.json", "configUrl=//evil", queryNoise(rng), "", "%zz"]);
    target = withQuery(target, q);
    notes.push(`query "${clip(q)}"`);
  }
  if (rng.chance(0.1)) {
    target = rng.pick(["/docs/", "/docs//json", "/docs/json/", "/DOCS", "/docs/./json", "/docs/assets/", "/docs/assets", "/docs%2fjson", "/docs/json%00"]);
    notes.push("path variant");
    kind = "docs";
  }
  const headers: [string, string][] = [];
  if (rng.chance(0.1)) headers.push(["Accept", rng.pick(["application/json", "text/html", "*/*", "image/png", "\x01"])]);
  const expect: Expect = { kind };
  if (method !== "GET" && method !== "HEAD") expect.status = [404, 405];
  return { route: which, method, note: notes.join("; ") || "plain", req: { method, target, headers }, expect };
}

function genHealth(rng: Rng): Generated {
  const method = rng.weighted([
    [6, "GET"],
    [1, "HEAD"],
    [2, rng.pick(["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])],
  ] as const);
  const notes: string[] = [];
  let target = "/health";
  if (rng.chance(0.5)) {
    const q = queryNoise(rng);
    target = withQuery(target, q);
    notes.push(`query "${clip(q)}"`);
  }
  const headers: [string, string][] = [];
  let body: RawBody | undefined;
  if (rng.chance(0.3)) {
    const e = encodeJson(rng, { status: "down" }, 0.5);
    if (e.contentType) headers.push(["Content-Type", e.contentType]);
    body = { kind: "bytes", bytes: e.bytes };
    notes.push(e.note);
  }
  const expect: Expect = { kind: "api", ...(method === "GET" || method === "HEAD" ? { status: [200], statusWhy: "health is always up" } : { status: [404, 405] }) };
  return { route: "/health", method, note: notes.join("; ") || "plain", req: { method, target, headers, ...(body ? { body } : {}) }, expect };
}

// ---- methods not allowed ---------------------------------------------------------------------------

function genMethods(rng: Rng, ctx: Ctx): Generated {
  const path = rng.pick([
    "/client",
    "/admin/clients",
    "/planfix",
    "/health",
    "/docs",
    "/docs/json",
    "/docs/assets/swagger-ui.css",
    `/files/${ctx.files[0]!.id}/${pct(ctx.files[0]!.name)}`,
  ]);
  const allowed: Record<string, string[]> = {
    "/client": ["GET", "POST", "PUT", "DELETE", "HEAD"],
    "/admin/clients": ["GET", "HEAD"],
    "/planfix": ["POST"],
  };
  const ok = allowed[path] ?? ["GET", "HEAD"];
  const method = rng.pick(
    ["PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "MKCOL", "COPY", "MOVE", "LOCK", "PURGE", "SEARCH", "LINK", "PUT", "DELETE", "POST", "GET", "QUERY", "REPORT"].filter(
      (m) => !ok.includes(m),
    ),
  );
  const auth = pickAuth(rng, ctx, { none: 2, forged: 1, admin: 1, acme: 2, beta: 1 });
  const headers = [...auth.headers];
  let body: RawBody | undefined;
  if (rng.chance(0.4)) {
    const e = encodeJson(rng, { name: "acme", number: ctx.acme.number }, 0.3);
    headers.push(["Content-Type", "application/json"]);
    body = { kind: "bytes", bytes: e.bytes };
  }
  const route = path.startsWith("/files/") ? "/files" : path.startsWith("/docs/assets") ? "/docs/assets" : path;
  // Bun's parser refuses some methods outright (no answer, or a bare 400).
  const known = ["PATCH", "OPTIONS", "TRACE", "CONNECT", "PUT", "DELETE", "POST", "GET"];
  return {
    route,
    method,
    note: `${method} on ${route}; ${auth.note}`,
    req: { method, target: method === "CONNECT" && rng.chance(0.5) ? "127.0.0.1:80" : path, headers, ...(body ? { body } : {}) },
    expect: {
      kind: "api",
      status: [404, 405],
      statusWhy: "method not allowed on this route",
      ...(known.includes(method) ? {} : { protocol: "a method the HTTP parser may not know" }),
    },
  };
}

// ---- paths -----------------------------------------------------------------------------------------

function genPaths(rng: Rng, ctx: Ctx): Generated {
  const target = rng.pick<() => string>([
    () => "/",
    () => "/client/",
    () => "/client/x",
    () => "/CLIENT",
    () => "//client",
    () => "/client/../admin/clients",
    () => "/%2e%2e/client",
    () => "/client%2f",
    () => "/client%00",
    () => "/.env",
    () => "/.git/config",
    () => "/../../etc/passwd",
    () => "/%2e%2e/%2e%2e/etc/passwd",
    () => "/admin",
    () => "/admin/clients/",
    () => "/admin/clients/1",
    () => "/admin/../admin/clients",
    () => "/planfix/",
    () => "/planfix/../health",
    () => "/health/",
    () => "/health%20",
    () => "/health;.json",
    () => "/favicon.ico",
    () => "/robots.txt",
    () => "/swagger",
    () => "/docs/json/../../client",
    () => `/files/${ctx.files[0]!.id}`,
    () => "/files/../../data/planfix-telegram.db",
    () => "/files/%2e%2e/%2e%2e/admin-token",
    () => `/${pct(rng.pick(ODD_UNICODE))}`,
    () =>
      `/${Buffer.from(rng.pick(ODD_UNICODE), "utf8")
        .toString("latin1")
        .replace(/[\x00-\x20\x7f]/g, "_")}`,
    () => `/${rng.pick(BAD_PERCENT)}`,
    () => `/${"a/".repeat(rng.int(10, 3000))}`,
    () => `/${"x".repeat(rng.int(100, 12_000))}`,
    () => "http://127.0.0.1/health",
    () => "http://evil.example/client",
    () => "health",
    () => "/?",
    () => "/#",
  ])();
  const method = rng.weighted([
    [5, "GET"],
    [2, "POST"],
    [1, "PUT"],
    [1, "DELETE"],
    [1, "HEAD"],
  ] as const);
  const auth = pickAuth(rng, ctx, { none: 3, forged: 1, admin: 1, acme: 1, beta: 1 });
  const noSlash = !target.startsWith("/") && !target.startsWith("http");
  return {
    route: "(other)",
    method,
    note: `path "${clip(target)}"; ${auth.note}`,
    req: { method, target, headers: auth.headers },
    expect: { kind: "api", ...(noSlash ? { protocol: "a request target without a leading slash" } : {}) },
  };
}

// ---- oversized and lying bodies --------------------------------------------------------------------

function genOversized(rng: Rng, ctx: Ctx): Generated {
  const path = rng.weighted<string>([
    [5, "/client"],
    [4, "/planfix"],
    [1, "/health"],
    [1, "/admin/clients"],
  ]);
  const method = path === "/client" ? rng.pick(["POST", "PUT", "DELETE", "GET"]) : path === "/planfix" ? "POST" : "GET";
  const auth = path === "/planfix" ? { headers: [] as [string, string][], note: "" } : pickAuth(rng, ctx, { none: 1, forged: 2, admin: 1, acme: 3, beta: 1 });
  const headers: [string, string][] = [
    ...auth.headers,
    ["Content-Type", rng.pick(["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=zz", "text/plain"])],
  ];
  const size = rng.weighted<number>([
    [4, MiB + 1],
    [3, rng.int(MiB + 2, 4 * MiB)],
    [2, rng.int(8 * MiB + 1, 16 * MiB)],
    [1, 64 * MiB],
  ]);
  const fill = enc.encode(rng.pick(["a", '{"a":"', "token=x&", "--zz\r\n", "ж"]));
  const mode = rng.weighted<"length" | "chunked" | "lie-long" | "lie-short" | "lie-huge">([
    [4, "length"],
    [3, "chunked"],
    [1, "lie-long"],
    [1, "lie-short"],
    [1, "lie-huge"],
  ]);
  const pause = rng.chance(0.6) ? 50 : 0;
  let req: RawRequest;
  let expect: Expect = { kind: "api", status: [413], statusWhy: "body over 1 MiB", mayClose: "the answer can come while the body is still being written" };
  const notes = [`${method} ${path}`, auth.note, `${(size / MiB).toFixed(2)} MiB`, mode];
  if (mode === "length") {
    req = { method, target: path, headers: [...headers, ["Content-Length", String(size)]], body: { kind: "generated", size, fill }, pauseBeforeBodyMs: pause };
  } else if (mode === "chunked") {
    const chunk = rng.pick([4096, 65536, MiB]);
    const parts: Uint8Array[] = [];
    const data = Buffer.alloc(chunk);
    for (let i = 0; i < chunk; i++) data[i] = fill[i % fill.length]!;
    for (let left = size; left > 0; left -= chunk) {
      const n = Math.min(chunk, left);
      parts.push(enc.encode(`${n.toString(16)}\r\n`), data.subarray(0, n), enc.encode("\r\n"));
    }
    parts.push(enc.encode("0\r\n\r\n"));
    req = { method, target: path, headers: [...headers, ["Transfer-Encoding", "chunked"]], body: { kind: "raw-parts", parts } };
  } else if (mode === "lie-long") {
    // Declares more than it sends, then half-closes: the body ends early.
    const declared = rng.pick([100, 5000, MiB - 1, MiB + 1, 8 * MiB, 2 ** 40]);
    const sent = rng.int(0, 50);
    req = {
      method,
      target: path,
      headers: [...headers, ["Content-Length", String(declared)]],
      body: { kind: "bytes", bytes: fill.subarray(0, Math.min(sent, fill.length)) },
      endAfterBody: rng.chance(0.7),
      pauseBeforeBodyMs: pause,
    };
    notes.push(`declares ${declared}, sends ${Math.min(sent, fill.length)}`);
    expect = { kind: "api", mayClose: "the body ended before its declared length", mayHang: "the server waits for the declared body" };
  } else if (mode === "lie-short") {
    // Declares less than it sends: the rest is read as a next request, which is garbage.
    const sent = Buffer.alloc(rng.int(200, 5000), fill[0]);
    const declared = rng.int(0, 100);
    req = { method, target: path, headers: [...headers, ["Content-Length", String(declared)]], body: { kind: "bytes", bytes: sent } };
    notes.push(`declares ${declared}, sends ${sent.length}`);
    expect = { kind: "api", protocol: "what follows the declared body is garbage to the parser" };
  } else {
    const declared = rng.pick([2 ** 31, 2 ** 40, 2 ** 53 - 1]);
    req = {
      method,
      target: path,
      headers: [...headers, ["Content-Length", String(declared)]],
      body: { kind: "generated", size: rng.int(0, 4 * MiB), fill },
      pauseBeforeBodyMs: pause,
      endAfterBody: true,
    };
    notes.push(`declares ${declared}`);
    expect = { kind: "api", status: [413, 401], mayClose: "the answer can come while the body is still being written" };
  }
  // Tokens are checked before the body on /client: a bad one is a 401 whatever the size.
  if (path === "/client" || path === "/admin/clients") {
    const caller = callerOf(auth.headers, ctx);
    if (caller === "none" || caller === "forged" || (path === "/admin/clients" && caller !== "admin")) expect.status = [401];
    else if (expect.status) expect.status = [413, 400]; // 400: a GET request's body is refused
  }
  if (path === "/health") expect.status = [200, 413];
  return { route: path, method, note: notes.filter(Boolean).join("; "), req, expect };
}

// ---- protocol-level garbage ------------------------------------------------------------------------

function genProtocol(rng: Rng, ctx: Ctx): Generated {
  const path = rng.pick(["/client", "/planfix", "/health", "/admin/clients", `/files/${ctx.files[0]!.id}/x`, "/docs"]);
  const tok = `Bearer ${ctx.acme.token}`;
  const b = (s: string) => Buffer.from(s, "latin1");
  const kinds: [string, () => RawRequest][] = [
    ["HTTP/1.0", () => ({ method: "GET", target: path, headers: [], version: "HTTP/1.0" })],
    ["HTTP/2.0 on a 1.1 connection", () => ({ method: "GET", target: path, headers: [], version: rng.pick(["HTTP/2.0", "HTTP/3", "HTTP/9.9"]) })],
    ["garbage version", () => ({ method: "GET", target: path, headers: [], version: rng.pick(["HTTP/1.1x", "HTTPS/1.1", "http/1.1", "HTTP/1", "", "HTTP/1.1 extra"]) })],
    ["lower-case method", () => ({ method: "get", target: path, headers: [] })],
    ["garbage method", () => ({ method: rng.pick(["G\x00T", "GET\xff", "🙂", "-", "GETGETGETGETGETGETGETGETGETGETGETGETGETGETGET"]), target: path, headers: [] })],
    ["space in the target", () => ({ method: "GET", target: `${path}/a b`, headers: [] })],
    ["control byte in the target", () => ({ method: "GET", target: `${path}\x01\x7f`, headers: [] })],
    ["raw UTF-8 in the target", () => ({ method: "GET", target: `${path}${Buffer.from("/ж👍", "utf8").toString("latin1")}`, headers: [] })],
    ["invalid UTF-8 in the target", () => ({ method: "GET", target: `${path}${Buffer.from(rng.pick(INVALID_UTF8)).toString("latin1")}`, headers: [] })],
    [
      "header without a colon",
      () => ({ method: "GET", target: path, headers: [["X-No-Colon", "x"]], rawHead: b(`GET ${path} HTTP/1.1\r\nHost: x\r\nno colon here\r\nConnection: close\r\n\r\n`) }),
    ],
    ["NUL in a header", () => ({ method: "GET", target: path, headers: [["Authorization", `${tok}\x00`]] })],
    ["CR in a header value", () => ({ method: "GET", target: path, headers: [["X-A", "a\rb"]] })],
    ["obs-fold continuation", () => ({ method: "GET", target: path, headers: [["Authorization", `${tok}\r\n extra`]] })],
    ["space before the colon", () => ({ method: "GET", target: path, headers: [["Authorization ", tok]] })],
    ["header name with bad bytes", () => ({ method: "GET", target: path, headers: [["X-\xff\x01", "v"]] })],
    ["bare LF line endings", () => ({ method: "GET", target: path, headers: [], rawHead: b(`GET ${path} HTTP/1.1\nHost: x\nConnection: close\n\n`) })],
    ["no Host", () => ({ method: "GET", target: path, headers: [], rawHead: b(`GET ${path} HTTP/1.1\r\nConnection: close\r\n\r\n`) })],
    [
      "two Hosts",
      () => ({
        method: "GET",
        target: path,
        headers: [
          ["Host", "a"],
          ["Host", "b"],
        ],
      }),
    ],
    ["head over 16 KiB", () => ({ method: "GET", target: path, headers: [["X-Big", "x".repeat(rng.int(17_000, 100_000))]] })],
    ["target over 16 KiB", () => ({ method: "GET", target: `${path}?q=${"y".repeat(rng.int(17_000, 100_000))}`, headers: [] })],
    ["10,000 headers", () => ({ method: "GET", target: path, headers: Array.from({ length: rng.int(200, 10_000) }, (_, i) => [`X-H${i}`, "v"] as [string, string]) })],
    [
      "Content-Length not a number",
      () => ({
        method: "POST",
        target: path,
        headers: [["Content-Length", rng.pick(["abc", "-1", "1.5", "+5", "0x10", " 5", "5 5", "99999999999999999999999", ""])]],
        body: { kind: "bytes", bytes: b("token=x") },
        noAutoLength: true,
      }),
    ],
    [
      "two different Content-Lengths",
      () => ({
        method: "POST",
        target: path,
        headers: [
          ["Content-Length", "3"],
          ["Content-Length", "7"],
        ],
        body: { kind: "bytes", bytes: b("token=x") },
      }),
    ],
    [
      "Content-Length and chunked",
      () => ({
        method: "POST",
        target: path,
        headers: [
          ["Content-Length", "5"],
          ["Transfer-Encoding", "chunked"],
        ],
        body: { kind: "bytes", bytes: b("0\r\n\r\n") },
      }),
    ],
    [
      "Transfer-Encoding not chunked",
      () => ({
        method: "POST",
        target: path,
        headers: [["Transfer-Encoding", rng.pick(["gzip", "identity", "gzip, chunked", "chunked, gzip", "xchunked", "chunked\x00"])]],
        body: { kind: "bytes", bytes: b("7\r\ntoken=x\r\n0\r\n\r\n") },
      }),
    ],
    [
      "bad chunk size",
      () => ({
        method: "POST",
        target: path,
        headers: [["Transfer-Encoding", "chunked"]],
        body: { kind: "bytes", bytes: b(`${rng.pick(["zz", "-1", "ffffffffffffffffffff", " ", "0x7"])}\r\ntoken=x\r\n0\r\n\r\n`) },
      }),
    ],
    [
      "chunk longer than declared",
      () => ({ method: "POST", target: path, headers: [["Transfer-Encoding", "chunked"]], body: { kind: "bytes", bytes: b("2\r\ntoken=x\r\n0\r\n\r\n") } }),
    ],
    [
      "chunked body cut off",
      () => ({ method: "POST", target: path, headers: [["Transfer-Encoding", "chunked"]], body: { kind: "bytes", bytes: b("7\r\ntoken=x\r\n") }, endAfterBody: true }),
    ],
    [
      "request smuggling attempt",
      () => ({
        method: "POST",
        target: path,
        headers: [
          ["Content-Length", "4"],
          ["Transfer-Encoding", "chunked"],
        ],
        body: { kind: "bytes", bytes: b(`0\r\n\r\nGET /admin/clients HTTP/1.1\r\nHost: x\r\nAuthorization: ${tok}\r\n\r\n`) },
      }),
    ],
    [
      "pipelined garbage",
      () => ({
        method: "GET",
        target: path,
        headers: [["Connection", "keep-alive"]],
        body: undefined,
        rawHead: b(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n\x16\x03\x01\x00\xa5garbage\r\n\r\n`),
      }),
    ],
    [
      "TLS hello on plain HTTP",
      () => ({
        method: "",
        target: "",
        headers: [],
        rawHead: Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]), Buffer.from(rng.bytes(160))]),
      }),
    ],
    ["HTTP/2 preface", () => ({ method: "", target: "", headers: [], rawHead: b("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") })],
    ["random bytes", () => ({ method: "", target: "", headers: [], rawHead: Buffer.from(rng.bytes(rng.int(1, 3000))) })],
    ["only CRLFs", () => ({ method: "", target: "", headers: [], rawHead: b("\r\n\r\n\r\n\r\n") })],
    ["half a request line", () => ({ method: "", target: "", headers: [], rawHead: b(`GET ${path}`), endAfterBody: true })],
    [
      "Expect: 100-continue",
      () => ({
        method: "POST",
        target: path,
        headers: [
          ["Expect", "100-continue"],
          ["Content-Type", "application/json"],
        ],
        body: { kind: "bytes", bytes: b("{}") },
        pauseBeforeBodyMs: 50,
      }),
    ],
    [
      "Upgrade: websocket",
      () => ({
        method: "GET",
        target: path,
        headers: [
          ["Upgrade", "websocket"],
          ["Connection", "Upgrade"],
          ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="],
          ["Sec-WebSocket-Version", "13"],
        ],
      }),
    ],
    [
      "Upgrade: h2c",
      () => ({
        method: "GET",
        target: path,
        headers: [
          ["Upgrade", "h2c"],
          ["Connection", "Upgrade, HTTP2-Settings"],
          ["HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA"],
        ],
      }),
    ],
    ["OPTIONS *", () => ({ method: "OPTIONS", target: "*", headers: [] })],
    ["absolute-form target", () => ({ method: "GET", target: `http://127.0.0.1:${ctx.appPort}${path}`, headers: [] })],
    ["authority-form target", () => ({ method: "GET", target: `127.0.0.1:${ctx.appPort}`, headers: [] })],
  ];
  const [name, make] = rng.pick(kinds);
  const req = make();
  return {
    route: path.startsWith("/files") ? "/files" : path,
    method: req.method || "(raw)",
    note: name,
    req,
    expect: { kind: path === "/docs" ? "html" : "api", protocol: name, mayClose: "malformed at the HTTP level", mayHang: "the parser may wait for the rest" },
  };
}

// ---- bursts: the same well-formed request several times at once --------------------------------

function genBurst(rng: Rng, ctx: Ctx): Generated {
  const who = rng.pick(["acme", "beta"] as const);
  const c = ctx[who];
  const repeat = rng.int(2, 6);
  const kind = rng.weighted<"chat" | "lookup" | "post" | "get">([
    [5, "chat"],
    [2, "lookup"],
    [2, "post"],
    [1, "get"],
  ]);
  if (kind === "chat" || kind === "lookup") {
    const pairs: Pair[] = [
      ["cmd", "newMessage"],
      ["providerId", "planfix-telegram"],
      ["token", c.token],
      ["message", `burst ${rng.text(8)}`],
      ["messageId", `burst-${rng.text(12)}`],
    ];
    if (kind === "chat") pairs.push(["chatId", c.chatId]);
    else pairs.push(rng.chance(0.5) ? ["contactPhone", ctx.customer.phone] : ["telegramUserName", ctx.customer.username]);
    if (rng.chance(0.3)) pairs.push(["attachments[name]", "report.txt"], ["attachments[url]", ctx.hostedUrl]);
    const body = enc.encode(queryString(pairs));
    return {
      route: "/planfix",
      method: "POST",
      note: `${repeat} × the same ${kind === "chat" ? "reply" : "first message (lookup)"} from ${who}`,
      req: { method: "POST", target: "/planfix", headers: [["Content-Type", "application/x-www-form-urlencoded"]], body: { kind: "bytes", bytes: body } },
      plainBody: body,
      repeat,
      expect: { kind: "api", status: [200], statusWhy: "a valid webhook", sameAnswer: true },
    };
  }
  if (kind === "post") {
    const body = enc.encode(
      JSON.stringify({ name: c.name, number: c.number, url_planfix: `http://127.0.0.1:${ctx.deadPort}/x`, token_planfix: "burst", path_session: c.sessionFile }),
    );
    return {
      route: "/client",
      method: "POST",
      note: `${repeat} × POST of ${who}'s running number (changes nothing)`,
      req: {
        method: "POST",
        target: "/client",
        headers: [
          ["Authorization", `Bearer ${c.token}`],
          ["Content-Type", "application/json"],
        ],
        body: { kind: "bytes", bytes: body },
      },
      plainBody: body,
      repeat,
      expect: { kind: "api", status: [200], statusWhy: "starting a running number again is harmless", sameAnswer: true },
    };
  }
  return {
    route: "/client",
    method: "GET",
    note: `${repeat} × GET of ${who}'s number`,
    req: { method: "GET", target: `/client?number=${c.number}`, headers: [["Authorization", `Bearer ${c.token}`]] },
    repeat,
    expect: { kind: "api", status: [200], sameAnswer: true },
  };
}

function clip(s: string, n = 40): string {
  const t = s.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return t.length > n ? `${t.slice(0, n)}…(${s.length})` : t;
}

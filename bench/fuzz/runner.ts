// Runs the fuzzer: builds the world, sends the cases with a few at a time in flight, judges every
// answer, watches the process and its log, checks the appliance still serves at the end, and reports.
import { readFileSync } from "node:fs";
import { generateCase, type FuzzCase } from "./cases.ts";
import { checkExchange, SecretScanner } from "./check.ts";
import { exchange, headOf, type Exchange } from "./http.ts";
import { caseRng } from "../../tests/support/rng.ts";
import type { Ctx } from "./values.ts";
import { startFuzzWorld, type FuzzWorld } from "./world.ts";

export interface FuzzOptions {
  seed: number;
  count: number;
  concurrency?: number;
  /** Run only these case indexes (a failure's replay). */
  only?: number[];
  /** Progress lines. */
  progress?: (line: string) => void;
  /** One progress line per request. */
  verbose?: boolean;
  /** Stops sending (the checks and the cleanup still run). */
  signal?: AbortSignal;
}

export interface CaseFailure {
  index: number;
  family: string;
  route: string;
  method: string;
  note: string;
  /** The request as sent, secrets masked. */
  request: string;
  problems: string[];
}

export interface GlobalFailure {
  what: string;
  detail: string;
  /** Cases in flight when it happened (and, when found by replaying them alone, the culprit). */
  suspects?: number[];
  culprit?: number;
}

export interface FuzzReport {
  seed: number;
  count: number;
  sent: number;
  durationMs: number;
  perRoute: Record<string, number>;
  perRouteMethod: Record<string, number>;
  perFamily: Record<string, number>;
  statuses: Record<string, number>;
  /** `<status> <route>: <error>` of JSON error answers, digits and quoted values folded. */
  errors: Record<string, number>;
  parser505: number;
  caseFailures: CaseFailure[];
  globalFailures: GlobalFailure[];
  /** Error- and warn-level log lines by message (not failures by themselves). */
  logLevels: Record<string, number>;
  errorMessages: Record<string, number>;
  /** Stopped by Ctrl-C: no end-of-run checks were made. */
  interrupted?: boolean;
  final: { health: string; acme: string; beta: string; bridge: string; exitCode: number | null | string; rssStartMiB?: number; rssEndMiB?: number };
  ok: boolean;
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const progress = opts.progress ?? (() => {});
  const started = Date.now();
  progress(`fuzz: seed ${opts.seed}, ${opts.only ? `cases ${opts.only.join(",")}` : `${opts.count} cases`}; starting the appliance, loopback Telegram and fake Planfix…`);
  const world = await startFuzzWorld();
  try {
    return await runIn(world, opts, progress, started);
  } finally {
    await world.close().catch(() => {});
  }
}

function ctxOf(w: FuzzWorld): Ctx {
  const c = (x: FuzzWorld["acme"]) => ({ name: x.name, token: x.token, number: x.number, chatId: x.chatId, userId: String(x.user.id), sessionFile: x.sessionFile });
  return {
    adminToken: w.adminToken,
    acme: c(w.acme),
    beta: c(w.beta),
    customer: { id: String(w.customer.id), phone: w.customer.phone, username: w.customer.username ?? "ivan_p" },
    files: w.files.map((f) => ({ id: f.id, name: f.name, bytes: f.bytes })),
    hostedUrl: w.hostedUrl,
    deadPort: w.deadPort,
    appPort: w.app.port,
    sessionsDir: w.sessionsDir,
    dataDir: w.dataDir,
    decoys: w.decoys,
  };
}

interface Timed {
  c: FuzzCase;
  start: number;
  end: number;
}

async function runIn(world: FuzzWorld, opts: FuzzOptions, progress: (l: string) => void, started: number): Promise<FuzzReport> {
  const ctx = ctxOf(world);
  const scanner = new SecretScanner(world.secrets);
  const proc = world.app.proc!;
  let crashed: { code: number; at: number } | null = null;
  void proc.exited.then((code) => {
    if (world.app.proc === proc) crashed = { code, at: Date.now() };
  });
  const logStart = world.app.lines.length;
  const rssStart = rssMiB(proc.pid);
  progress(
    `fuzz: world up in ${((Date.now() - started) / 1000).toFixed(1)} s — acme ${ctx.acme.number} and beta ${ctx.beta.number} online, ${ctx.files.length} media files, ${ctx.decoys.length} decoy session files`,
  );

  const report: FuzzReport = {
    seed: opts.seed,
    count: opts.only?.length ?? opts.count,
    sent: 0,
    durationMs: 0,
    perRoute: {},
    perRouteMethod: {},
    perFamily: {},
    statuses: {},
    errors: {},
    parser505: 0,
    caseFailures: [],
    globalFailures: [],
    logLevels: {},
    errorMessages: {},
    final: { health: "", acme: "", beta: "", bridge: "", exitCode: null },
    ok: false,
  };
  const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);
  const indexes = opts.only ?? Array.from({ length: opts.count }, (_, i) => i);
  const timeline: Timed[] = [];
  const byIndex = new Map<number, FuzzCase>();
  let next = 0;
  const fuzzStart = Date.now();
  let lastProgress = Date.now();

  const runOne = async (c: FuzzCase): Promise<{ x: Exchange; start: number; end: number }> => {
    const timeoutMs = c.expect.mayHang ? 2500 : c.family === "oversized" ? 30_000 : 15_000;
    const start = Date.now();
    const x = await exchange(ctx.appPort, c.req, { timeoutMs });
    return { x, start, end: Date.now() };
  };

  const worker = async () => {
    while (next < indexes.length && !crashed && !opts.signal?.aborted) {
      const index = indexes[next++]!;
      const c = await generateCase(caseRng(opts.seed, index), ctx, index);
      markLimits(c);
      byIndex.set(index, c);
      const runs = await Promise.all(Array.from({ length: c.repeat ?? 1 }, () => runOne(c)));
      const problems: string[] = [];
      const answers: string[] = [];
      for (const { x, start, end } of runs) {
        timeline.push({ c, start, end });
        report.sent++;
        bump(report.perRoute, c.route);
        bump(report.perRouteMethod, `${c.method} ${c.route}`);
        bump(report.perFamily, c.family);
        const v = checkExchange(c, x, scanner, requestText(c));
        if (opts.verbose) progress(`#${index} [${c.family}] ${c.method} ${c.route} → ${v.bucket} in ${end - start} ms${v.ok ? "" : " ✗"} — ${scanner.mask(c.note).slice(0, 160)}`);
        bump(report.statuses, v.bucket);
        const e = errorOf(x);
        if (e) bump(report.errors, `${e.status} ${c.route}: ${e.text}`);
        if (v.notes.includes("505 from the HTTP parser")) report.parser505++;
        if (!v.ok) problems.push(...v.problems);
        const answer = x.responses.find((r) => r.status >= 200);
        answers.push(answer ? `${answer.status} ${withoutLiveFields(Buffer.from(answer.body).toString("utf8"))}` : "(none)");
      }
      if (c.expect.sameAnswer && new Set(answers).size > 1)
        problems.push(`copies sent at once got different answers: ${[...new Set(answers)].map((a) => scanner.mask(a).slice(0, 200)).join(" | ")}`);
      if (problems.length) report.caseFailures.push(failureOf(c, scanner, [...new Set(problems)]));
      if (Date.now() - lastProgress > 5000) {
        lastProgress = Date.now();
        progress(`fuzz: ${report.sent}/${indexes.length} sent, ${report.caseFailures.length} failing`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 6) }, worker));
  const fuzzEnd = Date.now();
  progress(`fuzz: ${report.sent} requests in ${((fuzzEnd - fuzzStart) / 1000).toFixed(1)} s; checking the appliance still serves…`);

  const rssEnd = rssMiB(proc.pid);
  if (rssStart !== undefined) report.final.rssStartMiB = rssStart;
  if (rssEnd !== undefined) report.final.rssEndMiB = rssEnd;
  if (opts.signal?.aborted) {
    // Ctrl-C reaches the appliance too (same process group): nothing left to check but the log.
    report.interrupted = true;
    if (world.app.proc) await Promise.race([world.app.proc.exited, Bun.sleep(3000)]);
    scanLogSecretsOnly(world.app.lines.slice(logStart), scanner, report);
    report.durationMs = Date.now() - started;
    return report;
  }
  if (crashed) {
    const c = crashed as { code: number; at: number };
    report.globalFailures.push({ what: "crash", detail: `the appliance exited with code ${c.code}`, suspects: suspectsAt(timeline, c.at) });
  } else {
    // Let background work started by the requests (webhook deliveries, downloads) settle.
    await Bun.sleep(1500);
    await finalChecks(world, ctx, report);
  }

  // The log: secrets, unstructured output (an uncaught error printed by the runtime), and requests
  // that failed inside the application (a 500 the client may never have seen).
  const logFailures: { line: string; what: string; at: number; kind: "failed" | "unstructured" | "secret" }[] = [];
  const scanLog = (from: number, to: number) => {
    let lastAt = Date.now();
    let trace: { line: string; what: string; at: number; kind: "unstructured" } | null = null;
    for (const line of world.app.lines.slice(from, to)) {
      let parsed: { time?: string; level?: string; msg?: string; error?: string } | null = null;
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = null;
      }
      const at = parsed?.time ? Date.parse(parsed.time) : lastAt;
      lastAt = at;
      const secrets = scanner.scan(line);
      if (secrets.length) logFailures.push({ line, what: `secret in the log: ${secrets.join(", ")}`, at, kind: "secret" });
      if (!parsed || typeof parsed !== "object") {
        // Consecutive unstructured lines are one trace (an uncaught error printed by the runtime).
        if (trace) trace.line += `\n${line}`;
        else logFailures.push((trace = { line, what: "log output that is not JSON (an error the runtime printed?)", at, kind: "unstructured" }));
        continue;
      }
      trace = null;
      if (parsed.level === "error" || parsed.level === "warn") {
        bump(report.logLevels, `${parsed.level}: ${parsed.msg}`);
        if (parsed.level === "error") bump(report.errorMessages, `${parsed.msg}: ${String(parsed.error ?? "").slice(0, 120)}`);
      }
      if (parsed.msg === "request failed" || parsed.msg === "webhook failed")
        logFailures.push({ line, what: `the application failed a request (${parsed.msg}: ${parsed.error ?? ""})`, at, kind: "failed" });
    }
  };
  const logEnd = world.app.lines.length;
  scanLog(logStart, logEnd);

  // Find the request behind each log failure by replaying the requests in flight at the time, alone.
  const reproduces = (kind: string, lines: string[]) =>
    kind === "failed"
      ? lines.some((l) => l.includes('"msg":"request failed"') || l.includes('"msg":"webhook failed"'))
      : kind === "unstructured"
        ? lines.some((l) => !l.startsWith("{"))
        : lines.some((l) => scanner.scan(l).length > 0);
  const replayed = new Map<string, boolean>();
  for (const f of logFailures.slice(0, 20)) {
    const suspects = suspectsAt(timeline, f.at);
    let culprit: number | undefined;
    for (const i of crashed ? [] : suspects.slice(0, 12)) {
      const key = `${f.kind}:${i}`;
      if (!replayed.has(key)) {
        const before = world.app.lines.length;
        await runOne(byIndex.get(i)!);
        await Bun.sleep(150);
        replayed.set(key, reproduces(f.kind, world.app.lines.slice(before)));
      }
      if (replayed.get(key)) {
        culprit = i;
        break;
      }
    }
    const detail = scanner.mask(f.line).split("\n").slice(0, 4).join(" ⏎ ").slice(0, 500);
    report.globalFailures.push({ what: f.what, detail, suspects, ...(culprit !== undefined ? { culprit } : {}) });
  }
  if (logFailures.length > 20) report.globalFailures.push({ what: "more log failures", detail: `${logFailures.length - 20} more not shown` });

  // A clean stop: SIGTERM, exit code 0; then the shutdown lines get the same scrutiny.
  if (!crashed) {
    const before = world.app.lines.length;
    try {
      const code = await world.app.stop();
      report.final.exitCode = code;
      if (code !== 0) report.globalFailures.push({ what: "unclean stop", detail: `exit code ${code} after SIGTERM` });
    } catch (e) {
      report.final.exitCode = "did not stop";
      report.globalFailures.push({ what: "unclean stop", detail: String(e) });
    }
    await Bun.sleep(50);
    const stopFailures = logFailures.length;
    scanLog(before, world.app.lines.length);
    for (const f of logFailures.slice(stopFailures)) report.globalFailures.push({ what: f.what, detail: scanner.mask(f.line).slice(0, 400) });
  } else report.final.exitCode = (crashed as { code: number }).code;

  report.durationMs = Date.now() - started;
  report.ok = report.caseFailures.length === 0 && report.globalFailures.length === 0;
  return report;
}

async function finalChecks(world: FuzzWorld, _ctx: Ctx, report: FuzzReport): Promise<void> {
  const fail = (what: string, detail: string) => report.globalFailures.push({ what, detail });
  const h = await world.app.call("GET", "/health", undefined, null).catch((e) => ({ status: 0, json: null, text: String(e) }));
  report.final.health = `${h.status} ${h.text.slice(0, 80)}`;
  if (h.status !== 200 || h.json?.status !== "ok") fail("not serving", `/health answered ${h.status} ${h.text.slice(0, 200)}`);
  for (const who of ["acme", "beta"] as const) {
    const c = world[who];
    const r = await world.app.call("GET", `/client?number=${c.number}`, undefined, c.token).catch((e) => ({ status: 0, json: null, text: String(e) }));
    report.final[who] = `${r.status} ${r.json?.state ?? r.text.slice(0, 80)}`;
    if (r.status !== 200 || r.json?.state !== "online" || r.json?.number !== c.number)
      fail("number not online", `GET /client for ${who} answered ${r.status} ${r.text.slice(0, 300)}`);
    const live = world.tg.liveConnections({ userId: c.user.id });
    if (live < 1) fail("number not connected", `${who}'s account has no live connection on the loopback Telegram`);
    const dup = world.tg.duplicateCount(c.user);
    if (dup !== 0) fail("key used twice", `${who}'s auth key was used by two connections at once ${dup} time(s)`);
  }
  // Still bridging both ways, with each number's own Planfix account and key (nothing reconfigured).
  // A customer the fuzz never wrote to: the fuzz's own chats may still be working off their queues
  // (each chat is delivered in order, and many fuzz messages wait out failing downloads).
  const olga = world.lateCustomer;
  for (const who of ["acme", "beta"] as const) {
    const c = world[who];
    const chatId = `${c.number}_${olga.id}`;
    const text = `after the fuzz ${who} ${Date.now()}`;
    world.tg.driver.sendText(olga, c.user, text);
    const arrived = await world.planfix.waitFor(() => world.planfix.newMessages(chatId).find((m) => m.fields.message === text), 20_000).catch(() => null);
    if (!arrived) {
      fail("not bridging", `a Telegram message to ${who}'s number did not reach Planfix`);
      continue;
    }
    if (arrived.fields.planfix_token !== c.tokenPlanfix || !c.urlPlanfix.endsWith(arrived.path))
      fail("reconfigured", `${who}'s messages reach Planfix at ${arrived.path} with another key`);
    const reply = `reply after the fuzz ${who} ${Date.now()}`;
    const hook = await world.planfix
      .sendWebhook(`${world.app.url}/planfix`, { token: c.token, chatId, message: reply, messageId: `final-${who}-${Date.now()}` })
      .catch((e) => ({ status: 0, text: String(e) }));
    if (hook.status !== 200) fail("not bridging", `a Planfix reply for ${who} answered ${hook.status} ${hook.text.slice(0, 200)}`);
    else if (!(await waitUntil(() => world.tg.driver.messages(olga, c.user).some((m) => m.text === reply), 20_000)))
      fail("not bridging", `a Planfix reply from ${who} did not reach Telegram`);
  }
  report.final.bridge = report.globalFailures.some((f) => f.what === "not bridging" || f.what === "reconfigured") ? "broken" : "both ways, both numbers";
  const list = await world.app.call("GET", "/admin/clients", undefined, world.adminToken).catch(() => null);
  const names = (list?.json?.clients ?? []).map((c: { name: string }) => c.name);
  if (names.length !== 2) fail("clients created", `the fuzz created clients: ${JSON.stringify(names).slice(0, 300)}`);
}

/**
 * Limits the case generators do not track: over Bun's 16 KiB the parser answers 431 itself, before the
 * application; a body over 1 MiB is refused with 413, maybe before it is all written.
 */
function markLimits(c: FuzzCase): void {
  if (c.req.rawHead) return;
  const size = headOf(c.req, "127.0.0.1").byteLength;
  if (size > 16 * 1024 - 256) c.expect.protocol ??= `request head of ${size} bytes (over the HTTP parser's 16 KiB)`;
  if (c.req.headers.some(([k, v]) => /[\x00-\x08\x0a-\x1f\x7f]/.test(k + v))) c.expect.protocol ??= "control characters in a header";
  if (/[\x00-\x20\x7f]/.test(c.req.target)) c.expect.protocol ??= "a space or control byte in the request target";
  const body = c.req.body;
  const bodySize = !body ? 0 : body.kind === "bytes" ? body.bytes.byteLength : body.kind === "generated" ? body.size : body.parts.reduce((n, p) => n + p.byteLength, 0);
  if (bodySize > 1024 * 1024 && c.family !== "oversized") {
    c.expect.mayClose ??= "a body over 1 MiB may be cut off by the 413";
    if (c.route === "/planfix" && c.method === "POST") {
      c.expect.status = [413];
      c.expect.statusWhy = "body over 1 MiB";
    }
  }
}

function scanLogSecretsOnly(lines: string[], scanner: SecretScanner, report: FuzzReport): void {
  for (const line of lines) {
    const found = scanner.scan(line);
    if (found.length) report.globalFailures.push({ what: `secret in the log: ${found.join(", ")}`, detail: scanner.mask(line).slice(0, 400) });
  }
}

/** Resident memory of a process (Linux), in MiB. */
function rssMiB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

async function waitUntil(predicate: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (predicate()) return true;
    await Bun.sleep(50);
  }
  return predicate();
}

/** The `error` (and `problem`) of a JSON error answer, with numbers and quoted values folded. */
function errorOf(x: Exchange): { status: number; text: string } | null {
  const r = x.responses.find((r) => r.status >= 200);
  if (!r || r.status < 400 || !(r.headers["content-type"] ?? "").includes("json")) return null;
  try {
    const j = JSON.parse(Buffer.from(r.body).toString("utf8")) as { error?: unknown; problem?: unknown };
    const text = [j.error, j.problem].filter((t) => typeof t === "string").join(" — ");
    return {
      status: r.status,
      text: text
        .replace(/"[^"]*"/g, '"…"')
        .replace(/\d+/g, "N")
        .slice(0, 110),
    };
  } catch {
    return null;
  }
}

/** The request as bytes (latin1), for "does the answer only repeat what was asked" checks. */
function requestText(c: FuzzCase): string {
  const head = Buffer.from(headOf(c.req, "127.0.0.1")).toString("latin1");
  const body = c.plainBody ?? (c.req.body?.kind === "bytes" ? c.req.body.bytes : undefined);
  return body ? head + Buffer.from(body).toString("latin1") : head;
}

function suspectsAt(timeline: Timed[], at: number): number[] {
  return timeline
    .filter((t) => t.start - 50 <= at && at <= t.end + 500)
    .sort((a, b) => Math.abs(a.end - at) - Math.abs(b.end - at))
    .map((t) => t.c.index);
}

export function describeRequest(c: FuzzCase, scanner: SecretScanner, max = 600): string {
  const clipText = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s);
  const show = (s: string) => s.replace(/[^\x20-\x7e]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`);
  if (c.req.rawHead) return `raw: ${clipText(show(Buffer.from(c.req.rawHead).toString("latin1")), max)}`;
  const lines = [`${c.req.method} ${clipText(show(c.req.target), max)} ${c.req.version ?? "HTTP/1.1"}`];
  const headerNames = new Map<string, number>();
  for (const [k, v] of c.req.headers) {
    headerNames.set(k, (headerNames.get(k) ?? 0) + 1);
    if (headerNames.size > 20) break;
    lines.push(`${show(k)}: ${clipText(show(v), 200)}`);
  }
  if (c.req.headers.length > 20) lines.push(`… ${c.req.headers.length} headers in all`);
  const b = c.req.body;
  if (b) {
    if (b.kind === "generated") lines.push(`[body: ${b.size} generated bytes]`);
    else {
      const bytes = c.plainBody ?? (b.kind === "bytes" ? b.bytes : Buffer.concat(b.parts));
      lines.push(`[body: ${bytes.byteLength} bytes${b.kind === "raw-parts" ? ", chunked" : ""}] ${clipText(show(Buffer.from(bytes).toString("latin1")), max)}`);
    }
  }
  return scanner.mask(lines.join("\n"));
}

function failureOf(c: FuzzCase, scanner: SecretScanner, problems: string[]): CaseFailure {
  return { index: c.index, family: c.family, route: c.route, method: c.method, note: scanner.mask(c.note), request: describeRequest(c, scanner), problems };
}

export function formatReport(r: FuzzReport): string {
  const out: string[] = [];
  const table = (m: Record<string, number>) =>
    Object.entries(m)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `  ${String(v).padStart(7)}  ${k}`);
  out.push(`planfix-telegram fuzz — seed ${r.seed} (FUZZ_SEED=${r.seed}), ${r.count} cases, ${r.sent} requests, ${(r.durationMs / 1000).toFixed(1)} s`);
  out.push("", "requests per route (by method):");
  const common = ["GET", "POST", "PUT", "DELETE", "HEAD"];
  for (const [route, n] of Object.entries(r.perRoute).sort((a, b) => b[1] - a[1])) {
    const parts: string[] = [];
    let other = 0;
    for (const [key, m] of Object.entries(r.perRouteMethod)) {
      const at = key.lastIndexOf(" ");
      if (key.slice(at + 1) !== route) continue;
      const method = key.slice(0, at);
      if (common.includes(method)) parts.push(`${method} ${m}`);
      else other += m;
    }
    parts.sort((a, b) => Number(b.split(" ")[1]) - Number(a.split(" ")[1]));
    if (other) parts.push(`other methods ${other}`);
    out.push(`  ${String(n).padStart(7)}  ${route}  (${parts.join(", ")})`);
  }
  out.push("", "cases per family:", ...table(r.perFamily));
  out.push("", "first answer per request (status histogram):", ...table(r.statuses));
  if (r.parser505) out.push(`  (${r.parser505} of them: 505 from Bun's HTTP parser to an unreadable request line — allowed, see docs/fuzz.md)`);
  out.push("", "most common error answers:", ...table(r.errors).slice(0, 30), `  (${Object.keys(r.errors).length} distinct)`);
  if (Object.keys(r.logLevels).length) out.push("", "warn/error log lines (information, not failures by themselves):", ...table(r.logLevels));
  if (Object.keys(r.errorMessages).length) out.push("", "error log messages:", ...table(r.errorMessages));
  out.push(
    "",
    `at the end: /health ${r.final.health}; acme ${r.final.acme}; beta ${r.final.beta}; bridging ${r.final.bridge || "not checked"}; ${r.globalFailures.some((f) => f.what === "crash") ? "exited during the run with" : "exit code after SIGTERM"} ${r.final.exitCode}`,
  );
  if (r.final.rssStartMiB !== undefined) out.push(`appliance memory (RSS): ${r.final.rssStartMiB} MiB before, ${r.final.rssEndMiB ?? "?"} MiB after the requests`);
  const total = r.caseFailures.length + r.globalFailures.length;
  if (r.interrupted) out.push("", `INTERRUPTED after ${r.sent} requests: no end-of-run checks (${r.caseFailures.length} failing request(s) so far)`);
  else
    out.push(
      "",
      total === 0
        ? "PASS: no 5xx, no crash, no secret, every answer well-formed, still serving"
        : `FAIL: ${r.caseFailures.length} failing request(s), ${r.globalFailures.length} other failure(s)`,
    );
  for (const f of r.globalFailures) {
    out.push("", `✗ ${f.what}: ${f.detail}`);
    if (f.culprit !== undefined) out.push(`  caused by case #${f.culprit} (reproduced alone): FUZZ_SEED=${r.seed} FUZZ_ONLY=${f.culprit} make fuzz`);
    else if (f.suspects?.length)
      out.push(`  requests in flight then: ${f.suspects.slice(0, 12).join(", ")} — FUZZ_SEED=${r.seed} FUZZ_ONLY=${f.suspects.slice(0, 12).join(",")} make fuzz`);
  }
  const shown = r.caseFailures.slice(0, 40);
  for (const f of shown) {
    out.push("", `✗ case #${f.index} [${f.family}] ${f.method} ${f.route} — ${f.note}`);
    for (const p of f.problems) out.push(`    ${p}`);
    out.push(...f.request.split("\n").map((l) => `    > ${l}`));
    out.push(`    reproduce: FUZZ_SEED=${r.seed} FUZZ_ONLY=${f.index} make fuzz`);
  }
  if (r.caseFailures.length > shown.length) out.push("", `… and ${r.caseFailures.length - shown.length} more failing requests`);
  return out.join("\n");
}

/** A number's answer without its live backlog (`queues`: waiting counts and ages move between copies sent at once). */
function withoutLiveFields(body: string): string {
  try {
    const parsed = JSON.parse(body) as unknown;
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed) && "queues" in parsed) {
      const { queues: _live, ...rest } = parsed as Record<string, unknown>;
      return JSON.stringify(rest);
    }
  } catch {
    // not JSON: compared as it is
  }
  return body;
}

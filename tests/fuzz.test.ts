// The fuzzer (bench/fuzz.ts, docs/fuzz.md) in its short form inside `make test`: 1,000 malformed
// requests against every route of the compiled binary, two clients with their numbers online on the
// loopback Telegram. FUZZ_SEED / FUZZ_COUNT override the fixed seed and the count. The long run is
// `make fuzz`.
import { describe, expect, test } from "bun:test";
import { SecretScanner, checkExchange } from "../bench/fuzz/check.ts";
import type { FuzzCase } from "../bench/fuzz/cases.ts";
import type { Exchange, RawResponse } from "../bench/fuzz/http.ts";
import { caseRng, parseSeed } from "./support/rng.ts";
import { formatReport, runFuzz } from "../bench/fuzz/runner.ts";

const SEED = process.env.FUZZ_SEED ? parseSeed(process.env.FUZZ_SEED) : 20261124;
const COUNT = process.env.FUZZ_COUNT ? Number(process.env.FUZZ_COUNT) : 1000;

describe("fuzz", () => {
  test(`${COUNT} malformed requests (seed ${SEED}): no 5xx, no crash, no secret, well-formed answers, still serving`, async () => {
    const report = await runFuzz({ seed: SEED, count: COUNT });
    if (!report.ok) console.log(formatReport(report));
    expect(report.sent).toBeGreaterThanOrEqual(COUNT); // a burst case sends several copies
    expect(report.caseFailures.map((f) => `#${f.index} ${f.method} ${f.route}: ${f.problems.join("; ")}`)).toEqual([]);
    expect(report.globalFailures.map((f) => `${f.what}: ${f.detail}`)).toEqual([]);
    expect(report.final.exitCode).toBe(0);
    // Every route was attacked.
    for (const route of ["/client", "/admin/clients", "/planfix", "/files", "/docs", "/docs/json", "/docs/assets", "/health"])
      expect(report.perRoute[route] ?? 0).toBeGreaterThan(0);
  }, 120_000);
});

describe("the fuzzer's own parts", () => {
  test("a seed gives the same cases, case by case", () => {
    const a = caseRng(42, 7);
    const b = caseRng(42, 7);
    const xs = Array.from({ length: 20 }, () => a.u32());
    expect(Array.from({ length: 20 }, () => b.u32())).toEqual(xs);
    expect(caseRng(42, 8).u32()).not.toBe(xs[0]);
    expect(parseSeed("0x10")).toBe(16);
    expect(() => parseSeed("-1")).toThrow();
  });

  test("the secret scanner finds a secret as is, encoded, and in part", () => {
    const token = "pMgUkRIoMMUCLQKhjwV0WCCuWy_97Je0xU0swMe9taw";
    const key = new Uint8Array(256).map((_, i) => (i * 37 + 11) & 0xff);
    const s = new SecretScanner([
      { label: "token", value: token },
      { label: "key", value: key },
    ]);
    expect(s.scan(`{"a":"${token}"}`)).toContain("token (raw)");
    expect(s.scan(Buffer.from(token).toString("base64")).length).toBeGreaterThan(0);
    expect(s.scan(Buffer.from(token).toString("hex")).length).toBeGreaterThan(0);
    expect(s.scan(`…${token.slice(5, 29)}…`)).toContain("token (raw slice)");
    expect(s.scan(Buffer.from(key).toString("base64"))).toContain("key (base64)");
    expect(s.scan(Buffer.from(key.subarray(99, 123)).toString("hex")).length).toBeGreaterThan(0);
    expect(s.scan(`1AgAAAAAAAA${Buffer.from(key).toString("base64url")}`).length).toBeGreaterThan(0);
    expect(s.scan(`${token.slice(0, 4)}…[redacted]`)).toEqual([]);
    expect(s.mask(`Bearer ${token}`)).toBe("Bearer <token>");
  });

  test("the checker refuses 5xx, bare answers, errors without `error`, and other clients' data", () => {
    const base: FuzzCase = {
      index: 0,
      family: "client",
      route: "/client",
      method: "GET",
      note: "",
      req: { method: "GET", target: "/client", headers: [] },
      expect: { kind: "api" },
    };
    const res = (status: number, body: string, type: string | null = "application/json"): RawResponse => ({
      status,
      reason: "",
      headers: type ? { "content-type": type } : {},
      rawHead: `HTTP/1.1 ${status} X`,
      body: new TextEncoder().encode(body),
    });
    const ex = (...responses: RawResponse[]): Exchange => ({ responses, closedEarly: false, timedOut: false, trailing: 0, sentAll: true, ms: 1 });
    const scanner = new SecretScanner([{ label: "admin token", value: "admin-token-0123456789abcdefghij" }]);
    const verdict = (c: FuzzCase, x: Exchange) => checkExchange(c, x, scanner, "");
    expect(verdict(base, ex(res(400, '{"error":"number: is required"}'))).ok).toBe(true);
    expect(verdict(base, ex(res(500, '{"error":"internal error"}'))).ok).toBe(false);
    expect(verdict(base, ex(res(400, "", null))).ok).toBe(false);
    expect(verdict({ ...base, expect: { kind: "api", protocol: "garbage" } }, ex(res(400, "", null))).ok).toBe(true);
    expect(verdict({ ...base, expect: { kind: "api", protocol: "garbage" } }, ex(res(505, "", null))).ok).toBe(true);
    expect(verdict(base, ex(res(505, "", null))).ok).toBe(false);
    expect(verdict(base, ex(res(404, '{"message":"nope"}'))).ok).toBe(false);
    expect(verdict(base, ex(res(404, "<html>nope</html>", "text/html"))).ok).toBe(false);
    expect(verdict(base, ex(res(200, '{"t":"admin-token-0123456789abcdefghij"}'))).ok).toBe(false);
    expect(verdict({ ...base, expect: { kind: "api", status: [401] } }, ex(res(200, "{}"))).ok).toBe(false);
    const cross = { ...base, expect: { kind: "api" as const, not2xx: "beta on acme", forbid: [{ text: '"number":"380955821319"', why: "acme's number shown to beta" }] } };
    expect(verdict(cross, ex(res(200, "{}"))).ok).toBe(false);
    expect(verdict({ ...cross, expect: { ...cross.expect, not2xx: undefined } }, ex(res(200, '{"number":"380955821319"}'))).ok).toBe(false);
    expect(verdict(base, { ...ex(), closedEarly: true }).ok).toBe(false);
    expect(verdict(base, { ...ex(), closedEarly: true, sentAll: false }).ok).toBe(true);
    expect(verdict({ ...base, expect: { kind: "file", bytes: new Uint8Array([1, 2]) } }, ex(res(200, "\x01\x03", "image/png"))).ok).toBe(false);
  });
});

// Regressions found by the fuzzer (bench/fuzz.ts, docs/fuzz.md): hostile requests against the HTTP app
// with the real store and pool behind a fake Telegram connector. Each answer is JSON naming the problem,
// and nothing reaches the "request failed" (500) path.
import { afterEach, describe, expect, test } from "bun:test";
import { copyFileSync, linkSync, symlinkSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { ADMIN, startApiHarness } from "../support/api-harness.ts";

type Harness = Awaited<ReturnType<typeof startApiHarness>>;
let h: Harness;
afterEach(async () => h && (await h.close()));

const start = (session: string, extra: Record<string, unknown> = {}) => ({
  name: "acme",
  number: "380955821319",
  url_planfix: "http://127.0.0.1:9/webchat/api",
  token_planfix: "planfix-secret-key",
  path_session: session,
  ...extra,
});

const failedRequests = (h: Harness) => h.lines.filter((l) => l.includes('"msg":"request failed"'));

/** Sends raw bytes on a fresh connection and returns what came back (or "" when the server closed). */
function raw(url: string, bytes: string, opts: { end?: boolean } = {}): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const s = connect({ port: Number(port), host: "127.0.0.1" });
    let got = "";
    const done = setTimeout(() => s.destroy(), 2000);
    s.on("data", (d) => (got += d.toString("latin1")));
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(done);
      resolve(got);
    });
    s.write(bytes, () => opts.end && s.end());
  });
}

describe("hostile requests", () => {
  test("/docs/assets/<an Object.prototype key> is a 404, not a 500", async () => {
    h = await startApiHarness();
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty", "isPrototypeOf", "valueOf"]) {
      const r = await h.call("GET", `/docs/assets/${name}`, undefined, null);
      expect(r.status).toBe(404);
      expect(r.json.error).toBeString();
    }
    expect((await h.call("GET", "/docs/assets/swagger-ui.css", undefined, null)).status).toBe(200);
    expect(failedRequests(h)).toEqual([]);
  });

});

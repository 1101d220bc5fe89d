// Regressions found by the fuzzer (bench/fuzz.ts, docs/fuzz.md): hostile requests against the HTTP app
// with the real store and pool behind a fake Telegram connector. Each answer is JSON naming the problem,
// and nothing reaches the "request failed" (500) path.
import { afterEach, describe, expect, test } from "bun:test";
import { copyFileSync, linkSync, symlinkSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { ADMIN, startApiHarness, startBody as start } from "../support/api-harness.ts";
import { AuthThrottle } from "../../src/http/auth-throttle.ts";
import { nonIntegerLiteralsAsText } from "../../src/http/body.ts";
import { asciiFileName, fileHeaders } from "../../src/http/file-headers.ts";
import { createLogger } from "../../src/log.ts";

type Harness = Awaited<ReturnType<typeof startApiHarness>>;
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
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

  test("a body cut short by the client is not a failed request", async () => {
    h = await startApiHarness();
    const head = (path: string, length: number, token = "") =>
      `POST ${path} HTTP/1.1\r\nHost: x\r\n${token ? `Authorization: Bearer ${token}\r\n` : ""}Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n{"na`;
    await raw(h.url, head("/client", 500, ADMIN), { end: true });
    await raw(
      h.url,
      `POST /client HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN}\r\nContent-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n--b\r\n\r\n`,
      { end: true },
    );
    await Bun.sleep(100);
    expect(failedRequests(h)).toEqual([]);
    expect((await h.call("GET", "/health", undefined, null)).status).toBe(200);
  });

  test("a chunked multipart body over 1 MiB is a JSON 413 (never buffered whole)", async () => {
    h = await startApiHarness();
    const part = `--b\r\nContent-Disposition: form-data; name="name"\r\n\r\n${"x".repeat(2 * 1024 * 1024)}\r\n--b--\r\n`;
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(part));
        c.close();
      },
    });
    const res = await fetch(`${h.url}/client`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "multipart/form-data; boundary=b" }, body });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toContain("larger than");
  });

  test("GET /client with a body is refused, not answered as if no fields were sent", async () => {
    h = await startApiHarness();
    const a = await h.call("POST", "/client", start(h.session("a.txt")), ADMIN);
    const got = await raw(
      h.url,
      `GET /client HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.json.token}\r\nContent-Type: application/json\r\nContent-Length: 25\r\nConnection: close\r\n\r\n{"number":"380501112233"}`,
    );
    expect(got).toStartWith("HTTP/1.1 400");
    expect(got).toContain("send name and number in the query string");
    expect((await h.call("GET", "/client?number=380955821319", undefined, a.json.token)).status).toBe(200);
  });

  test("/admin/clients refuses a client token before looking at the body", async () => {
    h = await startApiHarness();
    const a = await h.call("POST", "/client", start(h.session("a.txt")), ADMIN);
    const r = await h.call("POST", "/admin/clients", undefined, a.json.token);
    expect(r.status).toBe(405);
    const got = await raw(h.url, `GET /admin/clients HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.json.token}\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{oops`);
    expect(got).toStartWith("HTTP/1.1 401");
  });

  test("a method the route does not take is a 405 naming the allowed ones", async () => {
    h = await startApiHarness();
    const r = await fetch(`${h.url}/client`, { method: "PATCH" });
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("DELETE, GET, HEAD, POST, PUT");
    expect(((await r.json()) as { error: string }).error).toContain("PATCH");
    const health = await fetch(`${h.url}/health`, { method: "POST" });
    expect(health.status).toBe(405);
    expect(health.headers.get("allow")).toBe("GET, HEAD");
    expect((await h.call("GET", "/nope", undefined, null)).status).toBe(404);
    // CONNECT's target is "host:port", not a path: still a JSON 404, not the runtime's HTML 500.
    const connectAnswer = await raw(h.url, "CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(connectAnswer).toStartWith("HTTP/1.1 404");
    expect(connectAnswer).toContain('{"error":');
  });

  test("another name for a live session — symlink, hard link or copy — is a 409, and nothing is created", async () => {
    h = await startApiHarness();
    const a = await h.call("POST", "/client", start(h.session("a.txt")), ADMIN);
    expect(a.json.state).toBe("online");
    // In acme's folder: a client token names only files there.
    symlinkSync(join(h.sessionsDir, "acme/a.txt"), join(h.sessionsDir, "acme/link.txt"));
    linkSync(join(h.sessionsDir, "acme/a.txt"), join(h.sessionsDir, "acme/hard.txt"));
    copyFileSync(join(h.sessionsDir, "acme/a.txt"), join(h.sessionsDir, "acme/copy.txt"));
    for (const alias of ["acme/link.txt", "acme/hard.txt", "acme/copy.txt"]) {
      const other = await h.call("POST", "/client", start(alias, { name: `gamma-${alias.replace("/", "-")}`, number: "380990000001" }), ADMIN);
      expect(other.status).toBe(409);
      expect(other.json.field).toBe("path_session");
      const more = await h.call("POST", "/client", start(alias, { number: "380990000002" }), a.json.token);
      expect(more.status).toBe(409);
    }
    expect(await h.clients.allClients()).toHaveLength(1);
    expect(await h.clients.allAccounts()).toHaveLength(1);
    // The number's own session under another name is still its own.
    const own = await h.call("PUT", "/client", { number: "380955821319", path_session: "acme/link.txt" }, a.json.token);
    expect(own.status).toBe(200);
    expect(own.json.state).toBe("online");
  });
});

describe("edge helpers", () => {
  test("failed token checks: 429 after the limit within a minute, free again a minute after; one log line a minute", async () => {
    let now = 1_000_000;
    const lines: string[] = [];
    const t = new AuthThrottle(
      3,
      createLogger("info", {}, (l) => lines.push(l)),
      () => now,
    );
    for (let i = 0; i < 3; i++) {
      expect(t.retryAfterSeconds("1.2.3.4")).toBe(0);
      t.fail("1.2.3.4");
      now += 1000;
    }
    expect(t.retryAfterSeconds("1.2.3.4")).toBe(57); // the first failure (3 s ago) leaves the window at 60 s
    expect(t.retryAfterSeconds("5.6.7.8")).toBe(0); // per address
    now += 57_000;
    expect(t.retryAfterSeconds("1.2.3.4")).toBe(0);
    // The first failure was logged at once; the rest wait for the minute (a timer, unref'd).
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "warn", msg: "failed token checks", failures: 1 });
    t.stop();
    const off = new AuthThrottle(
      0,
      createLogger("info", {}, (l) => lines.push(l)),
      () => now,
    );
    for (let i = 0; i < 50; i++) off.fail("9.9.9.9");
    expect(off.retryAfterSeconds("9.9.9.9")).toBe(0);
  });

  test("decimal and exponent number literals keep their text; integers and strings stay as they are", () => {
    expect(JSON.parse(nonIntegerLiteralsAsText('{"number":380950000001.0,"n":1e12,"s":"2.5 \\" 3.5","i":7,"a":[-1.5]}'))).toEqual({
      number: "380950000001.0",
      n: "1e12",
      s: '2.5 " 3.5',
      i: 7,
      a: ["-1.5"],
    });
  });

  test("/files headers: inert media inline, everything else a download; always nosniff and sandboxed", () => {
    const html = fileHeaders({ name: "page.html", mimeType: "text/html", size: 5 });
    expect(html["content-disposition"]).toStartWith("attachment;");
    expect(html["x-content-type-options"]).toBe("nosniff");
    expect(html["content-security-policy"]).toBe("sandbox; default-src 'none'");
    expect(fileHeaders({ name: "a.svg", mimeType: "image/svg+xml", size: 1 })["content-disposition"]).toStartWith("attachment;");
    expect(fileHeaders({ name: "a.jpg", mimeType: "image/jpeg", size: 1 })["content-disposition"]).toStartWith("inline;");
    expect(fileHeaders({ name: "x", mimeType: "text/html\r\nset-cookie: a=b", size: 1 })["content-type"]).toBe("application/octet-stream");
    expect(fileHeaders({ name: "Звіт (1).pdf", mimeType: "application/pdf", size: 1 })["content-disposition"]).toBe(
      `attachment; filename="____ (1).pdf"; filename*=UTF-8''%D0%97%D0%B2%D1%96%D1%82%20%281%29.pdf`,
    );
    expect(asciiFileName("café.txt")).toBe("cafe.txt");
  });
});

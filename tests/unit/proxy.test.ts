// Proxy values: the URL forms accepted, what is refused (with messages that never echo a secret), what
// is shown (redacted), TELEGRAM_PROXY as a setting and `proxy` in the management API's input.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StartInput, UpdateInput, validate } from "../../src/accounts/input.ts";
import { helpText, loadSettings, SettingsError } from "../../src/config.ts";
import { effectiveProxy, parseNumberProxy, parseProxy, proxyAddress, proxyUrl, redactProxy, type ProxySpec } from "../../src/domain/proxy.ts";

const SECRET = "0123456789abcdef0123456789abcdef";

describe("parseProxy", () => {
  test("socks5 with and without user:password, IPv6, percent-encoded credentials", () => {
    expect(parseProxy("socks5://bridge:s3cret@10.0.0.5:1080")).toEqual({ kind: "socks5", host: "10.0.0.5", port: 1080, username: "bridge", password: "s3cret" });
    expect(parseProxy(" socks5://proxy.example.com:1080 ")).toEqual({ kind: "socks5", host: "proxy.example.com", port: 1080, username: null, password: null });
    expect(parseProxy("socks5://[::1]:1080")).toMatchObject({ host: "::1", port: 1080 });
    expect(parseProxy("socks5://us%40er:p%3Ass%40@h:1")).toMatchObject({ username: "us@er", password: "p:ss@" });
  });

  test("mtproxy://secret@host:port, dd secrets, tg://proxy and t.me/proxy links", () => {
    expect(parseProxy(`mtproxy://${SECRET}@1.2.3.4:443`)).toEqual({ kind: "mtproxy", host: "1.2.3.4", port: 443, secret: SECRET });
    expect(parseProxy(`mtproxy://DD${SECRET.toUpperCase()}@h:443`)).toMatchObject({ secret: `dd${SECRET}` });
    expect(parseProxy(`tg://proxy?server=mt.example.com&port=8443&secret=${SECRET}`)).toEqual({ kind: "mtproxy", host: "mt.example.com", port: 8443, secret: SECRET });
    expect(parseProxy(`https://t.me/proxy?server=1.2.3.4&port=443&secret=dd${SECRET}`)).toMatchObject({ host: "1.2.3.4", secret: `dd${SECRET}` });
  });

  test("refused with a message that says what is wrong and never contains the value's secrets", () => {
    const cases: [string, RegExp][] = [
      ["socks5://user:topsecret@host", /needs a port/],
      ["socks5://user:topsecret@host:99999", /not a valid socks5:\/\/ address; expected socks5:\/\/\[user:password@\]host:port/],
      ["socks5://:topsecret@host:1080", /password but no user name/],
      ["socks5://u:topsecret@host:1080/path", /no path or query/],
      ["http://u:topsecret@host:3128", /http proxies are not supported/],
      ["socks4://host:1080", /socks4 proxies are not supported/],
      ["ftp://host:1", /must be socks5:\/\//],
      ["host:1080", /must be socks5:\/\//],
      ["mtproxy://host:443", /needs its secret/],
      ["mtproxy://topsecret@host:443", /32 hex digits/],
      [`mtproxy://ee${SECRET}676f6f676c652e636f6d@host:443`, /fake-TLS/],
      [`mtproxy://${SECRET}:x@host:443`, /secret alone/],
      ["tg://proxy?server=h&port=1&secret=topsecret", /32 hex digits/],
      ["tg://resolve?domain=x", /must be socks5/],
    ];
    for (const [value, message] of cases) {
      let error: unknown;
      try {
        parseProxy(value);
      } catch (e) {
        error = e;
      }
      expect(error, value).toBeInstanceOf(Error);
      expect((error as Error).message, value).toMatch(message);
      expect((error as Error).message, value).not.toContain("topsecret");
      expect((error as Error).message, value).not.toContain(SECRET);
    }
  });

  test("redacted for showing, address for reasons, URL back for storing", () => {
    const socks = parseProxy("socks5://bridge:s3cret@10.0.0.5:1080");
    expect(redactProxy(socks)).toBe("socks5://bridge:***@10.0.0.5:1080");
    expect(redactProxy(parseProxy("socks5://[::1]:1080"))).toBe("socks5://[::1]:1080");
    const mt = parseProxy(`mtproxy://${SECRET}@1.2.3.4:443`);
    expect(redactProxy(mt)).toBe("mtproxy://***@1.2.3.4:443");
    expect(proxyAddress(socks)).toBe("socks5://10.0.0.5:1080");
    for (const p of [socks, mt, parseProxy("socks5://us%40er:p%3Ass@h:1")]) expect(parseProxy(proxyUrl(p))).toEqual(p);
  });

  test("a number's own setting: direct, its proxy, or the default", () => {
    const fallback = parseProxy("socks5://h:1080");
    const own = parseProxy(`mtproxy://${SECRET}@m:443`);
    expect(effectiveProxy(parseNumberProxy(null), fallback)).toEqual(fallback);
    expect(effectiveProxy(parseNumberProxy(""), null)).toBeNull();
    expect(effectiveProxy(parseNumberProxy("DIRECT"), fallback)).toBeNull();
    expect(effectiveProxy(parseNumberProxy(proxyUrl(own)), fallback)).toEqual(own);
  });
});

describe("TELEGRAM_PROXY", () => {
  test("unset: none; set: parsed; from TELEGRAM_PROXY_FILE too", () => {
    expect(loadSettings([], {}).telegramProxy).toBeNull();
    expect(loadSettings([], { TELEGRAM_PROXY: "socks5://bridge:s3cret@127.0.0.1:1080" }).telegramProxy).toEqual<ProxySpec>({
      kind: "socks5",
      host: "127.0.0.1",
      port: 1080,
      username: "bridge",
      password: "s3cret",
    });
    const dir = mkdtempSync(join(tmpdir(), "pt-proxy-"));
    try {
      writeFileSync(join(dir, "proxy"), `mtproxy://${SECRET}@1.2.3.4:443\n`);
      expect(loadSettings([], { TELEGRAM_PROXY_FILE: join(dir, "proxy") }).telegramProxy).toMatchObject({ kind: "mtproxy", secret: SECRET });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a bad value stops the start with a SettingsError naming the setting, not the secret; a flag is refused", () => {
    expect(() => loadSettings([], { TELEGRAM_PROXY: "socks5://bridge:s3cret@host" })).toThrow(SettingsError);
    expect(() => loadSettings([], { TELEGRAM_PROXY: "socks5://bridge:s3cret@host" })).toThrow(/^TELEGRAM_PROXY: socks5 needs a port/);
    try {
      loadSettings([], { TELEGRAM_PROXY: "http://bridge:s3cret@host:3128" });
    } catch (e) {
      expect((e as Error).message).not.toContain("s3cret");
    }
    expect(() => loadSettings(["--telegram-proxy", "socks5://h:1"], {})).toThrow(/secret given as a flag/);
  });

  test("--help lists it", () => {
    expect(helpText()).toContain("--telegram-proxy, TELEGRAM_PROXY");
  });
});

describe("proxy in the management API input", () => {
  const start = { name: "acme", number: "380955821319", url_planfix: "https://acme.planfix.com/webchat/api", token_planfix: "k", name_session: "s" };

  test("POST: a proxy is stored normalized; direct and blank are kept as such", () => {
    const ok = validate(StartInput, { ...start, proxy: " socks5://bridge:s3cret@10.0.0.5:1080 " });
    expect(ok.ok && ok.value.proxy).toBe("socks5://bridge:s3cret@10.0.0.5:1080");
    const direct = validate(StartInput, { ...start, proxy: "Direct" });
    expect(direct.ok && direct.value.proxy).toBe("direct");
    const blank = validate(StartInput, { ...start, proxy: "" });
    expect(blank.ok && blank.value.proxy).toBeNull();
  });

  test("a bad proxy is a problem of the field proxy, without the secret; null is accepted only by PUT", () => {
    const bad = validate(StartInput, { ...start, proxy: "socks5://bridge:s3cret@host" });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.field).toBe("proxy");
      expect(bad.problem).toMatch(/needs a port/);
      expect(bad.message).not.toContain("s3cret");
    }
    expect(validate(StartInput, { ...start, proxy: null }).ok).toBe(false);
    const reset = validate(UpdateInput, { number: "380955821319", proxy: null });
    expect(reset.ok && reset.value.proxy).toBeNull();
    const kept = validate(UpdateInput, { number: "380955821319" });
    expect(kept.ok && kept.value.proxy).toBeUndefined();
    expect(validate(UpdateInput, { number: "380955821319", proxy: 5 }).ok).toBe(false);
  });
});

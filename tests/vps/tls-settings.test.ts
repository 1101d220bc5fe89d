// The HTTPS settings: one of certificate files or ACME, each complete, with clear errors otherwise.
import { expect, test } from "bun:test";
import { LETS_ENCRYPT_DIRECTORY, loadSettings, SettingsError } from "../../src/config.ts";

const load = (env: Record<string, string>, argv: string[] = []) => loadSettings(argv, env);

test("off by default; files and ACME are read with their defaults", () => {
  expect(load({}).tls).toEqual({ kind: "off" });
  expect(load({}).publicUrl).toBe("http://127.0.0.1:8080");
  const files = load({ TLS_CERT: "/etc/c.pem", TLS_KEY: "/etc/k.pem", PORT: "8443", HOST: "127.0.0.1" });
  expect(files.tls).toEqual({ kind: "files", certFile: "/etc/c.pem", keyFile: "/etc/k.pem" });
  expect(files.publicUrl).toBe("https://127.0.0.1:8443");
  const acme = load({ PORT: "443" }, ["--acme-domain", "Bridge.Example.com"]);
  expect(acme.tls).toEqual({ kind: "acme", domain: "bridge.example.com", email: null, directory: LETS_ENCRYPT_DIRECTORY, httpPort: 80, caFile: null, renewDays: 30 });
  expect(acme.publicUrl).toBe("https://bridge.example.com");
  expect(load({ ACME_DOMAIN: "b.example.com", PORT: "8443" }).publicUrl).toBe("https://b.example.com:8443");
});

test("incomplete or conflicting HTTPS settings are refused with a message naming the setting", () => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ TLS_CERT: "/c" }, /TLS_KEY is missing/],
    [{ TLS_KEY: "/k" }, /TLS_CERT is missing/],
    [{ TLS_CERT: "/c", TLS_KEY: "/k", ACME_DOMAIN: "a.example.com" }, /either TLS_CERT\/TLS_KEY or ACME_DOMAIN/],
    [{ ACME_DOMAIN: "localhost" }, /ACME_DOMAIN must be a domain name/],
    [{ ACME_DOMAIN: "https://a.example.com" }, /ACME_DOMAIN must be a domain name/],
    [{ ACME_DOMAIN: "a.example.com", ACME_HTTP_PORT: "70000" }, /ACME_HTTP_PORT must be at most 65535/],
    [{ ACME_DOMAIN: "a.example.com", ACME_RENEW_DAYS: "-1" }, /ACME_RENEW_DAYS must be a positive/],
  ];
  for (const [env, message] of bad) expect(() => load(env)).toThrow(message);
  expect(() => load({ TLS_CERT: "/c" })).toThrow(SettingsError);
});

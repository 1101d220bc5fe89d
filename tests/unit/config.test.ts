import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAdminToken } from "../../src/auth/admin-token.ts";
import { helpText, loadSettings, TUNABLES } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";

const LONG = "x".repeat(32);

describe("settings", () => {
  test("embedded defaults", () => {
    const s = loadSettings([], {});
    expect(s.port).toBe(8080);
    expect(s.dataDir.endsWith("/data")).toBe(true);
    expect(s.sessionsDir).toBe(s.dataDir + "/sessions");
    expect(s.telegramApiId).toBeNull();
    expect(s.telegramEndpoint).toBeNull();
    expect(s.publicUrl).toBe("http://127.0.0.1:8080");
  });

  test("flags win over the environment", () => {
    const s = loadSettings(["--port", "9001", "--data-dir=/tmp/x", "--telegram-endpoint", "127.0.0.1:21000"], { PORT: "7000", TELEGRAM_API_ID: "12345", TELEGRAM_API_HASH: "abc" });
    expect(s).toMatchObject({ port: 9001, dataDir: "/tmp/x", sessionsDir: "/tmp/x/sessions", telegramEndpoint: "127.0.0.1:21000", telegramApiId: 12345, telegramApiHash: "abc" });
  });

  test("bad values are named", () => {
    expect(() => loadSettings(["--port", "http"], {})).toThrow("PORT");
    expect(() => loadSettings([], { TELEGRAM_API_ID: "abc" })).toThrow("TELEGRAM_API_ID");
    expect(() => loadSettings(["--frobnicate", "1"], {})).toThrow("--frobnicate");
    expect(() => loadSettings([], { LOG_LEVEL: "loud" })).toThrow("LOG_LEVEL");
  });

  test("--help lists every setting by its environment name", () => {
    for (const name of ["PORT", "HOST", "DATA_DIR", "SESSIONS_DIR", "PUBLIC_URL", "TELEGRAM_API_ID", "TELEGRAM_API_HASH", "ADMIN_TOKEN", "LOG_LEVEL", "TELEGRAM_ENDPOINT"]) {
      expect(helpText()).toContain(name);
    }
  });

  test("ADMIN_TOKEN: at least 32 characters, from the environment or ADMIN_TOKEN_FILE, never a flag", () => {
    expect(() => loadSettings([], { ADMIN_TOKEN: "a" })).toThrow("at least 32 characters");
    expect(() => loadSettings([], { ADMIN_TOKEN: "x".repeat(31) })).toThrow("at least 32");
    expect(loadSettings([], { ADMIN_TOKEN: LONG }).adminToken).toBe(LONG);
    for (const argv of [["--admin-token", LONG], [`--admin-token=${LONG}`], ["--telegram-api-hash", "abc"]]) {
      let message = "";
      try {
        loadSettings(argv, {});
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toContain("_FILE");
      expect(message).toContain("environment");
      expect(message).not.toContain(LONG); // the refused secret is not echoed
    }
    const dir = mkdtempSync(join(tmpdir(), "pt-cfg-"));
    try {
      writeFileSync(join(dir, "admin"), `${LONG}\n`);
      writeFileSync(join(dir, "hash"), "0123456789abcdef\n");
      writeFileSync(join(dir, "short"), "abc\n");
      const s = loadSettings(["--admin-token-file", join(dir, "admin")], { TELEGRAM_API_HASH_FILE: join(dir, "hash") });
      expect(s.adminToken).toBe(LONG);
      expect(s.telegramApiHash).toBe("0123456789abcdef");
      expect(() => loadSettings([], { ADMIN_TOKEN_FILE: join(dir, "short") })).toThrow("at least 32");
      expect(() => loadSettings([], { ADMIN_TOKEN_FILE: join(dir, "missing") })).toThrow("ADMIN_TOKEN_FILE");
      expect(() => loadSettings([], { ADMIN_TOKEN: LONG, ADMIN_TOKEN_FILE: join(dir, "admin") })).toThrow("not both");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("PUBLIC_URL unset while listening on every address is a warning; set, or a specific HOST, is not", () => {
    expect(loadSettings([], {}).warnings.join()).toContain("PUBLIC_URL");
    expect(loadSettings([], { HOST: "::" }).warnings.join()).toContain("PUBLIC_URL");
    expect(loadSettings([], { PUBLIC_URL: "https://bridge.example.com" }).warnings).toEqual([]);
    expect(loadSettings([], { HOST: "10.0.0.5" }).warnings).toEqual([]);
  });

  test("LIVENESS_PROBE_SECONDS: unset leaves the tunable's 180 s; fractions allowed; 0 or text refused", () => {
    expect(loadSettings([], {}).livenessProbeMs).toBeNull();
    expect(TUNABLES.livenessProbeMs).toBe(180_000);
    expect(loadSettings(["--liveness-probe-seconds", "2.5"], {}).livenessProbeMs).toBe(2500);
    expect(() => loadSettings([], { LIVENESS_PROBE_SECONDS: "0" })).toThrow("LIVENESS_PROBE_SECONDS");
    expect(() => loadSettings([], { LIVENESS_PROBE_SECONDS: "often" })).toThrow("LIVENESS_PROBE_SECONDS");
  });

  test("AUTH_FAILURES_PER_MINUTE: 10 by default, 0 turns the throttle off", () => {
    expect(loadSettings([], {}).authFailuresPerMinute).toBe(10);
    expect(loadSettings([], { AUTH_FAILURES_PER_MINUTE: "0" }).authFailuresPerMinute).toBe(0);
    expect(() => loadSettings([], { AUTH_FAILURES_PER_MINUTE: "-1" })).toThrow("AUTH_FAILURES_PER_MINUTE");
  });

  test("a generated admin token is logged by where it is, never what it is; a short one in the file is refused", () => {
    const dir = mkdtempSync(join(tmpdir(), "pt-adm-"));
    try {
      const lines: string[] = [];
      const token = loadAdminToken(
        null,
        dir,
        createLogger("debug", {}, (l) => lines.push(l)),
      );
      expect(token.length).toBeGreaterThanOrEqual(32);
      expect(lines.join("\n")).toContain(join(dir, "admin-token"));
      expect(lines.join("\n")).not.toContain(token);
      expect(loadAdminToken(null, dir, createLogger("silent"))).toBe(token);
      writeFileSync(join(dir, "admin-token"), "short\n");
      expect(() => loadAdminToken(null, dir, createLogger("silent"))).toThrow("shorter than 32");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { describe, expect, test } from "bun:test";
import { helpText, loadSettings } from "../../src/config.ts";

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
});

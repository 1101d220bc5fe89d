// LANGUAGE and the per-number language pick the texts written into Planfix.
import { describe, expect, test } from "bun:test";
import { LANGUAGES, textsFor } from "../../src/bridge/texts.ts";
import { loadSettings, SettingsError } from "../../src/config.ts";

describe("texts", () => {
  test("every language has every text, and they differ from each other", () => {
    const edit = LANGUAGES.map((l) => textsFor(l).editPrefix);
    expect(new Set(edit).size).toBe(LANGUAGES.length);
    expect(textsFor("uk").fileTooBig("a.zip", "60", "50")).toBe("[a.zip: 60 МБ, більше за ліміт 50 МБ — не передано]");
    expect(textsFor("ru").offlineTooLong("380", "stopped")).toContain("слишком долго");
    expect(textsFor("en").mediaCaption("photo", "photo_1.jpg")).toBe("📷 Photo");
    expect(textsFor("en").mediaCaption("document", "offer.pdf")).toBe("offer.pdf");
  });

  test("a number's language wins; none or an unknown one falls back to LANGUAGE", () => {
    expect(textsFor("ru", "en").editPrefix).toBe("✏️ изменено: ");
    expect(textsFor(null, "en").editPrefix).toBe("✏️ edited: ");
    expect(textsFor("xx", "uk").editPrefix).toBe("✏️ змінено: ");
    expect(textsFor(undefined).editPrefix).toBe("✏️ змінено: ");
  });
});

describe("LANGUAGE setting", () => {
  const lang = (v: string | undefined) => loadSettings([], { LANGUAGE: v }).language;
  test("uk by default; uk, ru, en as set, any case", () => {
    expect(lang(undefined)).toBe("uk");
    expect(lang("RU")).toBe("ru");
    expect(loadSettings(["--language", "en"], {}).language).toBe("en");
  });

  test("GNU's LANGUAGE locale list is read for its first language, and one we lack is not fatal", () => {
    expect(lang("en_US:en")).toBe("en");
    expect(lang("ru_RU.UTF-8")).toBe("ru");
    expect(lang("de_DE:de")).toBe("uk");
  });

  test("a bare code we do not have is refused, naming the choices", () => {
    expect(() => lang("de")).toThrow(SettingsError);
    expect(() => lang("de")).toThrow(/uk, ru, en/);
  });
});

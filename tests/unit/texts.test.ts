// LANGUAGE and the per-number language pick the texts written into Planfix.
import { describe, expect, test } from "bun:test";
import { Api } from "telegram";
import { LANGUAGES, renderContent, textsFor } from "../../src/bridge/texts.ts";
import { toLong } from "../../src/telegram/gram.ts";
import { contentOf } from "../../src/telegram/messages.ts";
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

describe("contacts, locations and polls", () => {
  const msg = (media: Api.TypeMessageMedia, message = "") => new Api.Message({ id: 5, peerId: new Api.PeerUser({ userId: toLong("42") }), date: 1000, message, media });
  const geo = new Api.GeoPoint({ lat: 50.45, long: 30.52, accessHash: toLong("0") });
  const samples = [
    msg(new Api.MessageMediaContact({ phoneNumber: "380500000001", firstName: "Olga", lastName: "K", vcard: "", userId: toLong("0") }), "call her"),
    msg(new Api.MessageMediaVenue({ geo, title: "Cafe", address: "Main st 1", provider: "", venueId: "", venueType: "" })),
    msg(new Api.MessageMediaGeoLive({ geo, period: 60 })),
    msg(new Api.MessageMediaGeo({ geo: new Api.GeoPointEmpty() })),
    msg(
      new Api.MessageMediaPoll({
        poll: new Api.Poll({
          id: toLong("1"),
          question: new Api.TextWithEntities({ text: "Lunch?", entities: [] }),
          answers: [new Api.PollAnswer({ text: new Api.TextWithEntities({ text: "Pizza", entities: [] }), option: Buffer.from([0]) })],
        }),
        results: new Api.PollResults({}),
      }),
    ),
    msg(new Api.MessageMediaUnsupported()),
  ];

  test("rendered in English, they read exactly as the adapter's own text", () => {
    for (const m of samples) {
      const c = contentOf(m, "42");
      expect(c.rendering).toBeDefined();
      expect(renderContent(textsFor("en"), c.rendering!, c.caption!)).toBe(c.text);
    }
  });

  test("in Ukrainian and Russian the labels change, the data and the caption stay", () => {
    const contact = contentOf(samples[0]!, "42");
    expect(renderContent(textsFor("uk"), contact.rendering!, contact.caption!)).toBe("Контакт: Olga K, +380500000001\ncall her");
    const live = contentOf(samples[2]!, "42");
    expect(renderContent(textsFor("ru"), live.rendering!, "")).toStartWith("Местоположение (в реальном времени): 50.450000, 30.520000");
    const poll = contentOf(samples[4]!, "42");
    expect(renderContent(textsFor("uk"), poll.rendering!, "")).toBe("Опитування: Lunch?\n- Pizza");
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

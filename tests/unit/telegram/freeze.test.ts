// A freeze read from Telegram's app config (help.getAppConfig), the way a frozen account is told apart
// before its first send.
import { expect, test } from "bun:test";
import { Api } from "telegram";
import { freezeOf } from "../../../src/telegram/freeze.ts";

const config = (entries: Record<string, number | string>) =>
  new Api.JsonObject({
    value: Object.entries(entries).map(
      ([key, v]) => new Api.JsonObjectValue({ key, value: typeof v === "number" ? new Api.JsonNumber({ value: v }) : new Api.JsonString({ value: v }) }),
    ),
  });

test("no freeze keys: not frozen", () => {
  expect(freezeOf(config({ message_length_max: 4096 }))).toBeNull();
  expect(freezeOf(new Api.JsonNull())).toBeNull();
});

test("freeze_since_date: frozen, with the deletion date and the appeal link when given", () => {
  const since = Date.UTC(2026, 11, 1) / 1000;
  const until = Date.UTC(2026, 11, 31) / 1000;
  expect(freezeOf(config({ freeze_since_date: since }))).toBe("since 2026-12-01");
  expect(freezeOf(config({ freeze_since_date: since, freeze_until_date: until, freeze_appeal_url: "https://t.me/spambot" }))).toBe(
    "since 2026-12-01, to be deleted on 2026-12-31 unless an appeal succeeds, appeal: https://t.me/spambot",
  );
});

test("an appeal link that is not Telegram's is left out of the reason", () => {
  const since = Date.UTC(2026, 11, 1) / 1000;
  expect(freezeOf(config({ freeze_since_date: since, freeze_appeal_url: "https://evil.example/<script>" }))).toBe("since 2026-12-01");
});

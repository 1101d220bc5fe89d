// How a frozen account and a moved account are told apart from a flood wait and a dropped connection:
// errors built the way GramJS builds them from Telegram's rpc_error.
import { expect, test } from "bun:test";
import { Api, errors } from "telegram";
import { terminalReason } from "../../../src/accounts/runner.ts";
import { TERMINAL_FAILURES } from "../../../src/domain/telegram-port.ts";
import { countTelegramFailure } from "../../../src/metrics/telegram-failures.ts";
import type { Metrics } from "../../../src/metrics/metrics.ts";
import { toFailure } from "../../../src/telegram/errors.ts";

const fromTelegram = (errorCode: number, errorMessage: string) =>
  errors.RPCMessageToError(new Api.RpcError({ errorCode, errorMessage }), new Api.messages.SendMessage({ peer: "me", message: "x" }));

test("FROZEN_METHOD_INVALID (420, like a flood wait) is frozen: terminal, no wait, a readable state reason", () => {
  const e = fromTelegram(420, "FROZEN_METHOD_INVALID");
  expect(e).not.toBeInstanceOf(errors.FloodWaitError);
  const f = toFailure(e);
  expect(f.kind).toBe("frozen");
  expect(f.floodSeconds).toBeUndefined();
  expect(TERMINAL_FAILURES.has(f.kind)).toBe(true);
  expect(terminalReason(f)).toStartWith("Telegram froze this account: FROZEN_METHOD_INVALID");
  // A real flood wait is still one.
  const flood = toFailure(fromTelegram(420, "FLOOD_WAIT_30"));
  expect([flood.kind, flood.floodSeconds]).toEqual(["flood_wait", 30]);
});

test("USER_MIGRATE_n on a signed-in key is unauthorized: log in again, naming the DC", () => {
  const e = fromTelegram(303, "USER_MIGRATE_4");
  expect(e).toBeInstanceOf(errors.UserMigrateError);
  const f = toFailure(e);
  expect(f.kind).toBe("unauthorized");
  expect(f.reason).toStartWith("USER_MIGRATE_4: Telegram moved this account to DC 4");
  expect(f.reason).toContain("log it in again");
  expect(terminalReason(f)).toBe(f.reason);
  // The name alone (e.g. relayed by another layer) means the same.
  expect(toFailure(new errors.RPCError("USER_MIGRATE_5", new Api.help.GetConfig(), 303)).reason).toStartWith("USER_MIGRATE_5: Telegram moved this account to DC 5");
});

test("both are counted in /metrics under their RPC name", () => {
  const counted: string[] = [];
  const metrics = { telegramError: (n: string) => counted.push(n), floodWait: () => {} } as unknown as Metrics;
  countTelegramFailure(metrics, toFailure(fromTelegram(420, "FROZEN_METHOD_INVALID")));
  countTelegramFailure(metrics, toFailure(fromTelegram(303, "USER_MIGRATE_2")));
  expect(counted).toEqual(["FROZEN_METHOD_INVALID", "USER_MIGRATE_2"]);
});

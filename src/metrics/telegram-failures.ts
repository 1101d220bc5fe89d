// The one place a Telegram failure becomes metrics: its RPC name (only errors Telegram answered with,
// not dropped sockets or timeouts, which the reconnect counter shows) and the wait it asked for.
import type { TelegramFailure } from "../domain/telegram-port.ts";
import { isRpcName, type Metrics } from "./metrics.ts";

export function countTelegramFailure(metrics: Metrics | undefined, f: TelegramFailure): void {
  // The reason is the RPC name, or starts with it ("USER_MIGRATE_4: Telegram moved this account…").
  const name = f.reason.split(":")[0]!;
  if (!metrics || f.kind === "network" || f.kind === "timeout" || !isRpcName(name)) return;
  metrics.telegramError(name);
  if (f.kind === "flood_wait" && f.floodSeconds) metrics.floodWait(f.floodSeconds);
}

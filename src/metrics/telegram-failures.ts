// The one place a Telegram failure becomes metrics: its RPC name (only errors Telegram answered with,
// not dropped sockets or timeouts, which the reconnect counter shows) and the wait it asked for.
import type { TelegramFailure } from "../domain/telegram-port.ts";
import { isRpcName, type Metrics } from "./metrics.ts";

export function countTelegramFailure(metrics: Metrics | undefined, f: TelegramFailure): void {
  if (!metrics || f.kind === "network" || f.kind === "timeout" || !isRpcName(f.reason)) return;
  metrics.telegramError(f.reason);
  if (f.kind === "flood_wait" && f.floodSeconds) metrics.floodWait(f.floodSeconds);
}

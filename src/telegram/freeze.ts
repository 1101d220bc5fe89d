// A frozen account can still connect and read (getMe, getState, getDifference all answer), so
// FROZEN_METHOD_INVALID appears only at its first send. Telegram says it earlier in the app config
// (help.getAppConfig): freeze_since_date, freeze_until_date and freeze_appeal_url are there while the
// account is frozen. Read at connect and with every liveness probe (hash-cached: unchanged is tiny).
import { Api } from "telegram";

/** The freeze the app config names, as a readable reason; null when the account is not frozen. */
export function freezeOf(config: Api.TypeJSONValue): string | null {
  if (!(config instanceof Api.JsonObject)) return null;
  const value = (key: string) => config.value.find((v) => v.key === key)?.value;
  const since = value("freeze_since_date");
  if (!(since instanceof Api.JsonNumber)) return null;
  const until = value("freeze_until_date");
  const appeal = value("freeze_appeal_url");
  const day = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 10);
  const parts = [`since ${day(since.value)}`];
  if (until instanceof Api.JsonNumber && until.value > 0) parts.push(`to be deleted on ${day(until.value)} unless an appeal succeeds`);
  if (appeal instanceof Api.JsonString && /^https:\/\/t\.me\/[\w/?=&-]+$/.test(appeal.value)) parts.push(`appeal: ${appeal.value}`);
  return parts.join(", ");
}

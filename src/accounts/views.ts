// What the management API answers, as valibot schemas: the TypeScript types below and the OpenAPI
// schemas on the Swagger page (http/openapi-schemas.ts: jsonSchema) both come from these, so the two
// cannot drift apart.
import * as v from "valibot";
import { QueueStatus } from "../bridge/queue-views.ts";
import { ACCOUNT_STATES } from "./states.ts";

const text = (description: string) => v.pipe(v.string(), v.description(description));
const nullableText = (description: string) => v.pipe(v.nullable(v.string()), v.description(description));
const when = (description: string) => v.pipe(v.nullable(v.pipe(v.string(), v.isoDateTime())), v.description(description));

export const NumberView = v.object({
  name: v.pipe(v.string(), v.examples(["acme"])),
  number: v.pipe(v.string(), v.examples(["380955821319"])),
  status: v.picklist(["online", "offline"]),
  state: v.pipe(
    v.picklist(ACCOUNT_STATES),
    v.examples(["online"]),
    v.description(
      "unauthorized: session revoked or key unknown, or the account moved to another DC (log it in again); duplicated: the key was used elsewhere at the same time and is dead; these, and banned, need a PUT with a new session. " +
        "frozen: Telegram froze the account (its app config says so, or a send got FROZEN_METHOD_INVALID) — never waited out or retried; a PUT once Telegram lifts it. " +
        "proxy_failed: the number's proxy cannot be reached or refuses the connection (the reason says which and why); it is tried again with backoff and the number comes online by itself once the proxy works",
    ),
  ),
  reason: nullableText("Why the number is in this state"),
  since: v.pipe(v.string(), v.isoDateTime()),
  flood_until: when("With flood_wait: when Telegram lets us try again"),
  telegram_user_id: v.nullable(v.string()),
  planfix_error: nullableText("The last error Planfix answered for this number while delivery to Planfix is failing (details in queues.to_planfix)"),
  /** Absent without a bridge (the management API alone). */
  queues: v.optional(QueueStatus),
  language: nullableText("The number's own language for texts written into Planfix; null: the appliance's LANGUAGE"),
  proxy: v.pipe(
    v.nullable(v.string()),
    v.examples(["socks5://bridge:***@10.0.0.5:1080"]),
    v.description(
      "The number's own proxy with its password or MTProxy secret masked (socks5://user:***@host:port, mtproxy://***@host:port), \"direct\" for none; null: the appliance's TELEGRAM_PROXY",
    ),
  ),
});
export type NumberView = v.InferOutput<typeof NumberView>;

export const StartedView = v.object({
  token: v.optional(text("The client token, shown once: present when this call created the client")),
  ...NumberView.entries,
});

export const AdminOverview = v.object({
  clients: v.array(v.object({ name: v.string(), created_at: v.pipe(v.string(), v.isoDateTime()), numbers: v.array(NumberView) })),
  warnings: v.pipe(v.array(v.string()), v.description("Settings problems found at start (e.g. PUBLIC_URL unset)")),
});

export const RotatedToken = v.object({ name: v.string(), token: text("The new client token, shown once") });
export type RotatedToken = v.InferOutput<typeof RotatedToken>;

export const Removed = v.object({
  removed: v.picklist(["number", "client"]),
  name: v.pipe(v.string(), v.examples(["acme"]), v.description("The client")),
  numbers: v.pipe(v.array(v.string()), v.examples([["380955821319"]]), v.description("The numbers stopped and forgotten")),
  session_files_deleted: v.pipe(v.number(), v.integer(), v.description("How many session files were deleted (only with delete_session=true)")),
});
export type Removed = v.InferOutput<typeof Removed>;

// What the queue calls answer, as valibot schemas: the types below and the Swagger page's schemas come
// from the same source.
import * as v from "valibot";

const nullableText = (description: string) => v.pipe(v.nullable(v.string()), v.description(description));
const when = (description: string) => v.pipe(v.nullable(v.pipe(v.string(), v.isoDateTime())), v.description(description));

export const DirectionStatus = v.object({
  waiting: v.pipe(v.number(), v.integer(), v.description("Items accepted and not yet delivered")),
  oldest_waiting_seconds: v.nullable(v.pipe(v.number(), v.integer())),
  parked: v.pipe(v.number(), v.integer(), v.description("Given up after retries, kept until resent or discarded")),
  paused: v.optional(
    v.pipe(v.boolean(), v.description("to_planfix only: Planfix refused the key (401): every item waits, retried every PLANFIX_KEY_RETRY_SECONDS and at once after PUT")),
  ),
  problem: nullableText("The current delivery problem, if any"),
  problem_since: when("Since when the problem has lasted"),
});

export const QueueStatus = v.pipe(
  v.object({ to_planfix: DirectionStatus, to_telegram: DirectionStatus }),
  v.description(
    "Per direction (to_planfix, to_telegram): items waiting, age of the oldest, parked items (GET /client/queue lists them), and the current delivery problem with since when",
  ),
);

export type DirectionStatus = v.InferOutput<typeof DirectionStatus>;
export type QueueStatus = v.InferOutput<typeof QueueStatus>;

export const QueueItem = v.object({
  id: v.pipe(v.number(), v.integer(), v.description("The item's id, for resend and discard")),
  state: v.picklist(["waiting", "parked"]),
  chat_id: v.pipe(v.string(), v.examples(["380955821319_123456789"])),
  kind: v.pipe(v.string(), v.description("to_planfix: message (from Telegram), status (our messageStatus report) or contact; to_telegram: message")),
  message_id: v.optional(v.pipe(v.string(), v.description("to_telegram: Planfix's messageId"))),
  created_at: v.pipe(v.string(), v.isoDateTime()),
  attempts: v.pipe(v.number(), v.integer()),
  error: nullableText("The last error, e.g. `Planfix answered newMessage with 400: Invalid parameters`"),
  text: v.pipe(v.string(), v.description("The first 200 characters of the text")),
});
export type QueueItem = v.InferOutput<typeof QueueItem>;

export const QueueList = v.object({
  number: v.string(),
  direction: v.picklist(["to_planfix", "to_telegram"]),
  state: v.picklist(["parked", "waiting"]),
  items: v.array(QueueItem),
});

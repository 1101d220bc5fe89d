// /client/queue — what waits or is parked on a number, and the explicit calls on parked items:
// resend (one or all) and discard (one). Client token for its own numbers, admin token for any.
import { Elysia } from "elysia";
import * as v from "valibot";
import { NumberField } from "../accounts/input.ts";
import type { Caller, ClientService } from "../accounts/service.ts";
import { QueueList } from "../bridge/queue-views.ts";
import type { QueueService } from "../bridge/queues.ts";
import { NotFound } from "../domain/errors.ts";
import { handleRequest, parse as parseFields, security } from "./handle.ts";
import { errorResponses, jsonSchema, requestBody } from "./openapi-schemas.ts";
import { json } from "./respond.ts";

const Direction = v.optional(v.picklist(["to_planfix", "to_telegram"], "must be to_planfix or to_telegram"), "to_planfix");
const ItemId = v.pipe(
  v.union([v.string(), v.number()], "must be an item id (integer)"),
  v.transform((x) => Number(x)),
  v.check((n) => Number.isSafeInteger(n) && n > 0, "must be an item id (a positive integer)"),
);
const name = v.optional(v.pipe(v.string("must be a string"), v.trim(), v.minLength(1, "must not be empty")));

const ListInput = v.object({ name, number: NumberField, direction: Direction, state: v.optional(v.picklist(["parked", "waiting"], "must be parked or waiting"), "parked") });
const ResendInput = v.object({ name, number: NumberField, direction: Direction, id: v.optional(ItemId) });
const DiscardInput = v.object({ name, number: NumberField, direction: Direction, id: ItemId });

const parse = <S extends v.GenericSchema>(schema: S, fields: Record<string, unknown>) => parseFields(schema, fields, true);

const handle = (request: Request, service: ClientService, run: (caller: Caller, fields: Record<string, unknown>) => Promise<Response> | Response) =>
  handleRequest(request, service, run, { queryHint: "number (and direction, state)", skipGetBody: true });

export function queueRoutes(service: ClientService, queues: QueueService) {
  return new Elysia()
    .get(
      "/client/queue",
      ({ request }) =>
        handle(request, service, async (caller, fields) => {
          const input = parse(ListInput, fields);
          const account = await service.accountFor(caller, input.number, input.name);
          return json(200, {
            number: account.number,
            direction: input.direction,
            state: input.state,
            items: await queues.list(account.id, account.number, input.direction, input.state),
          });
        }),
      {
        detail: {
          tags: ["queues"],
          summary: "Parked (or waiting) items of a number",
          description:
            "`direction` to_planfix (Telegram → Planfix, default) or to_telegram; `state` parked (default) or waiting; oldest first, at most 200. " +
            "Parked to_planfix items are messages Planfix kept refusing (400) or that failed for 72 h; parked to_telegram items are messages " +
            "that could not be sent and were reported to Planfix as errors. Nothing is ever deleted without POST /client/queue/discard.",
          security,
          parameters: [
            { name: "number", in: "query", required: true, schema: { type: "string" }, example: "380955821319" },
            { name: "direction", in: "query", required: false, schema: { type: "string", enum: ["to_planfix", "to_telegram"] } },
            { name: "state", in: "query", required: false, schema: { type: "string", enum: ["parked", "waiting"] } },
          ],
          responses: {
            "200": { description: "Items", content: { "application/json": { schema: jsonSchema(QueueList) } } },
            ...errorResponses(400, 401, 404),
          },
        },
      },
    )
    .post(
      "/client/queue/resend",
      ({ request }) =>
        handle(request, service, async (caller, fields) => {
          const input = parse(ResendInput, fields);
          const account = await service.accountFor(caller, input.number, input.name);
          const resent = await queues.resend(account.id, input.direction, input.id ?? null);
          if (input.id !== undefined && resent === 0) throw new NotFound(`no parked item ${input.id} on number ${account.number} (${input.direction})`, "id");
          return json(200, { resent });
        }),
      {
        detail: {
          tags: ["queues"],
          summary: "Send parked items again",
          description: "With `id`: that parked item; without: every parked item of the number in that direction. They go back into their chat's queue with fresh retries.",
          security,
          requestBody: requestBody(ResendInput, { number: "380955821319", direction: "to_planfix" }),
          responses: { "200": { description: "How many went back into the queue", content: { "application/json": { example: { resent: 2 } } } }, ...errorResponses(400, 401, 404) },
        },
      },
    )
    .post(
      "/client/queue/discard",
      ({ request }) =>
        handle(request, service, async (caller, fields) => {
          const input = parse(DiscardInput, fields);
          const account = await service.accountFor(caller, input.number, input.name);
          if ((await queues.discard(account.id, input.direction, input.id)) === 0)
            throw new NotFound(`no parked or waiting item ${input.id} on number ${account.number} (${input.direction})`, "id");
          return json(200, { discarded: 1 });
        }),
      {
        detail: {
          tags: ["queues"],
          summary: "Drop one parked or waiting item for good",
          description: "The only way an item leaves a queue undelivered. It is not sent, and the same Telegram message or Planfix messageId is not taken again.",
          security,
          requestBody: requestBody(DiscardInput, { number: "380955821319", direction: "to_planfix", id: 42 }),
          responses: { "200": { description: "Discarded", content: { "application/json": { example: { discarded: 1 } } } }, ...errorResponses(400, 401, 404) },
        },
      },
    );
}

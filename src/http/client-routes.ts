// /client — the management API of spec §1, and /admin/clients for the operator.
import { Elysia } from "elysia";
import type { OpenAPIV3 } from "openapi-types";
import { ListInput, NumberInput, StartInput, UpdateInput, validate } from "../accounts/input.ts";
import { ApiError, type Caller, type ClientService } from "../accounts/service.ts";
import { tokenFromHeaders } from "../auth/tokens.ts";
import { BodyError, readFields } from "./body.ts";
import { errorResponses, requestBody } from "./openapi-schemas.ts";
import { errorResponse, json } from "./respond.ts";

const NumberViewSchema: OpenAPIV3.SchemaObject = {
  type: "object",
  properties: {
    name: { type: "string", example: "acme" },
    number: { type: "string", example: "380955821319" },
    status: { type: "string", enum: ["online", "offline"] },
    state: {
      type: "string",
      example: "online",
      enum: ["starting", "connecting", "online", "reconnecting", "stopped", "unauthorized", "banned", "flood_wait", "duplicated", "error"],
      description: "unauthorized: session revoked or key unknown; duplicated: the key was used elsewhere at the same time and is dead; both, and banned, need a PUT with a new session",
    },
    reason: { type: "string", nullable: true, description: "Why the number is in this state" },
    since: { type: "string", format: "date-time" },
    flood_until: { type: "string", format: "date-time", nullable: true, description: "With flood_wait: when Telegram lets us try again" },
    telegram_user_id: { type: "string", nullable: true },
    planfix_error: { type: "string", nullable: true, description: "The last error Planfix answered for this number while delivery to Planfix is failing (details in queues.to_planfix)" },
    queues: {
      type: "object",
      description: "Per direction (to_planfix, to_telegram): items waiting, age of the oldest, parked items (GET /client/queue lists them), and the current delivery problem with since when",
      properties: Object.fromEntries(
        ["to_planfix", "to_telegram"].map((d) => [
          d,
          {
            type: "object",
            properties: {
              waiting: { type: "integer", example: 0 },
              oldest_waiting_seconds: { type: "integer", nullable: true },
              parked: { type: "integer", example: 0, description: "Given up after retries, kept until resent or discarded" },
              ...(d === "to_planfix" ? { paused: { type: "boolean", description: "Planfix refused the key (401): every item waits, retried every PLANFIX_KEY_RETRY_SECONDS and at once after PUT" } } : {}),
              problem: { type: "string", nullable: true, example: null },
              problem_since: { type: "string", format: "date-time", nullable: true },
            },
          },
        ]),
      ),
    },
  },
};

const startExample = {
  name: "acme",
  number: "380955821319",
  url_planfix: "https://acme.planfix.com/webchat/api",
  token_planfix: "planfix-chat-key",
  name_session: "380955821319",
  path_session: "acme",
};

export const security: OpenAPIV3.SecurityRequirementObject[] = [{ bearer: [] }, { tokenHeader: [] }];

export async function handle(request: Request, run: (caller: Caller, fields: Record<string, unknown>) => Promise<Response> | Response, service: ClientService, adminOnly = false): Promise<Response> {
  try {
    // The token is checked before anything else, the body included.
    const caller = service.authenticate(tokenFromHeaders((n) => request.headers.get(n)));
    if (adminOnly && caller.kind !== "admin") throw new ApiError(401, "this list needs the admin token");
    // Bun never hands a GET request's body to the application: refuse one rather than answer as if
    // its fields had not been sent.
    if ((request.method === "GET" || request.method === "HEAD") && sendsBody(request)) {
      throw new ApiError(400, "a GET request's body is not read: send name and number in the query string", "body");
    }
    const fields = { ...Object.fromEntries(new URL(request.url).searchParams), ...(await readFields(request)) };
    return await run(caller, fields);
  } catch (e) {
    if (e instanceof ApiError) return errorResponse(e.status, e.message, e.field);
    if (e instanceof BodyError) return errorResponse(e.status, e.message, "body");
    throw e;
  }
}

function sendsBody(request: Request): boolean {
  return Number(request.headers.get("content-length") ?? "0") > 0 || request.headers.has("transfer-encoding");
}

export function parse<S extends Parameters<typeof validate>[0]>(schema: S, fields: Record<string, unknown>) {
  const r = validate(schema, fields);
  if (!r.ok) throw new ApiError(400, r.message, r.field);
  return r.value;
}

export function clientRoutes(service: ClientService, warnings: () => readonly string[] = () => []) {
  return new Elysia()
    .post(
      "/client",
      ({ request }) =>
        handle(
          request,
          async (caller, fields) => {
            const input = parse(StartInput, fields) as StartInput;
            const r = await service.start(caller, input);
            return json(r.created ? 201 : 200, r.token ? { token: r.token, ...r.view } : r.view);
          },
          service,
        ),
      {
        detail: {
          tags: ["clients"],
          summary: "Start a number",
          description:
            "Starts the Telegram session of a number and waits up to START_TIMEOUT seconds for it to come online. " +
            "Creating a new client needs the admin token and answers 201 with the client's token — shown once, keep it. " +
            "Adding a number to an existing client needs that client's token. Starting a running number again changes nothing. " +
            "`number` may be a string or an integer, with or without +, spaces or dashes. `path_session` / `name_session` name a " +
            "StringSession text file or a Telethon/Pyrogram .session file, relative to the sessions directory. A client token may name " +
            "only files in its own folder `<client name>/` (`name_session` alone is looked up there); anything else answers like a " +
            "missing file. The admin token may name any file in the sessions directory, and creating a client creates its folder. " +
            "The caller's session file is checked before the number's owner. JSON or form bodies.",
          security,
          requestBody: requestBody(StartInput, startExample),
          responses: {
            "200": { description: "The number was known; its state", content: { "application/json": { schema: NumberViewSchema } } },
            "201": {
              description: "Started; `token` is present when this call created the client",
              content: { "application/json": { schema: { ...NumberViewSchema, properties: { token: { type: "string", description: "The client token, shown once" }, ...NumberViewSchema.properties } } } },
            },
            ...errorResponses(400, 401, 409, 413, 415, 422, 429, 503),
          },
        },
      },
    )
    .get(
      "/client",
      ({ request }) =>
        handle(
          request,
          (caller, fields) => {
            const input = parse(ListInput, fields) as { name?: string; number?: string };
            if (input.number === undefined) return json(200, { numbers: service.list(caller) });
            return json(200, service.status(caller, input.number, input.name));
          },
          service,
        ),
      {
        detail: {
          tags: ["clients"],
          summary: "Is a number online?",
          description:
            "`{\"status\": \"online\" | \"offline\"}` plus the detailed state, its reason and since when. " +
            "`name` and `number` as query parameters (a GET request with a body is refused). Without `number`: every number of the caller's client.",
          security,
          parameters: [
            { name: "number", in: "query", required: false, schema: { type: "string" }, example: "380955821319" },
            { name: "name", in: "query", required: false, schema: { type: "string" }, example: "acme" },
          ],
          responses: { "200": { description: "State", content: { "application/json": { schema: NumberViewSchema } } }, ...errorResponses(400, 401, 404, 429) },
        },
      },
    )
    .put(
      "/client",
      ({ request }) =>
        handle(
          request,
          async (caller, fields) => json(200, await service.update(caller, parse(UpdateInput, fields) as never)),
          service,
        ),
      {
        detail: {
          tags: ["clients"],
          summary: "Update a number and restart it",
          description:
            "Stops the number, applies the new data (any of url_planfix, token_planfix, name_session, path_session, provider_id, language), " +
            "and starts it again — the old connection is fully closed before the new one opens, so the key is never live twice. " +
            "The way out of unauthorized, banned and duplicated.",
          security,
          requestBody: requestBody(UpdateInput, { number: "380955821319", path_session: "acme/new.session" }),
          responses: { "200": { description: "The state reached", content: { "application/json": { schema: NumberViewSchema } } }, ...errorResponses(400, 401, 404, 409, 413, 422, 429, 503) },
        },
      },
    )
    .delete(
      "/client",
      ({ request }) =>
        handle(
          request,
          async (caller, fields) => {
            const input = parse(NumberInput, fields) as { name?: string; number: string };
            return json(200, await service.stop(caller, input.number, input.name));
          },
          service,
        ),
      {
        detail: {
          tags: ["clients"],
          summary: "Stop a number",
          description: "Stops only the named number; the client's other numbers keep running. The number stays known: POST starts it again.",
          security,
          parameters: [{ name: "number", in: "query", required: false, schema: { type: "string" }, description: "or in the body" }],
          responses: { "200": { description: "Stopped", content: { "application/json": { schema: NumberViewSchema } } }, ...errorResponses(400, 401, 404, 429) },
        },
      },
    )
    .get(
      "/admin/clients",
      ({ request }) =>
        handle(
          request,
          () => json(200, { clients: service.adminOverview(), warnings: warnings() }),
          service,
          true,
        ),
      {
        detail: {
          tags: ["operator"],
          summary: "Every client and number with its state",
          description: "Admin token only. Tokens and Planfix keys are never shown.",
          security,
          responses: { "200": { description: "Clients, and `warnings`: settings problems found at start (e.g. PUBLIC_URL unset)" }, ...errorResponses(401, 429) },
        },
      },
    );
}

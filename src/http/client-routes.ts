// /client — the management API of spec §1, and /admin/clients for the operator.
import { Elysia } from "elysia";
import { ListInput, NumberInput, StartInput, UpdateInput } from "../accounts/input.ts";
import type { Caller, ClientService } from "../accounts/service.ts";
import { AdminOverview, NumberView, StartedView } from "../accounts/views.ts";
import { handleRequest, parse, security } from "./handle.ts";
import { errorResponses, jsonSchema, requestBody } from "./openapi-schemas.ts";
import { json } from "./respond.ts";

const NumberViewSchema = jsonSchema(NumberView);

const startExample = {
  name: "acme",
  number: "380955821319",
  url_planfix: "https://acme.planfix.com/webchat/api",
  token_planfix: "planfix-chat-key",
  name_session: "380955821319",
  path_session: "acme",
};

/** Kept for routes written against this module; the one implementation is handle.ts. */
export { parse, security } from "./handle.ts";

export const handle = (
  request: Request,
  run: (caller: Caller, fields: Record<string, unknown>) => Promise<Response> | Response,
  service: ClientService,
  adminOnly = false,
): Promise<Response> => handleRequest(request, service, run, adminOnly ? { adminOnly: "this list needs the admin token" } : {});

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
              content: { "application/json": { schema: jsonSchema(StartedView) } },
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
          async (caller, fields) => {
            const input = parse(ListInput, fields) as { name?: string; number?: string };
            if (input.number === undefined) return json(200, { numbers: await service.list(caller) });
            return json(200, await service.status(caller, input.number, input.name));
          },
          service,
        ),
      {
        detail: {
          tags: ["clients"],
          summary: "Is a number online?",
          description:
            '`{"status": "online" | "offline"}` plus the detailed state, its reason and since when. ' +
            "`name` and `number` as query parameters (a GET request with a body is refused). Without `number`: every number of the caller's client.",
          security,
          parameters: [
            { name: "number", in: "query", required: false, schema: { type: "string" }, example: "380955821319" },
            { name: "name", in: "query", required: false, schema: { type: "string" }, example: "acme" },
          ],
          responses: {
            "200": { description: "State (without `number`: `{numbers: [...]}`, every number's state)", content: { "application/json": { schema: NumberViewSchema } } },
            ...errorResponses(400, 401, 404, 429),
          },
        },
      },
    )
    .put("/client", ({ request }) => handle(request, async (caller, fields) => json(200, await service.update(caller, parse(UpdateInput, fields) as never)), service), {
      detail: {
        tags: ["clients"],
        summary: "Update a number and restart it",
        description:
          "Stops the number, applies the new data (any of url_planfix, token_planfix, name_session, path_session, provider_id, language, proxy — `proxy: null` goes back to the appliance's TELEGRAM_PROXY), " +
          "and starts it again — the old connection is fully closed before the new one opens, so the key is never live twice. " +
          "The way out of unauthorized, banned, duplicated and frozen.",
        security,
        requestBody: requestBody(UpdateInput, { number: "380955821319", path_session: "acme/new.session" }),
        responses: {
          "200": { description: "The state reached", content: { "application/json": { schema: NumberViewSchema } } },
          ...errorResponses(400, 401, 404, 409, 413, 422, 429, 503),
        },
      },
    })
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
    .get("/admin/clients", ({ request }) => handle(request, async () => json(200, { clients: await service.adminOverview(), warnings: warnings() }), service, true), {
      detail: {
        tags: ["operator"],
        summary: "Every client and number with its state",
        description: "Admin token only. Tokens and Planfix keys are never shown.",
        security,
        responses: {
          "200": {
            description: "Clients, and `warnings`: settings problems found at start (e.g. PUBLIC_URL unset)",
            content: { "application/json": { schema: jsonSchema(AdminOverview) } },
          },
          ...errorResponses(401, 429),
        },
      },
    });
}

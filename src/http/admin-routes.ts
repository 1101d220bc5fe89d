// Token rotation and removing numbers and clients for good.
import { Elysia } from "elysia";
import type { OpenAPIV3 } from "openapi-types";
import { RemoveClientInput, RemoveNumberInput, RotateInput } from "../accounts/admin-input.ts";
import type { ClientService } from "../accounts/service.ts";
import { Removed, RotatedToken } from "../accounts/views.ts";
import { handle, parse, security } from "./client-routes.ts";
import { errorResponses, jsonSchema, requestBody } from "./openapi-schemas.ts";
import { json } from "./respond.ts";

const RemovedSchema = jsonSchema(Removed);

const deleteSessionParam: OpenAPIV3.ParameterObject = {
  name: "delete_session",
  in: "query",
  required: false,
  schema: { type: "boolean", default: false },
  description: "Also delete the session file(s) from the sessions directory. Without it they stay where they are.",
};

export function adminRoutes(service: ClientService) {
  return new Elysia()
    .post(
      "/client/token",
      ({ request }) =>
        handle(
          request,
          async (caller, fields) => {
            const input = parse(RotateInput, fields) as RotateInput;
            return json(200, await service.rotateToken(caller, input.name));
          },
          service,
        ),
      {
        detail: {
          tags: ["clients"],
          summary: "Rotate a client token",
          description:
            "Issues a new client token and answers it — shown once, keep it. Authorised by the client's current token " +
            "(`name` optional) or by the admin token (`name` required). The old token stops working at once, for " +
            "/client and for Planfix's webhook alike: put the new one into Planfix's *Your token* field right away.",
          security,
          requestBody: { ...requestBody(RotateInput, { name: "acme" }), required: false },
          responses: {
            "200": {
              description: "The new token",
              content: { "application/json": { schema: jsonSchema(RotatedToken) } },
            },
            ...errorResponses(400, 401, 404, 413, 415),
          },
        },
      },
    )
    .delete(
      "/admin/number",
      ({ request }) =>
        handle(
          request,
          async (caller, fields) => {
            const input = parse(RemoveNumberInput, fields) as RemoveNumberInput;
            return json(200, await service.removeNumber(caller, input.number, input.delete_session));
          },
          service,
        ),
      {
        detail: {
          tags: ["operator"],
          summary: "Remove a number for good",
          description:
            "Admin token only. Stops the number and forgets it: its row, its peers, its queued messages both ways and " +
            "its media files. The session file is deleted only with `delete_session=true`. `number` and `delete_session` " +
            "in the query string or the body. To only stop a number, use DELETE /client.",
          security,
          parameters: [{ name: "number", in: "query", required: false, schema: { type: "string" }, example: "380955821319", description: "or in the body" }, deleteSessionParam],
          responses: { "200": { description: "Removed", content: { "application/json": { schema: RemovedSchema } } }, ...errorResponses(400, 401, 403, 404) },
        },
      },
    )
    .delete(
      "/admin/client",
      ({ request }) =>
        handle(
          request,
          async (caller, fields) => {
            const input = parse(RemoveClientInput, fields) as RemoveClientInput;
            return json(200, await service.removeClient(caller, input.name, input.delete_session));
          },
          service,
        ),
      {
        detail: {
          tags: ["operator"],
          summary: "Remove a client for good",
          description:
            "Admin token only. The client's token stops working at once; every number of the client is stopped and " +
            "forgotten as with DELETE /admin/number, then the client. Session files are deleted only with " +
            "`delete_session=true` (the client's folder too, when nothing else is left in it).",
          security,
          parameters: [{ name: "name", in: "query", required: false, schema: { type: "string" }, example: "acme", description: "or in the body" }, deleteSessionParam],
          responses: { "200": { description: "Removed", content: { "application/json": { schema: RemovedSchema } } }, ...errorResponses(400, 401, 403, 404) },
        },
      },
    );
}

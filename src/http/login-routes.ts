// /login — logging a number in from the appliance (QR code or phone code, then the 2FA password).
import { Elysia } from "elysia";
import * as v from "valibot";
import { StartInput } from "../accounts/input.ts";
import type { LoginService } from "../accounts/logins.ts";
import type { ClientService } from "../accounts/service.ts";
import { handle, parse, security } from "./client-routes.ts";
import { errorResponses, requestBody } from "./openapi-schemas.ts";
import { json } from "./respond.ts";

const { name_session: _n, path_session: _p, ...startFields } = StartInput.entries;

export const LoginInput = v.object({
  ...startFields,
  method: v.pipe(
    v.picklist(["qr", "code"], "must be qr or code"),
    v.description("qr: scan a QR code in Telegram (Settings → Devices → Link Desktop Device); code: Telegram sends a code, then the 2FA password if one is set"),
  ),
});
const CodeInput = v.object({ code: v.pipe(v.string("must be a string"), v.trim(), v.regex(/^\d{3,10}$/, "must be the digits Telegram sent")) });
const PasswordInput = v.object({ password: v.pipe(v.string("must be a string"), v.minLength(1, "must not be empty"), v.maxLength(256, "must be at most 256 characters")) });

const LoginSchema = {
  type: "object" as const,
  properties: {
    id: { type: "string" as const },
    name: { type: "string" as const },
    number: { type: "string" as const },
    method: { type: "string" as const, enum: ["qr", "code"] },
    state: {
      type: "string" as const,
      enum: ["starting", "waiting_qr", "waiting_code", "waiting_password", "done", "failed", "expired", "cancelled"],
      description:
        "waiting_qr: show qr_svg (or qr_link) and scan it in Telegram; it rotates about every 30 s, poll GET /login/{id}. waiting_code: POST the code. waiting_password: POST the 2FA password (password_hint). done: the session is saved and the number started (number_state). failed / expired: `reason` says why",
    },
    qr_link: { type: "string" as const, description: "tg://login?token=…" },
    qr_svg: { type: "string" as const, description: "The QR code of qr_link as an SVG image" },
    qr_expires_at: { type: "string" as const, format: "date-time" },
    code_via: { type: "string" as const, description: "Where Telegram sent the code: app (the account's other devices), sms, other" },
    password_hint: { type: "string" as const, nullable: true },
    reason: { type: "string" as const, nullable: true },
    error_code: { type: "string" as const, description: "Telegram's error name when the login failed, e.g. PHONE_NUMBER_BANNED" },
    expires_at: { type: "string" as const, format: "date-time", description: "An unfinished login expires 10 minutes after it started" },
    session_file: { type: "string" as const, description: "With done: where the session was saved, relative to the sessions directory" },
    number_state: { type: "object" as const, description: "With done: the number's state, as GET /client answers it" },
    token: { type: "string" as const, description: "With done, when the login created the client: the client token, shown once" },
  },
};

const loginResponses = (codes: number[]) => ({ "200": { description: "The login", content: { "application/json": { schema: LoginSchema } } }, ...errorResponses(...codes) });

export function loginRoutes(logins: LoginService, service: ClientService) {
  const idOf = (params: Record<string, string>) => params.id ?? "";
  return new Elysia()
    .post("/login", ({ request }) => handle(request, async (caller, fields) => json(201, await logins.start(caller, parse(LoginInput, fields) as never)), service), {
      detail: {
        tags: ["login"],
        summary: "Log a number in (QR code or phone code)",
        description:
          "Starts logging a Telegram account in from the appliance, instead of bringing a session file. Takes the fields of POST /client " +
          "(without the session) and `method`. Answers 201 with the login: `waiting_qr` (scan qr_svg in Telegram: Settings → Devices → " +
          "Link Desktop Device) or `waiting_code` (POST /login/{id}/code). When it is done the session is saved as `<name>/<number>.session` " +
          "in the sessions directory (mode 0600) and the number starts exactly as POST /client starts it; a new client's token is in the " +
          "first answer that shows `done`. A client token logs in its own numbers, the admin token any client's (a new name creates the client). " +
          "Telegram's refusals answer 422 (429 for FLOOD_WAIT) with a readable `error`. At most 5 logins per number and 20 per client in 10 minutes.",
        security,
        requestBody: requestBody(LoginInput, {
          name: "acme",
          number: "+380955821319",
          method: "qr",
          url_planfix: "https://acme.planfix.com/webchat/api",
          token_planfix: "planfix-chat-key",
        }),
        responses: { "201": { description: "Started", content: { "application/json": { schema: LoginSchema } } }, ...errorResponses(400, 401, 404, 409, 422, 429, 502, 503) },
      },
    })
    .get("/login/:id", ({ request, params }) => handle(request, async (caller) => json(200, await logins.get(caller, idOf(params))), service), {
      detail: { tags: ["login"], summary: "A login's state (and the current QR code)", security, responses: loginResponses([401, 404, 429]) },
    })
    .post(
      "/login/:id/code",
      ({ request, params }) =>
        handle(request, async (caller, fields) => json(200, await logins.submitCode(caller, idOf(params), (parse(CodeInput, fields) as { code: string }).code)), service),
      {
        detail: {
          tags: ["login"],
          summary: "Submit the code Telegram sent",
          description: "A wrong code answers 422 and the login keeps waiting for the code; an expired one ends the login. Next: `waiting_password` or `done`.",
          security,
          requestBody: requestBody(CodeInput, { code: "12345" }),
          responses: loginResponses([400, 401, 404, 409, 422, 429]),
        },
      },
    )
    .post(
      "/login/:id/password",
      ({ request, params }) =>
        handle(
          request,
          async (caller, fields) => json(200, await logins.submitPassword(caller, idOf(params), (parse(PasswordInput, fields) as { password: string }).password)),
          service,
        ),
      {
        detail: {
          tags: ["login"],
          summary: "Submit the two-step verification password",
          description: "Checked by Telegram (SRP: the password itself never leaves the appliance). A wrong one answers 422 and the login keeps waiting.",
          security,
          requestBody: requestBody(PasswordInput, { password: "…" }),
          responses: loginResponses([400, 401, 404, 409, 422, 429]),
        },
      },
    )
    .delete("/login/:id", ({ request, params }) => handle(request, async (caller) => json(200, await logins.cancel(caller, idOf(params))), service), {
      detail: { tags: ["login"], summary: "Cancel a login", security, responses: loginResponses([401, 404, 429]) },
    });
}

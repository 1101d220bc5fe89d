// POST /planfix — the URL a Planfix admin enters in the chat integration; and GET /files/… — the
// media we offer Planfix. Planfix's answers: 200 {chatId, contactId}, 400/401 {"error": …}.
import { Elysia } from "elysia";
import { hashToken } from "../auth/tokens.ts";
import { WebhookError, type OutboundBridge } from "../bridge/outbound.ts";
import { errorText, type Logger } from "../log.ts";
import { parsePlanfixWebhook } from "../planfix/index.ts";
import type { ClientRepository, FileRepository } from "../domain/repositories.ts";
import { BodyError, readBodyText } from "./body.ts";
import { fileHeaders } from "./file-headers.ts";
import { planfixErrorResponses } from "./openapi-schemas.ts";
import { json } from "./respond.ts";

const invalid = (field: string, problem: string) => json(400, { error: "Invalid parameters", field, problem });

export function planfixRoutes(deps: { clients: ClientRepository; outbound: OutboundBridge; files: FileRepository; log: Logger }) {
  return new Elysia()
    .post(
      "/planfix",
      async ({ request }) => {
        // Read the content type before the body, and parse the raw text ourselves: repeated
        // attachments[name]/[url] pairs must keep their order, which a map-based parser loses.
        const type = request.headers.get("content-type");
        let text: string;
        try {
          text = await readBodyText(request);
        } catch (e) {
          return e instanceof BodyError
            ? json(e.status, { error: e.status === 413 ? "Body too large" : "Invalid parameters", field: "body", problem: e.message })
            : invalid("body", "unreadable");
        }
        const parsed = parsePlanfixWebhook(text, type);
        const token = parsed.ok ? parsed.value.token : tokenOf(text, type);
        const client = token ? await deps.clients.clientByTokenHash(hashToken(token)) : undefined;
        if (!client) return json(401, { error: "Invalid token" });
        if (!parsed.ok) return invalid(parsed.field, parsed.problem);
        try {
          return json(200, await deps.outbound.accept(client, parsed.value));
        } catch (e) {
          // Planfix knows only 200, 400 and 401: every refusal of ours is a 400 whose `error` a person can read.
          if (e instanceof WebhookError) return json(400, { error: e.message, field: e.field, problem: e.message });
          deps.log.error("webhook failed", { client: client.id, error: errorText(e) });
          throw e;
        }
      },
      {
        parse: "none",
        detail: {
          tags: ["planfix"],
          summary: "Planfix chat webhook (an employee's message)",
          description:
            'Enter `<PUBLIC_URL>/planfix` as the webhook URL of the Planfix chat integration and the client token as "your token". ' +
            "Form-encoded as Planfix sends it (JSON accepted too). The message is stored, answered at once with the chat and contact ids, " +
            "and sent to Telegram in the background, in order per chat: the text first, then each attachment as its own message " +
            "(images as photos, other files as documents, under their own names). The outcome comes back to Planfix as messageStatus " +
            "sent / read / error (error after one attempt, with the reason in the customer's language, when the recipient's privacy, a block or a deleted " +
            "account refuses it, or the number may not write first to new contacts: PEER_FLOOD). A repeated messageId sends nothing new and gets the same answer; without messageId the message is still sent " +
            "(no deduplication, no status). A chatId we did not hand out (none, Planfix's own, or a bare Telegram user id as in the task) is routed by " +
            "channel (or the client's only number) to the first of chatId / telegramUserId / telegramUserName / contactPhone the number can reach; " +
            "a username or phone is looked up within 5 s, and the new chatId `number_userid` is answered. Refusals are 400 with a readable `error` " +
            "(an offline number that would need a lookup, a lookup that failed or took too long), as Planfix knows only 200, 400 and 401.",
          requestBody: {
            required: true,
            content: {
              "application/x-www-form-urlencoded": {
                schema: {
                  type: "object",
                  required: ["cmd", "token"],
                  properties: {
                    cmd: { type: "string", enum: ["newMessage"], description: "newMessage: an employee wrote in the Planfix chat" },
                    providerId: { type: "string", description: "The providerId of the Planfix integration (planfix-telegram or the number's provider_id)" },
                    token: { type: "string", description: "The client token" },
                    chatId: {
                      type: "string",
                      description:
                        "As we gave it: <number>_<telegram user id>. Absent on a first message; a bare Telegram user id (the task's own example) is accepted too, the number then coming from channel.",
                    },
                    channel: { type: "string", description: "The number (optional when chatId is given)" },
                    message: { type: "string", description: "The text, sent first (split at 4,096 characters); may be empty when there are attachments" },
                    messageId: {
                      type: "string",
                      description:
                        "Planfix's id of the message: statuses refer to it, and the same id again sends nothing new and gets the same answer. Optional (without it a repeat is sent again)",
                    },
                    userName: { type: "string", description: "The employee's first name (not shown in Telegram)" },
                    userLastName: { type: "string", description: "The employee's last name (not shown in Telegram)" },
                    contactPhone: { type: "string", description: "The contact's phone, looked up in Telegram for a first message (no chatId)" },
                    telegramUserName: { type: "string", description: "The contact's Telegram @username, looked up for a first message (no chatId)" },
                    telegramUserId: { type: "string", description: "The contact's Telegram user id (digits), the recipient when there is no chatId" },
                    "attachments[name]": { type: "string", description: "Repeated, paired in order with attachments[url]" },
                    "attachments[url]": {
                      type: "string",
                      description:
                        "At most 50 per message (400 beyond). Where the appliance downloads the file (up to MAX_FILE_MB), paired in order with attachments[name]; http(s) only; fetched by the appliance through its outbound guard: private, loopback and link-local destinations are refused (ALLOW_PRIVATE_NETWORKS), and the message then gets an error status",
                    },
                  },
                },
                example: {
                  cmd: "newMessage",
                  providerId: "planfix-telegram",
                  token: "<client token>",
                  chatId: "380955821319_6800630955",
                  message: "Hello!",
                  messageId: "50345842",
                },
              },
            },
          },
          responses: {
            "200": {
              description: "Accepted",
              content: { "application/json": { schema: { type: "object", properties: { chatId: { type: "string" }, contactId: { type: "string" } } } } },
            },
            ...planfixErrorResponses(400, 401, 413),
          },
        },
      },
    )
    .get(
      "/files/:id/:name",
      async ({ params }) => {
        // The router has already percent-decoded the segments: decoding again would turn a name with
        // "%" in it (a file called "100% done.pdf") into a URIError, and accept double-encoded links.
        const f = await deps.files.find(params.id, params.name);
        if (!f) return json(404, { error: "file not found or expired" });
        return new Response(Bun.file(f.fullPath), { headers: fileHeaders(f) });
      },
      {
        detail: {
          tags: ["planfix"],
          summary: "Media from Telegram, offered to Planfix",
          description: "Links handed to Planfix in newMessage attachments and contactIco. Unguessable ids; expire after FILE_TTL_DAYS. Wrong or expired: 404.",
          responses: { "200": { description: "The file" }, "404": { description: "Unknown or expired" } },
        },
      },
    );
}

/** The token of a body that failed validation, so a bad body with a bad token is still a 401. */
function tokenOf(text: string, type: string | null): string | null {
  try {
    if ((type ?? "").includes("json") || text.trimStart().startsWith("{")) {
      const v = JSON.parse(text) as { token?: unknown };
      return typeof v.token === "string" ? v.token : null;
    }
    return new URLSearchParams(text).get("token");
  } catch {
    return null;
  }
}

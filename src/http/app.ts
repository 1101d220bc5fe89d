// The HTTP app: every route, and one error handler so nothing answers a bare 500 or HTML.
import { Elysia, type AnyElysia } from "elysia";
import * as v from "valibot";
import type { ClientService } from "../accounts/service.ts";
import type { Logger } from "../log.ts";
import { adminRoutes } from "./admin-routes.ts";
import { authGuard } from "./auth-guard.ts";
import { DiskReport, isDiskFull } from "../store/disk.ts";
import { clientRoutes } from "./client-routes.ts";
import { docs } from "./docs.ts";
import { ErrorBody, jsonSchema } from "./openapi-schemas.ts";
import { errorResponse, json } from "./respond.ts";

/** What /health answers. */
const HealthBody = v.object({
  status: v.picklist(["ok"]),
  version: v.string(),
  commit: v.pipe(v.string(), v.description("git commit the binary was built from")),
  warnings: v.array(v.string()),
  disk: v.optional(DiskReport),
});

export interface AppDeps {
  service: ClientService;
  log: Logger;
  version: string;
  /** The git commit the binary was built from. */
  commit?: string;
  /** Start-up warnings (e.g. PUBLIC_URL unset), shown on /health and /admin/clients. */
  warnings?: readonly string[];
  /** Failed token checks per minute from one address before 429; 0 = off. Default 10. */
  authFailuresPerMinute?: number;
  extraRoutes?: AnyElysia[];
  /** The data disk's state for /health (free space, media kept, what is wrong). */
  disk?: { report(): DiskReport; noteFull(): void };
}

export function buildApp(deps: AppDeps) {
  const warnings = [...(deps.warnings ?? [])];
  let app = new Elysia()
    .onError(({ code, error, request }) => {
      if (code === "NOT_FOUND") {
        // A route that exists under other methods: say so, and which (405 with Allow).
        const path = pathOf(request.url);
        const allow = allowedMethods(app.routes, path);
        if (allow.length) return json(405, { error: `method ${request.method} is not allowed on ${path}; use ${allow.join(", ")}` }, { allow: allow.join(", ") });
        return errorResponse(404, "no such route");
      }
      if (code === "PARSE") return errorResponse(400, "body could not be parsed", "body");
      if (code === "VALIDATION") return errorResponse(400, "invalid request");
      // Nothing was stored: a 503 makes the sender (Planfix) retry later instead of losing the message.
      if (isDiskFull(error)) {
        deps.disk?.noteFull();
        deps.log.error("request refused: disk full", { path: pathOf(request.url) });
        return json(503, { error: "disk full", problem: "the appliance's disk is full; nothing was stored, retry later" }, { "retry-after": "60" });
      }
      deps.log.error("request failed", { error: error instanceof Error ? error : String(error) });
      return errorResponse(500, "internal error");
    })
    .use(authGuard({ failuresPerMinute: deps.authFailuresPerMinute ?? 10, log: deps.log }))
    // Every answer has a JSON body, a redirect too (clients that do not follow it still read where to go).
    .get("/", () => json(302, { location: "/docs", description: "the API is described at /docs" }, { location: "/docs" }), { detail: { hide: true } })
    .get(
      "/health",
      () => json(200, { status: "ok", version: deps.version, commit: deps.commit ?? "unknown", warnings: warnings, ...(deps.disk ? { disk: deps.disk.report() } : {}) }),
      {
        detail: {
          tags: ["operator"],
          summary: "Liveness",
          description:
            "No token needed. `warnings` lists settings problems found at start (e.g. PUBLIC_URL unset while listening on every address), empty when there are none. `disk`: free space and media kept; `disk.ok` false with `disk.problem` saying what is wrong (disk nearly full, writes failing).",
          responses: {
            "200": {
              description: "The appliance is up",
              content: {
                "application/json": {
                  schema: jsonSchema(HealthBody),
                  example: { status: "ok", version: deps.version, commit: deps.commit ?? "unknown", warnings: [] },
                },
              },
            },
            "405": {
              description: "Only GET and HEAD",
              content: { "application/json": { schema: ErrorBody, example: { error: "method POST is not allowed on /health; use GET, HEAD" } } },
            },
          },
        },
      },
    )
    .use(docs(deps.version))
    .use(clientRoutes(deps.service, () => warnings))
    .use(adminRoutes(deps.service));
  for (const r of deps.extraRoutes ?? []) app = app.use(r) as unknown as typeof app;
  return app;
}

/** The path of a request URL; "" for what is not one (CONNECT's authority-form "host:port"). */
function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return "";
  }
}

/** The methods the app answers on `path` (HEAD wherever GET), from its route table. */
export function allowedMethods(routes: readonly { method: string; path: string }[], path: string): string[] {
  const methods = new Set<string>();
  if (!path.startsWith("/")) return [];
  for (const r of routes) {
    const pattern = r.path
      .split("/")
      .map((seg) => (seg.startsWith(":") ? "[^/]+" : seg === "*" ? ".*" : seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
      .join("/");
    if (new RegExp(`^${pattern}/?$`).test(path)) methods.add(r.method.toUpperCase());
  }
  if (methods.has("GET")) methods.add("HEAD");
  return [...methods].filter((m) => m !== "ALL").sort();
}

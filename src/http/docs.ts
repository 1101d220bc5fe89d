// The Swagger page at /docs and the OpenAPI JSON at /docs/json. Swagger UI's files are embedded in
// the binary and served from here: the page works on a box with no internet.
import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import swaggerBundle from "../../node_modules/swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import swaggerCss from "../../node_modules/swagger-ui-dist/swagger-ui.css" with { type: "file" };

const ASSETS: Record<string, { path: string; type: string }> = {
  "swagger-ui-bundle.js": { path: swaggerBundle, type: "text/javascript; charset=utf-8" },
  "swagger-ui.css": { path: swaggerCss, type: "text/css; charset=utf-8" },
};

/**
 * Swagger UI renders descriptions as Markdown with HTML allowed, so `<number>_<user id>` is taken for
 * tags and vanishes. Angle brackets outside `code spans` are escaped as entities.
 */
export function escapeAngleBrackets(text: string): string {
  return text
    .split(/(`[^`]*`)/)
    .map((part) => (part.startsWith("`") && part.endsWith("`") && part.length > 1 ? part : part.replaceAll("<", "&lt;").replaceAll(">", "&gt;")))
    .join("");
}

/** A copy of the OpenAPI document with every description made safe for Markdown. */
export function escapeDescriptions(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(escapeDescriptions);
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node))
    out[k] = k === "description" && typeof v === "string" ? escapeAngleBrackets(v) : k === "example" || k === "examples" ? v : escapeDescriptions(v);
  return out;
}

export function docs(version: string) {
  return new Elysia()
    .onAfterHandle(({ request, response }) => {
      if (new URL(request.url).pathname === "/docs/json" && response && typeof response === "object" && !(response instanceof Response))
        return escapeDescriptions(response) as Record<string, unknown>;
    })
    .get(
      "/docs/assets/:file",
      ({ params }) => {
        // Own keys only: "constructor", "__proto__", "toString"… are not assets.
        const asset = Object.hasOwn(ASSETS, params.file) ? ASSETS[params.file] : undefined;
        if (!asset) return new Response(JSON.stringify({ error: "not found" }), { status: 404, headers: { "content-type": "application/json" } });
        return new Response(Bun.file(asset.path), { headers: { "content-type": asset.type, "cache-control": "public, max-age=86400" } });
      },
      { detail: { hide: true } },
    )
    .use(
      openapi({
        path: "/docs",
        specPath: "/docs/json",
        provider: "swagger-ui",
        exclude: { paths: ["/docs", "/docs/json", "/docs/assets/:file"] },
        swagger: {
          cdn: "/docs/assets/swagger-ui-bundle.js",
          theme: "/docs/assets/swagger-ui.css",
          autoDarkMode: false,
          // Swagger UI would otherwise send the spec to validator.swagger.io.
          validatorUrl: "none",
        },
        documentation: {
          info: {
            title: "planfix-telegram",
            version,
            description:
              "Bridges personal Telegram accounts to Planfix chats. Manage numbers under /client (client token, or the admin token " +
              "to create a client); point the Planfix chat integration at /planfix.",
          },
          components: {
            securitySchemes: {
              bearer: { type: "http", scheme: "bearer", description: "Client token (or the admin token)" },
              tokenHeader: { type: "apiKey", in: "header", name: "token", description: "The same token in a `token` header" },
            },
          },
        },
      }),
    );
}

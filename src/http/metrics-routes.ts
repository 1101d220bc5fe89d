// GET /metrics — Prometheus text format, for the admin token or METRICS_TOKEN (Bearer). The auth guard
// throttles failed tries here like on /admin. What is counted is in src/metrics/.
import { Elysia } from "elysia";
import { secretCheck } from "./handle.ts";
import { errorResponses } from "./openapi-schemas.ts";

export function metricsRoutes(deps: { render(): Promise<{ contentType: string; body: string }>; adminToken: string; metricsToken: string | null }) {
  return new Elysia().get(
    "/metrics",
    async ({ request }) => {
      const refused = secretCheck(request, [deps.adminToken, deps.metricsToken], {
        missing: "missing token: send 'Authorization: Bearer <metrics or admin token>'",
        wrong: "metrics need METRICS_TOKEN or the admin token",
      });
      if (refused) return refused;
      const { contentType, body } = await deps.render();
      return new Response(body, { headers: { "content-type": contentType, "cache-control": "no-store" } });
    },
    {
      detail: {
        tags: ["operator"],
        summary: "Prometheus metrics",
        description:
          "Prometheus text format. Needs `METRICS_TOKEN` or the admin token (Bearer). Numbers by state; messages by direction and outcome; " +
          "items waiting, parked and the oldest waiting age per direction (read at scrape time); Planfix call latency by call and outcome; " +
          "Telegram errors by RPC name (a fixed list, others as `other`); flood-wait seconds; reconnects; process metrics. " +
          "Labels never carry phone numbers, client names or tokens: all clients are counted together. Example alert rules: docs/alerts.yml.",
        security: [{ bearer: [] }, { tokenHeader: [] }],
        responses: {
          "200": {
            description: "The metrics",
            content: {
              "text/plain; version=0.0.4; charset=utf-8": {
                schema: { type: "string" },
                example: '# TYPE planfix_telegram_numbers gauge\nplanfix_telegram_numbers{state="online"} 2\n',
              },
            },
          },
          ...errorResponses(401, 429),
        },
      },
    },
  );
}

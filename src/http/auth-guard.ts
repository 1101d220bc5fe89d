// The HTTP edge of token checks: throttles failed ones per source address (auth-throttle.ts) and, when
// a route refused a token sent without its "Bearer" word, says so in the 401. Routes keep checking
// tokens themselves; this only counts (and explains) their 401s.
import { Elysia } from "elysia";
import type { Logger } from "../log.ts";
import { AuthThrottle } from "./auth-throttle.ts";
import { errorResponse, json } from "./respond.ts";

/** Routes that check a token: in a header (/client, /admin/…) or in the body (/planfix). */
const checksToken = (path: string) => /^\/(client|admin|planfix|metrics)(\/|$)/.test(path);
/**
 * Throttled: the routes the admin token opens (and /metrics, which METRICS_TOKEN opens too). /planfix takes only client tokens (256 random bits, not
 * guessable) and its requests come from Planfix's shared addresses: one tenant with a stale token must
 * not get every other tenant's webhooks refused. Its failures are only counted in the log line.
 */
const tokenInHeader = (path: string) => /^\/(client|admin|metrics)(\/|$)/.test(path);

/** An Authorization header that is not "Bearer <token>" (and no `token` header to fall back on). */
function malformedAuthorization(headers: Headers): boolean {
  const auth = headers.get("authorization");
  if (auth === null || headers.get("token")?.trim()) return false;
  return !/^\s*Bearer\s+\S+\s*$/i.test(auth);
}

const pathOf = (url: string) => {
  try {
    return new URL(url).pathname;
  } catch {
    return "";
  }
};

type Server = { requestIP(r: Request): { address: string } | null } | null | undefined;

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

/**
 * The address a failure is counted against. Behind a reverse proxy on the same machine (Caddy, nginx:
 * docs/deploy.md) every request comes from loopback, and one guesser would lock everyone out; there the
 * proxy's X-Forwarded-For names the client, its last entry being the one the proxy itself appended.
 * Only a loopback peer is believed: from anywhere else the header is the caller's own words.
 */
function addressOf(server: Server, request: Request): string {
  const peer = server?.requestIP(request)?.address ?? "unknown";
  if (!LOOPBACK.test(peer)) return peer;
  const forwarded = request.headers.get("x-forwarded-for")?.split(",").pop()?.trim();
  return forwarded ? forwarded.slice(0, 64) : peer;
}

export function authGuard(opts: { failuresPerMinute: number; log: Logger }) {
  const throttle = new AuthThrottle(opts.failuresPerMinute, opts.log);
  return new Elysia({ name: "auth-guard" })
    .onRequest(({ request, server }) => {
      const path = pathOf(request.url);
      if (!tokenInHeader(path)) return;
      const address = addressOf(server, request);
      const wait = throttle.retryAfterSeconds(address);
      if (wait > 0) return json(429, { error: `too many failed token checks from this address; try again in ${wait} s` }, { "retry-after": String(wait) });
    })
    .onAfterHandle({ as: "global" }, ({ request, response, server }) => {
      if (!(response instanceof Response) || response.status !== 401) return;
      const path = pathOf(request.url);
      if (!checksToken(path)) return;
      if (!tokenInHeader(path)) return throttle.count(addressOf(server, request));
      throttle.fail(addressOf(server, request));
      // The route saw no token; say why rather than "missing token" when one was sent the wrong way.
      if (tokenInHeader(path) && malformedAuthorization(request.headers)) {
        return errorResponse(401, "the Authorization header must be 'Bearer <token>': the word Bearer, a space, then the token");
      }
    });
}

// /console — the operator page: numbers with their state and backlog, and "add a number" by logging in.
// One HTML file (inline script and style) embedded in the binary; it talks only to this appliance.
import { Elysia } from "elysia";
import pageText from "./console/console.html" with { type: "text" };

// Imported as text (bun-types would call an .html import an HTMLBundle).
const page = pageText as unknown as string;

// Nothing but this origin: no CDN, no outside request even if the page were tampered with.
const CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

export function consoleRoutes() {
  return new Elysia().get(
    "/console",
    () =>
      new Response(page, {
        headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": CSP, "cache-control": "no-store", "referrer-policy": "no-referrer" },
      }),
    {
      detail: {
        tags: ["operator"],
        summary: "The operator page",
        description:
          "Every number with its state, reason and backlog; add a number by QR code or phone code (+ 2FA password). The admin or a client token is typed into the page and kept in the tab's sessionStorage.",
      },
    },
  );
}

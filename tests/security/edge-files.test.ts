// Stored XSS through /files: a stranger on Telegram sends HTML or SVG; the link the appliance hands
// Planfix must download it as an inert file, never render it as a page of the appliance's origin.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { tinyPng } from "../support/telegram/index.ts";
import { onlineWorld, untilMessages } from "../e2e/bridge-world.ts";

let ctx: Awaited<ReturnType<typeof onlineWorld>>;
beforeAll(async () => {
  ctx = await onlineWorld();
}, 60_000);
afterAll(async () => ctx.w.close());

test("HTML and SVG from Telegram download as sandboxed attachments; photos stay inline; names have an ASCII fallback", async () => {
  const { w, anna, ivan, chatId } = ctx;
  const html = "<html><script>fetch('/admin/clients').then(r=>r.text()).then(alert)</script></html>";
  const svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>';
  w.tg.driver.sendFile(ivan, anna, Buffer.from(html), "invoice.html", "text/html");
  w.tg.driver.sendFile(ivan, anna, Buffer.from(svg), "logo.svg", "image/svg+xml");
  w.tg.driver.sendPhoto(ivan, anna, tinyPng([9, 9, 9]), "photo");
  w.tg.driver.sendFile(ivan, anna, Buffer.from("%PDF-1.4"), "Звіт №1.pdf", "application/pdf");
  const cmds = await untilMessages(w, 4, chatId);
  const urlOf = (i: number) => cmds[i]!.attachments[0]!.url;

  for (const [i, name] of [
    [0, "invoice.html"],
    [1, "logo.svg"],
  ] as const) {
    const res = await fetch(urlOf(i));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-security-policy")).toBe("sandbox; default-src 'none'");
    expect(res.headers.get("content-disposition")).toStartWith(`attachment; filename="${name}"; filename*=UTF-8''`);
    await res.arrayBuffer();
  }
  const photo = await fetch(urlOf(2));
  expect(photo.headers.get("content-disposition")).toStartWith("inline;");
  expect(photo.headers.get("x-content-type-options")).toBe("nosniff");
  expect(Buffer.from(await photo.arrayBuffer()).equals(tinyPng([9, 9, 9]))).toBe(true);

  const pdf = await fetch(urlOf(3));
  const disposition = pdf.headers.get("content-disposition")!;
  expect(disposition).toMatch(/^attachment; filename="[\x20-\x7e]+"; filename\*=UTF-8''/);
  expect(decodeURIComponent(disposition.split("filename*=UTF-8''")[1]!)).toBe("Звіт №1.pdf");
  expect(await pdf.text()).toBe("%PDF-1.4");
}, 60_000);

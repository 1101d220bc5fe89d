// The fake Planfix's chat page and reply route (used by `make demo`): what it shows, what it posts.
import { afterEach, expect, test } from "bun:test";
import { startFakePlanfix, type FakePlanfix } from "./support/planfix/server.ts";

let planfix: FakePlanfix | undefined;
let receiver: ReturnType<typeof Bun.serve> | undefined;
afterEach(async () => {
  await planfix?.stop();
  receiver?.stop(true);
  planfix = receiver = undefined;
});

const post = (url: string, body: string, type = "application/x-www-form-urlencoded") => fetch(url, { method: "POST", body, headers: { "content-type": type }, redirect: "manual" });

test("the page lists what arrived per chat, escaped, and has no reply box without an integration", async () => {
  planfix = await startFakePlanfix();
  const fields = {
    cmd: "newMessage",
    providerId: "planfix-telegram",
    planfix_token: "planfix-token",
    chatId: "380_77",
    contactId: "77",
    contactName: "Ivan",
    message: "<script>alert(1)</script> & hi",
    title: "Telegram: Ivan",
  };
  expect((await post(planfix.url, new URLSearchParams(fields).toString())).status).toBe(200);
  const page = await fetch(`${planfix.origin}/_control/page`);
  expect(page.headers.get("content-type")).toContain("text/html");
  const html = await page.text();
  expect(html).toContain("Task #1001");
  expect(html).toContain("chatId 380_77");
  expect(html).toContain("&#60;script&#62;alert(1)&#60;/script&#62; &#38; hi");
  expect(html).not.toContain("<script>alert(1)");
  expect(html).not.toContain("<textarea");
  // Replies need somewhere to go.
  expect((await post(`${planfix.origin}/_control/reply`, JSON.stringify({ chatId: "380_77", message: "x" }), "application/json")).status).toBe(409);
  expect((await post(`${planfix.origin}/_control/page/reply`, "chatId=380_77&message=x")).status).toBe(400);
});

test("a reply goes out as Planfix's newMessage webhook with the integration's token and a fresh messageId", async () => {
  const got: URLSearchParams[] = [];
  receiver = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      got.push(new URLSearchParams(await req.text()));
      return Response.json({ chatId: "380_77", contactId: "77" });
    },
  });
  planfix = await startFakePlanfix();
  const set = await post(`${planfix.origin}/_control/integration`, JSON.stringify({ url: `http://127.0.0.1:${receiver.port}/planfix`, token: "client-token" }), "application/json");
  expect(set.status).toBe(200);
  const a = await post(`${planfix.origin}/_control/reply`, JSON.stringify({ chatId: "380_77", message: "Hello" }), "application/json");
  expect(a.status).toBe(200);
  const b = await post(`${planfix.origin}/_control/page/reply`, "chatId=380_77&message=From+the+page");
  expect(b.status).toBe(303);
  expect(b.headers.get("location")).toBe("/_control/page");
  expect(got.map((p) => Object.fromEntries(p))).toEqual([
    { cmd: "newMessage", providerId: "planfix-telegram", token: "client-token", chatId: "380_77", message: "Hello", messageId: expect.stringMatching(/^\d+$/) },
    { cmd: "newMessage", providerId: "planfix-telegram", token: "client-token", chatId: "380_77", message: "From the page", messageId: expect.stringMatching(/^\d+$/) },
  ]);
  expect(got[0]!.get("messageId")).not.toBe(got[1]!.get("messageId"));
  // The page shows both replies in the chat, waiting for their delivery reports until messageStatus comes.
  const replies = planfix.replies();
  expect(replies.map((r) => [r.message, r.status])).toEqual([
    ["Hello", 200],
    ["From the page", 200],
  ]);
  const status = { cmd: "messageStatus", providerId: "planfix-telegram", planfix_token: "planfix-token", messageId: replies[0]!.messageId, messageStatus: "sent" };
  expect((await post(planfix.url, new URLSearchParams(status).toString())).status).toBe(200);
  const html = await (await fetch(`${planfix.origin}/_control/page`)).text();
  expect(html).toContain("Hello <i>— sent</i>");
  expect(html).toContain("From the page <i>— waiting for a delivery report</i>");
});

// The Planfix client against our fake Planfix over real HTTP: what Planfix receives, byte for byte,
// and how every kind of failure is classified for the outbox.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { PlanfixClient, type PlanfixFailure } from "../src/planfix/index.ts";
import { startFakePlanfix, type FakePlanfix } from "./support/planfix/server.ts";
import { parseAllowList } from "../src/net/address-policy.ts";
import { NetGuard } from "../src/net/guarded-fetch.ts";

// Our fake Planfix listens on loopback, which the fetch guard refuses unless told otherwise.
const LOOPBACK = new NetGuard({ allow: parseAllowList("127.0.0.0/8") });

const TOKEN = "pf-secret-token-123";
const PROVIDER = "tg-bridge";
let planfix: FakePlanfix;
let client: PlanfixClient;

beforeAll(async () => {
  planfix = await startFakePlanfix({ accounts: [{ path: "/webchat/api", planfixToken: TOKEN, providerId: PROVIDER }] });
  client = new PlanfixClient({ url: planfix.url, token: TOKEN, providerId: PROVIDER }, { timeoutMs: 2000, guard: LOOPBACK });
});
afterEach(() => planfix.reset());
afterAll(() => planfix.stop());

function expectFailure(o: { ok: boolean }): PlanfixFailure {
  expect(o.ok).toBe(false);
  const f = o as PlanfixFailure;
  expect(f.message).not.toContain(TOKEN);
  return f;
}

describe("what Planfix receives", () => {
  test("newMessage: every field, attachment pairs repeated un-indexed and in order", async () => {
    const outcome = await client.newMessage({
      chatId: 6800630955n,
      channel: "380955821319",
      message: "Hello & welcome = 100%",
      title: "Telegram: Ann",
      contactId: 6800630955,
      contactName: "Ann",
      contactLastName: "Lee",
      contactIco: "https://files.example/ava.jpg",
      contactEmail: "ann@example.com",
      contactPhone: "380955821319",
      contactData: "Telegram: https://t.me/ann",
      attachments: [
        { name: "a.jpg", url: "https://files.example/a?x=1&y=2" },
        { name: "б.pdf", url: "https://files.example/b" },
        { name: "c.ogg", url: "https://files.example/c" },
      ],
      isEcho: true,
      userEmail: "manager@acme.com",
      data: { source: "telegram", rank: 3 },
      telegramUserName: "@ann",
      telegramUserId: 6800630955n,
    });
    expect(outcome).toEqual({ ok: true });
    const [cmd] = planfix.commands();
    expect(cmd!.contentType).toStartWith("application/x-www-form-urlencoded");
    expect(cmd!.pairs).toEqual([
      ["cmd", "newMessage"],
      ["providerId", PROVIDER],
      ["planfix_token", TOKEN],
      ["chatId", "6800630955"],
      ["channel", "380955821319"],
      ["message", "Hello & welcome = 100%"],
      ["title", "Telegram: Ann"],
      ["contactId", "6800630955"],
      ["contactName", "Ann"],
      ["contactLastName", "Lee"],
      ["contactIco", "https://files.example/ava.jpg"],
      ["contactEmail", "ann@example.com"],
      ["contactPhone", "380955821319"],
      ["contactData", "Telegram: https://t.me/ann"],
      ["attachments[name]", "a.jpg"],
      ["attachments[url]", "https://files.example/a?x=1&y=2"],
      ["attachments[name]", "б.pdf"],
      ["attachments[url]", "https://files.example/b"],
      ["attachments[name]", "c.ogg"],
      ["attachments[url]", "https://files.example/c"],
      ["telegramUserName", "ann"],
      ["telegramUserId", "6800630955"],
      ["isEcho", "true"],
      ["userEmail", "manager@acme.com"],
      ["data_source", "telegram"],
      ["data_rank", "3"],
    ]);
    expect(planfix.tasks()).toMatchObject([{ chatId: "6800630955", title: "Telegram: Ann" }]);
  });

  test("newMessage: optional fields left out entirely, isEcho only when true", async () => {
    expect(await client.newMessage({ chatId: "c1", message: "hi", contactId: "7", contactName: "Ann", contactLastName: "", isEcho: false })).toEqual({ ok: true });
    expect(planfix.commands()[0]!.pairs).toEqual([
      ["cmd", "newMessage"],
      ["providerId", PROVIDER],
      ["planfix_token", TOKEN],
      ["chatId", "c1"],
      ["message", "hi"],
      ["contactId", "7"],
      ["contactName", "Ann"],
    ]);
  });

  test("newMessage: a media-only message carries the file names as text, so Planfix does not reject it", async () => {
    const o = await client.newMessage({
      chatId: "c1",
      message: "  ",
      contactId: "7",
      contactName: "Ann",
      attachments: [
        { name: "photo.jpg", url: "https://f.example/1" },
        { name: "", url: "https://f.example/files/voice.ogg" },
      ],
    });
    expect(o).toEqual({ ok: true });
    const [m] = planfix.newMessages("c1");
    expect(m!.fields.message).toBe("photo.jpg, voice.ogg");
    expect(m!.attachments).toEqual([
      { name: "photo.jpg", url: "https://f.example/1" },
      { name: "voice.ogg", url: "https://f.example/files/voice.ogg" },
    ]);
  });

  test("newMessage with an empty text and no files is refused locally and never reaches Planfix", async () => {
    const f = expectFailure(await client.newMessage({ chatId: "c1", message: "", contactId: "7", contactName: "Ann" }));
    expect(f).toMatchObject({ retry: false, kind: "rejected" });
    expect(f.message).toContain("message");
    expect(planfix.commands()).toHaveLength(0);
  });

  test("messageStatus: sent, read and error with its reason", async () => {
    expect(await client.messageStatus({ messageId: 50345842, status: "sent" })).toEqual({ ok: true });
    expect(await client.messageStatus({ messageId: "50345842", status: "read" })).toEqual({ ok: true });
    expect(await client.messageStatus({ messageId: "50345843", status: "error", text: "USER_PRIVACY_RESTRICTED" })).toEqual({ ok: true });
    expect(planfix.statuses().map((c) => c.pairs.slice(3))).toEqual([
      [
        ["messageId", "50345842"],
        ["messageStatus", "sent"],
      ],
      [
        ["messageId", "50345842"],
        ["messageStatus", "read"],
      ],
      [
        ["messageId", "50345843"],
        ["messageStatus", "error"],
        ["messageStatusText", "USER_PRIVACY_RESTRICTED"],
      ],
    ]);
    expect(planfix.statuses("50345842")).toHaveLength(2);
  });

  test("updateContact sends the card and Planfix keeps it", async () => {
    await client.newMessage({ chatId: "c1", message: "hi", contactId: "7", contactName: "Ann" });
    expect(await client.updateContact({ contactId: 7, contactName: "Anna", contactPhone: "380501112233" })).toEqual({ ok: true });
    expect(planfix.commands({ cmd: "updateContact" })[0]!.pairs.slice(3)).toEqual([
      ["contactId", "7"],
      ["contactName", "Anna"],
      ["contactPhone", "380501112233"],
    ]);
    expect(planfix.contacts()).toMatchObject([{ contactId: "7", card: { contactName: "Anna", contactPhone: "380501112233" } }]);
  });
});

describe("getTask / getContact", () => {
  test("not found yet is an answer, not a failure", async () => {
    expect(await client.getTask("c9")).toEqual({ ok: true, found: false, message: "task not found" });
    expect(await client.getContact("77")).toEqual({ ok: true, found: false, message: "unknown contact" });
  });

  for (const form of ["object", "string", "bare"] as const) {
    test(`the number is read from the "${form}" answer form`, async () => {
      planfix.setDataForm(form);
      await client.newMessage({ chatId: "c1", message: "hi", contactId: "7", contactName: "Ann" });
      const task = planfix.tasks()[0]!.number;
      const contact = planfix.contacts()[0]!.number;
      const t = await client.getTask("c1");
      const c = await client.getContact(7);
      expect(t).toMatchObject({ ok: true, found: true, number: task });
      expect(c).toMatchObject({ ok: true, found: true, number: contact });
      if (form === "string") expect(t).toMatchObject({ active: true });
      expect(planfix.commands({ cmd: "getTask" })[0]!.fields.chatId).toBe("c1");
    });
  }
});

describe("outcome classification", () => {
  const send = (c = client) => c.newMessage({ chatId: "c1", message: "hi", contactId: "7", contactName: "Ann" });

  test("400 Invalid parameters → rejected, not retried", async () => {
    const wrongProvider = new PlanfixClient({ url: planfix.url, token: TOKEN, providerId: "other" }, { guard: LOOPBACK });
    const f = expectFailure(await send(wrongProvider));
    expect(f).toMatchObject({ retry: false, kind: "rejected", status: 400 });
    expect(f.message).toContain("Invalid parameters");
  });

  test("401 → unauthorized, not retried, and the wrong token is not in the message", async () => {
    const wrong = "wrong-token-456";
    const f = expectFailure(await send(new PlanfixClient({ url: planfix.url, token: wrong, providerId: PROVIDER }, { guard: LOOPBACK })));
    expect(f).toMatchObject({ retry: false, kind: "unauthorized", status: 401 });
    expect(f.message).toContain("Invalid token");
    expect(f.message).not.toContain(wrong);
  });

  test("500 → server, retried; Planfix heals after N calls", async () => {
    planfix.failServer({ calls: 2 });
    expect(expectFailure(await send())).toMatchObject({ retry: true, kind: "server", status: 500 });
    expect(expectFailure(await send())).toMatchObject({ retry: true, kind: "server", status: 500 });
    expect(await send()).toEqual({ ok: true });
    expect(planfix.newMessages()).toHaveLength(1);
  });

  test("500 for a while, then healed", async () => {
    planfix.failServer({ forMs: 150 });
    expect(expectFailure(await send())).toMatchObject({ kind: "server" });
    await Bun.sleep(170);
    expect(await send()).toEqual({ ok: true });
  });

  test("401 switched on and off by the fault switch", async () => {
    planfix.failUnauthorized();
    expect(expectFailure(await send())).toMatchObject({ kind: "unauthorized", retry: false });
    planfix.heal();
    expect(await send()).toEqual({ ok: true });
  });

  test("no answer within the timeout → timeout, retried", async () => {
    planfix.hang();
    const quick = new PlanfixClient({ url: planfix.url, token: TOKEN, providerId: PROVIDER }, { timeoutMs: 150, guard: LOOPBACK });
    const started = Date.now();
    const f = expectFailure(await send(quick));
    expect(f).toMatchObject({ retry: true, kind: "timeout" });
    expect(f.message).toContain("150 ms");
    expect(Date.now() - started).toBeLessThan(1500);
    expect(planfix.commands()[0]!.status).toBe("hang");
  });

  test("a slow Planfix (latency beyond the timeout) is a timeout too", async () => {
    planfix.setLatency(400);
    const quick = new PlanfixClient({ url: planfix.url, token: TOKEN, providerId: PROVIDER }, { timeoutMs: 100, guard: LOOPBACK });
    expect(expectFailure(await send(quick))).toMatchObject({ kind: "timeout", retry: true });
  });

  test("connection dropped mid-call → network, retried", async () => {
    planfix.dropConnections({ calls: 1 });
    const f = expectFailure(await send());
    expect(f).toMatchObject({ retry: true, kind: "network" });
    expect(f.status).toBeUndefined();
    expect(await send()).toEqual({ ok: true });
  });

  test("answer lost after Planfix took the message: the client reports a retryable failure, Planfix has it once", async () => {
    planfix.dropConnections({ calls: 1, afterProcessing: true });
    expect(expectFailure(await send())).toMatchObject({ kind: "network", retry: true });
    expect(planfix.newMessages()).toHaveLength(1);
  });

  test("connection refused → network, retried", async () => {
    const gone = await startFakePlanfix();
    const url = gone.url;
    await gone.stop();
    const f = expectFailure(
      await new PlanfixClient({ url, token: TOKEN, providerId: PROVIDER }, { guard: LOOPBACK }).newMessage({ chatId: "c1", message: "hi", contactId: "7", contactName: "Ann" }),
    );
    expect(f).toMatchObject({ retry: true, kind: "network" });
    expect(f.message).toContain(url);
  });

  test("a wrong path (404) → other, not retried", async () => {
    const f = expectFailure(await send(new PlanfixClient({ url: `${planfix.origin}/chat/api`, token: TOKEN, providerId: PROVIDER }, { guard: LOOPBACK })));
    expect(f).toMatchObject({ retry: false, kind: "other", status: 404 });
  });

  test("a malformed url_planfix → other, not retried, nothing thrown", async () => {
    const f = expectFailure(await send(new PlanfixClient({ url: "acme.planfix.com/webchat/api", token: TOKEN, providerId: PROVIDER }, { guard: LOOPBACK })));
    expect(f).toMatchObject({ retry: false, kind: "other" });
  });

  test("lookups classify failures the same way", async () => {
    planfix.failServer({ calls: 1 });
    expect(expectFailure(await client.getTask("c1"))).toMatchObject({ kind: "server", retry: true });
    const wrong = new PlanfixClient({ url: planfix.url, token: "nope-nope", providerId: PROVIDER }, { guard: LOOPBACK });
    expect(expectFailure(await wrong.getContact("7"))).toMatchObject({ kind: "unauthorized", retry: false });
  });
});

describe("answers our fake Planfix does not give (a tiny server of their own)", () => {
  // Proxies and odd Planfix answers: rate limits, redirects, an error quoting the token back.
  let odd: ReturnType<typeof Bun.serve>;
  beforeAll(() => {
    odd = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(req) {
        const path = new URL(req.url).pathname;
        if (path === "/429") return Response.json({ error: "Too many requests" }, { status: 429, headers: { "retry-after": "3" } });
        if (path === "/302") return new Response(null, { status: 302, headers: { location: "https://elsewhere.example/webchat/api" } });
        if (path === "/echo") return Response.json({ error: `bad planfix_token ${TOKEN}` }, { status: 400 });
        if (path === "/garbage") return new Response("<html>ok</html>", { status: 200 });
        return new Response("", { status: 200 });
      },
    });
  });
  afterAll(() => odd.stop(true));
  const at = (p: string) => new PlanfixClient({ url: `http://127.0.0.1:${odd.port}${p}`, token: TOKEN, providerId: PROVIDER }, { guard: LOOPBACK });
  const msg = { chatId: "c1", message: "hi", contactId: "7", contactName: "Ann" };

  test("429 is retried after the Retry-After Planfix asked for", async () => {
    expect(expectFailure(await at("/429").newMessage(msg))).toMatchObject({ retry: true, kind: "other", status: 429, retryAfterMs: 3000 });
  });

  test("a redirect is reported (a POST must not silently become a GET)", async () => {
    const f = expectFailure(await at("/302").newMessage(msg));
    expect(f).toMatchObject({ retry: false, kind: "other", status: 302 });
    expect(f.message).toContain("url_planfix");
  });

  test("a token quoted back by Planfix is scrubbed from the message", async () => {
    const f = expectFailure(await at("/echo").newMessage(msg));
    expect(f.message).toContain("bad planfix_token ***");
  });

  test("a 200 lookup without a number is a failure, not a task number", async () => {
    expect(expectFailure(await at("/garbage").getTask("c1"))).toMatchObject({ ok: false, retry: false, kind: "other", status: 200 });
  });
});

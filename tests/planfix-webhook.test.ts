// Parsing Planfix's newMessage webhook: every body shape we accept, every input we refuse, and the
// real thing end to end (our fake Planfix posting to a small HTTP endpoint that uses the parser).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parsePlanfixWebhook, parseWebhookJson, type PlanfixInboundMessage, type WebhookParseResult } from "../src/planfix/index.ts";
import { startFakePlanfix, type FakePlanfix } from "./support/planfix/server.ts";

const FORM = "application/x-www-form-urlencoded";

function form(pairs: [string, string][]): string {
  const p = new URLSearchParams();
  for (const [k, v] of pairs) p.append(k, v);
  return p.toString();
}

function value(r: WebhookParseResult): PlanfixInboundMessage {
  if (!r.ok) throw new Error(`expected a parsed webhook, got ${r.field}: ${r.problem}`);
  return r.value;
}

const BASE: [string, string][] = [
  ["cmd", "newMessage"],
  ["providerId", "sniko-telegram"],
  ["chatId", "123456789"],
  ["token", "asdsf23afsd23wef2faf233rf34"],
  ["message", "Текст повідомлення"],
  ["messageId", "50345842"],
];

describe("form bodies, as Planfix sends them", () => {
  test("the customer's example: all fields, attachments url-before-name", () => {
    const body = form([
      ...BASE,
      ["userName", "Андрій"],
      ["userLastName", "Єршов"],
      ["userIco", "https://sniko.planfix.ua/?action=getuserpic&id=2303454&h=1"],
      ["taskEmail", "task+8168@sniko.planfix.ua"],
      ["contactPhone", "380955821319"],
      ["channel", "380955821319"],
      ["telegramUserName", "alfamaxhr"],
      ["telegramUserId", "6800630955"],
      ["attachments[url]", "https://sniko.planfix.ua/filelink/1"],
      ["attachments[name]", "file-name.png"],
    ]);
    expect(value(parsePlanfixWebhook(body, `${FORM}; charset=UTF-8`))).toEqual({
      cmd: "newMessage",
      providerId: "sniko-telegram",
      token: "asdsf23afsd23wef2faf233rf34",
      chatId: "123456789",
      channel: "380955821319",
      message: "Текст повідомлення",
      messageId: "50345842",
      userName: "Андрій",
      userLastName: "Єршов",
      userIco: "https://sniko.planfix.ua/?action=getuserpic&id=2303454&h=1",
      taskEmail: "task+8168@sniko.planfix.ua",
      contactPhone: "380955821319",
      telegramUserName: "alfamaxhr",
      telegramUserId: "6800630955",
      attachments: [{ name: "file-name.png", url: "https://sniko.planfix.ua/filelink/1" }],
    });
  });

  test("several repeated un-indexed attachment pairs are all kept, in order", () => {
    const body = form([
      ...BASE,
      ["attachments[name]", "a.jpg"],
      ["attachments[url]", "https://p.example/a"],
      ["attachments[name]", "b.pdf"],
      ["attachments[url]", "https://p.example/b"],
      ["attachments[name]", "c.ogg"],
      ["attachments[url]", "https://p.example/c"],
    ]);
    expect(value(parsePlanfixWebhook(body, FORM)).attachments).toEqual([
      { name: "a.jpg", url: "https://p.example/a" },
      { name: "b.pdf", url: "https://p.example/b" },
      { name: "c.ogg", url: "https://p.example/c" },
    ]);
  });

  test("indexed and []-suffixed attachment keys", () => {
    const indexed = form([
      ...BASE,
      ["attachments[1][url]", "https://p.example/b"],
      ["attachments[0][name]", "a.jpg"],
      ["attachments[1][name]", "b.pdf"],
      ["attachments[0][url]", "https://p.example/a"],
    ]);
    expect(value(parsePlanfixWebhook(indexed, FORM)).attachments).toEqual([
      { name: "a.jpg", url: "https://p.example/a" },
      { name: "b.pdf", url: "https://p.example/b" },
    ]);
    const php = form([...BASE, ["attachments[name][]", "a.jpg"], ["attachments[url][]", "https://p.example/a"]]);
    expect(value(parsePlanfixWebhook(php, FORM)).attachments).toEqual([{ name: "a.jpg", url: "https://p.example/a" }]);
  });

  test("a file without a name is named after its URL", () => {
    const body = form([...BASE, ["attachments[url]", "https://p.example/files/report%20Q1.pdf"]]);
    expect(value(parsePlanfixWebhook(body, FORM)).attachments).toEqual([{ name: "report Q1.pdf", url: "https://p.example/files/report%20Q1.pdf" }]);
  });

  test("whitespace trimmed from ids, @ dropped from the username, the text itself kept as written, extra fields ignored", () => {
    const body = form([
      ["cmd", " newMessage "],
      ["token", " tok \n"],
      ["chatId", " 42 "],
      ["messageId", "\t7 "],
      ["message", "  indented\nline  "],
      ["telegramUserName", " @alfamaxhr "],
      ["userName", "   "],
      ["somethingNew", "x"],
    ]);
    const v = value(parsePlanfixWebhook(body, FORM));
    expect(v).toEqual({ cmd: "newMessage", token: "tok", chatId: "42", messageId: "7", message: "  indented\nline  ", telegramUserName: "alfamaxhr", attachments: [] });
  });

  test("a file with no text is fine; the text is then empty", () => {
    const body = form([...BASE.filter(([k]) => k !== "message"), ["attachments[name]", "a.jpg"], ["attachments[url]", "https://p.example/a"]]);
    const v = value(parsePlanfixWebhook(body, FORM));
    expect(v.message).toBe("");
    expect(v.attachments).toHaveLength(1);
  });

  test("the first message from Planfix: no chatId, a contactPhone instead", () => {
    const body = form([...BASE.filter(([k]) => k !== "chatId"), ["contactPhone", "380955821319"]]);
    const v = value(parsePlanfixWebhook(body, FORM));
    expect(v.chatId).toBeUndefined();
    expect(v.contactPhone).toBe("380955821319");
  });

  test("bytes and a missing content type are handled (sniffed as form)", () => {
    const bytes = new TextEncoder().encode(form(BASE));
    expect(value(parsePlanfixWebhook(bytes, undefined)).messageId).toBe("50345842");
  });
});

describe("JSON and multipart bodies", () => {
  test("JSON with numbers for ids and an attachments array", () => {
    const body = JSON.stringify({
      cmd: "newMessage",
      token: "tok",
      chatId: 123456789,
      messageId: 50345842,
      message: "hi",
      telegramUserId: 6800630955,
      attachments: [
        { name: "a.jpg", url: "https://p.example/a" },
        { name: "b.pdf", url: "https://p.example/b" },
      ],
    });
    const v = value(parsePlanfixWebhook(body, "application/json"));
    expect(v).toMatchObject({ chatId: "123456789", messageId: "50345842", telegramUserId: "6800630955" });
    expect(v.attachments.map((a) => a.name)).toEqual(["a.jpg", "b.pdf"]);
  });

  test("JSON attachment shapes: name/url arrays, index-keyed object, form-style keys", () => {
    const base = { cmd: "newMessage", token: "tok", chatId: "1", messageId: "2" };
    const want = [
      { name: "a.jpg", url: "https://p.example/a" },
      { name: "b.pdf", url: "https://p.example/b" },
    ];
    expect(value(parseWebhookJson({ ...base, attachments: { name: ["a.jpg", "b.pdf"], url: ["https://p.example/a", "https://p.example/b"] } })).attachments).toEqual(want);
    expect(value(parseWebhookJson({ ...base, attachments: { "1": want[1], "0": want[0] } })).attachments).toEqual(want);
    expect(value(parseWebhookJson({ ...base, "attachments[name]": ["a.jpg", "b.pdf"], "attachments[url]": ["https://p.example/a", "https://p.example/b"] })).attachments).toEqual(
      want,
    );
  });

  test("JSON sniffed without a content type", () => {
    expect(value(parsePlanfixWebhook(`  {"cmd":"newMessage","token":"t","chatId":"1","messageId":"2","message":"x"}`, null)).chatId).toBe("1");
  });

  test("multipart/form-data keeps repeated attachment pairs in order", async () => {
    const fd = new FormData();
    for (const [k, v] of BASE) fd.append(k, v);
    fd.append("attachments[name]", "a.jpg");
    fd.append("attachments[url]", "https://p.example/a");
    fd.append("attachments[name]", "b.pdf");
    fd.append("attachments[url]", "https://p.example/b");
    const req = new Request("http://x/", { method: "POST", body: fd });
    const contentType = req.headers.get("content-type"); // Bun forgets a FormData body's type once it is read
    const v = value(parsePlanfixWebhook(await req.text(), contentType));
    expect(v.message).toBe("Текст повідомлення");
    expect(v.attachments).toEqual([
      { name: "a.jpg", url: "https://p.example/a" },
      { name: "b.pdf", url: "https://p.example/b" },
    ]);
  });
});

describe("messageId is optional", () => {
  const without = (key: string) => BASE.filter(([k]) => k !== key);
  test("absent or blank: parsed without one, everything else kept", () => {
    for (const body of [form(without("messageId")), form([...without("messageId"), ["messageId", "  "]])]) {
      const v = value(parsePlanfixWebhook(body, FORM));
      expect(v.messageId).toBeUndefined();
      expect("messageId" in v).toBe(false);
      expect(v.chatId).toBe("123456789");
      expect(v.message).toBe("Текст повідомлення");
    }
  });
});

describe("refused input names the field and the problem", () => {
  const without = (key: string) => BASE.filter(([k]) => k !== key);
  const cases: [string, string, string | null, { field: string; problem: string | RegExp }][] = [
    ["no token", form(without("token")), FORM, { field: "token", problem: "required" }],
    ["another command", form([...without("cmd"), ["cmd", "messageStatus"]]), FORM, { field: "cmd", problem: /only newMessage/ }],
    ["no cmd", form(without("cmd")), FORM, { field: "cmd", problem: "required" }],
    ["no text and no file", form([...without("message"), ["message", " "]]), FORM, { field: "message", problem: /required/ }],
    ["nobody to deliver to", form(without("chatId")), FORM, { field: "chatId", problem: /contactPhone/ }],
    [
      "a file name without a url",
      form([...BASE, ["attachments[name]", "a.jpg"], ["attachments[url]", "https://p.example/a"], ["attachments[name]", "b.pdf"]]),
      FORM,
      { field: "attachments[1][url]", problem: "required" },
    ],
    ["a url that is not http(s)", form([...BASE, ["attachments[name]", "a"], ["attachments[url]", "file:///etc/passwd"]]), FORM, { field: "attachments[0][url]", problem: /http/ }],
    ["broken JSON", `{"cmd":`, "application/json", { field: "body", problem: "invalid JSON" }],
    ["a JSON array", `[1,2]`, "application/json", { field: "body", problem: /object/ }],
    [
      "an object where text belongs",
      JSON.stringify({ cmd: "newMessage", token: "t", chatId: "1", messageId: { id: 1 }, message: "x" }),
      "application/json",
      { field: "messageId", problem: "must be text" },
    ],
    ["an empty body", "", FORM, { field: "cmd", problem: "required" }],
  ];
  for (const [name, body, ct, want] of cases) {
    test(name, () => {
      const r = parsePlanfixWebhook(body, ct);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.field).toBe(want.field);
      if (typeof want.problem === "string") expect(r.problem).toBe(want.problem);
      else expect(r.problem).toMatch(want.problem);
    });
  }
});

describe("end to end: our fake Planfix posts the webhook to an endpoint using the parser", () => {
  let planfix: FakePlanfix;
  let appliance: ReturnType<typeof Bun.serve>;
  const seen: PlanfixInboundMessage[] = [];

  beforeAll(async () => {
    planfix = await startFakePlanfix({ accounts: [{ path: "/webchat/api", planfixToken: "pf", providerId: "sniko-telegram" }] });
    // Stands in for the appliance's webhook handler: parse, check the token, answer like the spec says.
    appliance = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        const contentType = req.headers.get("content-type");
        const r = parsePlanfixWebhook(await req.text(), contentType);
        if (!r.ok) return Response.json({ error: "Invalid parameters", field: r.field, problem: r.problem }, { status: r.field === "token" ? 401 : 400 });
        if (r.value.token !== "client-token") return Response.json({ error: "Invalid token" }, { status: 401 });
        seen.push(r.value);
        return Response.json({ chatId: r.value.chatId ?? "new-chat", contactId: r.value.telegramUserId ?? "new-contact" });
      },
    });
  });
  afterAll(async () => {
    appliance.stop(true);
    await planfix.stop();
  });
  const url = () => `http://127.0.0.1:${appliance.port}/planfix`;

  test("form-encoded with two files arrives whole, and the answer comes back as JSON", async () => {
    const a = planfix.hostFile("a.jpg", "AAA", "image/jpeg");
    const b = planfix.hostFile("b.pdf", "BBB", "application/pdf");
    const res = await planfix.sendWebhook(url(), { token: "client-token", chatId: "42", message: "two files", messageId: 9001 }, [
      { name: "a.jpg", url: a },
      { name: "b.pdf", url: b },
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ chatId: "42", contactId: "new-contact" });
    const got = seen.at(-1)!;
    expect(got).toMatchObject({ providerId: "sniko-telegram", messageId: "9001", message: "two files" });
    expect(got.attachments).toEqual([
      { name: "a.jpg", url: a },
      { name: "b.pdf", url: b },
    ]);
  });

  for (const encoding of ["json", "multipart"] as const) {
    test(`${encoding} bodies arrive whole too`, async () => {
      const res = await planfix.sendWebhook(
        url(),
        { token: "client-token", contactPhone: "380955821319", message: encoding, messageId: 9002 },
        [{ name: "x.txt", url: "https://p.example/x" }],
        { encoding },
      );
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ chatId: "new-chat", contactId: "new-contact" });
      expect(seen.at(-1)!).toMatchObject({ message: encoding, contactPhone: "380955821319", attachments: [{ name: "x.txt", url: "https://p.example/x" }] });
    });
  }

  test("url-before-name pair order is zipped the same", async () => {
    await planfix.sendWebhook(
      url(),
      { token: "client-token", chatId: "42", message: "m", messageId: 9003 },
      [
        { name: "1.jpg", url: "https://p.example/1" },
        { name: "2.jpg", url: "https://p.example/2" },
      ],
      { attachmentOrder: "url-name" },
    );
    expect(seen.at(-1)!.attachments.map((a) => a.name)).toEqual(["1.jpg", "2.jpg"]);
  });

  test("a wrong token gets 401; a missing messageId (as in Planfix's own samples) is accepted", async () => {
    expect((await planfix.sendWebhook(url(), { token: "nope", chatId: "42", message: "m", messageId: 1 })).status).toBe(401);
    const noId = await planfix.sendWebhook(url(), { token: "client-token", chatId: "42", message: "m" });
    expect(noId.status).toBe(200);
    expect(seen.at(-1)!.messageId).toBeUndefined();
  });
});

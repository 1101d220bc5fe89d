// The fake Planfix itself: if it were lenient where Planfix is strict, every other test would lie.
// Driven with plain fetch (not our client) so its rules are checked independently.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { startFakePlanfix, type FakePlanfix } from "./support/planfix/server.ts";

let planfix: FakePlanfix;

beforeAll(async () => {
  planfix = await startFakePlanfix({
    accounts: [
      { path: "/webchat/api", planfixToken: "tok-a", providerId: "prov-a" },
      { path: "/acme/webchat/api", planfixToken: "tok-b", providerId: "prov-b" },
    ],
  });
});
afterEach(() => planfix.reset());
afterAll(() => planfix.stop());

async function post(url: string, body: string | [string, string][], contentType = "application/x-www-form-urlencoded") {
  const text = typeof body === "string" ? body : new URLSearchParams(body).toString();
  const res = await fetch(url, { method: "POST", body: text, headers: { "content-type": contentType } });
  const raw = await res.text();
  return { status: res.status, raw, json: raw ? (JSON.parse(raw) as unknown) : undefined };
}

const msg = (token = "tok-a", provider = "prov-a", chatId = "c1"): [string, string][] => [
  ["cmd", "newMessage"],
  ["providerId", provider],
  ["planfix_token", token],
  ["chatId", chatId],
  ["message", "hi"],
  ["contactId", "7"],
  ["contactName", "Ann"],
];

describe("the Planfix rules", () => {
  test("accepts a valid newMessage with an empty 200 and creates one task per chat", async () => {
    expect(await post(planfix.url, msg())).toEqual({ status: 200, raw: "", json: undefined });
    await post(planfix.url, msg());
    await post(planfix.url, msg("tok-a", "prov-a", "c2"));
    expect(planfix.tasks().map((t) => [t.chatId, t.number])).toEqual([
      ["c1", 1001],
      ["c2", 1002],
    ]);
  });

  test("non-form bodies and GET are 400 Invalid parameters", async () => {
    const asJson = await post(planfix.url, JSON.stringify(Object.fromEntries(msg())), "application/json");
    expect(asJson).toMatchObject({ status: 400, json: { error: "Invalid parameters" } });
    const get = await fetch(planfix.url);
    expect(get.status).toBe(400);
    expect(await get.json()).toEqual({ error: "Invalid parameters" });
  });

  test("a wrong token is 401 Invalid token, and nothing is created", async () => {
    expect(await post(planfix.url, msg("tok-b"))).toMatchObject({ status: 401, json: { error: "Invalid token" } });
    expect(planfix.tasks()).toEqual([]);
    expect(planfix.commands()[0]).toMatchObject({ status: 401, accepted: false, error: "Invalid token" });
  });

  test("required fields per command", async () => {
    for (const drop of ["chatId", "message", "contactId", "contactName"]) {
      expect(
        (
          await post(
            planfix.url,
            msg().filter(([k]) => k !== drop),
          )
        ).status,
      ).toBe(400);
    }
    const status = (fields: [string, string][]) => post(planfix.url, [["cmd", "messageStatus"], ["providerId", "prov-a"], ["planfix_token", "tok-a"], ...fields]);
    expect((await status([["messageId", "1"]])).status).toBe(400);
    expect((await status([["messageStatus", "read"]])).status).toBe(400);
    expect(
      (
        await status([
          ["messageId", "1"],
          ["messageStatus", "read"],
        ])
      ).status,
    ).toBe(200);
    expect(
      (
        await post(planfix.url, [
          ["cmd", "deleteMessage"],
          ["providerId", "prov-a"],
          ["planfix_token", "tok-a"],
        ])
      ).status,
    ).toBe(400);
    expect(planfix.statuses()).toHaveLength(1);
  });

  test("attachment names and urls must pair up; repeated pairs recorded in order", async () => {
    const odd = await post(planfix.url, [...msg(), ["attachments[name]", "a"], ["attachments[url]", "http://x/a"], ["attachments[name]", "b"]]);
    expect(odd.status).toBe(400);
    await post(planfix.url, [...msg(), ["attachments[name]", "a"], ["attachments[url]", "http://x/a"], ["attachments[name]", "b"], ["attachments[url]", "http://x/b"]]);
    const [m] = planfix.newMessages();
    expect(m!.attachments).toEqual([
      { name: "a", url: "http://x/a" },
      { name: "b", url: "http://x/b" },
    ]);
    expect(m!.pairs.filter(([k]) => k.startsWith("attachments")).map(([, v]) => v)).toEqual(["a", "http://x/a", "b", "http://x/b"]);
  });

  test("accounts are separate: own path, token, providerId and tasks", async () => {
    const acme = planfix.urlFor("/acme/webchat/api");
    expect(acme).toBe(`${planfix.origin}/acme/webchat/api`);
    expect((await post(acme, msg("tok-a", "prov-a"))).status).toBe(401);
    expect((await post(acme, msg("tok-b", "prov-a"))).status).toBe(400);
    expect((await post(acme, msg("tok-b", "prov-b"))).status).toBe(200);
    expect(planfix.tasks()).toMatchObject([{ path: "/acme/webchat/api", chatId: "c1" }]);
    const getTask: [string, string][] = [
      ["cmd", "getTask"],
      ["providerId", "prov-a"],
      ["planfix_token", "tok-a"],
      ["chatId", "c1"],
    ];
    expect(await post(planfix.url, getTask)).toMatchObject({ status: 400, json: { error: "task not found" } });
    expect((await post(`${planfix.origin}/nowhere`, msg())).status).toBe(404);
  });

  test("getTask/getContact answer forms are switchable", async () => {
    await post(planfix.url, msg());
    const ask = () =>
      post(planfix.url, [
        ["cmd", "getTask"],
        ["providerId", "prov-a"],
        ["planfix_token", "tok-a"],
        ["chatId", "c1"],
      ]);
    expect((await ask()).json).toEqual({ data: { number: 1001 } });
    planfix.setDataForm("string");
    expect((await ask()).json).toEqual({ data: JSON.stringify({ number: 1001, statusIsActive: true }) });
    planfix.setDataForm("bare");
    expect((await ask()).json).toEqual({ number: 1001 });
    const contact = await post(planfix.url, [
      ["cmd", "getContact"],
      ["providerId", "prov-a"],
      ["planfix_token", "tok-a"],
      ["contactId", "7"],
    ]);
    expect(contact.json).toEqual({ number: 5001 });
    const unknown = await post(planfix.url, [
      ["cmd", "getContact"],
      ["providerId", "prov-a"],
      ["planfix_token", "tok-a"],
      ["contactId", "8"],
    ]);
    expect(unknown).toMatchObject({ status: 400, json: { error: "unknown contact" } });
  });
});

describe("faults", () => {
  test("a fault can target one command; hung requests end when the client gives up", async () => {
    planfix.hang({ cmd: "messageStatus" });
    expect((await post(planfix.url, msg())).status).toBe(200);
    const hung = fetch(planfix.url, {
      method: "POST",
      body: new URLSearchParams([
        ["cmd", "messageStatus"],
        ["providerId", "prov-a"],
        ["planfix_token", "tok-a"],
        ["messageId", "1"],
        ["messageStatus", "sent"],
      ]).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded" },
      signal: AbortSignal.timeout(100),
    });
    await expect(hung).rejects.toThrow();
    await planfix.waitFor(() => planfix.commands({ cmd: "messageStatus" })[0]?.status === "hang");
    planfix.heal();
  });

  test("latency delays every answer", async () => {
    planfix.setLatency(120);
    const t = Date.now();
    expect((await post(planfix.url, msg())).status).toBe(200);
    expect(Date.now() - t).toBeGreaterThanOrEqual(110);
  });

  test("waitFor resolves with the first truthy value and fails with a readable reason", async () => {
    const waiting = planfix.waitFor(() => planfix.newMessages("c1")[0], 2000);
    await post(planfix.url, msg());
    expect((await waiting).fields.message).toBe("hi");
    await expect(planfix.waitFor(() => planfix.newMessages("never")[0], 50)).rejects.toThrow(/not met within 50 ms.*newMessage → 200/);
  });

  test("commands are timestamped in order of receipt; clear() forgets them but not the tasks", async () => {
    const before = Date.now();
    await post(planfix.url, msg());
    await post(planfix.url, msg("bad"));
    const [a, b] = planfix.commands();
    expect([a!.seq, b!.seq]).toEqual([1, 2]);
    expect(a!.at).toBeGreaterThanOrEqual(before);
    expect(b!.at).toBeGreaterThanOrEqual(a!.at);
    expect(planfix.commands({ accepted: false })).toEqual([b!]);
    planfix.clear();
    expect(planfix.commands()).toEqual([]);
    expect(planfix.tasks()).toHaveLength(1);
  });
});

describe("files", () => {
  test("a hosted file downloads with its bytes and type, and the download is recorded", async () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 251, 255]);
    const url = planfix.hostFile("фото 1.jpg", bytes, "image/jpeg");
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
    await planfix.waitFor(() => planfix.downloads()[0]?.complete);
    expect(planfix.downloads()[0]).toMatchObject({ name: "фото 1.jpg", status: 200, bytesSent: 6 });
  });

  test("404 variant", async () => {
    const res = await fetch(planfix.hostFile("gone.pdf", "x", "application/pdf", { status: 404 }));
    expect(res.status).toBe(404);
    expect((await fetch(`${planfix.origin}/_files/999/nothing`)).status).toBe(404);
  });

  test("large generated content streams with its length; slow variant takes its time", async () => {
    const big = await fetch(planfix.hostFile("big.bin", { size: 3 * 1024 * 1024 + 7 }));
    expect(big.headers.get("content-length")).toBe(String(3 * 1024 * 1024 + 7));
    const body = new Uint8Array(await big.arrayBuffer());
    expect(body.byteLength).toBe(3 * 1024 * 1024 + 7);
    expect(body[300]).toBe(300 % 251);
    const t = Date.now();
    const slow = await fetch(planfix.hostFile("slow.txt", "abcdefgh", "text/plain", { chunkSize: 2, chunkDelayMs: 40 }));
    expect(await slow.text()).toBe("abcdefgh");
    expect(Date.now() - t).toBeGreaterThanOrEqual(110);
  });
});

describe("control API (for scripts)", () => {
  const control = (p: string, body?: unknown) =>
    fetch(`${planfix.origin}/_control${p}`, body === undefined ? {} : { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } }).then(
      async (r) => ({ status: r.status, json: (await r.json()) as any }),
    );

  test("inspect, fail, heal, host a file", async () => {
    expect((await control("")).json).toMatchObject({ url_planfix: planfix.url, accounts: [{ providerId: "prov-a" }, { providerId: "prov-b" }] });
    await post(planfix.url, msg());
    expect((await control("/commands?cmd=newMessage")).json).toMatchObject([{ cmd: "newMessage", status: 200 }]);
    expect((await control("/tasks")).json).toMatchObject([{ chatId: "c1" }]);
    expect((await control("/fail", { mode: "500", calls: 1 })).status).toBe(200);
    expect((await post(planfix.url, msg())).status).toBe(500);
    expect((await post(planfix.url, msg())).status).toBe(200);
    await control("/fail", { mode: "401" });
    expect((await post(planfix.url, msg())).status).toBe(401);
    await control("/heal", {});
    expect((await post(planfix.url, msg())).status).toBe(200);
    expect((await control("/fail", { mode: "boom" })).status).toBe(400);
    const { json } = await control("/files", { name: "a.txt", text: "hello", mime: "text/plain" });
    expect(await (await fetch(json.url)).text()).toBe("hello");
  });

  test("POST /webhook sends a Planfix-style webhook and reports the answer", async () => {
    // Aimed at the fake itself: a webhook carries `token`, not `planfix_token`, so the answer is 401.
    const { json } = await control("/webhook", {
      url: planfix.url,
      fields: { token: "x", chatId: "1", message: "hi", messageId: 5 },
      attachments: [{ name: "a", url: "http://x/a" }],
    });
    expect(json).toMatchObject({ status: 401, body: { error: "Invalid token" } });
    expect(planfix.commands()[0]!.pairs).toEqual([
      ["cmd", "newMessage"],
      ["providerId", "prov-a"],
      ["token", "x"],
      ["chatId", "1"],
      ["message", "hi"],
      ["messageId", "5"],
      ["attachments[name]", "a"],
      ["attachments[url]", "http://x/a"],
    ]);
  });
});

test("the CLI prints url_planfix, logs each command as a JSON line, and stops on SIGTERM", async () => {
  const proc = Bun.spawn([process.execPath, "tests/support/planfix/cli.ts", "--port", "0", "--token", "T", "--provider-id", "P"], { stdout: "pipe", stderr: "pipe" });
  const reader = proc.stdout.getReader();
  let buffered = "";
  const nextLine = async (): Promise<any> => {
    while (!buffered.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`CLI ended: ${await new Response(proc.stderr).text()}`);
      buffered += new TextDecoder().decode(value);
    }
    const i = buffered.indexOf("\n");
    const line = buffered.slice(0, i);
    buffered = buffered.slice(i + 1);
    return JSON.parse(line);
  };
  try {
    const hello = await nextLine();
    expect(hello).toMatchObject({ event: "listening", token_planfix: "T", providerId: "P" });
    expect(hello.url_planfix).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/webchat\/api$/);
    const res = await post(hello.url_planfix, msg("T", "P"));
    expect(res.status).toBe(200);
    expect(await nextLine()).toMatchObject({ event: "command", cmd: "newMessage", status: 200, fields: { chatId: "c1" } });
  } finally {
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
  }
});

// Regressions the fuzzer (bench/fuzz.ts) found in the compiled binary, repeated as plain e2e tests.
import { afterEach, describe, expect, test } from "bun:test";
import { exchange } from "../../bench/fuzz/http.ts";
import { world } from "./harness.ts";

type World = Awaited<ReturnType<typeof world>>;
let w: World;
afterEach(async () => w && (await w.close()));

describe("found by the fuzzer", () => {
  test("a file whose name has a % in it downloads from its link; a link encoded twice does not", async () => {
    w = await world();
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    const ivan = w.tg.addUser({ firstName: "Ivan", phone: "380671234567" });
    await w.app.start();
    const r = await w.app.call("POST", "/client", w.startBody(anna));
    expect(r.json.state).toBe("online");
    w.tg.driver.sendFile(ivan, anna, Buffer.from("all of it"), "100% done.txt", "text/plain");
    const cmd = await w.planfix.waitFor(() => w.planfix.newMessages().find((c) => c.attachments[0]?.name === "100% done.txt"), 15_000);
    const link = cmd.attachments[0]!.url;
    const res = await fetch(link);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("all of it");
    const [base, name] = [link.slice(0, link.lastIndexOf("/") + 1), link.slice(link.lastIndexOf("/") + 1)];
    const twice = await fetch(base + encodeURIComponent(name));
    expect(twice.status).toBe(404);
    const broken = await fetch(`${base}${name}%25zz`);
    expect(broken.status).toBe(404);
    expect(((await broken.json()) as { error: unknown }).error).toBeString();
    expect(w.app.logText()).not.toContain('"msg":"request failed"');
  });

  test("a chat id with a control character is refused (400 chatId), even with a messageId the client used before: it cannot reach another client's chat", async () => {
    w = await world({ env: { LANGUAGE: "en" } });
    const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
    const borys = w.tg.addUser({ firstName: "Borys", phone: "380955821320" });
    const ivan = w.tg.addUser({ firstName: "Ivan", phone: "380671234567" });
    await w.app.start();
    expect((await w.app.call("POST", "/client", w.startBody(anna))).json.state).toBe("online");
    const beta = await w.app.call("POST", "/client", w.startBody(borys, { name: "beta" }));
    expect(beta.json.state).toBe("online");
    const hook = (fields: Record<string, string>) => w.planfix.sendWebhook(`${w.app.url}/planfix`, { token: beta.json.token, providerId: "planfix-telegram", ...fields });
    // Beta's own first message, by user id: accepted.
    const own = await hook({ telegramUserId: String(ivan.id), message: "from beta", messageId: "m-1" });
    expect(own.status).toBe(200);
    // Acme's chat with a NUL after it, with beta's token, new or with beta's messageId: refused, naming chatId.
    for (const messageId of ["m-1", "m-2"]) {
      const r = await hook({ chatId: `${anna.phone}_${ivan.id}\u0000`, message: "forged", messageId });
      expect(r.status).toBe(400);
      expect(r.text).toContain("chatId");
    }
    await Bun.sleep(500);
    expect(w.tg.driver.messages(ivan, anna)).toHaveLength(0);
  });

  test("a body far over the limit gets the application's JSON 413, not a bare one", async () => {
    w = await world();
    await w.app.start();
    for (const [path, size] of [
      ["/planfix", 9 * 1024 * 1024],
      ["/client", 2 ** 40],
    ] as const) {
      const x = await exchange(
        w.app.port,
        {
          method: "POST",
          target: path,
          headers: [
            ["Authorization", `Bearer e2e-admin-token-0123456789abcdef`],
            ["Content-Type", "application/json"],
            ["Content-Length", String(size)],
          ],
          body: { kind: "bytes", bytes: Buffer.from("{}") },
          pauseBeforeBodyMs: 50,
        },
        { timeoutMs: 5000 },
      );
      expect(x.responses[0]?.status).toBe(413);
      expect(x.responses[0]?.headers["content-type"]).toContain("application/json");
      expect(JSON.parse(Buffer.from(x.responses[0]!.body).toString()).error).toBeString();
    }
  });
});

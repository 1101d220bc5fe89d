// Input as a new user sends it, and the Swagger page they read first, against the compiled binary:
// curl's default -d content type, decimal phone numbers, several missing fields, per-status examples,
// /health's responses, angle brackets in descriptions, and a description for every body field.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chromium } from "playwright-core";
import type { WorldUser } from "../support/telegram/index.ts";
import { world } from "./harness.ts";

let w: Awaited<ReturnType<typeof world>>;
let anna: WorldUser;
let boris: WorldUser;
beforeAll(async () => {
  w = await world();
  anna = w.tg.addUser({ firstName: "Anna", lastName: "Owner", phone: "380955821319" });
  boris = w.tg.addUser({ firstName: "Boris", lastName: "Owner", phone: "380501112233" });
  await w.app.start();
}, 60_000);
afterAll(async () => w.close());

describe("request bodies", () => {
  test("a JSON body sent as curl -d sends it (application/x-www-form-urlencoded) is read as JSON", async () => {
    const r = await w.app.call("POST", "/client", JSON.stringify(w.startBody(anna)), undefined, { "content-type": "application/x-www-form-urlencoded" });
    expect(r.status).toBe(201);
    expect(r.json.state).toBe("online");
  });

  test("a phone number written as a decimal or exponent is a 400 naming number, never another number", async () => {
    const body = JSON.stringify(w.startBody(boris, { name: "beta", number: "NUMBER" }));
    for (const literal of ["380501112233.0", '"380501112233.0"', "3.80501112233e11", '"1e12"', "380501112233.5"]) {
      const r = await w.app.call("POST", "/client", body.replace('"NUMBER"', literal));
      expect(r.status).toBe(400);
      expect(r.json.field).toBe("number");
      expect(r.json.error).toContain("number:");
    }
    // Nothing was created under a number made up from the digits.
    expect((await w.app.call("GET", "/admin/clients")).json.clients.some((c: { name: string }) => c.name === "beta")).toBe(false);
  });

  test("several missing fields are all named in one 400", async () => {
    const r = await w.app.call("POST", "/client", { path_session: "x" });
    expect(r.status).toBe(400);
    for (const f of ["name", "number", "url_planfix", "token_planfix"]) expect(r.json.error).toContain(`${f}: is required`);
  });
});

describe("the Swagger page", () => {
  let spec: any;
  beforeAll(async () => {
    spec = (await w.app.call("GET", "/docs/json", undefined, null)).json;
  });

  test("every status of every operation has its own example; errors say what that status means", () => {
    for (const [path, ops] of Object.entries<any>(spec.paths)) {
      for (const [method, op] of Object.entries<any>(ops)) {
        const examples = new Map<string, string>();
        for (const [status, res] of Object.entries<any>(op.responses ?? {})) {
          const content = res.content?.["application/json"];
          if (!content || status === "200" || status === "201") continue;
          expect(content.example, `${method} ${path} ${status}`).toBeDefined();
          examples.set(status, JSON.stringify(content.example));
        }
        expect(new Set(examples.values()).size, `${method} ${path}`).toBe(examples.size);
        for (const [status, ex] of examples) if (status !== "400") expect(ex, `${method} ${path} ${status}`).not.toContain("is required");
      }
    }
    // The number's state example agrees with its status example (online, not starting).
    const view = spec.paths["/client"].get.responses["200"].content["application/json"].schema.properties;
    expect(view.state.example).toBe("online");
  });

  test("/health declares its answer", () => {
    const ok = spec.paths["/health"].get.responses["200"];
    expect(ok.content["application/json"].schema.properties.status).toBeDefined();
    expect(ok.content["application/json"].example.status).toBe("ok");
  });

  test("every body field of POST and PUT /client and /planfix is described; name_session and path_session say how they differ", () => {
    for (const method of ["post", "put"]) {
      const props = spec.paths["/client"][method].requestBody.content["application/json"].schema.properties;
      for (const [name, p] of Object.entries<any>(props)) expect(p.description?.length ?? 0, `${method} ${name}`).toBeGreaterThan(20);
      expect(props.name_session.description).toContain("path_session");
      expect(props.path_session.description).toContain("name_session");
      expect(props.path_session.description).not.toBe(props.name_session.description);
    }
    const hook = spec.paths["/planfix"].post.requestBody.content["application/x-www-form-urlencoded"].schema.properties;
    for (const [name, p] of Object.entries<any>(hook)) expect(p.description?.length ?? 0, `/planfix ${name}`).toBeGreaterThan(10);
  });

  test("descriptions with angle brackets render as written (chatId's `<number>_<telegram user id>`)", async () => {
    const raw = spec.paths["/planfix"].post.requestBody.content["application/x-www-form-urlencoded"].schema.properties.chatId.description as string;
    const shown = raw.replaceAll("&lt;", "<").replaceAll("&gt;", ">");
    expect(shown).toContain("<number>");
    const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"] });
    try {
      const page = await browser.newPage();
      await page.goto(`${w.app.url}/docs`);
      await page.waitForSelector('.opblock-summary-path[data-path="/planfix"]', { timeout: 20_000 });
      await page.click('.opblock-summary-path[data-path="/planfix"]');
      // The expanded operation renders its request body's fields a moment later.
      await page.waitForFunction(`document.querySelector("#swagger-ui")?.textContent?.includes("attachments[url]")`, undefined, { timeout: 20_000 });
      const text = await page.textContent("#swagger-ui");
      expect(text).toContain(shown);
    } finally {
      await browser.close();
    }
  }, 60_000);
});

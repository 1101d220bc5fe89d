// Logging numbers in through the API of the compiled binary: a real key exchange with the loopback
// Telegram (its test RSA key trusted through TELEGRAM_SERVER_KEYS), then QR, QR + 2FA, code, code + 2FA,
// and each refusal Telegram gives shown as a readable message.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { WorldUser } from "../support/telegram/index.ts";
import { ADMIN_TOKEN, world } from "./harness.ts";

type World = Awaited<ReturnType<typeof world>>;
let w: World;
let acmeToken = "";
let n = 0;

const DEVICE = "Planfix bridge (login test)";

beforeAll(async () => {
  w = await world();
  w.app.env.TELEGRAM_SERVER_KEYS = w.tg.rsaPublicKeyPem!.replaceAll("\n", "\\n");
  w.app.env.TELEGRAM_DEVICE_MODEL = DEVICE;
  w.app.env.TELEGRAM_APP_VERSION = "planfix-telegram 1.2.3";
  await w.app.start();
});

afterAll(async () => {
  await w.close();
});

function newUser(): WorldUser {
  n++;
  return w.tg.addUser({ firstName: `Login${n}`, phone: `38067${String(1000000 + n)}` });
}

const body = (u: WorldUser | string, method: "qr" | "code", name = "acme") => ({
  name,
  number: typeof u === "string" ? u : `+${u.phone}`,
  method,
  url_planfix: w.planfix.url,
  token_planfix: "planfix-token",
});

/** Who may act on acme's logins: the admin for the first (it creates acme), acme's token after. */
const acme = () => (acmeToken ? acmeToken : ADMIN_TOKEN);

async function until(id: string, state: string, token = acme(), ms = 15_000): Promise<any> {
  const deadline = Date.now() + ms;
  let last: any;
  while (Date.now() < deadline) {
    last = (await w.app.call("GET", `/login/${id}`, undefined, token)).json;
    if (last?.state === state) return last;
    await Bun.sleep(100);
  }
  throw new Error(`login ${id} never reached ${state}; last: ${JSON.stringify(last)}`);
}

function expectSessionSaved(u: WorldUser, done: any) {
  expect(done.session_file).toBe(`acme/${u.phone}.session`);
  const file = join(w.dataDir, "sessions", done.session_file);
  expect(existsSync(file)).toBe(true);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(done.number_state).toMatchObject({ name: "acme", number: u.phone, state: "online", telegram_user_id: String(u.id) });
  // The new authorization shows in the user's device list with the declared device.
  expect(w.tg.driver.authorizations(u).some((a) => a.deviceModel === DEVICE && a.appVersion === "planfix-telegram 1.2.3")).toBe(true);
  return readFileSync(file, "utf8");
}

describe("the four flows", () => {
  test("code: a wrong code is refused readably and the login keeps waiting; the right one logs in, saves the session, starts the number and answers the new client's token", async () => {
    const u = newUser();
    const started = await w.app.call("POST", "/login", body(u, "code"));
    expect(started.status).toBe(201);
    expect(started.json).toMatchObject({ state: "waiting_code", code_via: "app", name: "acme", number: u.phone, method: "code" });
    const id = started.json.id as string;
    const code = await w.tg.driver.waitForLoginCode(u);

    const wrong = await w.app.call("POST", `/login/${id}/code`, { code: code === "11111" ? "22222" : "11111" });
    expect(wrong.status).toBe(422);
    expect(wrong.json.error).toContain("the code is wrong");
    expect((await w.app.call("GET", `/login/${id}`)).json.state).toBe("waiting_code");

    const done = await w.app.call("POST", `/login/${id}/code`, { code });
    expect(done.status).toBe(200);
    expect(done.json.state).toBe("done");
    expect(typeof done.json.token).toBe("string");
    acmeToken = done.json.token;
    const session = expectSessionSaved(u, done.json);
    // The token is shown once; the client token now sees its number online.
    expect((await w.app.call("GET", `/login/${id}`)).json.token).toBeUndefined();
    expect((await w.app.call("GET", `/client?number=${u.phone}`, undefined, acmeToken)).json.state).toBe("online");
    // Neither the code nor the session reach the log.
    expect(w.app.logText()).not.toContain(`"${code}"`);
    expect(w.app.logText()).not.toContain(session.slice(10, 60));
  });

  test("code + 2FA: waiting_password with the hint; a wrong password is refused readably; the right one logs in (client token)", async () => {
    const u = newUser();
    w.tg.driver.setPassword(u, "correct horse", "a horse");
    const started = await w.app.call("POST", "/login", body(u, "code"), acme());
    expect(started.status).toBe(201);
    const id = started.json.id as string;
    const code = await w.tg.driver.waitForLoginCode(u);
    const pw = await w.app.call("POST", `/login/${id}/code`, { code }, acme());
    expect(pw.json).toMatchObject({ state: "waiting_password", password_hint: "a horse" });
    const wrong = await w.app.call("POST", `/login/${id}/password`, { password: "battery staple" }, acme());
    expect(wrong.status).toBe(422);
    expect(wrong.json.error).toContain("password is wrong");
    const done = await w.app.call("POST", `/login/${id}/password`, { password: "correct horse" }, acme());
    expect(done.json.state).toBe("done");
    expect(done.json.token).toBeUndefined(); // acme existed already
    expectSessionSaved(u, done.json);
    expect(w.app.logText()).not.toContain("correct horse");
  });

  test("QR: the link and SVG are shown; the user scans it on their phone; the login completes by itself", async () => {
    const u = newUser();
    const started = await w.app.call("POST", "/login", body(u, "qr"), acme());
    expect(started.status).toBe(201);
    expect(started.json.state).toBe("waiting_qr");
    expect(started.json.qr_link).toMatch(/^tg:\/\/login\?token=[A-Za-z0-9_-]+$/);
    expect(started.json.qr_svg).toContain("<svg");
    w.tg.driver.acceptLoginToken(u, started.json.qr_link);
    const done = await until(started.json.id, "done");
    expectSessionSaved(u, done);
  });

  test("QR + 2FA: after the scan the login asks for the password, then completes", async () => {
    const u = newUser();
    w.tg.driver.setPassword(u, "qr secret", "qr hint");
    const started = await w.app.call("POST", "/login", body(u, "qr"), acme());
    w.tg.driver.acceptLoginToken(u, started.json.qr_link);
    const pw = await until(started.json.id, "waiting_password");
    expect(pw.password_hint).toBe("qr hint");
    const done = await w.app.call("POST", `/login/${started.json.id}/password`, { password: "qr secret" }, acme());
    expect(done.json.state).toBe("done");
    expectSessionSaved(u, done.json);
  });

  test("the QR code is redrawn as Telegram rotates the token; an old one can no longer be scanned", async () => {
    const u = newUser();
    w.tg.logins.loginTokenPeriodMs = 2000;
    try {
      const started = await w.app.call("POST", "/login", body(u, "qr"), acme());
      const first = started.json.qr_link as string;
      const deadline = Date.now() + 10_000;
      let next = first;
      while (next === first && Date.now() < deadline) {
        await Bun.sleep(250);
        next = (await w.app.call("GET", `/login/${started.json.id}`, undefined, acme())).json.qr_link;
      }
      expect(next).not.toBe(first);
      expect(() => w.tg.driver.acceptLoginToken(u, first)).toThrow("AUTH_TOKEN_EXPIRED");
      const del = await w.app.call("DELETE", `/login/${started.json.id}`, undefined, acme());
      expect(del.json.state).toBe("cancelled");
    } finally {
      w.tg.logins.loginTokenPeriodMs = 30_000;
    }
  });
});

describe("a number the client has already", () => {
  test("logging it in again replaces its session and restarts it (as PUT /client would)", async () => {
    const u = newUser();
    const first = await w.app.call("POST", "/login", body(u, "code"), acme());
    await w.app.call("POST", `/login/${first.json.id}/code`, { code: await w.tg.driver.waitForLoginCode(u) }, acme());
    const before = readFileSync(join(w.dataDir, "sessions", `acme/${u.phone}.session`), "utf8");
    const since = Date.now();
    const again = await w.app.call("POST", "/login", body(u, "code"), acme());
    expect(again.status).toBe(201);
    const done = await w.app.call("POST", `/login/${again.json.id}/code`, { code: await w.tg.driver.waitForLoginCode(u, 5000, since) }, acme());
    expect(done.json).toMatchObject({ state: "done", number_state: { state: "online", telegram_user_id: String(u.id) } });
    expect(readFileSync(join(w.dataDir, "sessions", `acme/${u.phone}.session`), "utf8")).not.toBe(before);
    expect(w.tg.metrics().duplicateEvents).toBe(0);
  });
});

describe("Telegram's refusals, readable", () => {
  test("PHONE_NUMBER_INVALID", async () => {
    const r = await w.app.call("POST", "/login", body("0123456789", "code"), acme());
    expect(r.status).toBe(422);
    expect(r.json.error).toContain("Telegram does not accept this phone number");
  });

  test("PHONE_NUMBER_BANNED", async () => {
    const u = newUser();
    w.tg.banUser(u.id);
    const r = await w.app.call("POST", "/login", body(u, "code"), acme());
    expect(r.status).toBe(422);
    expect(r.json.error).toBe("Telegram has banned this phone number: it cannot log in");
  });

  test("PHONE_CODE_EXPIRED ends the login; GET shows failed with the reason", async () => {
    const u = newUser();
    w.tg.logins.loginCodeTtlMs = 300;
    try {
      const started = await w.app.call("POST", "/login", body(u, "code"), acme());
      const code = await w.tg.driver.waitForLoginCode(u);
      await Bun.sleep(600);
      const r = await w.app.call("POST", `/login/${started.json.id}/code`, { code }, acme());
      expect(r.status).toBe(422);
      expect(r.json.error).toContain("the code has expired");
      expect((await w.app.call("GET", `/login/${started.json.id}`, undefined, acme())).json).toMatchObject({ state: "failed", error_code: "PHONE_CODE_EXPIRED" });
      const again = await w.app.call("POST", `/login/${started.json.id}/code`, { code }, acme());
      expect(again.status).toBe(409);
    } finally {
      w.tg.logins.loginCodeTtlMs = 300_000;
    }
  });

  test("FLOOD_WAIT answers 429 saying how long to wait", async () => {
    const u = newUser();
    w.tg.faults.floodWait("auth.SendCode", 77);
    const r = await w.app.call("POST", "/login", body(u, "code"), acme());
    expect(r.status).toBe(429);
    expect(r.json.error).toContain("wait 77 seconds");
    w.tg.faults.clear();
  });

  test("UPDATE_APP_TO_LOGIN says the library is too old for new logins and running numbers are not affected", async () => {
    const u = newUser();
    w.tg.logins.minLoginLayer = 100_000;
    try {
      for (const method of ["code", "qr"] as const) {
        const r = await w.app.call("POST", "/login", body(u, method), acme());
        expect(r.status).toBe(422);
        expect(r.json.error).toContain("too old");
        expect(r.json.error).toContain("Numbers already running are not affected");
      }
    } finally {
      w.tg.logins.minLoginLayer = 0;
    }
  });
});

describe("tokens and input", () => {
  test("another client's token sees another client's login as unknown; names, methods and codes are checked", async () => {
    const u = newUser();
    const other = newUser();
    // A second client, made the ordinary way.
    const made = await w.app.call("POST", "/client", w.startBody(other, { name: "globex" }));
    expect(made.status).toBe(201);
    const globex = made.json.token as string;
    const started = await w.app.call("POST", "/login", body(u, "code"), acme());
    const id = started.json.id as string;
    expect((await w.app.call("GET", `/login/${id}`, undefined, globex)).status).toBe(404);
    expect((await w.app.call("POST", `/login/${id}/code`, { code: "12345" }, globex)).status).toBe(404);
    expect((await w.app.call("DELETE", `/login/${id}`, undefined, globex)).status).toBe(404);
    expect((await w.app.call("POST", "/login", body(newUser(), "code", "acme"), globex)).json).toMatchObject({ field: "name" });
    // acme's number is not globex's to log in.
    expect((await w.app.call("POST", "/login", body(other, "code", "acme"), acmeToken)).status).toBe(404);
    const bad = await w.app.call("POST", "/login", { ...body(newUser(), "code"), method: "sms" }, acme());
    expect(bad.status).toBe(400);
    expect(bad.json.error).toContain("method: must be qr or code");
    const badCode = await w.app.call("POST", `/login/${id}/code`, { code: "abc" }, acme());
    expect(badCode.status).toBe(400);
    expect(badCode.json.field).toBe("code");
    expect((await w.app.call("POST", "/login", body(u, "code"), acme())).status).toBe(409); // one login per number at a time
    expect((await w.app.call("GET", `/login/${id}`, undefined, null)).status).toBe(401);
    expect((await w.app.call("DELETE", `/login/${id}`, undefined, acme())).json.state).toBe("cancelled");
  });
});

test("Swagger documents the login resource", async () => {
  const r = await w.app.call("GET", "/docs/json", undefined, null);
  expect(Object.keys(r.json.paths)).toEqual(expect.arrayContaining(["/login", "/login/{id}", "/login/{id}/code", "/login/{id}/password", "/console"]));
  const post = r.json.paths["/login"].post;
  expect(post.requestBody.content["application/json"].schema.properties.method.enum).toEqual(["qr", "code"]);
  expect(post.responses["201"].content["application/json"].schema.properties.state.enum).toContain("waiting_password");
});

test("a running number started from a session file declares the same device (TELEGRAM_DEVICE_MODEL, TELEGRAM_APP_VERSION)", async () => {
  const u = newUser();
  expect(w.tg.driver.authorizations(u).some((a) => a.deviceModel === DEVICE)).toBe(false);
  const r = await w.app.call("POST", "/client", w.startBody(u, { name: "initech" }));
  expect(r.json.state).toBe("online");
  expect(w.tg.driver.authorizations(u).some((a) => a.deviceModel === DEVICE && a.appVersion === "planfix-telegram 1.2.3")).toBe(true);
});

// Logging in against the loopback Telegram with real GramJS clients over real TCP: a real key exchange
// (the server's test RSA key trusted through src/telegram/server-keys.ts, as TELEGRAM_SERVER_KEYS does in
// the appliance), then phone code, code + 2FA (real SRP), QR, QR + 2FA, and the errors Telegram gives.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { Api, type TelegramClient } from "telegram";
import { FloodWaitError, RPCError } from "telegram/errors";
import { Raw } from "telegram/events/Raw";
import { readBigIntFromBuffer } from "telegram/Helpers";
import { computeCheck } from "telegram/Password";
import { LAYER } from "telegram/tl/AllTLObjects";
import { parseServerKeys, trustServerKeys } from "../src/telegram/server-keys.ts";
import { ConnectClientError, connectClient, makeServerRsaKey, SERVICE_USER_ID, stopClient, TelegramServer, waitFor, type WorldUser } from "./support/telegram/index.ts";

const API = { apiId: 1, apiHash: "loopback" };
const DEVICE = { deviceModel: "Planfix bridge (test)", systemVersion: "Linux 6.1", appVersion: "planfix-telegram 9.9" };

let server: TelegramServer;
const clients: TelegramClient[] = [];
let n = 0;

beforeAll(async () => {
  server = await TelegramServer.start({ loginTokenPeriodMs: 30_000 });
  // What TELEGRAM_SERVER_KEYS=<pem> does in the appliance.
  trustServerKeys(parseServerKeys(server.rsaPublicKeyPem));
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map(stopClient));
  server.faults.clear();
  server.logins.minLoginLayer = 0;
});

afterAll(async () => {
  await server.stop();
  expect(server.internalErrors).toEqual([]);
  expect(server.metrics().duplicateEvents).toBe(0);
});

/** A user with one signed-in device (their phone) and a unique number. */
function newUser(): WorldUser {
  n++;
  return server.addUser({ firstName: `Login${n}`, username: `login_user_${n}`, phone: `+44 7700 9${String(n).padStart(5, "0")}` });
}

async function track(c: Promise<TelegramClient>): Promise<TelegramClient> {
  const client = await c;
  clients.push(client);
  return client;
}

/** A client with an EMPTY session: connecting does a full key exchange with the loopback server. */
const fresh = () => track(connectClient(server, "", DEVICE));
/** The user's existing device (a pre-shared key), e.g. to see the login code arrive. */
const device = (u: WorldUser) => track(connectClient(server, u));

async function rpcError(p: Promise<unknown>): Promise<RPCError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RPCError) return e;
    throw e;
  }
  throw new Error("expected an RPC error");
}

const sendCode = (c: TelegramClient, phone: string) =>
  c.invoke(new Api.auth.SendCode({ phoneNumber: phone, ...API, settings: new Api.CodeSettings({}) })) as Promise<Api.auth.SentCode>;

describe("key exchange", () => {
  test("an empty session gets a new auth key from the server (DH, trusted test RSA key) and can call help.getConfig", async () => {
    const keysBefore = server.world.sessionsByKeyId.size;
    const c = await fresh();
    const config = await c.invoke(new Api.help.GetConfig());
    expect(config.thisDc).toBe(2);
    expect(server.world.sessionsByKeyId.size).toBe(keysBefore + 1);
    // The key is real but signed in to nobody: GramJS's checkAuthorization says so.
    expect(await c.checkAuthorization()).toBe(false);
    expect((await rpcError(c.getMe())).errorMessage).toBe("AUTH_KEY_UNREGISTERED");
  });

  test("a server whose RSA key is not trusted is refused by the client, cleanly", async () => {
    const untrusted = await TelegramServer.start({ rsaKey: makeServerRsaKey() });
    try {
      const keysBefore = untrusted.world.sessionsByKeyId.size;
      const started = Date.now();
      const err = await connectClient(untrusted, "", { timeoutMs: 10_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectClientError);
      expect((err as ConnectClientError).reason).toBe("refused"); // not a hang
      expect(Date.now() - started).toBeLessThan(8000);
      expect(untrusted.world.sessionsByKeyId.size).toBe(keysBefore);
      expect(untrusted.internalErrors).toEqual([]);
    } finally {
      await untrusted.stop();
    }
  });

  test("pre-shared keys keep working alongside", async () => {
    const u = newUser();
    const c = await device(u);
    const me = await c.getMe();
    expect(Number(me.id)).toBe(u.id);
  });
});

describe("phone code", () => {
  test("client.start: the code arrives from 777000 on the user's other device; the new session works and can be saved and reused", async () => {
    const u = newUser();
    const phone = await device(u);
    const fromTelegram: string[] = [];
    phone.addEventHandler((up: unknown) => {
      if (up instanceof Api.UpdateShortMessage && Number(up.userId) === SERVICE_USER_ID) fromTelegram.push(up.message);
    }, new Raw({}));

    const c = await fresh();
    await c.start({
      phoneNumber: `+${u.phone}`,
      phoneCode: async () => {
        const text = await waitFor(() => fromTelegram[0], 5000, "the code message on the other device");
        return /(\d{5})/.exec(text)![1]!;
      },
      onError: async (e) => {
        throw e;
      },
    });
    const me = await c.getMe();
    expect(Number(me.id)).toBe(u.id);
    expect(me.self).toBe(true);
    const fromService = server.driver.messages(u, SERVICE_USER_ID).map((m) => m.text);
    expect(fromService[0]).toContain(server.driver.lastLoginCode(u)!);

    // A normal call: the new session sends a message Bob receives.
    const bob = server.builtins!.bob;
    await c.sendMessage(await c.getInputEntity(bob.username!), { message: "sent from the new session" });
    expect(server.driver.lastMessage(bob, u)?.text).toBe("sent from the new session");
    // …and receives: Bob answers, the new session gets it pushed; the phone was told of the new login.
    const incoming: string[] = [];
    c.addEventHandler((up: unknown) => {
      if (up instanceof Api.UpdateShortMessage) incoming.push(up.message);
    }, new Raw({}));
    server.driver.sendText(bob, u, "hello new device");
    await waitFor(() => incoming.includes("hello new device"), 5000, "the message on the new session");
    await waitFor(() => fromTelegram.some((t) => t.startsWith("New login") && t.includes(DEVICE.deviceModel)), 5000, "the new-login notice");

    // The session is saved and works again in a new client.
    const saved = c.session.save() as unknown as string;
    expect(saved.length).toBeGreaterThan(100);
    await stopClient(c);
    const again = await track(connectClient(server, saved));
    expect(Number((await again.getMe()).id)).toBe(u.id);
    const full = await again.invoke(new Api.users.GetFullUser({ id: new Api.InputUserSelf() }));
    expect(Number(full.fullUser.id)).toBe(u.id);
  });

  test("the new authorization shows in the user's session list with the device name the client declared", async () => {
    const u = newUser();
    const phone = await device(u);
    const c = await fresh();
    await c.start({
      phoneNumber: u.phone,
      phoneCode: () => server.driver.waitForLoginCode(u),
      onError: async (e) => {
        throw e;
      },
    });

    const seenByPhone = await phone.invoke(new Api.account.GetAuthorizations());
    const added = seenByPhone.authorizations.find((a) => a.deviceModel === DEVICE.deviceModel);
    expect(added).toBeDefined();
    expect(added!.appVersion).toBe(DEVICE.appVersion);
    expect(added!.systemVersion).toBe(DEVICE.systemVersion);
    expect(added!.current).toBeFalsy();
    expect(seenByPhone.authorizations).toHaveLength(2);

    const own = await c.invoke(new Api.account.GetAuthorizations());
    expect(own.authorizations.find((a) => a.current)?.deviceModel).toBe(DEVICE.deviceModel);
    expect(server.driver.authorizations(u).map((a) => a.deviceModel)).toContain(DEVICE.deviceModel);
  });

  test("code + 2FA: SESSION_PASSWORD_NEEDED, then the SRP proof of the right password signs in; the hint is shown", async () => {
    const u = newUser();
    server.driver.setPassword(u, "correct horse battery", "the horse");
    const c = await fresh();
    const hints: (string | undefined)[] = [];
    await c.start({
      phoneNumber: u.phone,
      phoneCode: () => server.driver.waitForLoginCode(u),
      password: async (hint) => {
        hints.push(hint);
        return "correct horse battery";
      },
      onError: async (e) => {
        throw e;
      },
    });
    expect(hints).toEqual(["the horse"]);
    expect(Number((await c.getMe()).id)).toBe(u.id);
  });

  test("a wrong 2FA password fails with PASSWORD_HASH_INVALID and signs nothing in; the right one then works", async () => {
    const u = newUser();
    server.driver.setPassword(u, "right one");
    const c = await fresh();
    const sent = await sendCode(c, u.phone);
    const code = server.driver.lastLoginCode(u)!;
    const needed = await rpcError(c.invoke(new Api.auth.SignIn({ phoneNumber: u.phone, phoneCodeHash: sent.phoneCodeHash, phoneCode: code })));
    expect(needed.errorMessage).toBe("SESSION_PASSWORD_NEEDED");
    expect(needed.code).toBe(401);

    const wrong = await computeCheck(await c.invoke(new Api.account.GetPassword()), "wrong one");
    expect((await rpcError(c.invoke(new Api.auth.CheckPassword({ password: wrong })))).errorMessage).toBe("PASSWORD_HASH_INVALID");
    expect(await c.checkAuthorization()).toBe(false);

    const right = await computeCheck(await c.invoke(new Api.account.GetPassword()), "right one");
    const auth = (await c.invoke(new Api.auth.CheckPassword({ password: right }))) as Api.auth.Authorization;
    expect(Number(auth.user.id)).toBe(u.id);
    expect(await c.checkAuthorization()).toBe(true);
  });

  test("auth.resendCode sends a new code (by SMS) and the old one stops working; auth.cancelCode ends the login", async () => {
    const u = newUser();
    const c = await fresh();
    const first = await sendCode(c, u.phone);
    expect(first.type).toBeInstanceOf(Api.auth.SentCodeTypeApp);
    const oldCode = server.driver.lastLoginCode(u)!;
    const resent = (await c.invoke(new Api.auth.ResendCode({ phoneNumber: u.phone, phoneCodeHash: first.phoneCodeHash }))) as Api.auth.SentCode;
    expect(resent.type).toBeInstanceOf(Api.auth.SentCodeTypeSms);
    const newCode = server.driver.lastLoginCode(u)!;
    // The first code came as a message from 777000; the "SMS" did not.
    expect(server.driver.messages(u, SERVICE_USER_ID).map((m) => m.text.includes(newCode) && newCode !== oldCode)).toEqual([false]);
    if (newCode !== oldCode) {
      const err = await rpcError(c.invoke(new Api.auth.SignIn({ phoneNumber: u.phone, phoneCodeHash: resent.phoneCodeHash, phoneCode: oldCode })));
      expect(err.errorMessage).toBe("PHONE_CODE_INVALID");
    }
    await c.invoke(new Api.auth.CancelCode({ phoneNumber: u.phone, phoneCodeHash: resent.phoneCodeHash }));
    const cancelled = await rpcError(c.invoke(new Api.auth.SignIn({ phoneNumber: u.phone, phoneCodeHash: resent.phoneCodeHash, phoneCode: newCode })));
    expect(cancelled.errorMessage).toBe("PHONE_CODE_EXPIRED");
    expect(await c.checkAuthorization()).toBe(false);
  });
});

describe("QR code", () => {
  test("signInUserWithQrCode: the user accepts the token on their phone, updateLoginToken arrives, the login completes", async () => {
    const u = newUser();
    const c = await fresh();
    const tokens: Buffer[] = [];
    const user = await c.signInUserWithQrCode(API, {
      qrCode: async ({ token }) => {
        tokens.push(token);
        // The user scans the code a moment later on their phone.
        setTimeout(() => server.driver.acceptLoginToken(u, `tg://login?token=${token.toString("base64url")}`), 100);
      },
      onError: async (e) => {
        throw e;
      },
    });
    expect(tokens).toHaveLength(1);
    expect(Number((user as Api.User).id)).toBe(u.id);
    expect(Number((await c.getMe()).id)).toBe(u.id);
    expect(server.driver.authorizations(u).some((a) => a.deviceModel === DEVICE.deviceModel)).toBe(true);
  });

  test("QR + 2FA: after acceptance SESSION_PASSWORD_NEEDED, then the password completes it", async () => {
    const u = newUser();
    server.driver.setPassword(u, "qr secret", "q hint");
    const c = await fresh();
    const hints: (string | undefined)[] = [];
    const user = await c.signInUserWithQrCode(API, {
      qrCode: async ({ token }) => {
        setTimeout(() => server.driver.acceptLoginToken(u, token), 100);
      },
      password: async (hint) => {
        hints.push(hint);
        return "qr secret";
      },
      onError: async (e) => {
        throw e;
      },
    });
    expect(hints).toEqual(["q hint"]);
    expect(Number((user as Api.User).id)).toBe(u.id);
  });

  test("the token rotates after the server's period; an expired token cannot be accepted; import works after acceptance", async () => {
    const u = newUser();
    const c = await fresh();
    server.logins.loginTokenPeriodMs = 2000;
    try {
      const first = (await c.invoke(new Api.auth.ExportLoginToken({ ...API, exceptIds: [] }))) as Api.auth.LoginToken;
      const same = (await c.invoke(new Api.auth.ExportLoginToken({ ...API, exceptIds: [] }))) as Api.auth.LoginToken;
      expect(same.token.equals(first.token)).toBe(true);
      await Bun.sleep(2200);
      const next = (await c.invoke(new Api.auth.ExportLoginToken({ ...API, exceptIds: [] }))) as Api.auth.LoginToken;
      expect(next.token.equals(first.token)).toBe(false);
      expect(() => server.driver.acceptLoginToken(u, first.token)).toThrow("AUTH_TOKEN_EXPIRED");
      expect(() => server.driver.acceptLoginToken(u, Buffer.from("never issued"))).toThrow("AUTH_TOKEN_INVALID");

      const pushed: Api.TypeUpdate[] = [];
      c.addEventHandler((up: Api.TypeUpdate) => void pushed.push(up), new Raw({}));
      server.logins.loginTokenPeriodMs = 30_000;
      const live = (await c.invoke(new Api.auth.ExportLoginToken({ ...API, exceptIds: [] }))) as Api.auth.LoginToken;
      server.driver.acceptLoginToken(u, live.token);
      await waitFor(() => pushed.some((x) => x instanceof Api.UpdateLoginToken), 5000, "updateLoginToken");
      expect(() => server.driver.acceptLoginToken(u, live.token)).toThrow("AUTH_TOKEN_ALREADY_ACCEPTED");
      const done = await c.invoke(new Api.auth.ImportLoginToken({ token: live.token }));
      expect(done).toBeInstanceOf(Api.auth.LoginTokenSuccess);
      expect(Number(((done as Api.auth.LoginTokenSuccess).authorization as Api.auth.Authorization).user.id)).toBe(u.id);
    } finally {
      server.logins.loginTokenPeriodMs = 30_000;
    }
  });

  test("a signed-in device can accept a token itself (auth.acceptLoginToken) and sees the new device", async () => {
    const u = newUser();
    const phone = await device(u);
    const c = await fresh();
    const t = (await c.invoke(new Api.auth.ExportLoginToken({ ...API, exceptIds: [] }))) as Api.auth.LoginToken;
    const accepted = await phone.invoke(new Api.auth.AcceptLoginToken({ token: t.token }));
    expect(accepted.deviceModel).toBe(DEVICE.deviceModel);
    const done = await c.invoke(new Api.auth.ExportLoginToken({ ...API, exceptIds: [] }));
    expect(done).toBeInstanceOf(Api.auth.LoginTokenSuccess);
  });
});

describe("errors as Telegram gives them", () => {
  test("PHONE_NUMBER_INVALID for a malformed number", async () => {
    const c = await fresh();
    for (const bad of ["12", "+1 (555) abc", "0000000"]) {
      const err = await rpcError(sendCode(c, bad));
      expect(err.code).toBe(400);
      expect(err.errorMessage).toBe("PHONE_NUMBER_INVALID");
    }
  });

  test("PHONE_NUMBER_BANNED for a banned account", async () => {
    const u = newUser();
    server.banUser(u.id);
    const c = await fresh();
    expect((await rpcError(sendCode(c, u.phone))).errorMessage).toBe("PHONE_NUMBER_BANNED");
  });

  test("PHONE_CODE_INVALID for a wrong code, PHONE_CODE_EXPIRED once the code's time is up", async () => {
    const u = newUser();
    const c = await fresh();
    const sent = await sendCode(c, u.phone);
    const code = server.driver.lastLoginCode(u)!;
    const wrong = code === "00000" ? "11111" : "00000";
    const invalid = await rpcError(c.invoke(new Api.auth.SignIn({ phoneNumber: u.phone, phoneCodeHash: sent.phoneCodeHash, phoneCode: wrong })));
    expect(invalid.errorMessage).toBe("PHONE_CODE_INVALID");
    server.logins.loginCodeTtlMs = 300;
    try {
      const short = await sendCode(c, u.phone);
      const shortCode = server.driver.lastLoginCode(u)!;
      await Bun.sleep(500);
      const expired = await rpcError(c.invoke(new Api.auth.SignIn({ phoneNumber: u.phone, phoneCodeHash: short.phoneCodeHash, phoneCode: shortCode })));
      expect(expired.errorMessage).toBe("PHONE_CODE_EXPIRED");
    } finally {
      server.logins.loginCodeTtlMs = 300_000;
    }
  });

  test("a code hash is bound to the key that asked for it", async () => {
    const u = newUser();
    const a = await fresh();
    const b = await fresh();
    const sent = await sendCode(a, u.phone);
    const err = await rpcError(b.invoke(new Api.auth.SignIn({ phoneNumber: u.phone, phoneCodeHash: sent.phoneCodeHash, phoneCode: server.driver.lastLoginCode(u)! })));
    expect(err.errorMessage).toBe("PHONE_CODE_EXPIRED");
  });

  test("FLOOD_WAIT_n on auth.sendCode reaches GramJS as FloodWaitError with the seconds", async () => {
    const u = newUser();
    server.faults.floodWait("auth.SendCode", 42);
    const c = await fresh();
    const err = await sendCode(c, u.phone).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FloodWaitError);
    expect((err as FloodWaitError).seconds).toBe(42);
    // Only that call: the next one goes through.
    expect((await sendCode(c, u.phone)).phoneCodeHash).toBeTruthy();
  });

  test("UPDATE_APP_TO_LOGIN for a client layer below the server's minimum; signed-in sessions are not affected", async () => {
    const u = newUser();
    const running = await device(u);
    server.logins.minLoginLayer = LAYER + 1;
    const c = await fresh();
    const viaCode = await rpcError(sendCode(c, u.phone));
    expect(viaCode.code).toBe(406);
    expect(viaCode.errorMessage).toBe("UPDATE_APP_TO_LOGIN");
    expect((await rpcError(c.invoke(new Api.auth.ExportLoginToken({ ...API, exceptIds: [] })))).errorMessage).toBe("UPDATE_APP_TO_LOGIN");
    expect(Number((await running.getMe()).id)).toBe(u.id);
    server.logins.minLoginLayer = LAYER;
    expect((await sendCode(c, u.phone)).phoneCodeHash).toBeTruthy();
  });

  test("an unregistered but valid number gets an SMS code and then auth.authorizationSignUpRequired (no sign-up here)", async () => {
    const c = await fresh();
    const sent = await sendCode(c, "+1 202 555 0147");
    expect(sent.type).toBeInstanceOf(Api.auth.SentCodeTypeSms);
    const code = server.driver.lastLoginCode("+12025550147")!;
    const res = await c.invoke(new Api.auth.SignIn({ phoneNumber: "+12025550147", phoneCodeHash: sent.phoneCodeHash, phoneCode: code }));
    expect(res).toBeInstanceOf(Api.auth.AuthorizationSignUpRequired);
  });
});

describe("standalone server (CLI + control API)", () => {
  test("prints its RSA key; login codes, 2FA, QR acceptance, session lists and login settings over HTTP", async () => {
    const proc = Bun.spawn([process.execPath, "tests/support/telegram/cli.ts", "--control-port", "0", "--login-token-period-ms", "20000", "--min-login-layer", "1"], {
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const reader = proc.stdout.getReader();
      let text = "";
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      reader.releaseLock();
      const info = JSON.parse(text) as { host: string; port: number; controlPort: number; serverKeyPem: string };
      expect(info.serverKeyPem).toContain("BEGIN RSA PUBLIC KEY");
      trustServerKeys(parseServerKeys(info.serverKeyPem));
      const ctl = `http://127.0.0.1:${info.controlPort}`;
      const call = async (method: string, path: string, body?: unknown) => {
        const r = await fetch(`${ctl}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
        return { status: r.status, json: (await r.json()) as Record<string, unknown> };
      };
      expect((await call("POST", "/login-settings", {})).json).toEqual({ loginTokenPeriodMs: 20000, loginCodeTtlMs: 300000, minLoginLayer: 1 });
      const ann = (await call("POST", "/users", { firstName: "Ann", username: "ann_cli", phone: "+44 7700 900111" })).json as { id: number; phone: string };
      expect((await call("POST", "/password", { user: "ann_cli", password: "cli secret", hint: "cli" })).status).toBe(200);

      const c = await track(connectClient({ host: info.host, port: info.port }, "", DEVICE));
      await c.start({
        phoneNumber: ann.phone,
        phoneCode: async () => {
          const r = await call("GET", `/login-code?user=${ann.id}`);
          expect(r.json.via).toBe("app");
          return r.json.code as string;
        },
        password: async (hint) => {
          expect(hint).toBe("cli");
          return "cli secret";
        },
        onError: async (e) => {
          throw e;
        },
      });
      expect(Number((await c.getMe()).id)).toBe(ann.id);
      const list = (await fetch(`${ctl}/authorizations?user=ann_cli`).then((r) => r.json())) as { deviceModel: string }[];
      expect(list.map((a) => a.deviceModel)).toContain(DEVICE.deviceModel);

      // QR: a second device of Ann's (no password now) accepted through the control API.
      expect((await call("POST", "/clear-password", { user: "ann_cli" })).status).toBe(200);
      const q = await track(connectClient({ host: info.host, port: info.port }, "", DEVICE));
      const t = (await q.invoke(new Api.auth.ExportLoginToken({ ...API, exceptIds: [] }))) as Api.auth.LoginToken;
      expect(t.expires * 1000 - Date.now()).toBeGreaterThan(15_000); // the CLI's 20 s period
      const bad = await call("POST", "/accept-login-token", { user: "ann_cli", token: "AAAA" });
      expect(bad.status).toBe(400);
      expect(bad.json.error).toContain("AUTH_TOKEN_INVALID");
      const ok = await call("POST", "/accept-login-token", { user: "ann_cli", token: `tg://login?token=${t.token.toString("base64url")}` });
      expect(ok.json.deviceModel).toBe(DEVICE.deviceModel);
      expect(await q.invoke(new Api.auth.ExportLoginToken({ ...API, exceptIds: [] }))).toBeInstanceOf(Api.auth.LoginTokenSuccess);

      // Login faults: an "outdated app", then a flood wait.
      await call("POST", "/login-settings", { minLoginLayer: LAYER + 1 });
      const late = await track(connectClient({ host: info.host, port: info.port }, "", DEVICE));
      expect((await rpcError(sendCode(late, ann.phone))).errorMessage).toBe("UPDATE_APP_TO_LOGIN");
      await call("POST", "/login-settings", { minLoginLayer: 0 });
      await call("POST", "/flood-wait", { method: "auth.SendCode", seconds: 7 });
      expect(((await sendCode(late, ann.phone).catch((e: unknown) => e)) as FloodWaitError).seconds).toBe(7);
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  });
});

describe("key exchange on the wire", () => {
  /** Sends one unencrypted MTProto message over a raw TCP connection; resolves with what came back. */
  async function plainExchange(port: number, body: Buffer): Promise<{ raw: Buffer; closed: boolean }> {
    const { connect } = await import("node:net");
    const { FullFrameWriter } = await import("./support/telegram/transport.ts");
    return new Promise((resolve) => {
      const sock = connect(port, "127.0.0.1");
      const chunks: Buffer[] = [];
      const head = Buffer.alloc(20);
      head.writeBigInt64LE(BigInt(Math.floor(Date.now() / 1000)) << 32n, 8);
      head.writeInt32LE(body.length, 16);
      sock.on("connect", () => sock.write(new FullFrameWriter().encode(Buffer.concat([head, body]))));
      let settled = false;
      const done = (closed: boolean) => {
        if (settled) return;
        settled = true;
        sock.destroy();
        resolve({ raw: Buffer.concat(chunks), closed });
      };
      sock.on("data", (c: Buffer) => {
        chunks.push(c);
        // A whole ordinary frame (positive length) is an answer; a transport error is followed by a close.
        const all = Buffer.concat(chunks);
        if (all.length >= 4 && all.readInt32LE(0) > 0 && all.length >= all.readInt32LE(0)) done(false);
      });
      sock.on("close", () => done(true));
      setTimeout(() => done(false), 3000);
    });
  }

  test("garbage, a forged req_DH_params or key exchange switched off: transport error -404 and the connection closes", async () => {
    const minus404 = Buffer.alloc(12, 0);
    for (let i = 0; i < 3; i++) minus404.writeInt32LE(-404, i * 4);
    const garbage = await plainExchange(server.port, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(garbage.closed).toBe(true);
    expect(garbage.raw.equals(minus404)).toBe(true);

    const forged = new Api.ReqDHParams({
      nonce: readBigInt(Buffer.alloc(16, 1)),
      serverNonce: readBigInt(Buffer.alloc(16, 2)),
      p: Buffer.from([1]),
      q: Buffer.from([2]),
      publicKeyFingerprint: readBigInt(Buffer.alloc(8, 3)),
      encryptedData: Buffer.alloc(256, 0xff),
    }).getBytes();
    const dh = await plainExchange(server.port, forged);
    expect(dh.closed).toBe(true);
    expect(dh.raw.equals(minus404)).toBe(true);

    const off = await TelegramServer.start({ rsaKey: false, builtins: false });
    try {
      const pq = new Api.ReqPqMulti({ nonce: readBigInt(Buffer.alloc(16, 5)) }).getBytes();
      const refused = await plainExchange(off.port, pq);
      expect(refused.closed).toBe(true);
      expect(refused.raw.equals(minus404)).toBe(true);
      // …while the same request to a server with a key gets resPQ.
      const answered = await plainExchange(server.port, pq);
      expect(answered.closed).toBe(false);
      expect(answered.raw.length).toBeGreaterThan(40);
    } finally {
      await off.stop();
    }
    expect(server.internalErrors).toEqual([]);
  });
});

function readBigInt(b: Buffer) {
  return readBigIntFromBuffer(b, true, true);
}

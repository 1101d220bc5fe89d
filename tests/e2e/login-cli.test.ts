// `planfix-telegram login` of the compiled binary under a pseudo-terminal (util-linux `script`): the QR
// code drawn in the terminal, the code and the 2FA password typed without echo, the session file written
// into the client's folder — against the loopback Telegram with a real key exchange.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import type { WorldUser } from "../support/telegram/index.ts";
import { Socks5Proxy } from "../support/proxy/socks5.ts";
import { BINARY, world } from "./harness.ts";

type World = Awaited<ReturnType<typeof world>>;
let w: World;
let n = 0;
const DEVICE = "planfix-telegram CLI test";

beforeAll(async () => {
  w = await world();
});

afterAll(async () => {
  await w.close();
});

function newUser(): WorldUser {
  n++;
  return w.tg.addUser({ firstName: `Cli${n}`, phone: `38093${String(1000000 + n)}` });
}

/** The CLI in a pseudo-terminal: what it printed so far, typing into it, its exit code. */
function cli(args: string[], extraEnv: Record<string, string> = {}) {
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    TERM: "xterm",
    DATA_DIR: w.dataDir,
    TELEGRAM_API_ID: "12345",
    TELEGRAM_API_HASH: "0123456789abcdef0123456789abcdef",
    TELEGRAM_ENDPOINT: `127.0.0.1:${w.tg.port}`,
    TELEGRAM_SERVER_KEYS: w.tg.rsaPublicKeyPem!.replaceAll("\n", "\\n"),
    TELEGRAM_DEVICE_MODEL: DEVICE,
    ...extraEnv,
  };
  const command = [BINARY, "login", ...args].map((a) => `'${a}'`).join(" ");
  const proc = Bun.spawn(["script", "-qfec", command, "/dev/null"], { env, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  let output = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) output += decoder.decode(chunk, { stream: true });
  })();
  return {
    get output() {
      return output;
    },
    async waitFor(text: string | RegExp, ms = 15_000): Promise<string> {
      const deadline = Date.now() + ms;
      for (;;) {
        const m = typeof text === "string" ? (output.includes(text) ? text : null) : (text.exec(output)?.[0] ?? null);
        if (m) return m;
        if (Date.now() > deadline) throw new Error(`never printed ${text}; output:\n${output}`);
        await Bun.sleep(50);
      }
    },
    type(text: string) {
      proc.stdin.write(`${text}\r`);
      proc.stdin.flush();
    },
    async exit(ms = 20_000): Promise<number | "timeout"> {
      const r = await Promise.race([proc.exited, Bun.sleep(ms).then(() => "timeout" as const)]);
      if (r === "timeout") proc.kill("SIGKILL");
      proc.stdin.end();
      return r;
    },
  };
}

function expectSessionFile(u: WorldUser, output: string): string {
  const rel = `acme/${u.phone}.session`;
  const file = join(w.dataDir, "sessions", rel);
  expect(existsSync(file)).toBe(true);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(output).toContain("Logged in");
  expect(output).toContain(`"path_session":"${rel}"`);
  expect(output).toContain("curl -X POST");
  expect(w.tg.driver.authorizations(u).some((a) => a.deviceModel === DEVICE)).toBe(true);
  return rel;
}

describe("planfix-telegram login", () => {
  test("QR (default): drawn in the terminal; scanned on the phone; the session file starts the number in the running appliance", async () => {
    const u = newUser();
    const c = cli(["--client", "acme", "--number", `+${u.phone}`]);
    const link = await c.waitFor(/tg:\/\/login\?token=[A-Za-z0-9_-]+/);
    expect(c.output).toMatch(/[█▀▄]/); // the QR code itself, in block characters
    w.tg.driver.acceptLoginToken(u, link);
    expect(await c.exit()).toBe(0);
    const rel = expectSessionFile(u, c.output);
    // What it says to do next works: the appliance starts the number from that file.
    await w.app.start();
    const r = await w.app.call("POST", "/client", { name: "acme", number: u.phone, url_planfix: w.planfix.url, token_planfix: "planfix-token", path_session: rel });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ state: "online", telegram_user_id: String(u.id) });
  });

  test("QR + 2FA: the password is asked for with its hint and not echoed", async () => {
    const u = newUser();
    w.tg.driver.setPassword(u, "pty secret", "pty hint");
    const c = cli(["--client", "acme", "--number", u.phone]);
    w.tg.driver.acceptLoginToken(u, await c.waitFor(/tg:\/\/login\?token=[A-Za-z0-9_-]+/));
    await c.waitFor("password (hint: pty hint):");
    c.type("pty wrong");
    await c.waitFor("password is wrong");
    c.type("pty secret");
    expect(await c.exit()).toBe(0);
    expectSessionFile(u, c.output);
    expect(c.output).not.toContain("pty secret");
    expect(c.output).not.toContain("pty wrong");
  });

  test("--code: a wrong code is refused and asked again; the right one (not echoed) logs in", async () => {
    const u = newUser();
    const c = cli(["--client", "acme", "--number", u.phone, "--code"]);
    await c.waitFor("Code (sent to the account's Telegram app):");
    const code = await w.tg.driver.waitForLoginCode(u);
    const wrong = code === "11111" ? "22222" : "11111";
    c.type(wrong);
    await c.waitFor("the code is wrong");
    c.type(code);
    expect(await c.exit()).toBe(0);
    expectSessionFile(u, c.output);
    expect(c.output).not.toContain(code);
    expect(c.output).not.toContain(wrong);
  });

  test("--code + 2FA", async () => {
    const u = newUser();
    w.tg.driver.setPassword(u, "code secret");
    const c = cli(["--client", "acme", "--number", u.phone, "--code"]);
    await c.waitFor("Code (");
    c.type(await w.tg.driver.waitForLoginCode(u));
    await c.waitFor("Two-step verification password:");
    c.type("code secret");
    expect(await c.exit()).toBe(0);
    expectSessionFile(u, c.output);
    expect(c.output).not.toContain("code secret");
  });

  test("a refusal ends it with the readable reason (banned; too old a library) and no file", async () => {
    const u = newUser();
    w.tg.banUser(u.id);
    const banned = cli(["--client", "acme", "--number", u.phone, "--code"]);
    expect(await banned.exit()).toBe(1);
    expect(banned.output).toContain("Telegram has banned this phone number");
    w.tg.logins.minLoginLayer = 100_000;
    try {
      const old = cli(["--client", "acme", "--number", newUser().phone]);
      expect(await old.exit()).toBe(1);
      expect(old.output).toContain("too old");
    } finally {
      w.tg.logins.minLoginLayer = 0;
    }
    expect(existsSync(join(w.dataDir, "sessions", `acme/${u.phone}.session`))).toBe(false);
  });

  test("bad arguments are named", async () => {
    const c = cli(["--number", "12"]);
    expect(await c.exit()).toBe(2);
    expect(c.output).toContain("--client is missing");
    const d = cli(["--client", "acme", "--number", "12"]);
    expect(await d.exit()).toBe(2);
    expect(d.output).toContain("--number must be 5 to 15 digits");
  });

  test("TELEGRAM_PROXY: the login goes through it; with the proxy down it fails naming the proxy, never its password", async () => {
    const socks = await Socks5Proxy.start({ username: "cli", password: "cli-proxy-pw" });
    try {
      const u = newUser();
      const c = cli(["--client", "acme", "--number", u.phone, "--code"], { TELEGRAM_PROXY: socks.url });
      await c.waitFor("Code (");
      c.type(await w.tg.driver.waitForLoginCode(u));
      expect(await c.exit()).toBe(0);
      expectSessionFile(u, c.output);

      await socks.stop();
      const down = cli(["--client", "acme", "--number", newUser().phone, "--code"], { TELEGRAM_PROXY: socks.url });
      expect(await down.exit()).toBe(1);
      expect(down.output).toContain(`cannot reach Telegram: proxy socks5://127.0.0.1:${socks.port} unreachable: connection refused`);
      expect(c.output + down.output).not.toContain("cli-proxy-pw");
    } finally {
      await socks.stop();
    }
  });
});

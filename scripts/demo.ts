// `make demo`: the loopback Telegram and the fake Planfix (both in this process) and the compiled
// appliance (a child process) on 127.0.0.1, one client with two numbers online, and a printed page of
// what to try next. Ctrl-C (or SIGTERM, SIGHUP) stops all three and removes the temporary data directory.
//   bun scripts/demo.ts [--random-ports] [--keep-data]
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ApplianceProcess } from "../tests/support/appliance-process.ts";
import { BINARY, worldEnv } from "../tests/support/kit.ts";
import { startFakePlanfix, type FakePlanfix, type ReceivedCommand } from "../tests/support/planfix/server.ts";
import { serveControl } from "../tests/support/telegram/control.ts";
import { TelegramServer, tinyPng, type WorldUser } from "../tests/support/telegram/index.ts";

// Fixed defaults, so the printed commands stay the same from one run to the next; a busy one is
// replaced by a free one (and the page says so). The MTProto port must stay ≤ 32767 (GramJS sessions).
const DEFAULT_PORTS = { appliance: 18080, planfix: 18081, telegram: 18082, control: 18083 };
const PROVIDER_ID = "planfix-telegram";
const PLANFIX_TOKEN = "demo-planfix-key";

const HELP = `planfix-telegram demo: loopback Telegram + fake Planfix + the appliance, two numbers online.
  --random-ports   any free ports instead of ${Object.values(DEFAULT_PORTS).join(", ")}
  --keep-data      keep the temporary data directory after Ctrl-C
  --help`;

const { values: args } = parseArgs({
  options: { "random-ports": { type: "boolean", default: false }, "keep-data": { type: "boolean", default: false }, help: { type: "boolean", default: false } },
  strict: true,
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
if (!existsSync(BINARY)) {
  console.error(`demo: ${BINARY} is missing; run \`make demo\` (it builds first) or \`make build\`.`);
  process.exit(2);
}

const started = Date.now();
const busy: string[] = [];

/** Tries the fixed port first; on EADDRINUSE falls back to `fallback()` and notes it for the page. */
async function onPort<T>(what: string, port: number, bind: (port: number) => Promise<T>, fallback: () => Promise<T>): Promise<T> {
  if (args["random-ports"]) return fallback();
  try {
    return await bind(port);
  } catch {
    busy.push(`${port} (${what})`);
    return fallback();
  }
}

const portFree = (port: number) =>
  new Promise<number>((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(port, "127.0.0.1", () => {
      const got = (s.address() as { port: number }).port;
      s.close(() => res(got));
    });
  });

// --- the loopback Telegram: two account owners (the numbers) and two customers ----------------------
const tg = await onPort(
  "Telegram",
  DEFAULT_PORTS.telegram,
  (port) => TelegramServer.start({ port, builtins: false }),
  () => TelegramServer.start({ builtins: false }),
);
const anna = tg.addUser({ firstName: "Anna", lastName: "Sales", phone: "380955821319", username: "anna_demo" });
const oleh = tg.addUser({ firstName: "Oleh", lastName: "Support", phone: "380671110022", username: "oleh_demo" });
const ivan = tg.addUser({ firstName: "Ivan", lastName: "Petrenko", phone: "380501234567", username: "ivan_demo", photo: tinyPng([10, 120, 200]) });
const maria = tg.addUser({ firstName: "Maria", lastName: "Koval", phone: "380631112233", username: "maria_demo" });
const control = await onPort(
  "Telegram control",
  DEFAULT_PORTS.control,
  async (port) => serveControl(tg, port),
  async () => serveControl(tg, 0),
);

// --- the fake Planfix; every command it takes is echoed below the page -----------------------------
let pageShown = false;
const say = (line: string) => process.stdout.write(`${line}\n`);
const onCommand = (c: ReceivedCommand) => {
  if (!pageShown || !c.accepted) return;
  if (c.cmd === "newMessage") say(`[planfix]  ${c.fields.contactName ?? "?"} in chat ${c.fields.chatId}: ${c.fields.message}${c.fields.isEcho === "true" ? " (echo)" : ""}`);
  if (c.cmd === "messageStatus") say(`[planfix]  message ${c.fields.messageId}: ${c.fields.messageStatus}${c.fields.messageStatusText ? ` — ${c.fields.messageStatusText}` : ""}`);
};
const planfixOptions = (port: number) => ({ port, accounts: [{ path: "/webchat/api", planfixToken: PLANFIX_TOKEN, providerId: PROVIDER_ID }], onCommand });
const planfix: FakePlanfix = await onPort(
  "Planfix",
  DEFAULT_PORTS.planfix,
  (port) => startFakePlanfix(planfixOptions(port)),
  () => startFakePlanfix(planfixOptions(0)),
);

// --- the appliance, in a temporary data directory --------------------------------------------------
const dataDir = mkdtempSync(join(tmpdir(), "planfix-telegram-demo-"));
mkdirSync(join(dataDir, "sessions", "demo"), { recursive: true });
const logFile = join(dataDir, "appliance.log");
const appPort = await onPort("appliance", DEFAULT_PORTS.appliance, portFree, () => portFree(0));
const appUrl = `http://127.0.0.1:${appPort}`;
const app = new ApplianceProcess({
  command: [BINARY],
  // The kit's one environment block (loopback Telegram, any api id/hash, loopback allowed for the fake
  // Planfix), without ADMIN_TOKEN: the appliance generates one into the data directory, as on a fresh install.
  env: {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? tmpdir(),
    PORT: String(appPort),
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    ...worldEnv(`127.0.0.1:${tg.port}`, { LOG_LEVEL: "info", START_TIMEOUT: "30", PROVIDER_ID, RETRY_CAP_SECONDS: "5" }),
  },
  logFile,
  keepLines: 100,
});

let feed: ReturnType<typeof setInterval> | undefined;

let stopping = false;
async function stopAll(code: number): Promise<never> {
  stopping = true;
  clearInterval(feed);
  await app.stop(15_000);
  control.stop();
  await tg.stop();
  await planfix.stop();
  if (args["keep-data"]) say(`data kept in ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
  say("demo stopped: appliance, loopback Telegram and fake Planfix are down.");
  process.exit(code);
}
const fail = async (message: string): Promise<never> => {
  process.stderr.write(`demo: ${message}\n`);
  if (existsSync(logFile)) process.stderr.write(`--- appliance log (last lines) ---\n${readFileSync(logFile, "utf8").split("\n").slice(-20).join("\n")}\n`);
  return stopAll(1);
};
process.on("SIGINT", () => void (stopping || stopAll(0)));
process.on("SIGTERM", () => void (stopping || stopAll(0)));
process.on("SIGHUP", () => void (stopping || stopAll(0))); // terminal closed: leave no appliance behind
void app.exit.then((e) => {
  if (!stopping) void fail(`the appliance exited on its own (code ${e.code})`);
});

async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${appUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

for (let deadline = Date.now() + 20_000; ; ) {
  const up = await fetch(`${appUrl}/health`).then(
    (r) => r.ok,
    () => false,
  );
  if (up) break;
  if (Date.now() > deadline) await fail(`the appliance did not answer ${appUrl}/health within 20 s`);
  await Bun.sleep(100);
}
// With no ADMIN_TOKEN set, the appliance generates one into the data directory, as on a fresh install.
const adminToken = readFileSync(join(dataDir, "admin-token"), "utf8").trim();

/** Writes the owner's session file into the client's folder and starts the number (with the admin token for the first, creating the client). */
async function startNumber(owner: WorldUser, token: string): Promise<{ token: string }> {
  const file = `demo/${owner.username}.session`;
  writeFileSync(join(dataDir, "sessions", file), tg.sessionString(owner));
  const r = await call("POST", "/client", token, { name: "demo", number: owner.phone, url_planfix: planfix.url, token_planfix: PLANFIX_TOKEN, path_session: file });
  if (r.status !== 201 || r.json.state !== "online") await fail(`number ${owner.phone} did not come online: ${r.status} ${JSON.stringify(r.json)}`);
  return { token: typeof r.json.token === "string" ? r.json.token : token };
}
const clientToken = (await startNumber(anna, adminToken)).token;
await startNumber(oleh, clientToken);
// What a Planfix admin enters in the integration: URL for messages + Your token (the page's reply box uses it).
planfix.setIntegration({ url: `${appUrl}/planfix`, token: clientToken });

// --- the page ---------------------------------------------------------------------------------------
const ctl = `http://127.0.0.1:${control.port}`;
const chatId = `${anna.phone}_${ivan.id}`;
const page = [
  "",
  `planfix-telegram demo — ready in ${((Date.now() - started) / 1000).toFixed(1)} s, everything on 127.0.0.1`,
  "",
  `  appliance         ${appUrl}   (Swagger: ${appUrl}/docs)`,
  `  admin token       ${adminToken}`,
  `  client "demo"     token ${clientToken}`,
  `    number 1        ${anna.phone}  Anna Sales (@anna_demo), online`,
  `    number 2        ${oleh.phone}  Oleh Support (@oleh_demo), online`,
  `  customers         Ivan Petrenko (@ivan_demo), Maria Koval (@maria_demo)`,
  `  loopback Telegram 127.0.0.1:${tg.port} (MTProto), control API ${ctl}`,
  `  fake Planfix      ${planfix.url} (its url_planfix)`,
  ...(busy.length ? [`  (busy, replaced by free ports: ${busy.join(", ")})`] : []),
  "",
  "1. Write as a customer: Ivan writes to number 1 in Telegram",
  `   curl -s -w '\\n' ${ctl}/send-text -d '{"from":"ivan_demo","to":"anna_demo","text":"Hello from Telegram"}'`,
  `   (to number 2: "to":"oleh_demo"; another customer: "from":"maria_demo")`,
  "",
  "2. See what Planfix received: open the chat page (it has a reply box)",
  `   ${planfix.origin}/_control/page`,
  "   or ask for the raw commands:",
  `   curl -s -w '\\n' '${planfix.origin}/_control/commands?cmd=newMessage'`,
  "",
  "3. Answer from Planfix: the webhook Planfix posts to the appliance, with the client token",
  `   curl -s -w '\\n' ${appUrl}/planfix -d cmd=newMessage -d providerId=${PROVIDER_ID} -d token=${clientToken} -d chatId=${chatId} -d messageId=$(date +%s%N) --data-urlencode 'message=Hello from Planfix'`,
  "",
  "4. See what Ivan got in Telegram",
  `   curl -s -w '\\n' '${ctl}/messages?user=ivan_demo'`,
  "",
  "Every client and number, with the admin token:",
  `   curl -s -w '\\n' -H 'Authorization: Bearer ${adminToken}' ${appUrl}/admin/clients`,
  `Appliance log: ${logFile}    Guide: docs/demo.md`,
  `Ctrl-C stops all three (appliance pid ${app.pid}; loopback Telegram and fake Planfix in this process, pid ${process.pid}).`,
  "Messages flowing through are shown below as they arrive.",
  "",
];
say(page.join("\n"));
pageShown = true;

// Telegram's side of the live feed: new messages in the customers' mailboxes (what the appliance sent).
const seen = new Set<string>();
const names = new Map([anna, oleh, ivan, maria].map((u) => [u.id, u.firstName]));
feed = setInterval(() => {
  for (const customer of [ivan, maria]) {
    for (const m of tg.driver.messages(customer)) {
      const key = `${customer.id}:${m.id}`;
      if (m.out || seen.has(key)) continue;
      seen.add(key);
      say(`[telegram] ${customer.firstName} got from ${names.get(m.fromId) ?? m.fromId}: ${m.text || (m.media ? `(${m.media.kind})` : "")}`);
    }
  }
}, 300);

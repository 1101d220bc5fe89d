// Standalone loopback Telegram: `bun tests/support/telegram/cli.ts --port 21000 --users users.json
// [--control-port 21001] [--difference-limit 100] [--no-builtins] [--login-token-period-ms N]
// [--login-code-ttl-ms N] [--min-login-layer N] [--obfuscation-secret HEX32]`. Prints one JSON document with every
// user's id, phone, username and session strings, then serves until SIGINT/SIGTERM.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { serveControl, toJson, worldInfo } from "./control.ts";
import { TelegramServer } from "./server.ts";
import type { UserSpec } from "./world.ts";

const usage = `usage: bun tests/support/telegram/cli.ts [--port N (<= 32767)] [--users users.json]
       [--control-port N] [--difference-limit N] [--no-builtins]
       [--login-token-period-ms N] [--login-code-ttl-ms N] [--min-login-layer N]
       [--obfuscation-secret HEX32 (obfuscated connections must use this MTProxy secret)]
users.json: [{"firstName": "Ann", "lastName": "Lee", "username": "ann_lee", "phone": "79990001122",
              "phoneHidden": false, "bot": false, "sessions": 1, "photo": "ann.jpg"}, ...]
("photo" is a file path relative to users.json)`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      port: { type: "string" },
      users: { type: "string" },
      "control-port": { type: "string" },
      "difference-limit": { type: "string" },
      "no-builtins": { type: "boolean" },
      "login-token-period-ms": { type: "string" },
      "login-code-ttl-ms": { type: "string" },
      "min-login-layer": { type: "string" },
      "obfuscation-secret": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  }).values;
} catch (e) {
  fail(e instanceof Error ? e.message : String(e));
}
if (args.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}

const intArg = (name: string, v: string | undefined, max = 65535): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > max) fail(`--${name} must be an integer 0..${max}`);
  return n;
};

const port = intArg("port", args.port, 32767);
const controlPort = intArg("control-port", args["control-port"]);
const differenceLimit = intArg("difference-limit", args["difference-limit"]);
const loginTokenPeriodMs = intArg("login-token-period-ms", args["login-token-period-ms"], 2 ** 31);
const loginCodeTtlMs = intArg("login-code-ttl-ms", args["login-code-ttl-ms"], 2 ** 31);
const minLoginLayer = intArg("min-login-layer", args["min-login-layer"], 10000);
const obfuscationSecret = args["obfuscation-secret"];
if (obfuscationSecret !== undefined && !/^[0-9a-fA-F]{32}$/.test(obfuscationSecret)) fail("--obfuscation-secret must be 32 hex digits");

let users: UserSpec[] = [];
if (args.users) {
  const file = resolve(args.users);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    fail(`cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!Array.isArray(raw)) fail(`${file} must hold a JSON array of users`);
  users = raw.map((u: Record<string, unknown>) => {
    if (typeof u.firstName !== "string") fail(`every user needs a firstName: ${JSON.stringify(u)}`);
    const photo = typeof u.photo === "string" ? readFileSync(resolve(dirname(file), u.photo)) : undefined;
    return { ...(u as unknown as UserSpec), photo };
  });
}

let server: TelegramServer;
try {
  server = await TelegramServer.start({
    port: port || undefined,
    users,
    differenceLimit,
    builtins: !args["no-builtins"],
    loginTokenPeriodMs,
    loginCodeTtlMs,
    minLoginLayer,
    obfuscationSecret,
  });
} catch (e) {
  fail(`cannot start: ${e instanceof Error ? e.message : String(e)}`);
}
const control = controlPort === undefined ? undefined : serveControl(server, controlPort);
process.stdout.write(`${toJson({ ...worldInfo(server), controlPort: control?.port ?? null })}\n`);

const shutdown = async () => {
  control?.stop();
  await server.stop();
  process.exit(0);
};
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());

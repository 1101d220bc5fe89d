// Standalone fake Planfix for manual runs and scripts (see docs/testing-planfix.md):
//   bun tests/support/planfix/cli.ts --port 21080 --token T --provider-id P
// First stdout line: {"event":"listening",…,"url_planfix":…}; then one JSON line per command received.
import { parseArgs } from "node:util";
import { startFakePlanfix, type DataForm, type FakePlanfixAccount } from "./server.ts";

const HELP = `Fake Planfix chat API.
  --port N            listen port (default 0 = random; the chosen one is printed)
  --host H            listen address (default 127.0.0.1)
  --token T           planfix_token the first account expects (default planfix-token)
  --provider-id P     providerId the first account expects (default planfix-telegram)
  --path P            path of the first account (default /webchat/api)
  --account P,T,ID    one more account: path,token,providerId (repeatable)
  --data-form F       getTask/getContact answer form: object | string | bare (default object)
  --latency MS        delay before every command answer
  --help
Control API: http://<host>:<port>/_control (GET /, GET /commands, POST /fail, /heal, … — see docs/testing-planfix.md).`;

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    token: { type: "string", default: "planfix-token" },
    "provider-id": { type: "string", default: "planfix-telegram" },
    path: { type: "string", default: "/webchat/api" },
    account: { type: "string", multiple: true, default: [] },
    "data-form": { type: "string", default: "object" },
    latency: { type: "string", default: "0" },
    help: { type: "boolean", default: false },
  },
  strict: true,
});

if (values.help) {
  console.log(HELP);
  process.exit(0);
}

const accounts: FakePlanfixAccount[] = [{ path: values.path, planfixToken: values.token, providerId: values["provider-id"] }];
for (const spec of values.account) {
  const [path, planfixToken, providerId] = spec.split(",");
  if (!path || !planfixToken || !providerId) {
    console.error(`--account wants path,token,providerId; got ${spec}`);
    process.exit(2);
  }
  accounts.push({ path, planfixToken, providerId });
}
const dataForm = values["data-form"];
if (dataForm !== "object" && dataForm !== "string" && dataForm !== "bare") {
  console.error("--data-form must be object, string or bare");
  process.exit(2);
}

const out = (line: unknown) => process.stdout.write(JSON.stringify(line) + "\n");
const planfix = await startFakePlanfix({
  port: Number(values.port),
  host: values.host,
  accounts,
  dataForm: dataForm as DataForm,
  latencyMs: Number(values.latency),
  onCommand: (c) =>
    out({
      event: "command",
      seq: c.seq,
      at: new Date(c.at).toISOString(),
      path: c.path,
      cmd: c.cmd,
      status: c.status,
      accepted: c.accepted,
      fields: c.fields,
      attachments: c.attachments,
    }),
});

out({
  event: "listening",
  port: planfix.port,
  url_planfix: planfix.url,
  token_planfix: accounts[0]!.planfixToken,
  providerId: accounts[0]!.providerId,
  control: `${planfix.origin}/_control`,
  accounts: accounts.map((a) => ({ ...a, url_planfix: planfix.urlFor(a.path) })),
});

const shutdown = async () => {
  await planfix.stop();
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);

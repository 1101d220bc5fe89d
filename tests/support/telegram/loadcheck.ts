// Rough load check: the CLI server in a child process, N GramJS clients here, M plain-text sends.
// Prints connect time, send rate and the server process's CPU per message (Linux /proc).
//   bun tests/support/telegram/loadcheck.ts [clients=300] [messages=5000]   (PROF=1 adds --cpu-prof)
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Api, type TelegramClient } from "telegram";
import { connectClient, stopClient } from "./client.ts";
import type { UserInfo } from "./control.ts";

const N = Number(process.argv[2] ?? 300);
const TOTAL = Number(process.argv[3] ?? 5000);
const usersFile = join(tmpdir(), `loadcheck-users-${process.pid}.json`);
writeFileSync(usersFile, JSON.stringify(Array.from({ length: N }, (_, i) => ({ firstName: `U${i}`, username: `load_user_${i}` }))));
const prof = process.env.PROF ? ["--cpu-prof", `--cpu-prof-dir=${tmpdir()}/loadcheck-prof`] : [];
const proc = Bun.spawn([process.execPath, ...prof, "tests/support/telegram/cli.ts", "--users", usersFile, "--no-builtins"], { stdout: "pipe" });
const reader = proc.stdout.getReader();
let text = "";
while (!text.includes("\n")) {
  const { value, done } = await reader.read();
  if (done) throw new Error("server exited");
  text += new TextDecoder().decode(value);
}
const info = JSON.parse(text) as { host: string; port: number; users: UserInfo[] };
const cpuMs = (): number => {
  const f = readFileSync(`/proc/${proc.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
};

let t = performance.now();
let c0 = cpuMs();
const clients: TelegramClient[] = [];
for (let i = 0; i < info.users.length; i += 100) {
  const batch = info.users.slice(i, i + 100).map((u) => connectClient(info, u.sessions[0]!, { timeoutMs: 60000 }));
  clients.push(...(await Promise.all(batch)));
}
console.log(`connected ${clients.length} clients in ${(performance.now() - t).toFixed(0)} ms; server cpu ${cpuMs() - c0} ms`);

const peers = await Promise.all(clients.map((c, i) => c.getInputEntity(`load_user_${(i + 1) % N}`)));
t = performance.now();
c0 = cpuMs();
let sent = 0;
const per = Math.ceil(TOTAL / N);
await Promise.all(
  clients.map(async (c, i) => {
    for (let k = 0; k < per; k++) {
      const randomId = BigInt(Math.floor(Math.random() * 1e15)) as unknown as Api.long;
      await c.invoke(new Api.messages.SendMessage({ peer: peers[i]!, message: `hello ${k}`, randomId }));
      sent++;
    }
  }),
);
const elapsed = performance.now() - t;
const cpu = cpuMs() - c0;
console.log(`${sent} sendMessage in ${elapsed.toFixed(0)} ms = ${((sent / elapsed) * 1000).toFixed(0)}/s; server cpu ${cpu} ms (${((cpu / sent) * 1000).toFixed(0)} us/msg)`);
await Promise.all(clients.map(stopClient));
proc.kill("SIGINT");
await proc.exited;

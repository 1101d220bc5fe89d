// `make demo` as a newcomer uses it: start scripts/demo.ts (what the target runs), read the printed page,
// paste its commands (through bash, exactly as printed) and see the message arrive on each side; then
// Ctrl-C (SIGINT) stops the appliance, the loopback Telegram and the fake Planfix.
import { afterAll, expect, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ensureBinary } from "./harness.ts";

const ROOT = resolve(import.meta.dir, "../..");
const BUN = resolve(ROOT, "node_modules/.bin/bun");

let demo: ReturnType<typeof Bun.spawn> | undefined;
let appPid: number | undefined;
let dataDir: string | undefined;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

afterAll(() => {
  if (demo && demo.exitCode === null) demo.kill("SIGKILL");
  if (appPid && alive(appPid)) process.kill(appPid, "SIGKILL");
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Everything the process printed so far, kept growing in the background. */
function collect(stream: ReadableStream<Uint8Array>): { text: () => string } {
  let text = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  })();
  return { text: () => text };
}

async function until<T>(what: string, f: () => T | Promise<T>, ms = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

/** The first `curl …` line under the step whose heading starts with `heading`. */
function commandUnder(page: string, heading: string): string {
  const lines = page.split("\n");
  const at = lines.findIndex((l) => l.startsWith(heading));
  expect(at).toBeGreaterThanOrEqual(0);
  const cmd = lines.slice(at + 1).find((l) => l.trim().startsWith("curl "));
  expect(cmd).toBeDefined();
  return cmd!.trim();
}

/** Runs a printed command as a person pasting it into bash would. */
function paste(cmd: string): string {
  const r = Bun.spawnSync(["bash", "-c", cmd]);
  if (r.exitCode !== 0) throw new Error(`${cmd}\nexited ${r.exitCode}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

const match = (page: string, re: RegExp): string => {
  const m = re.exec(page);
  if (!m?.[1]) throw new Error(`the page has no ${re}:\n${page}`);
  return m[1];
};

test("make demo: the printed steps carry a message both ways; Ctrl-C stops all three", async () => {
  ensureBinary();
  demo = Bun.spawn([BUN, "scripts/demo.ts", "--random-ports"], { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const out = collect(demo.stdout as ReadableStream<Uint8Array>);
  const err = collect(demo.stderr as ReadableStream<Uint8Array>);
  await until("the demo page", () => {
    if (demo!.exitCode !== null) throw new Error(`demo exited ${demo!.exitCode}: ${err.text()}`);
    return out.text().includes("shown below as they arrive");
  });
  const page = out.text();

  // The page names what a newcomer needs: the appliance, its Swagger page, the admin token, two numbers online.
  const swagger = match(page, /Swagger: (http:\/\/127\.0\.0\.1:\d+\/docs)/);
  const appUrl = swagger.replace(/\/docs$/, "");
  const adminToken = match(page, /admin token\s+(\S+)/);
  appPid = Number(match(page, /appliance pid (\d+)/));
  dataDir = dirname(match(page, /Appliance log: (\S+)/));
  expect(Number(match(page, /ready in ([\d.]+) s/))).toBeLessThan(60); // "in under a minute", startup included
  expect(page).not.toContain("/console"); // not built yet: not advertised
  const docs = await fetch(swagger);
  expect(docs.status).toBe(200);
  expect(docs.headers.get("content-type")).toContain("text/html");
  const overview = (await (await fetch(`${appUrl}/admin/clients`, { headers: { authorization: `Bearer ${adminToken}` } })).json()) as {
    clients: { name: string; numbers: { number: string; state: string }[] }[];
  };
  expect(overview.clients).toHaveLength(1);
  expect(overview.clients[0]!.numbers.map((n) => n.state)).toEqual(["online", "online"]);
  const adminCurl = commandUnder(page, "Every client and number");
  expect(JSON.parse(paste(adminCurl))).toEqual(overview);

  // 1. Write as a customer → 2. Planfix received it (raw commands and the chat page).
  const sent = JSON.parse(paste(commandUnder(page, "1. Write as a customer")));
  expect(sent.text).toBe("Hello from Telegram");
  const seeCommands = commandUnder(page, "2. See what Planfix received");
  const arrived = await until("newMessage in the fake Planfix", () => {
    const cmds = JSON.parse(paste(seeCommands)) as { fields: Record<string, string> }[];
    return cmds.find((c) => c.fields.message === "Hello from Telegram");
  });
  expect(arrived.fields).toMatchObject({ contactName: "Ivan", contactLastName: "Petrenko" });
  const pageUrl = match(page, /^\s+(http:\/\/127\.0\.0\.1:\d+\/_control\/page)$/m);
  const html = await (await fetch(pageUrl)).text();
  expect(html).toContain("Hello from Telegram");
  expect(html).toContain(arrived.fields.chatId!);

  // 3. Answer from Planfix → 4. Ivan has it in Telegram.
  const answerCurl = commandUnder(page, "3. Answer from Planfix");
  expect(answerCurl).toContain(`chatId=${arrived.fields.chatId}`); // the printed chat is the one Planfix got
  const answer = JSON.parse(paste(answerCurl));
  expect(answer).toEqual({ chatId: arrived.fields.chatId, contactId: arrived.fields.contactId });
  const seeTelegram = commandUnder(page, "4. See what Ivan got");
  await until("Ivan receives the answer", () => {
    const mailbox = JSON.parse(paste(seeTelegram)) as { out: boolean; text: string }[];
    return mailbox.some((m) => !m.out && m.text === "Hello from Planfix");
  });
  // The demo's own terminal shows the flow as it happens.
  await until("the live feed", () => out.text().includes("[telegram] Ivan got from Anna: Hello from Planfix"));
  expect(out.text()).toContain("[planfix]  Ivan in chat");

  // The chat page's reply box answers too, and shows the delivery report.
  const form = await fetch(`${pageUrl}/reply`, {
    method: "POST",
    body: new URLSearchParams({ chatId: arrived.fields.chatId!, message: "Sent from the page" }),
    redirect: "manual",
  });
  expect(form.status).toBe(303);
  await until("Ivan receives the page's reply", () => {
    const mailbox = JSON.parse(paste(seeTelegram)) as { out: boolean; text: string }[];
    return mailbox.some((m) => !m.out && m.text === "Sent from the page");
  });
  await until("the page shows the reply as sent", async () => /Sent from the page <i>— sent<\/i>/.test(await (await fetch(pageUrl)).text()));

  // Ctrl-C: the demo and the appliance exit, every port is closed, the temporary data is gone.
  const ports = [...new Set([...page.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1])))];
  expect(ports.length).toBe(4); // appliance, fake Planfix, MTProto, Telegram control API
  demo.kill("SIGINT");
  const code = await Promise.race([demo.exited, Bun.sleep(25_000).then(() => "timeout")]);
  expect(code).toBe(0);
  expect(out.text()).toContain("demo stopped");
  expect(alive(appPid)).toBe(false);
  for (const port of ports) {
    const open = await new Promise<boolean>((res) => {
      Bun.connect({ hostname: "127.0.0.1", port, socket: { open: (s) => (s.end(), res(true)), data() {}, error: () => res(false), connectError: () => res(false) } }).catch(() =>
        res(false),
      );
    });
    expect({ port, open }).toEqual({ port, open: false });
  }
  expect(existsSync(dataDir)).toBe(false);
});

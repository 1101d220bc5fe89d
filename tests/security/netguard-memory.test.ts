// A tenant must not be able to run the appliance out of memory; against the compiled binary:
// a Planfix that answers with a gzip bomb and an oversized body, slow attachment downloads, and a
// webhook with too many attachments.
import { afterEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createGzip } from "node:zlib";
import { received, untilMessages } from "../e2e/bridge-world.ts";
import { world } from "../e2e/harness.ts";
import type { WorldUser } from "../support/telegram/index.ts";

type World = Awaited<ReturnType<typeof world>>;
let w: World | undefined;
const servers: Array<{ stop(force?: boolean): void }> = [];
afterEach(async () => {
  await w?.close();
  w = undefined;
  for (const s of servers.splice(0)) s.stop(true);
});

/** Peak resident memory of a process so far (VmHWM), in MiB. */
function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m![1]) / 1024;
}

/** `mib` MiB of zeros, gzipped piece by piece (never whole in memory): a few hundred KB on the wire. */
async function gzipBomb(mib: number): Promise<Uint8Array> {
  const gz = createGzip({ level: 9 });
  const parts: Buffer[] = [];
  gz.on("data", (c: Buffer) => parts.push(c));
  const done = new Promise((r) => gz.on("end", r));
  const zeros = Buffer.alloc(1 << 20);
  for (let i = 0; i < mib; i++) if (!gz.write(zeros)) await new Promise((r) => gz.once("drain", r));
  gz.end();
  await done;
  return Buffer.concat(parts);
}

async function online(env: Record<string, string> = {}, urlPlanfix?: string) {
  w = await world({ env });
  const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319", username: "anna_acme" });
  await w.app.start();
  const r = await w.app.call("POST", "/client", w.startBody(anna, urlPlanfix ? { url_planfix: urlPlanfix } : {}));
  expect(r.json.state).toBe("online");
  const token = r.json.token as string;
  const hook = (fields: Record<string, string>, attachments: { name: string; url: string }[] = []) =>
    w!.planfix.sendWebhook(`${w!.app.url}/planfix`, { token, providerId: "planfix-telegram", ...fields }, attachments);
  return { w, anna, token, hook };
}

test("a gzip bomb and an oversized answer from url_planfix do not blow up memory; the message is retried, not lost", async () => {
  const bomb = await gzipBomb(768); // 768 MiB once inflated
  const calls: string[] = [];
  const delivered: string[] = [];
  const planfix = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const form = new URLSearchParams(await req.text());
      if (form.get("cmd") !== "newMessage") return new Response("");
      calls.push(form.get("message") ?? "");
      if (calls.length <= 2) return new Response(bomb, { headers: { "content-encoding": "gzip", "content-type": "application/json" } });
      if (calls.length === 3) return new Response("x".repeat(8 * 1024 * 1024), { status: 500 });
      delivered.push(form.get("message") ?? "");
      return new Response("");
    },
  });
  servers.push(planfix);
  const o = await online({}, `http://127.0.0.1:${planfix.port}/webchat/api`);
  const ivan = o.w.tg.addUser({ firstName: "Ivan", phone: "380671234567" });
  o.w.tg.driver.sendText(ivan, o.anna, "please answer");
  const deadline = Date.now() + 30_000;
  while (delivered.length === 0 && Date.now() < deadline) await Bun.sleep(100);
  expect(delivered).toEqual(["please answer"]);
  expect(calls.length).toBe(4);
  expect(peakRssMiB(o.w.app.proc!.pid)).toBeLessThan(300);
  for (const line of o.w.app.lines) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(8 * 1024);
});

test("slow attachments: at most 2 downloads per number at once, and a slow one does not hold up another chat", async () => {
  let open = 0;
  let maxOpen = 0;
  const slow = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 60,
    fetch() {
      open++;
      maxOpen = Math.max(maxOpen, open);
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          await Bun.sleep(100);
          if (sent++ >= 50) {
            open--;
            c.close();
            return;
          }
          c.enqueue(new Uint8Array(1024).fill(65));
        },
        cancel() {
          open--;
        },
      });
      return new Response(body, { headers: { "content-type": "application/pdf" } });
    },
  });
  servers.push(slow);
  const o = await online();
  const people: WorldUser[] = ["Ivan", "Petro", "Olga", "Maria"].map((name, i) => o.w.tg.addUser({ firstName: name, phone: `38067123456${i}` }));
  const chat = (u: WorldUser) => `${o.anna.phone}_${u.id}`;
  for (const [i, u] of people.entries()) {
    o.w.tg.driver.sendText(u, o.anna, "hi");
    await untilMessages(o.w, i + 1, undefined);
  }
  const [ivan, petro, olga, maria] = people as [WorldUser, WorldUser, WorldUser, WorldUser];
  for (const [i, u] of [ivan, petro, olga].entries()) {
    await o.hook({ chatId: chat(u), message: "", messageId: `slow${i}` }, [{ name: `slow${i}.pdf`, url: `http://127.0.0.1:${slow.port}/f${i}.pdf` }]);
  }
  await o.w.planfix.waitFor(() => (open >= 2 ? true : undefined), 10_000);
  await o.hook({ chatId: chat(maria), message: "quick one", messageId: "quick" });
  // Maria's text overtakes the three slow files (each takes about 5 s to download).
  const quick = await o.w.planfix.waitFor(() => o.w.planfix.statuses("quick")[0], 10_000);
  expect(quick.fields.messageStatus).toBe("sent");
  expect(received(o.w, maria, o.anna).map((m) => m.text)).toContain("quick one");
  const slowDone = [0, 1, 2].map((i) => o.w.planfix.statuses(`slow${i}`).length).reduce((a, b) => a + b, 0);
  expect(slowDone).toBe(0);
  for (const i of [0, 1, 2]) expect((await o.w.planfix.waitFor(() => o.w.planfix.statuses(`slow${i}`)[0], 30_000)).fields.messageStatus).toBe("sent");
  expect(maxOpen).toBe(2);
  for (const u of [ivan, petro, olga]) expect(received(o.w, u, o.anna).filter((m) => m.media)).toHaveLength(1);
});

test("a webhook with 61 attachments is refused with a 400 naming the limit", async () => {
  const o = await online();
  const ivan = o.w.tg.addUser({ firstName: "Ivan", phone: "380671234567" });
  const atts = Array.from({ length: 61 }, (_, i) => ({ name: `f${i}.txt`, url: `https://files.example/f${i}.txt` }));
  const r = await o.hook({ chatId: `${o.anna.phone}_${ivan.id}`, message: "many", messageId: "many" }, atts);
  expect(r.status).toBe(400);
  expect(r.body).toMatchObject({ field: "attachments" });
  expect((r.body as { problem: string }).problem).toContain("at most 50 attachments");
  const fifty = await o.hook({ chatId: `${o.anna.phone}_${ivan.id}`, message: "fifty", messageId: "fifty" }, atts.slice(0, 50));
  expect(fifty.status).toBe(200);
});

test("no log line over 8 KiB: a 20 000-character attachment name is cut in the log, with a marker", async () => {
  const o = await online();
  const ivan = o.w.tg.addUser({ firstName: "Ivan", phone: "380671234567" });
  o.w.tg.driver.sendText(ivan, o.anna, "hi");
  await untilMessages(o.w, 1);
  const name = `${"n".repeat(20_000)}.pdf`;
  const url = o.w.planfix.hostFile("gone.pdf", "x", "application/pdf", { status: 404 });
  const r = await o.hook({ chatId: `${o.anna.phone}_${ivan.id}`, message: "see file", messageId: "long" }, [{ name, url }]);
  expect(r.status).toBe(200);
  const st = await o.w.planfix.waitFor(() => o.w.planfix.statuses("long")[0], 15_000);
  expect(st.fields.messageStatus).toBe("error");
  const line = await o.w.planfix.waitFor(() => o.w.app.lines.find((l) => l.includes("message not delivered to Telegram")), 5_000);
  expect(Buffer.byteLength(line)).toBeLessThanOrEqual(8 * 1024);
  expect(JSON.parse(line).reason).toEndWith("…[truncated]");
  for (const l of o.w.app.lines) expect(Buffer.byteLength(l)).toBeLessThanOrEqual(8 * 1024);
});

// SSRF with full read-back, attacked against the compiled binary as a tenant
// would: attachment URLs in a webhook and url_planfix pointing at a service on the appliance's own
// loopback, in several notations, behind a host name and behind a redirect. The service must see no
// request; Planfix gets an error status naming the refusal (the text of the message still goes).
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { introduce, received } from "../e2e/bridge-world.ts";
import { world } from "../e2e/harness.ts";

type World = Awaited<ReturnType<typeof world>>;
let w: World | undefined;
const servers: Array<{ stop(force?: boolean): void }> = [];
afterEach(async () => {
  await w?.close();
  w = undefined;
  for (const s of servers.splice(0)) s.stop(true);
});

/** A service only reachable from the machine itself: what an attacker wants to read. */
function internalService() {
  const hits: string[] = [];
  const s = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      hits.push(`${req.method} ${new URL(req.url).pathname}`);
      return Response.json({ error: "INTERNAL-SECRET admin panel answer" }, { status: 400 });
    },
  });
  servers.push(s);
  return { hits, port: s.port as number };
}

async function online(env: Record<string, string>, urlPlanfix?: (planfixUrl: string) => string) {
  w = await world({ env });
  const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319", username: "anna_acme" });
  const ivan = w.tg.addUser({ firstName: "Ivan", phone: "380671234567", username: "ivan_p" });
  await w.app.start();
  const body = w.startBody(anna, urlPlanfix ? { url_planfix: urlPlanfix(w.planfix.url) } : {});
  const r = await w.app.call("POST", "/client", body);
  expect(r.json.state).toBe("online");
  const token = r.json.token as string;
  const hook = (fields: Record<string, string>, attachments: { name: string; url: string }[] = []) =>
    w!.planfix.sendWebhook(`${w!.app.url}/planfix`, { token, providerId: "planfix-telegram", ...fields }, attachments);
  return { w, anna, ivan, token, hook, chatId: `${anna.phone}_${ivan.id}` };
}

test("attachment URLs aimed at loopback (any notation, a name, a redirect) are not fetched; Planfix gets an error status", async () => {
  const internal = internalService();
  const redirects: string[] = [];
  const redirector = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      redirects.push(new URL(req.url).pathname);
      return new Response(null, { status: 302, headers: { location: new URL(req.url).searchParams.get("to")! } });
    },
  });
  servers.push(redirector);
  // Only the fake Planfix and the redirector (standing in for public hosts) are opened, by name; the
  // names resolve to loopback through the appliance's resolver override, as a hostile DNS answer would.
  const o = await online(
    {
      ALLOW_PRIVATE_NETWORKS: "planfix.test,redirector.test",
      RESOLVE_OVERRIDE: "planfix.test=127.0.0.1,redirector.test=127.0.0.1,intranet.example.com=127.0.0.1",
    },
    (url) => url.replace("127.0.0.1", "planfix.test"),
  );
  await introduce(o.w, o.ivan, o.anna, o.chatId);

  const p = internal.port;
  const via = (to: string) => `http://redirector.test:${redirector.port}/hop?to=${encodeURIComponent(to)}`;
  const attacks = [
    `http://127.0.0.1:${p}/secret`,
    `http://0x7f000001:${p}/secret`,
    `http://2130706433:${p}/secret`,
    `http://[::ffff:127.0.0.1]:${p}/secret`,
    `http://[::1]:${p}/secret`,
    `http://localhost:${p}/secret`,
    `http://intranet.example.com:${p}/secret`,
    via(`http://127.0.0.1:${p}/secret`),
    via(`http://intranet.example.com:${p}/secret`),
  ];
  for (const [i, url] of attacks.entries()) {
    const r = await o.hook({ chatId: o.chatId, message: `attack ${i}`, messageId: `ssrf${i}` }, [{ name: "loot.txt", url }]);
    expect(r.status).toBe(200);
  }
  // A legitimate file from an allowed host still goes, after the refused ones (so the test can fail).
  const good = o.w.planfix.hostFile("fine.txt", "fine", "text/plain").replace("127.0.0.1", "planfix.test");
  await o.hook({ chatId: o.chatId, message: "", messageId: "good" }, [{ name: "fine.txt", url: good }]);

  for (const i of attacks.keys()) {
    const st = await o.w.planfix.waitFor(() => o.w.planfix.statuses(`ssrf${i}`)[0], 20_000);
    expect(st.fields.messageStatus).toBe("error");
    expect(st.fields.messageStatusText).toContain("loot.txt");
    expect(st.fields.messageStatusText).toContain("destination not allowed");
    expect(st.fields.messageStatusText).not.toContain("INTERNAL-SECRET");
  }
  const ok = await o.w.planfix.waitFor(() => o.w.planfix.statuses("good")[0], 20_000);
  expect(ok.fields.messageStatus).toBe("sent");

  expect(internal.hits).toEqual([]);
  expect(redirects).toHaveLength(2); // the redirects were fetched; their next hop was refused
  // Ivan got each text (sent before the file) and the one good file, nothing from the internal service.
  const got = received(o.w, o.ivan, o.anna);
  expect(got.filter((m) => m.text.startsWith("attack "))).toHaveLength(attacks.length);
  expect(got.filter((m) => m.media)).toHaveLength(1);
});

test("url_planfix aimed at loopback gets no request and no token; planfix_error says why without the service's answer", async () => {
  const internal = internalService();
  // ALLOW_PRIVATE_NETWORKS unset, as on a default install.
  const o = await online({ ALLOW_PRIVATE_NETWORKS: "" }, () => `http://0x7f000001:${internal.port}/webchat/api`);
  o.w.tg.driver.sendText(o.ivan, o.anna, "hello, anyone?");
  let view: any;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    view = (await o.w.app.call("GET", `/client?number=${o.anna.phone}`, undefined, o.token)).json;
    if (view.planfix_error) break;
    await Bun.sleep(100);
  }
  expect(view.planfix_error).toContain("destination not allowed");
  expect(view.planfix_error).toContain("loopback");
  expect(view.planfix_error).not.toContain("INTERNAL-SECRET");
  expect(internal.hits).toEqual([]);
  expect(o.w.app.logText()).not.toContain("INTERNAL-SECRET");
});

/** A self-signed certificate for `name` (openssl, as on every machine of this project). */
function certFor(name: string, dir: string): { key: string; cert: string; certFile: string } {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.pem`);
  const r = Bun.spawnSync([
    "openssl",
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    "-addext",
    `subjectAltName=DNS:${name}`,
  ]);
  if (r.exitCode !== 0) throw new Error(`openssl failed: ${r.stderr.toString()}`);
  return { key: readFileSync(keyFile, "utf8"), cert: readFileSync(certFile, "utf8"), certFile };
}

test("https url_planfix: the connection is pinned to the checked address while TLS still checks the name", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pt-tls-"));
  const good = certFor("planfix.test", dir);
  const wrong = certFor("other.test", dir);
  const seen: string[] = [];
  const tlsPlanfix = (c: { key: string; cert: string }) => {
    const s = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      tls: { key: c.key, cert: c.cert },
      async fetch(req) {
        const form = new URLSearchParams(await req.text());
        seen.push(`${req.headers.get("host")} ${form.get("cmd")} ${form.get("message")}`);
        return new Response("");
      },
    });
    servers.push(s);
    return s.port as number;
  };
  const goodPort = tlsPlanfix(good);
  const wrongPort = tlsPlanfix(wrong);
  writeFileSync(join(dir, "cas.pem"), good.cert + wrong.cert);
  const o = await online(
    { ALLOW_PRIVATE_NETWORKS: "planfix.test", RESOLVE_OVERRIDE: "planfix.test=127.0.0.1", NODE_EXTRA_CA_CERTS: join(dir, "cas.pem") },
    () => `https://planfix.test:${goodPort}/webchat/api`,
  );
  o.w.tg.driver.sendText(o.ivan, o.anna, "over tls");
  const deadline = Date.now() + 15_000;
  while (seen.length === 0 && Date.now() < deadline) await Bun.sleep(100);
  // Reached through 127.0.0.1, verified as planfix.test (the certificate has no IP in it).
  expect(seen).toEqual([`planfix.test:${goodPort} newMessage over tls`]);

  // The same name served with a certificate for another name: refused by TLS, nothing delivered there.
  const put = await o.w.app.call("PUT", "/client", { number: o.anna.phone, url_planfix: `https://planfix.test:${wrongPort}/webchat/api` }, o.token);
  expect(put.status).toBeLessThan(300);
  o.w.tg.driver.sendText(o.ivan, o.anna, "to the wrong certificate");
  await Bun.sleep(1500);
  expect(seen).toHaveLength(1);
});

// The world the fuzzer attacks: the compiled binary on a fresh data directory, the loopback Telegram,
// a fake Planfix with one account per client, and two clients (acme, beta) each with a real number
// online — so another client's token is tried against a number that really exists and runs.
// The sessions directory also holds decoys: garbage files, symlinks out and in, a hard link and a
// copy of a live session, a directory, a FIFO, a symlink loop.
import { spawnSync } from "bun";
import { randomBytes } from "node:crypto";
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Appliance } from "../../tests/support/appliance.ts";
import { ensureBinary, freePort } from "../../tests/support/kit.ts";
import { startFakePlanfix, type FakePlanfix } from "../../tests/support/planfix/server.ts";
import { TelegramServer, tinyPng, type WorldUser } from "../../tests/support/telegram/index.ts";

export interface ClientInfo {
  name: string;
  token: string;
  number: string;
  user: WorldUser;
  tokenPlanfix: string;
  /** url_planfix of this client's fake Planfix account. */
  urlPlanfix: string;
  /** Session file, relative to the sessions directory. */
  sessionFile: string;
  /** A chat of this number that really exists: `<number>_<customer id>`. */
  chatId: string;
}

export interface ServedFile {
  id: string;
  name: string;
  bytes: Uint8Array;
  url: string;
}

export interface FuzzWorld {
  app: Appliance;
  tg: TelegramServer;
  planfix: FakePlanfix;
  dataDir: string;
  sessionsDir: string;
  adminToken: string;
  acme: ClientInfo;
  beta: ClientInfo;
  /** A Telegram user who writes to both numbers (the chats above). */
  customer: WorldUser;
  /** A user the fuzz never aims at: the end-of-run bridging check uses her chats (no backlog there). */
  lateCustomer: WorldUser;
  /** Media the appliance stored and offers under /files. */
  files: ServedFile[];
  /** A file the fake Planfix serves (a valid attachment URL). */
  hostedUrl: string;
  /** A local port nothing listens on: URLs that must fail fast, never reach the internet. */
  deadPort: number;
  /** Decoy names inside the sessions directory (relative). */
  decoys: string[];
  /** Every secret the appliance holds, by label. */
  secrets: { label: string; value: string | Uint8Array }[];
  close(): Promise<void>;
}

const token = () => randomBytes(32).toString("base64url");

export async function startFuzzWorld(opts: { logLevel?: string } = {}): Promise<FuzzWorld> {
  ensureBinary();
  const tg = await TelegramServer.start({});
  const pfAcme = `pfx-acme-${randomBytes(16).toString("hex")}`;
  const pfBeta = `pfx-beta-${randomBytes(16).toString("hex")}`;
  const planfix = await startFakePlanfix({
    accounts: [
      { path: "/acme/webchat/api", planfixToken: pfAcme, providerId: "planfix-telegram" },
      { path: "/beta/webchat/api", planfixToken: pfBeta, providerId: "planfix-telegram" },
    ],
  });
  const dir = mkdtempSync(join(tmpdir(), "pt-fuzz-"));
  const dataDir = join(dir, "data");
  const sessionsDir = join(dataDir, "sessions");
  mkdirSync(join(sessionsDir, "acme"), { recursive: true });
  mkdirSync(join(sessionsDir, "beta"), { recursive: true });
  const adminToken = token();

  const anna = tg.addUser({ firstName: "Anna", lastName: "Owner", phone: "380955821319", username: "anna_acme" });
  const boris = tg.addUser({ firstName: "Boris", lastName: "Owner", phone: "380501112233", username: "boris_beta" });
  const customer = tg.addUser({ firstName: "Ivan", lastName: "Petrenko", phone: "380671234567", username: "ivan_p", photo: tinyPng([10, 120, 200]) });
  const lateCustomer = tg.addUser({ firstName: "Olga", lastName: "Late", phone: "380631112233", username: "olga_late" });
  writeFileSync(join(sessionsDir, "acme/anna.session"), tg.sessionString(anna));
  writeFileSync(join(sessionsDir, "beta/boris.txt"), tg.sessionString(boris));

  // Decoys.
  const decoys: string[] = [];
  const decoy = (name: string, make: (full: string) => void) => {
    try {
      make(join(sessionsDir, name));
      decoys.push(name);
    } catch {
      // e.g. no mkfifo on this box: that decoy is skipped
    }
  };
  decoy("garbage.session", (f) => writeFileSync(f, randomBytes(300)));
  decoy("empty.session", (f) => writeFileSync(f, ""));
  decoy("short.txt", (f) => writeFileSync(f, "1abc"));
  decoy("fake-sqlite.session", (f) => writeFileSync(f, Buffer.concat([Buffer.from("SQLite format 3\0", "latin1"), randomBytes(2000)])));
  decoy("link-out", (f) => symlinkSync("/etc/passwd", f));
  decoy("link-root", (f) => symlinkSync("/", f));
  decoy("link-up", (f) => symlinkSync("..", f));
  decoy("link-anna", (f) => symlinkSync(join(sessionsDir, "acme/anna.session"), f));
  decoy("link-anna-rel.session", (f) => symlinkSync("acme/anna.session", f));
  decoy("link-boris", (f) => symlinkSync(join(sessionsDir, "beta/boris.txt"), f));
  // Inside acme's folder: a hard link anywhere else would (rightly) stop acme's own number from starting.
  decoy("acme/hard-anna", (f) => linkSync(join(sessionsDir, "acme/anna.session"), f));
  decoy("copy-boris.session", (f) => copyFileSync(join(sessionsDir, "beta/boris.txt"), f));
  decoy("dir.session", (f) => mkdirSync(f));
  decoy("loop-a", (f) => symlinkSync(join(sessionsDir, "loop-b"), f));
  decoy("loop-b", (f) => symlinkSync(join(sessionsDir, "loop-a"), f));
  decoy("fifo.session", (f) => {
    if (spawnSync(["mkfifo", f]).exitCode !== 0) throw new Error("mkfifo");
  });
  decoy("\u202eevil\u200b.session", (f) => writeFileSync(f, randomBytes(64)));
  decoy("name with spaces.session", (f) => writeFileSync(f, "not a session"));

  const app = new Appliance(dataDir, {
    ADMIN_TOKEN: adminToken,
    TELEGRAM_API_ID: "12345",
    TELEGRAM_API_HASH: "0123456789abcdef0123456789abcdef",
    TELEGRAM_ENDPOINT: `127.0.0.1:${tg.port}`,
    LOG_LEVEL: opts.logLevel ?? "debug",
    START_TIMEOUT: "10",
    RETRY_CAP_SECONDS: "1",
    // Thousands of forged tokens from one address: the throttle would answer them all 429.
    AUTH_FAILURES_PER_MINUTE: "0",
    // The fake Planfix lives on loopback, which the fetch guard refuses by default.
    ALLOW_PRIVATE_NETWORKS: "127.0.0.0/8",
  });
  const deadPort = await freePort();
  await app.start();

  const startClient = async (name: string, user: WorldUser, sessionFile: string, tokenPlanfix: string, urlPlanfix: string, as: string) => {
    const r = await app.call("POST", "/client", { name, number: user.phone, url_planfix: urlPlanfix, token_planfix: tokenPlanfix, path_session: sessionFile }, as);
    if (r.status !== 201 || r.json?.state !== "online") throw new Error(`could not start ${name}: ${r.status} ${r.text}`);
    return r.json.token as string;
  };
  const acmeToken = await startClient("acme", anna, "acme/anna.session", pfAcme, planfix.urlFor("/acme/webchat/api"), adminToken);
  const betaToken = await startClient("beta", boris, "beta/boris.txt", pfBeta, planfix.urlFor("/beta/webchat/api"), adminToken);

  // The customer writes to both numbers (so chats exist), and sends Anna a photo and a document:
  // the appliance stores them and offers /files links to Planfix.
  tg.driver.sendText(customer, anna, "hello acme");
  tg.driver.sendText(customer, boris, "hello beta");
  const png = tinyPng([1, 2, 3]);
  const pdf = Buffer.from("%PDF-1.4 fuzz offer");
  tg.driver.sendPhoto(customer, anna, png, "a photo");
  tg.driver.sendFile(customer, anna, pdf, "offer – ж.pdf", "application/pdf");
  const chatAcme = `${anna.phone}_${customer.id}`;
  const chatBeta = `${boris.phone}_${customer.id}`;
  const withFiles = await planfix.waitFor(() => {
    const msgs = planfix.newMessages(chatAcme).filter((c) => c.attachments.length > 0);
    return msgs.length >= 2 && planfix.newMessages(chatBeta).length >= 1 ? msgs : undefined;
  }, 30_000);
  const files: ServedFile[] = [];
  const base = app.url;
  for (const [i, c] of withFiles.entries()) {
    const link = c.attachments[0]!.url;
    const m = /\/files\/([^/]+)\/([^/?#]+)$/.exec(link);
    if (!m) throw new Error(`unexpected media link ${link}`);
    files.push({ id: m[1]!, name: decodeURIComponent(m[2]!), bytes: i === 0 ? png : pdf, url: `${base}/files/${m[1]}/${m[2]}` });
  }
  const hostedUrl = planfix.hostFile("report.txt", "hosted by the fake Planfix\n", "text/plain");

  const secrets: FuzzWorld["secrets"] = [
    { label: "admin token", value: adminToken },
    { label: "acme token", value: acmeToken },
    { label: "beta token", value: betaToken },
    { label: "acme token_planfix", value: pfAcme },
    { label: "beta token_planfix", value: pfBeta },
    { label: "anna auth key", value: new Uint8Array(tg.sessionOf(anna).key) },
    { label: "boris auth key", value: new Uint8Array(tg.sessionOf(boris).key) },
    { label: "anna session string", value: tg.sessionString(anna) },
    { label: "boris session string", value: tg.sessionString(boris) },
  ];

  const client = (name: string, t: string, user: WorldUser, pf: string, path: string, sessionFile: string, chatId: string): ClientInfo => ({
    name,
    token: t,
    number: user.phone,
    user,
    tokenPlanfix: pf,
    urlPlanfix: planfix.urlFor(path),
    sessionFile,
    chatId,
  });

  return {
    app,
    tg,
    planfix,
    dataDir,
    sessionsDir,
    adminToken,
    acme: client("acme", acmeToken, anna, pfAcme, "/acme/webchat/api", "acme/anna.session", chatAcme),
    beta: client("beta", betaToken, boris, pfBeta, "/beta/webchat/api", "beta/boris.txt", chatBeta),
    customer,
    lateCustomer,
    files,
    hostedUrl,
    deadPort,
    decoys,
    secrets,
    async close() {
      await app.stop().catch(async () => app.kill9());
      await tg.stop();
      await planfix.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// The drill's world on 127.0.0.1: the loopback Telegram and the fake Planfix in this process, the
// compiled appliance as a child on a fixed port with a fresh data directory, one or two clients with
// their numbers, and several customers per number.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, worldEnv } from "../../tests/support/kit.ts";
import { startFakePlanfix, type FakePlanfix } from "../../tests/support/planfix/server.ts";
import { TelegramServer, type WorldUser } from "../../tests/support/telegram/index.ts";
import { DrillAppliance } from "./appliance.ts";
import { DelayProxy } from "./proxy.ts";

export const BINARY = resolve(import.meta.dir, "../../dist/planfix-telegram");
export const ADMIN_TOKEN = "drill-admin-token-0123456789abcdef";
export const PROVIDER_ID = "planfix-telegram";

export interface DrillClient {
  name: string;
  /** The appliance's client token (answered when the client was created). */
  token: string;
  planfixPath: string;
  planfixToken: string;
  url: string;
}

export interface DrillNumber {
  index: number;
  client: DrillClient;
  user: WorldUser;
  phone: string;
}

export interface DrillChat {
  index: number;
  number: DrillNumber;
  customer: WorldUser;
  /** Planfix's chatId for this chat, as the appliance names it. */
  chatId: string;
}

export interface DrillWorld {
  tg: TelegramServer;
  /** The relay the appliance reaches Telegram through. */
  proxy: DelayProxy;
  planfix: FakePlanfix;
  app: DrillAppliance;
  dir: string;
  /** The appliance's DATA_DIR (session files live in its sessions/ folder). */
  dataDir: string;
  clients: DrillClient[];
  numbers: DrillNumber[];
  chats: DrillChat[];
}

export interface WorldOptions {
  /** The appliance binary (default: dist/planfix-telegram). */
  binary?: string;
  /** Numbers per client, e.g. [2, 1]: two clients, three numbers. */
  numbersPerClient: number[];
  customersPerNumber: number;
  /** RETRY_CAP_SECONDS of the appliance. */
  retryCapSeconds: number;
  /** Telegram's answers reach the appliance this much later (a relay in between). */
  telegramLatencyMs: number;
  /** File references older than this are FILE_REFERENCE_EXPIRED (as Telegram's expire after a while). */
  fileReferenceTtlMs: number;
  logLevel: string;
}

/** Starts everything and brings every number online. On failure everything started is stopped. */
export async function startWorld(o: WorldOptions): Promise<DrillWorld> {
  const binary = o.binary ?? BINARY;
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run \`make build\` (make drill does)`);
  // Small getDifference pages, so catching up after a kill takes several differenceSlice rounds.
  const tg = await TelegramServer.start({ differenceLimit: 20, fileReferenceTtlMs: o.fileReferenceTtlMs });
  const clientSpecs = o.numbersPerClient.map((_, i) => {
    const name = `drill-${String.fromCharCode(97 + i)}`;
    return { name, planfixPath: `/${name}/webchat/api`, planfixToken: `pf-token-${name}` };
  });
  let planfix: FakePlanfix | null = null;
  let app: DrillAppliance | null = null;
  const proxy = new DelayProxy({ host: tg.host, port: tg.port }, o.telegramLatencyMs);
  try {
    await proxy.start();
    planfix = await startFakePlanfix({ accounts: clientSpecs.map((c) => ({ path: c.planfixPath, planfixToken: c.planfixToken, providerId: PROVIDER_ID })) });
    const dir = mkdtempSync(join(tmpdir(), "pt-drill-"));
    const dataDir = join(dir, "data");
    mkdirSync(join(dataDir, "sessions"), { recursive: true });
    const port = await freePort();
    app = new DrillAppliance(
      binary,
      port,
      worldEnv(`127.0.0.1:${proxy.port}`, {
        DATA_DIR: dataDir,
        ADMIN_TOKEN,
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        LOG_LEVEL: o.logLevel,
        RETRY_CAP_SECONDS: String(o.retryCapSeconds),
        PROVIDER_ID,
      }),
      join(dir, "appliance.log"),
    );
    await app.start();

    const clients: DrillClient[] = [];
    const numbers: DrillNumber[] = [];
    const chats: DrillChat[] = [];
    let n = 0;
    for (const [ci, count] of o.numbersPerClient.entries()) {
      const spec = clientSpecs[ci]!;
      const client: DrillClient = { ...spec, token: "", url: planfix.urlFor(spec.planfixPath) };
      for (let k = 0; k < count; k++) {
        const index = n++;
        const phone = `38095${String(1000000 + index).slice(1)}`;
        const user = tg.addUser({ firstName: `Number${index}`, lastName: client.name, phone, username: `drill_number_${index}` });
        // In the client's own folder: a client token may name only files there.
        const file = `${client.name}/${user.id}.session.txt`;
        mkdirSync(join(dataDir, "sessions", client.name), { recursive: true });
        writeFileSync(join(dataDir, "sessions", file), tg.sessionString(user));
        const body = { name: client.name, number: phone, url_planfix: client.url, token_planfix: client.planfixToken, path_session: file };
        const r = await app.call("POST", "/client", client.token || ADMIN_TOKEN, body);
        if (r.status >= 300 || r.json?.state !== "online") throw new Error(`number ${phone} did not start: ${r.status} ${JSON.stringify(r.json)}`);
        if (!client.token) client.token = r.json.token;
        numbers.push({ index, client, user, phone });
      }
      clients.push(client);
    }
    for (const number of numbers) {
      for (let k = 0; k < o.customersPerNumber; k++) {
        const i = chats.length;
        const customer = tg.addUser({
          firstName: `Customer${i}`,
          lastName: `of ${number.index}`,
          phone: `38067${String(1000000 + i).slice(1)}`,
          username: `drill_customer_${i}`,
        });
        chats.push({ index: i, number, customer, chatId: `${number.phone}_${customer.id}` });
      }
    }
    return { tg, proxy, planfix, app, dir, dataDir, clients, numbers, chats };
  } catch (e) {
    await app?.stop(5000).catch(() => {});
    await proxy.stop().catch(() => {});
    await planfix?.stop().catch(() => {});
    await tg.stop().catch(() => {});
    throw e;
  }
}

// The floor: the bench's traffic through bare GramJS clients and a bare HTTP poster, with no appliance
// logic (no SQLite, no outbox, no ordering, no retries). Runs in its own process, as the appliance does.
//   inbound:  UpdateShortMessage from a customer → the same newMessage form body POSTed to the fake Planfix
//   outbound: a Planfix webhook (POST /planfix) → answered at once → messages.sendMessage → messageStatus "sent"
// The floor runs GramJS as the appliance does, with its faster 64-bit conversions: the ratio then shows
// what the appliance's own logic costs, not a difference in GramJS.
import "../../src/telegram/longs.ts";
import { Api, type TelegramClient } from "telegram";
import { Raw } from "telegram/events";
import { connectClient, stopClient } from "../../tests/support/telegram/client.ts";
import { encodeForm, type FormPair } from "../../src/planfix/form.ts";
import { toLong } from "../../src/telegram/gram.ts";
import { serveIpc } from "./ipc.ts";
import type { BenchUser } from "./telegram-core.ts";

export interface FloorChat {
  numberIndex: number;
  customerId: number;
  /** The customer's access hash as this number sees it. */
  accessHash: string;
}

export interface FloorSetup {
  host: string;
  port: number;
  numbers: BenchUser[];
  customers: BenchUser[];
  chats: FloorChat[];
  planfix: { url: string; token: string; providerId: string };
  /** The token webhooks must carry. */
  webhookToken: string;
}

const clients: TelegramClient[] = [];
let server: ReturnType<typeof Bun.serve> | null = null;
const counters = { updates: 0, posted: 0, postErrors: 0, webhooks: 0, sent: 0, sendErrors: 0 };

async function post(url: string, pairs: FormPair[]): Promise<void> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8", accept: "application/json" },
      body: encodeForm(pairs),
    });
    await res.text();
    if (res.ok) counters.posted++;
    else counters.postErrors++;
  } catch {
    counters.postErrors++;
  }
}

async function start(s: FloorSetup): Promise<{ url: string; connectMs: number }> {
  const t0 = performance.now();
  const head: FormPair[] = [
    ["providerId", s.planfix.providerId],
    ["planfix_token", s.planfix.token],
  ];
  const customers = new Map(s.customers.map((c) => [String(c.id), c]));
  const connected: TelegramClient[] = new Array(s.numbers.length);
  let next = 0;
  const worker = async () => {
    while (next < s.numbers.length) {
      const i = next++;
      const number = s.numbers[i]!;
      const client = await connectClient({ host: s.host, port: s.port }, number.session, { timeoutMs: 60_000 });
      client.addEventHandler((u: unknown) => {
        if (!(u instanceof Api.UpdateShortMessage) || u.out) return;
        counters.updates++;
        const c = customers.get(u.userId.toString());
        if (!c) return;
        void post(s.planfix.url, [
          ["cmd", "newMessage"],
          ...head,
          ["chatId", `${number.phone}_${c.id}`],
          ["channel", number.phone],
          ["message", u.message],
          ["title", `Telegram: ${c.firstName} ${c.lastName}${c.username ? ` (@${c.username})` : ""}`],
          ["contactId", String(c.id)],
          ["contactName", c.firstName],
          ["contactLastName", c.lastName],
          ["contactPhone", c.phone],
          ...(c.username ? ([["contactData", `Telegram: https://t.me/${c.username}`]] as FormPair[]) : []),
        ]);
      }, new Raw({}));
      connected[i] = client;
    }
  };
  await Promise.all(Array.from({ length: Math.min(50, s.numbers.length) }, worker));
  clients.push(...connected);

  const chats = new Map<string, { client: TelegramClient; peer: Api.InputPeerUser; contactId: string }>();
  for (const c of s.chats) {
    const number = s.numbers[c.numberIndex]!;
    chats.set(`${number.phone}_${c.customerId}`, {
      client: connected[c.numberIndex]!,
      peer: new Api.InputPeerUser({ userId: toLong(String(c.customerId)), accessHash: toLong(c.accessHash) }),
      contactId: String(c.customerId),
    });
  }
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      if (req.method !== "POST" || new URL(req.url).pathname !== "/planfix") return new Response("not found", { status: 404 });
      const form = new URLSearchParams(await req.text());
      if (form.get("token") !== s.webhookToken) return Response.json({ error: "Invalid token" }, { status: 401 });
      const chatId = form.get("chatId") ?? "";
      const chat = chats.get(chatId);
      const messageId = form.get("messageId") ?? "";
      if (!chat || !messageId) return Response.json({ error: "Invalid parameters" }, { status: 400 });
      counters.webhooks++;
      const randomId = toLong(BigInt.asIntN(64, BigInt(Math.floor(Math.random() * 2 ** 53)) << 11n));
      void chat.client.invoke(new Api.messages.SendMessage({ peer: chat.peer, message: form.get("message") ?? "", randomId })).then(
        () => {
          counters.sent++;
          return post(s.planfix.url, [["cmd", "messageStatus"], ...head, ["messageId", messageId], ["messageStatus", "sent"]]);
        },
        () => void counters.sendErrors++,
      );
      return Response.json({ chatId, contactId: chat.contactId });
    },
  });
  return { url: `http://127.0.0.1:${server.port}/planfix`, connectMs: Math.round(performance.now() - t0) };
}

serveIpc({
  start,
  stats: () => ({ ...counters }),
  async exit() {
    void server?.stop(true);
    await Promise.all(clients.map((c) => stopClient(c)));
    setTimeout(() => process.exit(0), 10);
  },
});

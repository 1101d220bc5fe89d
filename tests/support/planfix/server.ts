// A Planfix of our own: an HTTP server that speaks the "Planfix API for chats" (docs/testing-planfix.md)
// so the appliance can be tested without the internet.
// Deliberately independent of src/planfix/ (own parsing, own encoding), so a bug there cannot hide
// itself here. Built on node:http rather than Bun.serve because faults need raw socket control
// (destroy a connection, hold one open forever).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { renderChatsPage } from "./page.ts";

export interface FakePlanfixAccount {
  /** Path of url_planfix, e.g. `/webchat/api` or `/acme/webchat/api`. */
  path: string;
  planfixToken: string;
  providerId: string;
}

/** How getTask/getContact wrap the number: `{"data":{"number":N}}`, `{"data":"{…}"}` (with statusIsActive), `{"number":N}`. */
export type DataForm = "object" | "string" | "bare";

export type FaultMode =
  | "500" // answer 500 {"error":"Internal server error"}
  | "401" // answer 401 {"error":"Invalid token"} whatever the token
  | "400" // answer 400 {"error":"Invalid parameters"} (Planfix refusing one item)
  | "hang" // read the request, never answer (until the client gives up or the server stops)
  | "drop"; // read the request, then destroy the connection without a word

export interface FaultOptions {
  /** Only the next N matching calls, then healed. */
  calls?: number;
  /** Only for this long, then healed. Without calls/forMs: until heal(). */
  forMs?: number;
  /** Only this command (e.g. "messageStatus"). */
  cmd?: string;
  /** Only this account path. */
  path?: string;
  /** Process the command first (task created, recorded as accepted), then fail the answer: how duplicates are born. */
  afterProcessing?: boolean;
}

export interface FakePlanfixOptions {
  /** 0 (default) = random free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default: one account `{ path: "/webchat/api", planfixToken: "planfix-token", providerId: "planfix-telegram" }`. */
  accounts?: FakePlanfixAccount[];
  dataForm?: DataForm;
  /** Delay before every command answer. */
  latencyMs?: number;
  /** Called for every command once its answer is decided (the CLI prints these). */
  onCommand?: (c: ReceivedCommand) => void;
  /** Where this Planfix posts employees' replies (the chat page's reply box, POST /_control/reply). */
  integration?: PlanfixIntegration;
}

/** Planfix's integration settings: "URL for messages" and "Your token". */
export interface PlanfixIntegration {
  url: string;
  token: string;
}

/** A reply an "employee" sent through this Planfix (the chat page or POST /_control/reply). */
export interface PlanfixReply {
  at: number;
  chatId: string;
  message: string;
  messageId: string;
  /** The appliance's HTTP answer. */
  status: number;
  answer: string;
}

export interface ReceivedCommand {
  /** 1, 2, 3… in order of receipt. */
  seq: number;
  /** Date.now() when the body was complete. */
  at: number;
  path: string;
  method: string;
  contentType: string;
  /** The body exactly as decoded: ordered, repeated keys kept. */
  pairs: [string, string][];
  /** The same as a map (last value wins) for convenience. */
  fields: Record<string, string>;
  cmd: string;
  /** `attachments[name]` zipped with `attachments[url]` in order. */
  attachments: { name: string; url: string }[];
  /** What we answered: an HTTP status, or the fault that ate the answer. */
  status: number | "hang" | "drop";
  /** The command took effect (a newMessage created/updated its task). */
  accepted: boolean;
  /** The error we answered with, if any. */
  error?: string;
}

export interface CommandFilter {
  cmd?: string;
  path?: string;
  chatId?: string;
  accepted?: boolean;
}

export interface PlanfixTask {
  path: string;
  chatId: string;
  number: number;
  /** title of the first newMessage, if any */
  title?: string;
  contactId: string;
  createdAt: number;
}

export interface PlanfixContact {
  path: string;
  contactId: string;
  number: number;
  /** The latest contact card fields received (contactName, contactPhone, …). */
  card: Record<string, string>;
}

export interface HostFileOptions {
  /** Answer this status instead of the file (e.g. 404 → `{"error":"file not found"}`). */
  status?: number;
  /** Wait before the headers. */
  delayMs?: number;
  /** Send the body in chunks of this size (default: all at once, or 64 KiB for generated content)… */
  chunkSize?: number;
  /** …pausing this long between chunks: a slow download. */
  chunkDelayMs?: number;
}

export interface FileDownload {
  at: number;
  path: string;
  name: string;
  status: number;
  /** Bytes written before the response ended (or the client went away). */
  bytesSent: number;
  /** false when the client disconnected early. */
  complete: boolean;
}

export interface WebhookOptions {
  /** How to encode the body: form (Planfix's way, default), json, or multipart. */
  encoding?: "form" | "json" | "multipart";
  /** Order inside each attachment pair; Planfix's docs show name first, the customer's example url first. */
  attachmentOrder?: "name-url" | "url-name";
  timeoutMs?: number;
  headers?: Record<string, string>;
}

export interface WebhookResult {
  status: number;
  /** Parsed JSON, or undefined when the answer was not JSON. */
  body: unknown;
  text: string;
  contentType: string | null;
}

export type FieldValue = string | number | bigint | boolean | null | undefined;

export interface FakePlanfix {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  readonly accounts: readonly FakePlanfixAccount[];
  /** url_planfix of the first account. */
  readonly url: string;
  /** url_planfix of the account with this path (or index). */
  urlFor(account: string | number): string;

  /** Every command received, in order, faulted ones included (see `status`/`accepted`). */
  commands(filter?: CommandFilter | ((c: ReceivedCommand) => boolean)): ReceivedCommand[];
  /** Accepted newMessage commands (what Planfix now shows), optionally of one chat. */
  newMessages(chatId?: string): ReceivedCommand[];
  /** Accepted messageStatus commands, optionally for one messageId. */
  statuses(messageId?: string): ReceivedCommand[];
  tasks(): PlanfixTask[];
  contacts(): PlanfixContact[];
  downloads(): FileDownload[];
  /** Resolves with the predicate's first truthy value; re-checked on every command/download and every 20 ms. */
  waitFor<T>(predicate: () => T, timeoutMs?: number): Promise<NonNullable<T>>;
  /** Forgets recorded commands and downloads (tasks and contacts stay: Planfix does not forget them). */
  clear(): void;
  /** Back to the Planfix as started: no commands, tasks, contacts or faults; numbering, latency and data form as at start. */
  reset(): void;

  fail(mode: FaultMode, options?: FaultOptions): void;
  /** Shorthands for fail("500"|"401"|"hang"|"drop", options). */
  failServer(options?: FaultOptions): void;
  failUnauthorized(options?: FaultOptions): void;
  hang(options?: FaultOptions): void;
  dropConnections(options?: FaultOptions): void;
  /** Ends any fault (requests already hanging stay hung until the client gives up). */
  heal(): void;
  setLatency(ms: number): void;
  setDataForm(form: DataForm): void;

  /** Serves bytes at a URL of this server, like a Planfix file link (no auth). `content: {size}` streams generated bytes. */
  hostFile(name: string, content: Uint8Array | string | { size: number }, mime?: string, options?: HostFileOptions): string;
  /** Sets where replies go (Planfix's "URL for messages" and "Your token"). */
  setIntegration(integration: PlanfixIntegration | null): void;
  /** Sends an employee's reply to the chat as a newMessage webhook with a fresh messageId; needs an integration. */
  reply(chatId: string, message: string): Promise<PlanfixReply>;
  replies(): PlanfixReply[];
  /** The HTML chat page (GET /_control/page). */
  page(): string;
  /** Sends a newMessage webhook the way Planfix does. `cmd` and `providerId` (first account) are added unless given; null omits a field. */
  sendWebhook(url: string, fields: Record<string, FieldValue>, attachments?: { name: string; url: string }[], options?: WebhookOptions): Promise<WebhookResult>;
  stop(): Promise<void>;
}

interface HostedFile {
  name: string;
  mime: string;
  content: Uint8Array | { size: number };
  options: HostFileOptions;
}

interface Fault extends FaultOptions {
  mode: FaultMode;
  until?: number;
  left?: number;
}

const REQUIRED: Record<string, string[]> = {
  newMessage: ["chatId", "message", "contactId", "contactName"],
  messageStatus: ["messageId", "messageStatus"],
  getTask: ["chatId"],
  getContact: ["contactId"],
  updateContact: ["contactId", "contactName"],
};
const CONTACT_FIELDS = ["contactName", "contactLastName", "contactIco", "contactEmail", "contactPhone", "contactData"];

export async function startFakePlanfix(options: FakePlanfixOptions = {}): Promise<FakePlanfix> {
  const accounts: FakePlanfixAccount[] = (options.accounts ?? [{ path: "/webchat/api", planfixToken: "planfix-token", providerId: "planfix-telegram" }]).map((a) => ({
    ...a,
    path: normalizePath(a.path),
  }));
  const host = options.host ?? "127.0.0.1";
  const initialDataForm = options.dataForm ?? "object";

  let received: ReceivedCommand[] = [];
  let downloads: FileDownload[] = [];
  let tasks: PlanfixTask[] = [];
  let contacts: PlanfixContact[] = [];
  let replies: PlanfixReply[] = [];
  let integration: PlanfixIntegration | null = options.integration ?? null;
  let replySeq = 0;
  let fault: Fault | undefined;
  let latencyMs = options.latencyMs ?? 0;
  let dataForm: DataForm = initialDataForm;
  let seq = 0;
  let nextTask = 1001;
  let nextContact = 5001;
  const files = new Map<string, HostedFile>();
  let nextFile = 1;
  const waiters = new Set<() => void>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const sockets = new Set<Socket>();

  const notify = () => {
    for (const w of [...waiters]) w();
  };
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  function activeFault(path: string, cmd: string): Fault | undefined {
    if (!fault) return undefined;
    if (fault.until !== undefined && Date.now() >= fault.until) {
      fault = undefined;
      return undefined;
    }
    if (fault.cmd !== undefined && fault.cmd !== cmd) return undefined;
    if (fault.path !== undefined && normalizePath(fault.path) !== path) return undefined;
    const f = fault;
    if (f.left !== undefined && --f.left <= 0) fault = undefined;
    return f;
  }

  /** The Planfix side effects of an accepted command, and its answer. */
  function execute(account: FakePlanfixAccount, cmd: string, fields: Record<string, string>, at: number): { status: number; body: string } {
    const findTask = (chatId: string) => tasks.find((t) => t.path === account.path && t.chatId === chatId);
    const findContact = (contactId: string) => contacts.find((c) => c.path === account.path && c.contactId === contactId);
    const upsertContact = () => {
      const card: Record<string, string> = {};
      for (const k of CONTACT_FIELDS) if (fields[k] !== undefined) card[k] = fields[k];
      const existing = findContact(fields.contactId!);
      if (existing) Object.assign(existing.card, card);
      else contacts.push({ path: account.path, contactId: fields.contactId!, number: nextContact++, card });
    };
    switch (cmd) {
      case "newMessage": {
        if (!findTask(fields.chatId!)) {
          const t: PlanfixTask = { path: account.path, chatId: fields.chatId!, number: nextTask++, contactId: fields.contactId!, createdAt: at };
          if (fields.title) t.title = fields.title;
          tasks.push(t);
        }
        upsertContact(); // the contact card rides along with every message, echoes included
        return { status: 200, body: "" };
      }
      case "updateContact":
        upsertContact();
        return { status: 200, body: "" };
      case "messageStatus":
        return { status: 200, body: "" };
      case "getTask": {
        const t = findTask(fields.chatId!);
        return t ? { status: 200, body: numberAnswer(t.number, dataForm) } : { status: 400, body: JSON.stringify({ error: "task not found" }) };
      }
      case "getContact": {
        const c = findContact(fields.contactId!);
        return c ? { status: 200, body: numberAnswer(c.number, dataForm) } : { status: 400, body: JSON.stringify({ error: "unknown contact" }) };
      }
    }
    return { status: 400, body: JSON.stringify({ error: "Invalid parameters" }) };
  }

  async function handleCommand(account: FakePlanfixAccount, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const at = Date.now();
    const contentType = req.headers["content-type"] ?? "";
    const pairs: [string, string][] = [];
    const isForm = contentType.toLowerCase().startsWith("application/x-www-form-urlencoded");
    if (isForm) for (const [k, v] of new URLSearchParams(raw.toString("utf8"))) pairs.push([k, v]);
    const fields: Record<string, string> = {};
    const names: string[] = [];
    const urls: string[] = [];
    for (const [k, v] of pairs) {
      if (k === "attachments[name]") names.push(v);
      else if (k === "attachments[url]") urls.push(v);
      else fields[k] = v;
    }
    const cmd = fields.cmd ?? "";
    const rec: ReceivedCommand = {
      seq: ++seq,
      at,
      path: account.path,
      method: req.method ?? "",
      contentType,
      pairs,
      fields,
      cmd,
      attachments: names.map((name, i) => ({ name, url: urls[i] ?? "" })),
      status: 0,
      accepted: false,
    };
    received.push(rec);

    const answer = (status: number, body: string) => {
      rec.status = status;
      const parsed = body ? (JSON.parse(body) as { error?: unknown }) : undefined;
      if (typeof parsed?.error === "string") rec.error = parsed.error;
      done();
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(status, body ? { "content-type": "application/json" } : {});
        res.end(body);
      };
      if (latencyMs > 0) later(latencyMs, send);
      else send();
    };
    const done = () => {
      options.onCommand?.(rec);
      notify();
    };
    const invalid = () => answer(400, JSON.stringify({ error: "Invalid parameters" }));

    if (req.method !== "POST" || !isForm) return invalid();
    const f = activeFault(account.path, cmd);
    if (f && !f.afterProcessing) return applyFault(f, rec, res, answer, done);
    if (fields.planfix_token !== account.planfixToken) return answer(401, JSON.stringify({ error: "Invalid token" }));
    if (fields.providerId !== account.providerId) return invalid();
    const required = REQUIRED[cmd];
    if (!required || required.some((k) => !fields[k]?.trim())) return invalid();
    if (names.length !== urls.length || urls.some((u) => !u.trim())) return invalid();
    const out = execute(account, cmd, fields, at);
    rec.accepted = out.status === 200;
    if (f) return applyFault(f, rec, res, answer, done);
    answer(out.status, out.body);
  }

  function applyFault(f: Fault, rec: ReceivedCommand, res: ServerResponse, answer: (s: number, b: string) => void, done: () => void): void {
    switch (f.mode) {
      case "500":
        return answer(500, JSON.stringify({ error: "Internal server error" }));
      case "401":
        return answer(401, JSON.stringify({ error: "Invalid token" }));
      case "400":
        return answer(400, JSON.stringify({ error: "Invalid parameters" }));
      case "hang":
        rec.status = "hang";
        return done();
      case "drop":
        rec.status = "drop";
        done();
        res.socket?.destroy();
        return;
    }
  }

  function handleFile(id: string, req: IncomingMessage, res: ServerResponse): void {
    const file = files.get(id);
    const dl: FileDownload = { at: Date.now(), path: req.url ?? "", name: file?.name ?? "", status: 404, bytesSent: 0, complete: false };
    downloads.push(dl);
    const finish = () => notify();
    if (!file || (file.options.status !== undefined && file.options.status !== 200)) {
      dl.status = file?.options.status ?? 404;
      later(file?.options.delayMs ?? 0, () => {
        if (res.destroyed) return;
        res.writeHead(dl.status, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: "file not found" }));
        dl.complete = true;
        finish();
      });
      return;
    }
    const size = file.content instanceof Uint8Array ? file.content.byteLength : file.content.size;
    dl.status = 200;
    const chunkSize = file.options.chunkSize ?? (file.content instanceof Uint8Array ? Math.max(size, 1) : 64 * 1024);
    const chunkDelay = file.options.chunkDelayMs ?? 0;
    res.on("close", () => {
      if (!dl.complete) finish();
    });
    const chunkAt = (offset: number): Uint8Array => {
      const end = Math.min(offset + chunkSize, size);
      if (file.content instanceof Uint8Array) return file.content.subarray(offset, end);
      const out = new Uint8Array(end - offset);
      for (let i = 0; i < out.length; i++) out[i] = (offset + i) % 251; // deterministic, checkable
      return out;
    };
    const pump = (offset: number) => {
      if (res.destroyed) return;
      if (offset >= size) {
        res.end();
        dl.complete = true;
        finish();
        return;
      }
      const chunk = chunkAt(offset);
      res.write(chunk);
      dl.bytesSent += chunk.byteLength;
      if (chunkDelay > 0) later(chunkDelay, () => pump(offset + chunk.byteLength));
      else pump(offset + chunk.byteLength);
    };
    later(file.options.delayMs ?? 0, () => {
      if (res.destroyed) return;
      res.writeHead(200, {
        "content-type": file.mime,
        "content-length": String(size),
        "content-disposition": `attachment; filename*=UTF-8''${encodeURIComponent(file.name)}`,
      });
      if (req.method === "HEAD") {
        res.end();
        dl.complete = true;
        return finish();
      }
      pump(0);
    });
  }

  async function handleControl(route: string, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? String(v) : v)));
    };
    const body = req.method === "POST" ? await readBody(req) : Buffer.alloc(0);
    let input: Record<string, unknown> = {};
    if (body.length > 0) {
      try {
        input = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
      } catch {
        return json(400, { error: "control bodies are JSON" });
      }
    }
    const faultOptions = (): FaultOptions => {
      const o: FaultOptions = {};
      if (typeof input.calls === "number") o.calls = input.calls;
      if (typeof input.forMs === "number") o.forMs = input.forMs;
      if (typeof input.cmd === "string") o.cmd = input.cmd;
      if (typeof input.path === "string") o.path = input.path;
      if (input.afterProcessing === true) o.afterProcessing = true;
      return o;
    };
    const key = `${req.method} ${route}`;
    switch (key) {
      case "GET /":
        return json(200, {
          port: api.port,
          url_planfix: api.url,
          accounts: accounts.map((a) => ({ ...a, url_planfix: api.urlFor(a.path) })),
          dataForm,
          latencyMs,
          fault: fault ?? null,
        });
      case "GET /commands": {
        const filter: CommandFilter = {};
        for (const k of ["cmd", "path", "chatId"] as const) {
          const v = query.get(k);
          if (v !== null) filter[k] = v;
        }
        const acc = query.get("accepted");
        if (acc !== null) filter.accepted = acc === "true";
        return json(200, api.commands(filter));
      }
      case "GET /tasks":
        return json(200, api.tasks());
      case "GET /contacts":
        return json(200, api.contacts());
      case "GET /downloads":
        return json(200, api.downloads());
      case "POST /fail": {
        const mode = String(input.mode ?? "");
        if (!["500", "401", "400", "hang", "drop"].includes(mode)) return json(400, { error: "mode must be 500, 401, 400, hang or drop" });
        api.fail(mode as FaultMode, faultOptions());
        return json(200, { fault });
      }
      case "POST /heal":
        api.heal();
        return json(200, {});
      case "POST /latency":
        api.setLatency(Number(input.ms ?? 0));
        return json(200, { latencyMs });
      case "POST /data-form": {
        const form = String(input.form ?? "");
        if (!["object", "string", "bare"].includes(form)) return json(400, { error: "form must be object, string or bare" });
        api.setDataForm(form as DataForm);
        return json(200, { dataForm });
      }
      case "POST /clear":
        api.clear();
        return json(200, {});
      case "POST /reset":
        api.reset();
        return json(200, {});
      case "POST /files": {
        const name = String(input.name ?? "file.bin");
        const content =
          typeof input.size === "number" ? { size: input.size } : typeof input.base64 === "string" ? new Uint8Array(Buffer.from(input.base64, "base64")) : String(input.text ?? "");
        const opts: HostFileOptions = {};
        for (const k of ["status", "delayMs", "chunkSize", "chunkDelayMs"] as const) if (typeof input[k] === "number") opts[k] = input[k];
        return json(200, { url: api.hostFile(name, content, typeof input.mime === "string" ? input.mime : undefined, opts) });
      }
      case "POST /integration": {
        if (typeof input.url !== "string" || typeof input.token !== "string") return json(400, { error: "url and token are required" });
        api.setIntegration({ url: input.url, token: input.token });
        return json(200, { url: input.url });
      }
      case "GET /replies":
        return json(200, api.replies());
      case "POST /reply": {
        if (typeof input.chatId !== "string" || typeof input.message !== "string") return json(400, { error: "chatId and message are required" });
        if (!integration) return json(409, { error: "no integration: POST /_control/integration {url, token} first" });
        try {
          return json(200, await api.reply(input.chatId, input.message));
        } catch (e) {
          return json(502, { error: e instanceof Error ? e.message : String(e) });
        }
      }
      case "POST /webhook": {
        if (typeof input.url !== "string" || !isRecord(input.fields)) return json(400, { error: "url and fields are required" });
        const atts = Array.isArray(input.attachments) ? (input.attachments as { name: string; url: string }[]) : [];
        const wopts: WebhookOptions = {};
        if (input.encoding === "json" || input.encoding === "multipart" || input.encoding === "form") wopts.encoding = input.encoding;
        if (input.attachmentOrder === "url-name" || input.attachmentOrder === "name-url") wopts.attachmentOrder = input.attachmentOrder;
        try {
          return json(200, await api.sendWebhook(input.url, input.fields as Record<string, FieldValue>, atts, wopts));
        } catch (e) {
          return json(502, { error: e instanceof Error ? e.message : String(e) });
        }
      }
    }
    return json(404, { error: `no control route ${key}` });
  }

  /** The chat page's reply box: a plain form post, answered with a redirect back to the page. */
  async function handlePageReply(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams((await readBody(req)).toString("utf8"));
    const chatId = form.get("chatId")?.trim();
    const message = form.get("message")?.trim();
    if (!chatId || !message || !integration) {
      res.writeHead(400, { "content-type": "text/plain; charset=utf-8" });
      return void res.end(!integration ? "No integration is set up: replies have nowhere to go." : "chatId and message are required.");
    }
    await api.reply(chatId, message).catch(() => undefined); // recorded either way; the page shows the outcome
    res.writeHead(303, { location: "/_control/page" });
    res.end();
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://planfix.local");
    const path = normalizePath(url.pathname);
    const run = async () => {
      if (path === "/_control/page" && req.method === "GET") {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        return void res.end(api.page());
      }
      if (path === "/_control/page/reply" && req.method === "POST") return handlePageReply(req, res);
      if (path === "/_control" || path.startsWith("/_control/")) return handleControl(path.slice("/_control".length) || "/", req, res, url.searchParams);
      const fileMatch = /^\/_files\/(\d+)\//.exec(url.pathname);
      if (fileMatch && (req.method === "GET" || req.method === "HEAD")) return handleFile(fileMatch[1]!, req, res);
      const account = accounts.find((a) => a.path === path);
      if (account) return handleCommand(account, req, res);
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "not found" }));
    };
    run().catch((e: unknown) => {
      if (res.headersSent || res.destroyed) return void res.destroy();
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: e instanceof Error ? e.message : String(e) }));
    });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `http://${host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;

  const matches = (c: ReceivedCommand, f: CommandFilter) =>
    (f.cmd === undefined || c.cmd === f.cmd) &&
    (f.path === undefined || c.path === normalizePath(f.path)) &&
    (f.chatId === undefined || c.fields.chatId === f.chatId) &&
    (f.accepted === undefined || c.accepted === f.accepted);

  const api: FakePlanfix = {
    port,
    origin,
    accounts,
    url: `${origin}${accounts[0]?.path ?? "/webchat/api"}`,
    urlFor(account) {
      const a = typeof account === "number" ? accounts[account] : accounts.find((x) => x.path === normalizePath(account));
      if (!a) throw new Error(`no fake Planfix account ${String(account)}`);
      return `${origin}${a.path}`;
    },
    commands(filter) {
      if (!filter) return [...received];
      return received.filter(typeof filter === "function" ? filter : (c) => matches(c, filter));
    },
    newMessages(chatId) {
      return received.filter((c) => c.accepted && c.cmd === "newMessage" && (chatId === undefined || c.fields.chatId === chatId));
    },
    statuses(messageId) {
      return received.filter((c) => c.accepted && c.cmd === "messageStatus" && (messageId === undefined || c.fields.messageId === messageId));
    },
    tasks: () => tasks.map((t) => ({ ...t })),
    contacts: () => contacts.map((c) => ({ ...c, card: { ...c.card } })),
    downloads: () => downloads.map((d) => ({ ...d })),
    waitFor<T>(predicate: () => T, timeoutMs = 5000): Promise<NonNullable<T>> {
      return new Promise((resolve, reject) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        let poll: ReturnType<typeof setInterval> | undefined;
        const finish = () => {
          waiters.delete(check);
          clearTimeout(timer);
          clearInterval(poll);
        };
        const check = () => {
          try {
            const v = predicate();
            if (v) {
              finish();
              resolve(v as NonNullable<T>);
            }
          } catch (e) {
            finish();
            reject(e);
          }
        };
        waiters.add(check);
        poll = setInterval(check, 20);
        timer = setTimeout(() => {
          finish();
          const last = received
            .slice(-5)
            .map((c) => `#${c.seq} ${c.cmd} → ${c.status}`)
            .join(", ");
          reject(new Error(`fake Planfix: condition not met within ${timeoutMs} ms (last commands: ${last || "none"})`));
        }, timeoutMs);
        check();
      });
    },
    clear() {
      received = [];
      downloads = [];
    },
    reset() {
      received = [];
      downloads = [];
      replies = [];
      tasks = [];
      contacts = [];
      fault = undefined;
      latencyMs = options.latencyMs ?? 0;
      dataForm = initialDataForm;
      seq = 0;
      nextTask = 1001;
      nextContact = 5001;
    },
    fail(mode, o = {}) {
      const f: Fault = { mode, ...o };
      if (o.calls !== undefined) f.left = o.calls;
      if (o.forMs !== undefined) f.until = Date.now() + o.forMs;
      fault = f;
    },
    failServer: (o) => api.fail("500", o),
    failUnauthorized: (o) => api.fail("401", o),
    hang: (o) => api.fail("hang", o),
    dropConnections: (o) => api.fail("drop", o),
    heal() {
      fault = undefined;
    },
    setLatency(ms) {
      latencyMs = Math.max(0, ms);
    },
    setDataForm(form) {
      dataForm = form;
    },
    hostFile(name, content, mime = "application/octet-stream", o = {}) {
      const id = String(nextFile++);
      const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
      files.set(id, { name, mime, content: bytes, options: o });
      return `${origin}/_files/${id}/${encodeURIComponent(name)}`;
    },
    setIntegration(i) {
      integration = i;
    },
    async reply(chatId, message) {
      if (!integration) throw new Error("no integration set up");
      // Planfix message ids are numbers, unique per integration.
      const messageId = `${Date.now()}${String(++replySeq).padStart(3, "0")}`;
      const r: PlanfixReply = { at: Date.now(), chatId, message, messageId, status: 0, answer: "" };
      replies.push(r);
      try {
        const res = await api.sendWebhook(integration.url, { token: integration.token, chatId, message, messageId });
        r.status = res.status;
        r.answer = res.text;
      } catch (e) {
        r.answer = e instanceof Error ? e.message : String(e);
        throw e;
      } finally {
        notify();
      }
      return { ...r };
    },
    replies: () => replies.map((r) => ({ ...r })),
    page: () =>
      renderChatsPage({
        tasks: api.tasks(),
        messages: api.newMessages(),
        statuses: api.statuses(),
        replies: api.replies(),
        replyTo: integration?.url ?? null,
      }),
    async sendWebhook(url, fields, attachments = [], o = {}) {
      const all: [string, string][] = [];
      const given = new Set(Object.keys(fields));
      if (!given.has("cmd")) all.push(["cmd", "newMessage"]);
      if (!given.has("providerId") && accounts[0]) all.push(["providerId", accounts[0].providerId]);
      for (const [k, v] of Object.entries(fields)) if (v !== null && v !== undefined) all.push([k, String(v)]);
      const attPairs: [string, string][] = [];
      for (const a of attachments) {
        const name: [string, string] = ["attachments[name]", a.name];
        const link: [string, string] = ["attachments[url]", a.url];
        attPairs.push(...(o.attachmentOrder === "url-name" ? [link, name] : [name, link]));
      }
      let body: string | FormData;
      const headers: Record<string, string> = { ...o.headers };
      if (o.encoding === "json") {
        body = JSON.stringify({ ...Object.fromEntries(all), attachments });
        headers["content-type"] = "application/json";
      } else if (o.encoding === "multipart") {
        const fd = new FormData();
        for (const [k, v] of [...all, ...attPairs]) fd.append(k, v);
        body = fd; // fetch sets the boundary
      } else {
        const params = new URLSearchParams();
        for (const [k, v] of [...all, ...attPairs]) params.append(k, v);
        body = params.toString();
        headers["content-type"] = "application/x-www-form-urlencoded";
      }
      const res = await fetch(url, { method: "POST", body, headers, signal: AbortSignal.timeout(o.timeoutMs ?? 10_000) });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, body: parsed, text, contentType: res.headers.get("content-type") };
    },
    async stop() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const w of [...waiters]) waiters.delete(w);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy(); // hung requests included
      await closed;
    },
  };
  return api;
}

function numberAnswer(number: number, form: DataForm): string {
  if (form === "bare") return JSON.stringify({ number });
  if (form === "string") return JSON.stringify({ data: JSON.stringify({ number, statusIsActive: true }) });
  return JSON.stringify({ data: { number } });
}

function normalizePath(p: string): string {
  const withSlash = p.startsWith("/") ? p : `/${p}`;
  return withSlash.length > 1 ? withSlash.replace(/\/+$/, "") : withSlash;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

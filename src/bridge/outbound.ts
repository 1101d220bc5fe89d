// Planfix → Telegram. The webhook's message is stored as a job (idempotent by client + messageId) and
// answered at once; a per-number pump sends jobs per chat in order: the text first, then each file in
// Planfix's order, every part with an idempotency key derived from the job so a resend is recognised.
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { type MessengerCapabilities, type Refusal, TelegramFailure, type OutgoingFile, type PeerInfo, type TelegramConnection } from "../domain/telegram-port.ts";
import { errorText, type Logger } from "../log.ts";
import { logFields } from "./log-fields.ts";
import type { PlanfixInboundMessage } from "../planfix/index.ts";
import type { ClientRepository, Job, JobRepository, PeerRepository, Transaction } from "../domain/repositories.ts";
import type { Account, Client } from "../domain/accounts.ts";
import { chatIdFor, parseChatId } from "./chat-id.ts";
import type { NetGuard } from "../net/guarded-fetch.ts";
import { DownloadError, downloadToFile, DownloadSlots } from "./download.ts";
import type { InboundBridge } from "./inbound.ts";
import type { LookupLimiter } from "./lookup-limiter.ts";
import { dueAndNext } from "./heads.ts";
import { PumpSet } from "./pump.ts";
import { splitText } from "./split-text.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { Outcome, OutcomeListener } from "./outcomes.ts";
import { countTelegramFailure } from "../metrics/telegram-failures.ts";
import { nextAttemptAt, retryAge, type RetryPolicy } from "./retry.ts";
import { textsFor, type Language, type Texts } from "./texts.ts";

export class WebhookError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export interface OutboundDeps {
  clients: ClientRepository;
  peers: PeerRepository;
  jobs: JobRepository;
  inbound: InboundBridge;
  limiter: LookupLimiter;
  maxFileBytes: number;
  downloadTimeoutMs: number;
  /** Every attachment download goes through it (no internal destinations). */
  guard: NetGuard;
  /** Where downloads are streamed to before they are uploaded to Telegram. */
  tmpDir: string;
  /** Attachment downloads at once: per number and in total (default 2 and 8). */
  slots?: DownloadSlots;
  retry: RetryPolicy;
  /** How long a job waits for its number to come online before it is reported as an error. */
  offlineGiveUpMs: number;
  /** Flood waits longer than this are reported as errors instead of waited out. */
  maxFloodWaitMs: number;
  /** LANGUAGE: messageStatusText in the customer's language, unless the number sets its own. */
  language: Language;
  log: Logger;
  /** Units of work: a job's outcome and the status reporting it, stored together. */
  transaction: Transaction;
  /** The clock (tests: fake time). */
  now?: () => number;
  connection(accountId: number): TelegramConnection | null;
  /** Whether the number can address the user without a lookup (the connector's `knows`), online or not. */
  canAddress(accountId: number, userId: string): boolean;
  /** The messenger's rules (longest text, what a failure means). */
  capabilities: MessengerCapabilities;
  /** Where Telegram errors are counted (/metrics); nothing counted when absent. */
  metrics?: Metrics;
  /** Told each message's outcome (bridge/outcomes.ts); /metrics hangs off it. */
  onOutcome?: OutcomeListener;
}

/** Planfix message ids are numbers; ours (for a webhook without messageId) start with this. */
export const NO_MESSAGE_ID = "~";
const USER_ID = /^\d{1,20}$/;
/** A first message's lookup must answer well within Planfix's patience (5 s, with room for the rest of the request). */
const FIRST_LOOKUP_MS = 4_000;
const TIMED_OUT = Symbol("timed out");

const IMAGE = /\.(jpe?g|png|webp|gif|bmp)$/i;
const MIME: Record<string, string> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  gif: "image/gif",
  bmp: "image/bmp",
  pdf: "application/pdf",
  txt: "text/plain",
  mp4: "video/mp4",
  mp3: "audio/mpeg",
  ogg: "audio/ogg",
  zip: "application/zip",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
};

/** How long the number's status shows that it may not write first to new contacts (Telegram's limit lasts hours to days). */
export const PEER_FLOOD_SHOWN_MS = 24 * 3600_000;

/** A part's idempotency key: the same job and part always give the same key (a resend is recognised). */
export const partKey = (seed: string, part: number): string => `${seed}:${part}`;
/** The job's random seed in a part's key (what a read reported by key maps back to). */
export const seedOfKey = (key: string): string => key.slice(0, key.lastIndexOf(":"));

export class OutboundBridge {
  private readonly pumps = new PumpSet(
    (id) => this.round(id),
    (id, e) => void logFields(this.deps.clients, id).then((fields) => this.deps.log.error("send round failed", { ...fields, error: errorText(e) })),
  );

  private readonly slots: DownloadSlots;
  /** Per number, the chats whose head is being sent now; and every send in flight (for stop). */
  private readonly busy = new Map<number, Set<string>>();
  private readonly inFlight = new Set<Promise<void>>();

  private readonly now: () => number;

  constructor(private readonly deps: OutboundDeps) {
    this.slots = deps.slots ?? new DownloadSlots();
    this.now = deps.now ?? Date.now;
  }

  /**
   * Accepts Planfix's newMessage for `client`: routes it to a number and a recipient, stores the job,
   * and returns the chatId / contactId to answer. A repeated messageId returns the first answer.
   */
  async accept(client: Client, m: PlanfixInboundMessage): Promise<{ chatId: string; contactId: string }> {
    const { account, userId: ours } = await this.route(client, m);
    if (m.messageId !== undefined) {
      const prior = await this.deps.jobs.byMessage(client.id, m.messageId);
      if (prior) return { chatId: prior.chatId, contactId: prior.contactId };
    } else {
      this.deps.log.warn("Planfix sent no messageId: the message is sent, but a repeated call cannot be recognised and no status goes back", {
        ...(await logFields(this.deps.clients, account.id)),
      });
    }

    const lookup = { username: m.telegramUserName || undefined, phone: m.contactPhone?.replace(/\D/g, "") || undefined };
    const userId = ours ?? (await this.resolveFirst(account, m, lookup));

    const chatId = chatIdFor(account.number, userId);
    const { job } = await this.deps.jobs.addOrGet({
      clientId: client.id,
      // Without Planfix's id the job still needs a unique key; the `~` marks it as ours (no status is reported for it).
      planfixMessageId: m.messageId ?? `${NO_MESSAGE_ID}${randomBytes(12).toString("hex")}`,
      accountId: account.id,
      chatId,
      contactId: userId,
      peerUserId: userId,
      lookup: lookup.username || lookup.phone ? JSON.stringify(lookup) : null,
      text: m.message,
      attachments: JSON.stringify(m.attachments),
      randomSeed: randomBytes(16).toString("hex"),
    });
    this.kick(account.id);
    return { chatId: job.chatId, contactId: job.contactId };
  }

  /**
   * A message to a chat we did not create (a first message, or Planfix's own chat id): the recipient is
   * the first of chatId / telegramUserId / telegramUserName / contactPhone that this number can reach.
   * An id the number already knows needs no lookup (so it is accepted while the number is offline);
   * a username or phone is looked up now, within FIRST_LOOKUP_MS, because the answer must carry the chat.
   */
  private async resolveFirst(account: Account, m: PlanfixInboundMessage, by: { username?: string; phone?: string }): Promise<string> {
    const ids = [...new Set([m.chatId, m.telegramUserId].filter((x): x is string => !!x && USER_ID.test(x)))];
    const known = ids.find((id) => this.deps.canAddress(account.id, id));
    if (known) return known;
    if (!by.username && !by.phone) {
      // An id this number has not seen yet: kept as before, the send finds out (and reports an error status) if it cannot reach it.
      if (ids[0]) return ids[0];
      if (m.chatId)
        throw new WebhookError(
          400,
          `chatId "${m.chatId}" is not a chat of this client's numbers, and no telegramUserId, telegramUserName or contactPhone names the recipient`,
          "chatId",
        );
      throw new WebhookError(400, "a recipient is needed: chatId, telegramUserId, telegramUserName or contactPhone", "contactPhone");
    }
    const field = by.username ? "telegramUserName" : "contactPhone";
    const who = by.username ? `@${by.username}` : `phone ${by.phone}`;
    const cached = await this.cachedLookup(account.id, by);
    if (cached) return cached.userId;
    const conn = this.deps.connection(account.id);
    if (!conn) throw new WebhookError(400, `number ${account.number} is ${account.state}, so ${who} cannot be looked up in Telegram now; send again once it is online`, "channel");
    let found: PeerInfo | null | typeof TIMED_OUT;
    try {
      const lookup = this.lookup(account.id, conn, by, FIRST_LOOKUP_MS);
      // A lookup that outlives the answer still finishes and fills the cache: sending again then answers at once.
      lookup.catch(() => {});
      found = await Promise.race([lookup, Bun.sleep(FIRST_LOOKUP_MS).then((): typeof TIMED_OUT => TIMED_OUT)]);
    } catch (e) {
      throw new WebhookError(400, `${who} could not be looked up in Telegram: ${e instanceof TelegramFailure ? e.reason : errorText(e)}`, field);
    }
    if (found === TIMED_OUT) throw new WebhookError(400, `Telegram did not answer the lookup of ${who} within ${FIRST_LOOKUP_MS / 1000} s; send again in a moment`, field);
    if (found) return found.userId;
    if (ids[0]) return ids[0];
    throw new WebhookError(400, `no Telegram user found for ${who}`, field);
  }

  /** The number, and the Telegram user when chatId is one we handed out; otherwise channel or the client's only number. */
  private async route(client: Client, m: PlanfixInboundMessage): Promise<{ account: Account; userId: string | null }> {
    const own = (number: string) => this.deps.clients.accountOfClient(client.id, number);
    const parsed = m.chatId ? parseChatId(m.chatId) : null;
    const account = parsed && (await own(parsed.number));
    if (account) return { account, userId: parsed!.userId };
    // Shaped like ours but for a number this client does not have (another client's, or none): refused
    // as before, never re-routed, so a reply meant for another chat cannot leave from this client's number.
    if (parsed) throw new WebhookError(400, `chatId "${m.chatId}" is not a chat of this client's numbers`, "chatId");
    // Not one of ours: Planfix's own chat id, or a bare Telegram user id as in the customer's task.
    if (m.channel) {
      const byChannel = await own(m.channel.replace(/\D/g, ""));
      if (!byChannel) throw new WebhookError(400, `channel "${m.channel}" is not a number of this client`, "channel");
      return { account: byChannel, userId: null };
    }
    const all = await this.deps.clients.accountsOfClient(client.id);
    if (all.length === 1) return { account: all[0]!, userId: null };
    if (all.length === 0) throw new WebhookError(400, "this client has no numbers", "channel");
    throw new WebhookError(
      400,
      m.chatId
        ? `chatId "${m.chatId}" is not a chat of this client's numbers, and channel is needed: this client has several numbers`
        : "channel is needed: this client has several numbers",
      m.chatId ? "chatId" : "channel",
    );
  }

  kick(accountId: number): void {
    this.pumps.kick(accountId);
  }

  async resumeAll(): Promise<void> {
    for (const id of await this.deps.jobs.accountsWithPending()) this.kick(id);
  }

  async stop(): Promise<void> {
    await this.pumps.stop();
    await Promise.all([...this.inFlight]);
  }

  /** Resolves when every send in flight has ended (tests drive rounds by hand and wait for their sends). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** One round of a number's pump: starts the due head of each chat; returns when the next is due. */
  async round(accountId: number): Promise<number | null> {
    const now = this.now();
    const heads = await this.deps.jobs.heads(accountId);
    const { due } = dueAndNext(heads, now);
    let busy = this.busy.get(accountId);
    if (!busy) this.busy.set(accountId, (busy = new Set()));
    // A send runs on its own, not for the length of a round: a slow one (a big download) does not hold
    // up other chats; a chat's next job starts when its head's send ends (which kicks the pump).
    for (const job of due) {
      if (busy.has(job.chatId)) continue;
      busy.add(job.chatId);
      const p: Promise<void> = this.send(job)
        .catch(async (e) => this.deps.log.error("send failed", { ...(await logFields(this.deps.clients, accountId)), job: job.id, error: errorText(e) }))
        .finally(() => {
          busy.delete(job.chatId);
          this.inFlight.delete(p);
          this.kick(accountId);
        });
      this.inFlight.add(p);
    }
    const waiting = heads.filter((h) => h.nextAttemptAt > now).map((h) => h.nextAttemptAt);
    return waiting.length > 0 ? Math.min(...waiting) : null;
  }

  private async send(job: Job): Promise<void> {
    const account = await this.deps.clients.accountById(job.accountId);
    if (!account) return;
    const conn = this.deps.connection(job.accountId);
    if (!conn) {
      if (retryAge(job, this.now()) > this.deps.offlineGiveUpMs)
        return this.fail(job, `number ${account.number} has been offline too long (${account.state})`, this.texts(account).offlineTooLong(account.number, account.state));
      this.health.problem(job.accountId, "to_telegram", `number ${account.number} is ${account.state}; messages wait for it`);
      return this.deps.jobs.retryLater(job.id, job.attempts, this.now() + 2000, `number ${account.number} is ${account.state}`);
    }
    try {
      const peer = await this.recipient(job, conn);
      if (!peer)
        return this.fail(
          job,
          "unknown recipient: this Telegram account cannot reach the user (no access hash, username or phone that resolves)",
          this.texts(account).unknownRecipient,
        );
      const attachments = JSON.parse(job.attachments) as { name: string; url: string }[];
      const parts: ({ kind: "text"; text: string } | { kind: "file"; name: string; url: string })[] = [];
      for (const chunk of splitText(job.text, this.deps.capabilities.maxTextLength)) parts.push({ kind: "text", text: chunk });
      for (const a of attachments) parts.push({ kind: "file", name: a.name, url: a.url });
      for (let i = job.partsDone; i < parts.length; i++) {
        const part = parts[i]!;
        const key = partKey(job.randomSeed, i);
        try {
          // The connector keeps the message it became under the key: its echo and its read map back here.
          if (part.kind === "text") await conn.sendText(peer, part.text, key);
          else await this.sendAttachment(job.accountId, conn, peer, part, key);
        } catch (e) {
          // This part was sent before a crash or a lost answer: the messenger refuses its key again.
          if (!(e instanceof TelegramFailure && this.deps.capabilities.meaningOf(e) === "already_sent")) throw e;
        }
        if (i < parts.length - 1) {
          await this.deps.jobs.partSent(job, i);
          continue;
        }
        // The last part, the job marked sent and its "sent" status: one transaction, shared with other
        // writes of this event-loop turn.
        await this.deps.transaction(async (tx) => {
          await tx.jobs.recordPart(job, i);
          await tx.jobs.finish(job.id, "sent");
          await this.deps.inbound.enqueueStatus(tx, job.accountId, job.peerUserId, `sent:${job.id}`, { messageId: job.planfixMessageId, status: "sent" });
        });
        this.outcome(job, "sent");
        this.health.ok(job.accountId, "to_telegram");
        return;
      }
      // Nothing was left to send (every part went out before a restart).
      await this.deps.transaction(async (tx) => {
        await tx.jobs.finish(job.id, "sent");
        await this.deps.inbound.enqueueStatus(tx, job.accountId, job.peerUserId, `sent:${job.id}`, { messageId: job.planfixMessageId, status: "sent" });
      });
      this.outcome(job, "sent");
      this.health.ok(job.accountId, "to_telegram");
    } catch (e) {
      if (e instanceof TelegramFailure) countTelegramFailure(this.deps.metrics, e);
      await this.onError(job, e);
      // Still pending: this attempt failed and is tried again (parked ones were counted in fail()).
      if (this.deps.onOutcome && (await this.deps.jobs.byId(job.id))?.state === "pending") this.outcome(job, "failed");
    }
  }

  private get health() {
    return this.deps.inbound.health;
  }

  private async onError(job: Job, e: unknown): Promise<void> {
    const fresh = (await this.deps.jobs.byId(job.id)) ?? job;
    const t = this.texts(await this.deps.clients.accountById(job.accountId));
    if (e instanceof DownloadError) {
      if (e.retry && fresh.attempts < 5) {
        this.health.problem(job.accountId, "to_telegram", e.message);
        return this.deps.jobs.retryLater(job.id, fresh.attempts + 1, nextAttemptAt(this.deps.retry, fresh.attempts, this.now()), e.message);
      }
      return this.fail(fresh, e.message, t.attachmentFailed(e.message));
    }
    if (e instanceof TelegramFailure) {
      const refusal = this.deps.capabilities.refusalOf(e);
      if (refusal) return this.refuse(fresh, refusal, e.reason, t);
      if (e.kind === "flood_wait" && e.floodSeconds !== undefined && e.floodSeconds * 1000 <= this.deps.maxFloodWaitMs) {
        return this.deps.jobs.retryLater(job.id, fresh.attempts + 1, this.now() + e.floodSeconds * 1000 + 250, `Telegram asked to wait ${e.floodSeconds} s`);
      }
      if (e.kind === "flood_wait")
        return this.fail(fresh, `Telegram flood limits: ${e.reason}${e.floodSeconds ? ` (wait ${e.floodSeconds} s)` : ""}`, t.flood(e.reason, e.floodSeconds ?? null));
      if (e.kind === "network" || e.kind === "timeout") {
        this.health.problem(job.accountId, "to_telegram", e.message);
        return this.deps.jobs.retryLater(job.id, fresh.attempts + 1, nextAttemptAt(this.deps.retry, fresh.attempts, this.now()), e.message);
      }
      if (e.kind === "unauthorized" || e.kind === "banned" || e.kind === "duplicated" || e.kind === "frozen") {
        // The number is going down; the job waits for it (and gives up after offlineGiveUpMs).
        return this.deps.jobs.retryLater(job.id, fresh.attempts, this.now() + 2000, e.message);
      }
      return this.fail(fresh, `Telegram refused the message: ${e.reason}`, t.refused(e.reason));
    }
    if (fresh.attempts < 5) {
      this.health.problem(job.accountId, "to_telegram", errorText(e));
      return this.deps.jobs.retryLater(job.id, fresh.attempts + 1, nextAttemptAt(this.deps.retry, fresh.attempts, this.now()), errorText(e));
    }
    return this.fail(fresh, errorText(e), t.notDelivered(errorText(e)));
  }

  /** `reason` is kept and logged (for the operator); `shown` is what Planfix shows, in the customer's language. */
  private async fail(job: Job, reason: string, shown = reason): Promise<void> {
    await this.deps.transaction(async (tx) => {
      await tx.jobs.finish(job.id, "failed", reason);
      await this.deps.inbound.enqueueStatus(tx, job.accountId, job.peerUserId, `error:${job.id}`, { messageId: job.planfixMessageId, status: "error", text: shown });
    });
    this.outcome(job, "parked");
    this.deps.log.warn("message not delivered to Telegram; reported to Planfix as an error, listed under GET /client/queue, re-sendable", {
      ...(await logFields(this.deps.clients, job.accountId)),
      job: job.id,
      reason,
    });
  }

  /**
   * The other side refused the message for good: one attempt, no retry (for the number's limit on new
   * contacts, retrying is what gets an account banned), no parking (a resend would be refused again). The
   * job ends as refused and Planfix gets an error status saying why in the customer's language; the
   * chat's later messages go on. The limit on new contacts concerns the whole number: its status shows it.
   */
  private async refuse(job: Job, refusal: Refusal, reason: string, t: Texts): Promise<void> {
    const detail = `Telegram refused the message for good (${refusal}): ${reason}`;
    await this.deps.transaction(async (tx) => {
      await tx.jobs.finish(job.id, "refused", detail);
      await this.deps.inbound.enqueueStatus(tx, job.accountId, job.peerUserId, `error:${job.id}`, { messageId: job.planfixMessageId, status: "error", text: t.refusal(refusal) });
    });
    this.outcome(job, "refused");
    if (refusal === "peer_flood") {
      const until = this.now() + PEER_FLOOD_SHOWN_MS;
      this.health.limit(
        job.accountId,
        "to_telegram",
        `Telegram limits this number (${reason}): it may not write first to new contacts; such messages are refused, not retried (shown until ${new Date(until).toISOString()})`,
        until,
      );
    }
    this.deps.log.warn("message refused by Telegram for good; reported to Planfix as an error, not retried", {
      ...(await logFields(this.deps.clients, job.accountId)),
      job: job.id,
      refusal,
      reason,
    });
  }

  private outcome(job: Job, outcome: Outcome): void {
    this.deps.onOutcome?.({ accountId: job.accountId, direction: "to_telegram", outcome });
  }

  private texts(account: Account | undefined): Texts {
    return textsFor(account?.language, this.deps.language);
  }

  /** Downloads one attachment to a temporary file and sends it; the slot is held until the upload is done. */
  private async sendAttachment(accountId: number, conn: TelegramConnection, peer: PeerInfo, part: { name: string; url: string }, key: string) {
    const release = await this.slots.acquire(accountId);
    let path: string | null = null;
    try {
      const got = await downloadToFile(part.url, {
        guard: this.deps.guard,
        maxBytes: this.deps.maxFileBytes,
        timeoutMs: this.deps.downloadTimeoutMs,
        name: part.name,
        dir: this.deps.tmpDir,
      });
      path = got.path;
      const ext = part.name.split(".").pop()?.toLowerCase() ?? "";
      const byName = MIME[ext];
      // The name's extension decides photo vs document; a generic server type defers to it.
      const mime = byName && (got.mimeType === "application/octet-stream" || IMAGE.test(part.name)) ? byName : got.mimeType;
      const file: OutgoingFile = { name: part.name, mimeType: mime, path: got.path, size: got.size };
      return await conn.sendFile(peer, file, "", key);
    } finally {
      release();
      if (path) await rm(path, { force: true });
    }
  }

  /** The recipient, one this number can address (the connector puts its access hash on): known peer → username → phone. */
  private async recipient(job: Job, conn: TelegramConnection): Promise<PeerInfo | null> {
    if (this.deps.canAddress(job.accountId, job.peerUserId)) return (await this.deps.peers.byId(job.accountId, job.peerUserId)) ?? bare(job.peerUserId);
    const lookup = job.lookup ? (JSON.parse(job.lookup) as { username?: string; phone?: string }) : {};
    const found = await this.lookup(job.accountId, conn, lookup);
    return found && found.userId === job.peerUserId ? found : null;
  }

  private async cachedLookup(accountId: number, by: { username?: string; phone?: string }): Promise<PeerInfo | null> {
    if (by.username) {
      const cached = await this.deps.peers.byUsername(accountId, by.username);
      if (cached && this.deps.canAddress(accountId, cached.userId)) return cached;
    }
    if (by.phone) {
      const cached = await this.deps.peers.byPhone(accountId, by.phone);
      if (cached && this.deps.canAddress(accountId, cached.userId)) return cached;
    }
    return null;
  }

  /** Resolves a username or phone through Telegram, cached in the peer store and rate-limited. */
  async lookup(accountId: number, conn: TelegramConnection, by: { username?: string; phone?: string }, maxWaitMs = 10_000): Promise<PeerInfo | null> {
    const cached = await this.cachedLookup(accountId, by);
    if (cached) return cached;
    if (!(await this.deps.limiter.acquire(accountId, maxWaitMs)))
      throw new TelegramFailure("flood_wait", "too many lookups on this number; slowing down", Math.ceil(maxWaitMs / 1000));
    let found: PeerInfo | null = null;
    if (by.username) found = await conn.resolveUsername(by.username);
    if (!found && by.phone) found = await conn.resolvePhone(by.phone);
    if (found) await this.deps.peers.save(accountId, [found]);
    return found;
  }
}

/** A user known only by id (the connector addresses them by the access hash it kept). */
function bare(userId: string): PeerInfo {
  return { userId, accessHash: null, username: null, phone: null, firstName: null, lastName: null, isBot: false, hasPhoto: false };
}

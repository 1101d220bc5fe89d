// Telegram → Planfix. onMessage stores the message in the outbox (deduplicated by number + peer +
// message id [+ edit date]) and only then lets the Telegram update state move on; a per-number pump
// prepares each item (media downloaded, contact card built) and delivers it, per chat in order.
import { randomBytes } from "node:crypto";
import type { ChatMessage, MediaRef, MessengerCapabilities, PeerInfo, TelegramConnection } from "../domain/telegram-port.ts";
import { errorText, type Logger } from "../log.ts";
import { logFields } from "./log-fields.ts";
import { createHash } from "node:crypto";
import { TelegramFailure } from "../domain/telegram-port.ts";
import type { NewMessageCommand, MessageStatusCommand, ContactCard, PlanfixFailure, PlanfixOutcome } from "../planfix/index.ts";
import type { PlanfixPort, PlanfixPorts } from "./planfix-port.ts";
import type { Account } from "../domain/accounts.ts";
import {
  type ClientRepository,
  type FileRepository,
  type JobRepository,
  MediaNotKept,
  type OutboxEntry,
  type OutboxRepository,
  type PeerRepository,
  type WriteTx,
} from "../domain/repositories.ts";
import { ignoreReason } from "./filters.ts";
import { dueAndNext } from "./heads.ts";
import { PumpSet } from "./pump.ts";
import { DeliveryHealth } from "./health.ts";
import { nextAttemptAt, retryAge, type RetryPolicy } from "./retry.ts";
import { contactCard, type MediaOutcome, toNewMessage } from "./new-message.ts";
import { textsFor, type Language } from "./texts.ts";
import type { Outcome, OutcomeListener } from "./outcomes.ts";

export interface InboundDeps {
  clients: ClientRepository;
  peers: PeerRepository;
  outbox: OutboxRepository;
  jobs: JobRepository;
  files: FileRepository;
  publicUrl: string;
  maxFileBytes: number;
  retry: RetryPolicy;
  /** LANGUAGE: texts written into Planfix, unless the number sets its own. */
  language: Language;
  log: Logger;
  connection(accountId: number): TelegramConnection | null;
  /** Whether a message of the number's chat is one of its own sends (the connector's `isOwnSend`): an echo, not bridged. */
  isOwnSend(accountId: number, peerUserId: string, messageId: number): boolean;
  /** The messenger's rules (service accounts, what a failure means). */
  capabilities: MessengerCapabilities;
  /** Where delivery problems are recorded and logged once; one of its own when not given. */
  health?: DeliveryHealth;
  /** The Planfix a number talks to: the HTTP client (planfix/client.ts: planfixClients), a fake in unit tests. */
  planfixFor: PlanfixPorts;
  /** The clock (tests: fake time). */
  now?: () => number;
  /** Told each message's outcome (bridge/outcomes.ts); /metrics hangs off it. */
  onOutcome?: OutcomeListener;
}

export type { PlanfixPort } from "./planfix-port.ts";

/** A number whose Planfix refused its key: every item waits, in order, until the key works again. */
interface Pause {
  /** Which url_planfix + token_planfix were refused (a hash): a PUT that changes them resumes at once. */
  settings: string;
  /** When the oldest item is offered again (the key may be fixed inside Planfix without a call to us). */
  probeAt: number;
}

/** What is kept of a contact's change in the outbox (JSON). */
interface StoredContact {
  peer: PeerInfo;
  photoChanged: boolean;
}

/** What is kept of a Telegram message in the outbox (JSON). */
interface StoredMessage {
  message: ChatMessage;
}

const BATCH = 16;
/** While paused, how often the number's Planfix settings are looked at (a PUT resumes within this). */
const SETTINGS_CHECK_MS = 1000;

export class InboundBridge {
  private readonly pumps = new PumpSet(
    (id) => this.round(id),
    (id, e) => void logFields(this.deps.clients, id).then((fields) => this.deps.log.error("outbox round failed", { ...fields, error: errorText(e) })),
  );
  /** Profile photo links already offered, per account and user (refreshed after a day). */
  private readonly avatars = new Map<string, { url: string; at: number }>();
  private readonly paused = new Map<number, Pause>();
  readonly health: DeliveryHealth;
  private readonly now: () => number;

  constructor(private readonly deps: InboundDeps) {
    this.now = deps.now ?? Date.now;
    this.health = deps.health ?? new DeliveryHealth(deps.log, (id) => logFields(deps.clients, id), this.now);
  }

  /** Whether this number's Planfix-bound queue is held as a whole (its key was refused). */
  isPaused(accountId: number): boolean {
    return this.paused.has(accountId);
  }

  /** Stores a Telegram message for Planfix. Resolves once it is in SQLite (or deliberately skipped). */
  async accept(accountId: number, message: ChatMessage): Promise<void> {
    const account = await this.deps.clients.accountById(accountId);
    if (!account) return;
    const peer = message.peer;
    const skip = ignoreReason(message, account.selfUserId, this.deps.capabilities);
    if (skip) {
      this.deps.log.debug("not bridged", { client: account.clientId, number: account.number, peer: peer.userId, why: skip });
      return;
    }
    // Echoes of our own sends are dropped by the connector; one that came before its send was kept is
    // recognised before delivery (prepare), once the chat has no send in flight.
    const dedupKey = `m:${accountId}:${peer.userId}:${message.messageId}:${message.editDate ?? 0}`;
    // The access hash is the connector's (it fills it in again on whatever it is handed): not kept here.
    const stored: StoredMessage = { message: { ...message, peer: { ...peer, accessHash: null } } };
    if (await this.deps.outbox.add({ accountId, chatKey: peer.userId, kind: "message", dedupKey, event: stored })) this.kick(accountId);
  }

  /**
   * A person changed name, username or photo: Planfix gets an updateContact, in the chat's order, if
   * Planfix knows them through this number (something of this chat went to Planfix). The new names are
   * stored first, so the next message's card agrees.
   */
  async contactChanged(accountId: number, peer: PeerInfo, photoChanged: boolean): Promise<void> {
    await this.deps.peers.save(accountId, [peer]);
    if (photoChanged) this.avatars.delete(`${accountId}:${peer.userId}`);
    if (!(await this.deps.outbox.hasChat(accountId, peer.userId))) return;
    const event: StoredContact = { peer: { ...peer, accessHash: null }, photoChanged };
    // Each change is its own item (a name may change back and forth): the key only has to be unique.
    const dedupKey = `c:${accountId}:${peer.userId}:${Date.now()}:${randomBytes(4).toString("hex")}`;
    if (await this.deps.outbox.add({ accountId, chatKey: peer.userId, kind: "contact", dedupKey, event })) this.kick(accountId);
  }

  /**
   * Queues a messageStatus for Planfix, in the same per-chat order as messages, inside a unit of work
   * (store/transaction.ts): the status is stored with the outcome it reports, or neither is.
   */
  async enqueueStatus(tx: WriteTx, accountId: number, peerUserId: string, key: string, status: MessageStatusCommand): Promise<void> {
    if (!hasPlanfixId(status)) return;
    await tx.outbox.add({ accountId, chatKey: peerUserId, kind: "status", dedupKey: `s:${key}`, event: status });
    // Once committed: a round before it would not find the status yet.
    tx.afterCommit(() => this.kick(accountId));
  }

  kick(accountId: number): void {
    this.pumps.kick(accountId);
  }

  /** Starts delivery of whatever was left pending (after a restart). */
  async resumeAll(): Promise<void> {
    for (const id of await this.deps.outbox.accountsWithPending()) this.kick(id);
  }

  stop(): Promise<void> {
    return this.pumps.stop();
  }

  /** One pass over the number's chat heads; returns when the next pass is due (ms epoch), or null when idle. Public for fake-time tests. */
  async round(accountId: number): Promise<number | null> {
    const now = this.now();
    const account = await this.deps.clients.accountById(accountId);
    if (!account) return null;
    const pause = this.paused.get(accountId);
    if (pause && pause.settings !== settingsKey(account)) {
      // A PUT changed the key or URL: try again at once.
      this.paused.delete(accountId);
    } else if (pause && now < pause.probeAt) {
      return Math.min(pause.probeAt, now + SETTINGS_CHECK_MS);
    }
    const { due, next } = dueAndNext(await this.deps.outbox.heads(accountId), now);
    if (due.length === 0) return next;
    // Different chats in parallel; within a chat only its head is ever in flight. A paused number
    // offers only its oldest item, as a probe of the key.
    await Promise.all(due.slice(0, this.paused.has(accountId) ? 1 : BATCH).map((row) => this.deliver(account, row)));
    // Something was done: the next round looks at the heads again at once (one query per round).
    return this.now();
  }

  private planfix(account: Account): PlanfixPort {
    return this.deps.planfixFor(account);
  }

  private async deliver(account: Account, row: OutboxEntry): Promise<void> {
    try {
      let outcome: PlanfixOutcome;
      if (row.kind === "status") {
        outcome = await this.planfix(account).messageStatus(JSON.parse(row.event) as MessageStatusCommand);
      } else if (row.kind === "contact") {
        const card = await this.contactUpdate(account, row);
        if (card === "wait") return await this.later(row, "waiting for the number to come online to fetch the new photo", false);
        outcome = await this.planfix(account).updateContact(card);
      } else {
        const command = row.command ? (JSON.parse(row.command) as NewMessageCommand) : await this.prepare(account, row);
        if (command === "wait") return await this.later(row, "waiting for the number to come online to fetch media", false);
        if (command === "skip") return await this.deps.outbox.delivered(row.id);
        // Downloaded media is kept so a retry does not fetch it again; a text-only command is cheaper to rebuild than to store.
        if (!row.command && command.attachments?.length) await this.deps.outbox.saveCommand(row.id, command);
        outcome = await this.planfix(account).newMessage(command);
      }
      if (outcome.ok) return await this.delivered(account, row);
      await this.refused(account, row, outcome);
    } catch (e) {
      // Preparation failed (Telegram unreachable for a download…): counts towards the give-up like any failure.
      this.health.problem(account.id, "to_planfix", `preparing item ${row.id}: ${errorText(e)}`);
      await this.later(row, errorText(e), true);
    }
  }

  private async delivered(account: Account, row: OutboxEntry): Promise<void> {
    // Awaited: the next round must not see this item as pending again.
    await this.deps.outbox.delivered(row.id);
    this.outcome(row, "delivered");
    if (this.paused.delete(account.id)) this.deps.log.info("Planfix accepts the key again; the queue resumes", { client: account.clientId, number: account.number });
    this.health.ok(account.id, "to_planfix");
    if (account.planfixError) await this.deps.clients.updateAccount(account.id, { planfixError: null });
  }

  private async refused(account: Account, row: OutboxEntry, outcome: PlanfixFailure): Promise<void> {
    if (isAboutSettings(outcome)) {
      // About the key (or URL), not the item: the whole queue waits, in order, nothing is counted.
      const message = `${outcome.message}; every item waits, retried every ${Math.round(this.deps.retry.pauseRetryMs / 1000)} s and at once after PUT /client`;
      this.paused.set(account.id, { settings: settingsKey(account), probeAt: this.now() + this.deps.retry.pauseRetryMs });
      this.health.problem(account.id, "to_planfix", message);
      if (account.planfixError !== outcome.message) await this.deps.clients.updateAccount(account.id, { planfixError: outcome.message });
      await this.deps.outbox.retryLater(row.id, row.attempts, 0, outcome.message);
      this.outcome(row, "retried");
      return;
    }
    if (outcome.retry) {
      // Planfix down, 5xx, timeouts: a problem of the number's queue, logged once.
      this.health.problem(account.id, "to_planfix", outcome.message);
      if (account.planfixError !== outcome.message) await this.deps.clients.updateAccount(account.id, { planfixError: outcome.message });
      return this.later(row, outcome.message, true, outcome.retryAfterMs);
    }
    // A refusal of this item (400): a few tries, then parked.
    if (row.attempts + 1 >= this.deps.retry.refusedTries) return this.park(account, row, row.attempts + 1, outcome.message);
    await this.later(row, outcome.message, true);
  }

  private async later(row: OutboxEntry, error: string, countsAsAttempt: boolean, afterMs?: number): Promise<void> {
    const now = this.now();
    const attempts = countsAsAttempt ? row.attempts + 1 : row.attempts;
    // Every kind of failure counts towards the give-up, so no item can hold its chat forever.
    if (retryAge(row, now) >= this.deps.retry.giveUpAfterMs) {
      const account = await this.deps.clients.accountById(row.accountId);
      if (account) return this.park(account, row, attempts, `${error} (gave up after ${Math.round(this.deps.retry.giveUpAfterMs / 3600_000)} h)`);
    }
    const at = afterMs ? now + afterMs : countsAsAttempt ? nextAttemptAt(this.deps.retry, row.attempts, now) : now + 2000;
    await this.deps.outbox.retryLater(row.id, attempts, at, error);
    if (countsAsAttempt) this.outcome(row, "retried");
  }

  /** Messages only: a status or a contact update is not a message of the customer's. */
  private outcome(row: OutboxEntry, outcome: Outcome): void {
    if (row.kind === "message") this.deps.onOutcome?.({ accountId: row.accountId, direction: "to_planfix", outcome });
  }

  private async park(account: Account, row: OutboxEntry, attempts: number, error: string): Promise<void> {
    await this.deps.outbox.park(row.id, attempts, error);
    this.outcome(row, "parked");
    this.deps.log.warn("item for Planfix parked: kept, listed under GET /client/queue, re-sendable", {
      client: account.clientId,
      number: account.number,
      item: row.id,
      attempts,
      error,
    });
  }

  /** Builds the newMessage command: contact card, text, media downloaded and offered at our URL. */
  private async prepare(account: Account, row: OutboxEntry): Promise<NewMessageCommand | "wait" | "skip"> {
    const { message } = JSON.parse(row.event) as StoredMessage;
    if (message.out && message.editDate === null) {
      // An echo of our own send that overtook the send's result: settle the send first, then decide.
      if (await this.deps.jobs.hasPending(account.id, message.peer.userId)) return "wait";
      if (this.deps.isOwnSend(account.id, message.peer.userId, message.messageId)) return "skip";
    }
    const known = await this.deps.peers.byId(account.id, message.peer.userId);
    const peer: PeerInfo = {
      ...message.peer,
      username: message.peer.username ?? known?.username ?? null,
      phone: message.peer.phone ?? known?.phone ?? null,
      firstName: message.peer.firstName ?? known?.firstName ?? null,
      lastName: message.peer.lastName ?? known?.lastName ?? null,
    };
    const conn = this.deps.connection(account.id);
    const t = textsFor(account.language, this.deps.language);

    let media: MediaOutcome = { kind: "none" };
    if (message.media) {
      if (!conn) return "wait";
      media = await this.fetchMedia(account, message.media, conn);
    }
    const avatarUrl = conn && peer.hasPhoto ? await this.avatar(account, peer, conn) : null;
    return toNewMessage({ number: account.number, peer, message, media, texts: t, maxFileBytes: this.deps.maxFileBytes, avatarUrl });
  }

  /** Downloads the message's file and keeps it for Planfix; what could not be kept becomes a note. */
  private async fetchMedia(account: Account, m: MediaRef, conn: TelegramConnection): Promise<MediaOutcome> {
    if (m.size !== null && m.size > this.deps.maxFileBytes) return { kind: "too_big", size: m.size };
    try {
      // MEDIA_MAX_GB / MIN_FREE_DISK_MB: the message still goes to Planfix, with a note instead of the file.
      const refused = this.deps.files.refusal(m.size ?? 0);
      if (refused) throw new MediaNotKept(refused);
      const bytes = await conn.downloadMedia(m, this.deps.maxFileBytes);
      const f = await this.deps.files.save(account.id, m.fileName, m.mimeType, bytes);
      return { kind: "kept", name: f.name, url: this.fileUrl(f.id, f.name) };
    } catch (e) {
      if (e instanceof MediaNotKept) return { kind: "not_kept", reason: e.reason };
      if (/limit|too (big|large)|larger/i.test(errorText(e))) return { kind: "too_big", size: null };
      // Gone for good (deleted in Telegram before we fetched it): a note, so the text still reaches Planfix and the chat moves on.
      if (e instanceof TelegramFailure && this.deps.capabilities.meaningOf(e) === "media_gone") return { kind: "gone" };
      throw e;
    }
  }

  /** The card for updateContact: as stored now (the change merged in), with the photo fetched again when it changed. */
  private async contactUpdate(account: Account, row: OutboxEntry): Promise<ContactCard | "wait"> {
    const { peer: changed, photoChanged } = JSON.parse(row.event) as StoredContact;
    const known = await this.deps.peers.byId(account.id, changed.userId);
    const peer: PeerInfo = { ...changed, phone: changed.phone ?? known?.phone ?? null };
    const card = contactCard(peer);
    const conn = this.deps.connection(account.id);
    if (photoChanged && peer.hasPhoto && !conn) return "wait";
    const ico = conn && peer.hasPhoto ? await this.avatar(account, peer, conn) : null;
    if (ico) card.contactIco = ico;
    return card;
  }

  private async avatar(account: Account, peer: PeerInfo, conn: TelegramConnection): Promise<string | null> {
    const key = `${account.id}:${peer.userId}`;
    const cached = this.avatars.get(key);
    if (cached && Date.now() - cached.at < 24 * 3600_000) return cached.url;
    try {
      const bytes = await conn.downloadProfilePhoto(peer);
      if (!bytes) return null;
      const f = await this.deps.files.save(account.id, `avatar_${peer.userId}.jpg`, "image/jpeg", bytes);
      const url = this.fileUrl(f.id, f.name);
      this.avatars.set(key, { url, at: Date.now() });
      return url;
    } catch (e) {
      // A missing avatar must not hold up the message.
      this.deps.log.debug("profile photo not fetched", { client: account.clientId, number: account.number, peer: peer.userId, error: errorText(e) });
      return null;
    }
  }

  private fileUrl(id: string, name: string): string {
    return `${this.deps.publicUrl}/files/${id}/${encodeURIComponent(name)}`;
  }
}

/** A webhook without messageId got an id of ours (starting with `~`): Planfix has nothing to attach a status to. */
const hasPlanfixId = (s: MessageStatusCommand) => !String(s.messageId).startsWith("~");
/** A Planfix answer about the number's key or URL rather than the item. */
const isAboutSettings = (o: PlanfixFailure) =>
  o.kind === "unauthorized" || (o.kind === "other" && !o.retry && (o.status === undefined || o.status === 403 || o.status === 404 || (o.status >= 300 && o.status < 400)));
const settingsKey = (a: Account) => createHash("sha256").update(`${a.urlPlanfix}\n${a.tokenPlanfix}`).digest("hex");

// The two streams of tagged messages, and the record of everything sent.
//
// Telegram → Planfix: each customer writes to its number through the loopback driver (texts, now and
// then a photo or a file, sometimes a quick burst). The driver works whether or not the appliance is
// up: what arrives while it is down is caught up after the restart.
//
// Planfix → Telegram: per chat, Planfix sends newMessage webhooks (texts, sometimes long ones that
// the appliance splits, sometimes with photos/files hosted on the fake Planfix). A webhook that got no
// 200 (refused, dropped, timed out, 5xx) is sent again later with the same messageId, as Planfix does;
// the chat's next message waits for that 200, so the order Planfix sent them in is the order the
// appliance accepted them in and the order they must reach Telegram in. Now and then Planfix repeats a
// webhook that was already answered 200 (its answer lost on the way): that must send nothing new.
import { createHash } from "node:crypto";
import { splitText } from "../../src/bridge/split-text.ts";
import { TELEGRAM_TEXT_LIMIT } from "../../src/telegram/capabilities.ts";
import { tinyPng } from "../../tests/support/telegram/index.ts";
import type { Rng } from "../../tests/support/rng.ts";
import { PROVIDER_ID, type DrillChat, type DrillWorld } from "./setup.ts";

export const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex").slice(0, 24);

/** One message a customer wrote (Telegram → Planfix). */
export interface TpItem {
  tag: string;
  chat: number;
  /** Position in its chat, 0-based. */
  seq: number;
  sentAt: number;
  /** edit: the customer edited one of their earlier texts (already in Planfix); Planfix gets the new
   *  text as a new message marked edited, carrying this item's own tag. */
  kind: "text" | "photo" | "file" | "edit";
  /** For an edit: the tag of the edited message. */
  editOf?: string;
  /** For a text: its id in the customer's mailbox (what an edit refers to). */
  messageId?: number;
  edited?: boolean;
  /** sha of the media bytes (photo/file). */
  sha?: string;
  fileName?: string;
}

export type PtPartKind = "text" | "photo" | "document";

/** One Telegram message a Planfix message must become. */
export interface PtPart {
  kind: PtPartKind;
  /** Exact text of a text part. */
  text?: string;
  /** File name of an attachment. */
  name?: string;
  /** sha of an attachment's bytes. */
  sha?: string;
}

export interface PtAttempt {
  at: number;
  /** "200", "500", "409", "network", "timeout"… */
  outcome: string;
  ms: number;
}

/** One Planfix message (Planfix → Telegram). */
export interface PtItem {
  tag: string;
  chat: number;
  seq: number;
  messageId: string;
  text: string;
  attachments: { name: string; url: string }[];
  parts: PtPart[];
  firstAttemptAt: number;
  acceptedAt: number | null;
  attempts: PtAttempt[];
  /** Answers to repeats of an already accepted webhook. */
  repeats: PtAttempt[];
  /** The 200 answer named another chat or contact than expected. */
  wrongAnswer?: string;
}

export interface LoadOptions {
  /** Telegram → Planfix messages per second, all chats together. */
  tpRate: number;
  /** Planfix → Telegram messages per second, all chats together. */
  ptRate: number;
  webhookTimeoutMs: number;
}

const WORDS =
  "price delivery invoice order tomorrow thanks please contract warehouse quote kyiv lviv odesa ok yes no maybe call me later перевірте рахунок доставка дякую ✅ 📦 €100 #42 a&b <x> \"quoted\" 'single'".split(
    " ",
  );

export class Load {
  readonly tp: TpItem[] = [];
  readonly pt: PtItem[] = [];
  private tpSeq: number[];
  private ptSeq: number[];
  private photoCounter: number;
  private tagCounter = 0;
  private stopped = false;
  private wake!: () => void;
  private readonly stoppedSignal = new Promise<void>((resolve) => (this.wake = resolve));
  private readonly repeatsInFlight = new Set<Promise<void>>();

  constructor(
    private readonly w: DrillWorld,
    private readonly rng: Rng,
    private readonly o: LoadOptions,
    private readonly runId: string,
  ) {
    this.tpSeq = w.chats.map(() => 0);
    this.ptSeq = w.chats.map(() => 0);
    this.photoCounter = rng.fork("photos").int(1, 0x7fffff);
  }

  private nextTag(dir: "T" | "P"): string {
    return `DRL${dir}${this.runId}-${String(++this.tagCounter).padStart(6, "0")}`;
  }

  /** A PNG no other message in this run has (colour from a counter). */
  private uniquePng(): Buffer {
    const c = this.photoCounter++ & 0xffffff;
    return tinyPng([(c >> 16) & 255, (c >> 8) & 255, c & 255]);
  }

  private filler(rng: Rng, min: number, max: number): string {
    const n = rng.int(min, max);
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(rng.pick(WORDS));
    if (rng.chance(0.1)) out.splice(rng.int(0, out.length), 0, "\nsecond line");
    return out.join(" ");
  }

  private fileBytes(rng: Rng, header: string): Buffer {
    // Mostly small; sometimes big enough that a kill or a drop can land mid-upload or mid-download.
    const r = rng.next();
    const size = r < 0.02 ? rng.int(1_000_000, 2_500_000) : r < 0.06 ? rng.int(100_000, 400_000) : rng.int(50, 6000);
    const body = Buffer.alloc(size);
    for (let i = 0; i < size; i++) body[i] = 32 + ((i * 7 + header.length) % 90);
    return Buffer.concat([Buffer.from(`${header}\n`), body]);
  }

  // ── Telegram → Planfix ────────────────────────────────────────────────────────────────────────

  /** The customer writes one message (now). */
  customerWrites(chat: DrillChat, rng: Rng, kind: TpItem["kind"] = "text"): TpItem {
    const tag = this.nextTag("T");
    const text = `${tag} ${this.filler(rng, 1, 25)}`;
    const item: TpItem = { tag, chat: chat.index, seq: this.tpSeq[chat.index]!++, sentAt: Date.now(), kind };
    const d = this.w.tg.driver;
    if (kind === "text") item.messageId = d.sendText(chat.customer, chat.number.user, text).id;
    else if (kind === "photo") {
      const png = this.uniquePng();
      item.sha = sha(png);
      d.sendPhoto(chat.customer, chat.number.user, png, rng.chance(0.8) ? text : tag);
    } else {
      const ext = rng.pick(["pdf", "txt", "csv", "zip"]);
      const name = `${tag}.${ext}`;
      const bytes = this.fileBytes(rng, tag);
      item.sha = sha(bytes);
      item.fileName = name;
      const mime = { pdf: "application/pdf", txt: "text/plain", csv: "text/csv", zip: "application/zip" }[ext]!;
      // Without a caption Planfix gets the file name as the text (it carries the tag too).
      d.sendFile(chat.customer, chat.number.user, bytes, name, mime, rng.chance(0.7) ? { caption: text } : {});
    }
    this.tp.push(item);
    return item;
  }

  /** The customer edits one of their texts that Planfix already shows (once per message). */
  customerEdits(chat: DrillChat, rng: Rng, inPlanfix: (tag: string) => boolean): TpItem | null {
    const candidates = this.tp.filter((i) => i.chat === chat.index && i.kind === "text" && !i.edited && i.messageId !== undefined && inPlanfix(i.tag));
    if (candidates.length === 0) return null;
    const target = rng.pick(candidates);
    target.edited = true;
    const tag = this.nextTag("T");
    const item: TpItem = { tag, chat: chat.index, seq: this.tpSeq[chat.index]!++, sentAt: Date.now(), kind: "edit", editOf: target.tag };
    this.w.tg.driver.editMessage(chat.customer, target.messageId!, `${tag} (was ${target.tag}) ${this.filler(rng, 1, 10)}`);
    this.tp.push(item);
    return item;
  }

  /** One chat's customer, writing until `until`. */
  async customerLoop(chat: DrillChat, until: number, inPlanfix: (tag: string) => boolean): Promise<void> {
    const rng = this.rng.fork(`tp-chat-${chat.index}`);
    const meanMs = (this.w.chats.length / this.o.tpRate) * 1000 * 1.2;
    while (!this.stopped) {
      await this.pause(rng.exp(meanMs));
      if (this.stopped || Date.now() >= until) return;
      if (rng.chance(0.05) && this.customerEdits(chat, rng, inPlanfix)) continue;
      const burst = rng.chance(0.08) ? rng.int(2, 5) : 1;
      for (let i = 0; i < burst; i++) {
        const r = rng.next();
        this.customerWrites(chat, rng, r < 0.84 ? "text" : r < 0.94 ? "photo" : "file");
      }
    }
  }

  // ── Planfix → Telegram ────────────────────────────────────────────────────────────────────────

  private makePtItem(chat: DrillChat, rng: Rng): PtItem {
    const tag = this.nextTag("P");
    const nAtt = rng.chance(0.78) ? 0 : rng.chance(0.8) ? 1 : rng.int(2, 3);
    let text: string;
    if (rng.chance(0.03)) {
      // Longer than one Telegram message: every line carries the tag, so each split part is recognisable.
      const lines: string[] = [];
      for (let i = 0; lines.join("\n").length < 5200; i++) lines.push(`${tag} line ${i} ${this.filler(rng, 8, 14).replace(/\n/g, " ")}`);
      text = lines.join("\n");
    } else if (nAtt > 0 && rng.chance(0.1)) text = "";
    else text = `${tag} ${this.filler(rng, 1, 25)}`;
    const parts: PtPart[] = splitText(text, TELEGRAM_TEXT_LIMIT).map((t) => ({ kind: "text", text: t }));
    const attachments: { name: string; url: string }[] = [];
    for (let i = 1; i <= nAtt; i++) {
      if (rng.chance(0.5)) {
        const name = `${tag}-${i}.png`;
        const png = this.uniquePng();
        attachments.push({ name, url: this.w.planfix.hostFile(name, png, "image/png") });
        parts.push({ kind: "photo", name, sha: sha(png) });
      } else {
        const ext = rng.pick(["pdf", "txt", "csv"]);
        const name = `${tag}-${i}.${ext}`;
        const bytes = this.fileBytes(rng, `${tag}-${i}`);
        const mime = { pdf: "application/pdf", txt: "text/plain", csv: "text/csv" }[ext]!;
        attachments.push({ name, url: this.w.planfix.hostFile(name, bytes, mime) });
        parts.push({ kind: "document", name, sha: sha(bytes) });
      }
    }
    const seq = this.ptSeq[chat.index]!++;
    return { tag, chat: chat.index, seq, messageId: `${7_000_000 + this.tagCounter}`, text, attachments, parts, firstAttemptAt: 0, acceptedAt: null, attempts: [], repeats: [] };
  }

  private async webhook(item: PtItem): Promise<PtAttempt> {
    const chat = this.w.chats[item.chat]!;
    const t0 = Date.now();
    let outcome: string;
    try {
      const r = await this.w.planfix.sendWebhook(
        `${this.w.app.url}/planfix`,
        {
          token: chat.number.client.token,
          providerId: PROVIDER_ID,
          chatId: chat.chatId,
          channel: chat.number.phone,
          message: item.text,
          messageId: item.messageId,
          userName: "Drill",
        },
        item.attachments,
        { timeoutMs: this.o.webhookTimeoutMs },
      );
      outcome = String(r.status);
      if (r.status === 200) {
        const b = r.body as { chatId?: string; contactId?: string } | undefined;
        if (b?.chatId !== chat.chatId || b?.contactId !== String(chat.customer.id)) item.wrongAnswer = JSON.stringify(r.body);
      }
    } catch (e) {
      const name = (e as Error)?.name;
      outcome = name === "TimeoutError" || name === "AbortError" ? "timeout" : "network";
    }
    return { at: t0, outcome, ms: Date.now() - t0 };
  }

  /** Sends one Planfix message until it is answered 200 (or `deadline`). */
  async deliver(item: PtItem, deadline: number): Promise<boolean> {
    const rng = this.rng.fork(`pt-retry-${item.tag}`);
    item.firstAttemptAt = Date.now();
    this.pt.push(item);
    while (Date.now() < deadline) {
      const a = await this.webhook(item);
      item.attempts.push(a);
      if (a.outcome === "200") {
        item.acceptedAt = Date.now();
        return true;
      }
      await Bun.sleep(rng.int(300, 1500));
    }
    return false;
  }

  /** One chat's Planfix side: sends until `until`; a message in retry is finished until `deadline`. */
  async planfixLoop(chat: DrillChat, until: number, deadline: () => number): Promise<void> {
    const rng = this.rng.fork(`pt-chat-${chat.index}`);
    const meanMs = (this.w.chats.length / this.o.ptRate) * 1000;
    while (!this.stopped) {
      await this.pause(rng.exp(meanMs));
      if (this.stopped || Date.now() >= until) return;
      const item = this.makePtItem(chat, rng);
      const ok = await this.deliver(item, deadline());
      if (!ok) return;
      if (rng.chance(0.04)) {
        const p = Bun.sleep(rng.int(200, 4000))
          .then(() => this.webhook(item))
          .then((a) => void item.repeats.push(a));
        this.repeatsInFlight.add(p);
        void p.finally(() => this.repeatsInFlight.delete(p));
      }
    }
  }

  /** Items whose webhook is still waiting for its 200. */
  unaccepted(): PtItem[] {
    return this.pt.filter((i) => i.acceptedAt === null);
  }

  async settleRepeats(): Promise<void> {
    await Promise.allSettled([...this.repeatsInFlight]);
  }

  /** Sleeps, but not past stop(). */
  private pause(ms: number): Promise<void> {
    return Promise.race([Bun.sleep(ms), this.stoppedSignal]);
  }

  /** No new messages from now on; webhooks already sent keep being retried until their deadline. */
  stop(): void {
    this.stopped = true;
    this.wake();
  }
}

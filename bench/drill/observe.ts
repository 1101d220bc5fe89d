// Watches the customers' Telegram mailboxes: when each message from a number first appeared (the
// loopback stores no sub-second times), read straight from the in-process world every 100 ms.
import type { StoredMessage } from "../../tests/support/telegram/world.ts";
import type { DrillWorld } from "./setup.ts";

export interface SeenMessage {
  chat: number;
  msg: StoredMessage;
  seenAt: number;
}

export class MailboxWatcher {
  private readonly cursors: number[];
  readonly seen: SeenMessage[][];
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly w: DrillWorld) {
    this.cursors = w.chats.map(() => 0);
    this.seen = w.chats.map(() => []);
  }

  start(): void {
    this.poll();
    this.timer = setInterval(() => this.poll(), 100);
  }

  /** Reads every new message in each chat (from the customer's side: what the number sent to them). */
  poll(): void {
    const now = Date.now();
    for (const chat of this.w.chats) {
      const dialog = this.w.tg.world.user(chat.customer.id).mailbox.dialogs.get(`u${chat.number.user.id}`) ?? [];
      for (let i = this.cursors[chat.index]!; i < dialog.length; i++) {
        const msg = dialog[i]!;
        if (!msg.out) this.seen[chat.index]!.push({ chat: chat.index, msg, seenAt: now });
      }
      this.cursors[chat.index] = dialog.length;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.poll();
  }
}

// Our own keepalive for one connection (GramJS's ping loop is not started: it cannot be stopped
// cleanly and it reconnects by itself). A ping that gets no pong in time means the connection is dead.
// Every `stateEvery` pings it also asks updates.getState: Telegram stops sending updates to a
// connection that makes no content requests for long, the call notices a revoked key on an idle
// account, and the engine fetches anything the pushes missed.
import { TelegramFailure } from "../domain/telegram-port.ts";
import { withTimeout } from "./timing.ts";

export interface KeepaliveOptions {
  intervalMs: number;
  timeoutMs: number;
  stateEvery: number;
  ping(): Promise<unknown>;
  checkState(): Promise<void>;
  onDead(failure: TelegramFailure): void;
}

export class Keepalive {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private count = 0;

  constructor(private readonly o: KeepaliveOptions) {}

  start(): void {
    if (!this.stopped && !this.timer) this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.o.intervalMs);
    // An idle connection must not keep the process alive by itself (its socket decides that).
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    try {
      await withTimeout(this.o.ping(), this.o.timeoutMs, () => new TelegramFailure("timeout", `no pong within ${this.o.timeoutMs} ms`));
      if (++this.count % this.o.stateEvery === 0) await this.o.checkState();
    } catch (e) {
      if (this.stopped) return;
      this.o.onDead(e instanceof TelegramFailure ? e : new TelegramFailure("network", `keepalive failed: ${(e as Error)?.message ?? e}`));
      return;
    }
    this.schedule();
  }
}

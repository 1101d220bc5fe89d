// A loop that does work while there is some, then sleeps until kicked or until the next item is due.
export class Pump {
  private running = false;
  private again = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(
    /** Does one round; returns when the next round is due (ms epoch), or null when idle. */
    private readonly round: () => Promise<number | null>,
    private readonly onError: (e: unknown) => void,
  ) {}

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    void this.loop();
  }

  private async loop(): Promise<void> {
    this.running = true;
    let next: number | null = null;
    try {
      do {
        this.again = false;
        next = await this.round();
      } while ((this.again || (next !== null && next <= Date.now())) && !this.stopped);
    } catch (e) {
      this.onError(e);
      next = Date.now() + 1000;
    } finally {
      this.running = false;
    }
    if (!this.stopped && next !== null) {
      this.timer = setTimeout(() => this.kick(), Math.max(5, next - Date.now()));
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Resolves when the current round (if any) is over. */
  async idle(): Promise<void> {
    while (this.running) await Bun.sleep(5);
  }
}

/** One pump per number, created on first kick. */
export class PumpSet {
  private readonly pumps = new Map<number, Pump>();

  constructor(
    private readonly round: (accountId: number) => Promise<number | null>,
    private readonly onError: (accountId: number, e: unknown) => void,
  ) {}

  kick(accountId: number): void {
    let pump = this.pumps.get(accountId);
    if (!pump) {
      pump = new Pump(
        () => this.round(accountId),
        (e) => this.onError(accountId, e),
      );
      this.pumps.set(accountId, pump);
    }
    pump.kick();
  }

  async stop(): Promise<void> {
    for (const p of this.pumps.values()) p.stop();
    await Promise.all([...this.pumps.values()].map((p) => p.idle()));
  }
}

// The fault plan (drawn up front from the seed) and its execution against the running world.
import type { Rng } from "../../tests/support/rng.ts";
import { ADMIN_TOKEN, type DrillWorld } from "./setup.ts";

/** kill: kill -9 and restart. term: SIGTERM (a graceful restart, e.g. an upgrade) under load. */
export type FaultKind = "kill" | "term" | "planfix" | "tgDrop" | "tgStall" | "flood";
export const FAULT_KINDS: FaultKind[] = ["kill", "term", "planfix", "tgDrop", "tgStall", "flood"];

export interface PlannedFault {
  /** ms after the load started. */
  at: number;
  kind: FaultKind;
  /** kill: pause before the restart. planfix/tgStall: how long. */
  ms: number;
  /** kill: kill it again this long after it answered /health (while it restores numbers and catches up). */
  again?: number;
  planfixMode?: "500" | "hang" | "drop";
  floodMethod?: "messages.SendMessage" | "messages.SendMedia";
  floodSeconds?: number;
  floodTimes?: number;
  /** Index of the number whose Telegram user gets the flood wait. */
  floodNumber?: number;
}

export interface FaultPlanOptions {
  /** Mean seconds between two faults of a kind (0 = none of that kind beyond the minimum). */
  every: Record<FaultKind, number>;
  /** At least this many of each kind. */
  min: Record<FaultKind, number>;
  numbers: number;
}

/** Faults spread over [6 %, 88 %] of the load; kills at least 6 s apart so each restart can settle. */
export function planFaults(rng: Rng, loadMs: number, o: FaultPlanOptions): PlannedFault[] {
  const plan: PlannedFault[] = [];
  const lo = loadMs * 0.06;
  const hi = loadMs * 0.88;
  for (const kind of FAULT_KINDS) {
    const r = rng.fork(`plan-${kind}`);
    const byRate = o.every[kind] > 0 ? Math.round(loadMs / 1000 / o.every[kind]) : 0;
    const n = Math.max(o.min[kind], byRate);
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      let t = r.between(lo, hi);
      if (kind === "kill" || kind === "term") {
        for (let tries = 0; tries < 50 && times.some((x) => Math.abs(x - t) < 6000); tries++) t = r.between(lo, hi);
      }
      times.push(t);
    }
    for (const at of times) {
      const f: PlannedFault = { at: Math.round(at), kind, ms: 0 };
      switch (kind) {
        case "kill":
          // Mostly a quick restart; sometimes a longer outage so a backlog builds up in Telegram.
          f.ms = r.chance(0.75) ? r.int(0, 1500) : r.int(3000, 10_000);
          if (r.chance(0.3)) f.again = r.int(300, 3000);
          break;
        case "term":
          f.ms = r.int(0, 1000);
          break;
        case "planfix":
          f.planfixMode = r.pick(["500", "hang", "drop"] as const);
          f.ms = r.int(2000, 8000);
          break;
        case "tgStall":
          f.ms = r.int(2000, 5000);
          break;
        case "flood":
          f.floodMethod = r.chance(0.7) ? "messages.SendMessage" : "messages.SendMedia";
          f.floodSeconds = r.int(1, 3);
          f.floodTimes = r.int(1, 3);
          f.floodNumber = r.int(0, o.numbers - 1);
          break;
        case "tgDrop":
          break;
      }
      plan.push(f);
    }
  }
  return plan.sort((a, b) => a.at - b.at);
}

export interface KillRecord {
  /** Just before SIGKILL. */
  at: number;
  /** The process was gone. */
  exitedAt: number;
  /** The drill started it again. */
  startAt: number;
  /** /health answered again. */
  restartedAt: number;
  /** Every number online again (null: not within the wait). */
  onlineAt: number | null;
  /** A crash the drill did not cause, restarted by the watchdog. */
  crash?: boolean;
  /** A graceful restart: how long SIGTERM took to stop it (null: it had to be killed after 15 s). */
  termStopMs?: number | null;
}

export interface FaultEvent {
  kind: FaultKind;
  at: number;
  detail: string;
}

/** Runs the plan; heals what it broke; keeps the appliance running (restarting it after a crash). */
export class FaultRunner {
  readonly events: FaultEvent[] = [];
  readonly kills: KillRecord[] = [];
  readonly restartFailures: string[] = [];
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private busy = false;
  private stopped = false;
  private watchdog: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly w: DrillWorld,
    private readonly log: (line: string) => void,
  ) {}

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /** Restarts the appliance whenever it is found dead outside a drill-made kill (a crash). */
  startWatchdog(): void {
    this.watchdog = setInterval(() => {
      if (this.busy || this.stopped || this.w.app.running) return;
      const crash = this.w.app.crashes().at(-1);
      this.log(`appliance died by itself (code ${crash?.code}, signal ${crash?.signal}); restarting`);
      void this.restart(crash?.at ?? Date.now(), crash?.at ?? Date.now(), 0, true);
    }, 250);
  }

  /** Executes the plan from `t0` until the plan ends or `until`. */
  async run(plan: PlannedFault[], t0: number, until: number): Promise<void> {
    for (const f of plan) {
      const due = t0 + f.at;
      while (!this.stopped && Date.now() < due) await Bun.sleep(Math.min(200, due - Date.now()));
      if (this.stopped || Date.now() >= until) return;
      await this.execute(f);
    }
  }

  private async execute(f: PlannedFault): Promise<void> {
    const { tg, planfix, app } = this.w;
    switch (f.kind) {
      case "kill": {
        while (this.busy) await Bun.sleep(50);
        this.busy = true;
        const at = Date.now();
        const exitedAt = await app.kill9();
        this.event("kill", `kill -9; restart after ${f.ms} ms${f.again !== undefined ? `, and again ${f.again} ms after it is up` : ""}`);
        await Bun.sleep(f.ms);
        await this.restart(at, exitedAt, 0, false);
        if (f.again === undefined) return;
        this.busy = true;
        await Bun.sleep(f.again);
        const at2 = Date.now();
        const exited2 = await app.kill9();
        this.event("kill", "kill -9 again, during the restart's catch-up");
        await this.restart(at2, exited2, 0, false);
        return;
      }
      case "term": {
        while (this.busy) await Bun.sleep(50);
        this.busy = true;
        const at = Date.now();
        const stopMs = await app.stop(15_000);
        this.event("term", `SIGTERM (graceful restart): stopped ${stopMs === null ? "NOT within 15 s (killed)" : `in ${stopMs} ms`}; restart after ${f.ms} ms`);
        await Bun.sleep(f.ms);
        await this.restart(at, Date.now(), 0, false, stopMs);
        return;
      }
      case "planfix":
        planfix.fail(f.planfixMode!, { forMs: f.ms });
        this.event("planfix", `Planfix ${f.planfixMode === "500" ? "answers 500" : f.planfixMode === "hang" ? "hangs" : "drops connections"} for ${(f.ms / 1000).toFixed(1)} s`);
        return;
      case "tgDrop":
        tg.dropAllConnections();
        this.event("tgDrop", "every Telegram connection dropped");
        return;
      case "tgStall":
        tg.stall(true);
        this.event("tgStall", `Telegram stalled for ${(f.ms / 1000).toFixed(1)} s`);
        this.later(f.ms, () => tg.stall(false));
        return;
      case "flood": {
        const number = this.w.numbers[f.floodNumber!]!;
        tg.faults.floodWait(f.floodMethod!, f.floodSeconds!, { times: f.floodTimes!, userId: number.user.id });
        this.event("flood", `FLOOD_WAIT_${f.floodSeconds} ×${f.floodTimes} on ${f.floodMethod} for number ${number.phone}`);
        return;
      }
    }
  }

  private event(kind: FaultKind, detail: string): void {
    this.events.push({ kind, at: Date.now(), detail });
    this.log(detail);
  }

  /** Starts the appliance again (a few tries), then waits in the background for every number to be online. */
  private async restart(at: number, exitedAt: number, attempt: number, crash: boolean, termStopMs?: number | null): Promise<void> {
    this.busy = true;
    try {
      for (let i = attempt; i < 3; i++) {
        try {
          const startAt = Date.now();
          await this.w.app.start(20_000);
          const rec: KillRecord = { at, exitedAt, startAt, restartedAt: Date.now(), onlineAt: null, crash };
          if (termStopMs !== undefined) rec.termStopMs = termStopMs;
          this.kills.push(rec);
          void this.waitOnline(rec);
          return;
        } catch (e) {
          this.restartFailures.push((e as Error).message.split("\n")[0]!);
          this.log(`restart failed: ${(e as Error).message.split("\n")[0]}`);
          await this.w.app.kill9().catch(() => {});
        }
      }
      throw new Error(`the appliance did not come back after 3 starts: ${this.restartFailures.at(-1)}`);
    } finally {
      this.busy = false;
    }
  }

  private async waitOnline(rec: KillRecord): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !this.stopped) {
      if (await this.allOnline()) {
        rec.onlineAt = Date.now();
        return;
      }
      await Bun.sleep(100);
    }
  }

  async allOnline(): Promise<boolean> {
    try {
      const r = await this.w.app.call("GET", "/admin/clients", ADMIN_TOKEN);
      const numbers = (r.json?.clients ?? []).flatMap((c: { numbers?: { state: string }[] }) => c.numbers ?? []);
      return numbers.length === this.w.numbers.length && numbers.every((n: { state: string }) => n.state === "online");
    } catch {
      return false;
    }
  }

  /** Ends every fault now: Planfix healthy, Telegram answering, no injected errors, the appliance up. */
  async healAll(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.w.planfix.heal();
    this.w.tg.stall(false);
    this.w.tg.faults.clear();
    while (this.busy) await Bun.sleep(50);
    if (!this.w.app.running) await this.restart(Date.now(), Date.now(), 0, true);
  }

  stop(): void {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

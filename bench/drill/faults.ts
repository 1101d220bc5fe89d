// The fault plan (drawn up front from the seed) and its execution against the running world.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Rng } from "../../tests/support/rng.ts";
import type { WorldSession } from "../../tests/support/telegram/index.ts";
import { ADMIN_TOKEN, type DrillNumber, type DrillWorld } from "./setup.ts";

/**
 * kill: kill -9 and restart. term: SIGTERM (a graceful restart, e.g. an upgrade) under load.
 * revoke: the number's session is ended in Telegram (from the phone, silently, or with SESSION_REVOKED);
 * the operator signs the number in again some seconds later (a new session file, PUT /client).
 * freeze: Telegram freezes the account (sends answer 420 FROZEN_METHOD_INVALID) for some seconds; then
 * the operator re-sends what the appliance parked meanwhile. fileRef: every file reference handed out so
 * far expires at once (downloads must fetch their message again).
 */
export type FaultKind = "kill" | "term" | "planfix" | "tgDrop" | "tgStall" | "flood" | "revoke" | "freeze" | "fileRef";
export const FAULT_KINDS: FaultKind[] = ["kill", "term", "planfix", "tgDrop", "tgStall", "flood", "revoke", "freeze", "fileRef"];

/** Errors with which the appliance parks a message for Telegram because its number could not send at all. */
export const SIGNED_OUT_OR_FROZEN = /FROZEN|AUTH_KEY|SESSION_REVOKED|SESSION_EXPIRED|unauthori[sz]ed|frozen/i;

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
  /** revoke/freeze: the number. revoke: ms until the operator signs it in again; freeze: how long. */
  number?: number;
  /** revoke: terminated from the phone (silent: nothing pushed, later calls AUTH_KEY_UNREGISTERED) or SESSION_REVOKED. */
  silent?: boolean;
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
        case "revoke":
          f.number = r.int(0, o.numbers - 1);
          f.silent = r.chance(0.5);
          f.ms = r.int(4000, 15_000);
          break;
        case "freeze":
          f.number = r.int(0, o.numbers - 1);
          f.ms = r.int(4000, 15_000);
          break;
        case "tgDrop":
        case "fileRef":
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

/** A message for Telegram the appliance parked while its number was frozen or signed out, re-sent by the operator. */
export interface OperatorResend {
  number: string;
  messageId: string;
  error: string;
  at: number;
}

/** How long a number could not send: from the fault until the operator's fix was accepted. */
export interface SignedOutWindow {
  kind: "revoke" | "freeze";
  number: string;
  from: number;
  to: number | null;
}

/** Runs the plan; heals what it broke; keeps the appliance running (restarting it after a crash). */
export class FaultRunner {
  readonly events: FaultEvent[] = [];
  readonly kills: KillRecord[] = [];
  readonly restartFailures: string[] = [];
  readonly resent: OperatorResend[] = [];
  readonly windows: SignedOutWindow[] = [];
  /** Operator actions that failed (a re-login or a re-send the appliance refused). */
  readonly operatorFailures: string[] = [];
  /** Each number's session the appliance was given last (index → session). */
  private readonly sessions = new Map<number, WorldSession>();
  /** Numbers revoked or frozen right now, and what ends it. */
  private readonly impaired = new Map<number, { window: SignedOutWindow; end: () => Promise<void> }>();
  private readonly operator = new Set<Promise<void>>();
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
      case "fileRef":
        tg.driver.expireFileReferences();
        this.event("fileRef", "every file reference handed out so far expired");
        return;
      case "revoke": {
        const number = this.w.numbers[f.number!]!;
        if (this.impaired.has(number.index)) return;
        const session = this.sessionOf(number);
        if (f.silent) tg.terminateSession(session);
        else tg.revokeSession(session, "SESSION_REVOKED");
        const window: SignedOutWindow = { kind: "revoke", number: number.phone, from: Date.now(), to: null };
        this.windows.push(window);
        this.impaired.set(number.index, { window, end: () => this.relogin(number, window) });
        this.event(
          "revoke",
          `number ${number.phone}: session ${f.silent ? "terminated from the phone (silently)" : "revoked (SESSION_REVOKED)"}; signed in again after ${(f.ms / 1000).toFixed(1)} s`,
        );
        this.later(f.ms, () => this.endImpairment(number.index));
        return;
      }
      case "freeze": {
        const number = this.w.numbers[f.number!]!;
        if (this.impaired.has(number.index)) return;
        tg.freezeAccount(number.user.id);
        const window: SignedOutWindow = { kind: "freeze", number: number.phone, from: Date.now(), to: null };
        this.windows.push(window);
        this.impaired.set(number.index, { window, end: () => this.unfreeze(number, window) });
        this.event("freeze", `number ${number.phone}: account frozen for ${(f.ms / 1000).toFixed(1)} s`);
        this.later(f.ms, () => this.endImpairment(number.index));
        return;
      }
    }
  }

  private sessionOf(number: DrillNumber): WorldSession {
    let s = this.sessions.get(number.index);
    if (!s) this.sessions.set(number.index, (s = number.user.sessions[0]!));
    return s;
  }

  /** Ends a revocation or freeze (the operator's part included); healAll waits for it. */
  private endImpairment(index: number): void {
    const i = this.impaired.get(index);
    if (!i) return;
    this.impaired.delete(index);
    const p = i.end().catch((e: Error) => {
      this.operatorFailures.push(e.message);
      this.log(`operator action failed: ${e.message}`);
    });
    this.operator.add(p);
    void p.finally(() => this.operator.delete(p));
  }

  /** An appliance call that waits out restarts (the operator tries again until it is answered). */
  private async operatorCall(method: string, path: string, token: string, body: unknown, what: string): Promise<{ status: number; json: any }> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      while (this.busy && Date.now() < deadline) await Bun.sleep(100);
      const r = await this.w.app.call(method, path, token, body).catch(() => null);
      if (r && r.status < 500) {
        if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.json)}`);
        return r;
      }
      if (Date.now() > deadline) throw new Error(`${what}: no answer within 90 s`);
      await Bun.sleep(500);
    }
  }

  /** The operator signs the number in again: a new session (a new auth key) in a new file, PUT /client. */
  private async relogin(number: DrillNumber, window: SignedOutWindow): Promise<void> {
    const session = this.w.tg.addSession(number.user.id, "drill re-login");
    this.sessions.set(number.index, session);
    const file = `${number.client.name}/${number.user.id}-${session.keyId.toString(16).slice(-8)}.session.txt`;
    mkdirSync(join(this.w.dataDir, "sessions", number.client.name), { recursive: true });
    writeFileSync(join(this.w.dataDir, "sessions", file), this.w.tg.sessionString(session));
    await this.operatorCall("PUT", "/client", number.client.token, { number: number.phone, path_session: file }, `signing ${number.phone} in again`);
    window.to = Date.now();
    this.log(`  operator: number ${number.phone} signed in again with a new session`);
    await this.resendParked(number);
  }

  /** The account is unfrozen; the operator starts the number again if it is not online, and re-sends what was parked meanwhile. */
  private async unfreeze(number: DrillNumber, window: SignedOutWindow): Promise<void> {
    this.w.tg.unfreezeAccount(number.user.id);
    window.to = Date.now();
    this.log(`  number ${number.phone} unfrozen`);
    // A number that stopped as frozen stays so (only an appeal lifts a freeze, Telegram says nothing when it
    // ends): the operator starts it again. One that still looks online gets 15 s to show it is.
    const deadline = Date.now() + 15_000;
    let state = await this.stateOf(number);
    while (Date.now() < deadline && state !== "online" && state !== "frozen") {
      await Bun.sleep(250);
      state = await this.stateOf(number);
    }
    if (state !== "online") {
      this.log(`  operator: number ${number.phone} is "${state}" after the freeze ended; PUT /client with its session to start it again`);
      const file = `${number.client.name}/${number.user.id}-unfrozen-${Date.now()}.session.txt`;
      mkdirSync(join(this.w.dataDir, "sessions", number.client.name), { recursive: true });
      writeFileSync(join(this.w.dataDir, "sessions", file), this.w.tg.sessionString(this.sessionOf(number)));
      await this.operatorCall("PUT", "/client", number.client.token, { number: number.phone, path_session: file }, `restarting ${number.phone}`);
    }
    await this.resendParked(number);
  }

  private async stateOf(number: DrillNumber): Promise<string | null> {
    const r = await this.w.app.call("GET", `/client?number=${number.phone}`, number.client.token).catch(() => null);
    return (r?.json?.state as string | undefined) ?? null;
  }

  /** Re-sends the number's messages for Telegram that were parked because it could not send at all (one call each). */
  private async resendParked(number: DrillNumber): Promise<void> {
    const list = await this.operatorCall(
      "GET",
      `/client/queue?number=${number.phone}&direction=to_telegram`,
      number.client.token,
      undefined,
      `listing ${number.phone}'s parked messages`,
    );
    const items = ((list.json?.items ?? []) as { id: string; message_id?: string; error?: string }[]).filter((i) => SIGNED_OUT_OR_FROZEN.test(i.error ?? ""));
    for (const item of items) {
      await this.operatorCall("POST", "/client/queue/resend", number.client.token, { number: number.phone, direction: "to_telegram", id: item.id }, `re-sending ${item.id}`);
      this.resent.push({ number: number.phone, messageId: item.message_id ?? "", error: item.error ?? "", at: Date.now() });
    }
    if (items.length) this.log(`  operator: re-sent ${items.length} message(s) of ${number.phone} parked while it could not send`);
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
    // Revoked numbers are signed in again, frozen ones unfrozen (and what they parked re-sent).
    for (const index of [...this.impaired.keys()]) this.endImpairment(index);
    await Promise.all([...this.operator]);
  }

  /** One more look for messages parked while a number could not send (they may have been parked after the operator's last look). */
  async resendLateParked(): Promise<void> {
    for (const n of this.w.numbers) await this.resendParked(n).catch((e: Error) => this.operatorFailures.push(e.message));
  }

  stop(): void {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

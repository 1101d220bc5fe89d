// Errors on demand for chosen RPC methods, plus the counters tests assert on.
import { RpcError } from "./tl.ts";

export interface FaultRule {
  /** GramJS class name of the request, e.g. "messages.SendMessage"; "*" matches every method. */
  method: string;
  code: number;
  message: string;
  /** Calls left to fail; Infinity = always. */
  remaining: number;
  /** Only for this user (any session of theirs). */
  userId?: number;
  /** How many calls this rule answered. */
  hits: number;
}

export interface FaultOptions {
  /** Fail the next `times` calls (default 1); Infinity or "always" fails every call until cleared. */
  times?: number | "always";
  userId?: number;
}

export class Faults {
  private rules: FaultRule[] = [];

  /** Answer `method` with an arbitrary rpc_error. Returns the rule (its `hits` count is live). */
  fail(method: string, code: number, message: string, opts: FaultOptions = {}): FaultRule {
    const times = opts.times === "always" ? Infinity : (opts.times ?? 1);
    const rule: FaultRule = { method, code, message, remaining: times, userId: opts.userId, hits: 0 };
    this.rules.push(rule);
    return rule;
  }

  /** 420 FLOOD_WAIT_n: GramJS raises FloodWaitError with `.seconds = n` (above floodSleepThreshold). */
  floodWait(method: string, seconds: number, opts?: FaultOptions): FaultRule {
    return this.fail(method, 420, `FLOOD_WAIT_${seconds}`, opts);
  }

  /** 400 PEER_FLOOD: Telegram's "this account is limited" answer to sends. */
  peerFlood(method: string, opts?: FaultOptions): FaultRule {
    return this.fail(method, 400, "PEER_FLOOD", opts);
  }

  clear(): void {
    this.rules = [];
  }

  /** Throws the first matching rule's error (consuming one of its calls). */
  check(method: string, userId: number): void {
    if (this.rules.length === 0) return;
    for (const r of this.rules) {
      if (r.remaining <= 0) continue;
      if (r.method !== "*" && r.method !== method) continue;
      if (r.userId !== undefined && r.userId !== userId) continue;
      r.remaining--;
      r.hits++;
      throw new RpcError(r.code, r.message);
    }
  }
}

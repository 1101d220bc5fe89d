// Times every call to Planfix a port makes, by call and outcome ("ok", the failure kind, or "error" when
// it threw), without the port or the bridge knowing about metrics.
import type { Metrics } from "./metrics.ts";

type Outcome = { ok: true } | { ok: false; kind: string };
type Port<K extends string> = { [k in K]: (arg: never) => Promise<Outcome> };

export function timedPlanfix<K extends string, P extends Port<K>>(port: P, calls: readonly K[], metrics: Metrics, now: () => number = () => performance.now()): P {
  const timed = Object.create(port) as P;
  for (const name of calls) {
    const call = port[name].bind(port) as (arg: unknown) => Promise<Outcome>;
    (timed as Record<string, unknown>)[name] = async (arg: unknown) => {
      const start = now();
      try {
        const outcome = await call(arg);
        metrics.planfixCall(name, outcome.ok ? "ok" : outcome.kind, (now() - start) / 1000);
        return outcome;
      } catch (e) {
        metrics.planfixCall(name, "error", (now() - start) / 1000);
        throw e;
      }
    };
  }
  return timed;
}

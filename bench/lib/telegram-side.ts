// One interface over the bench's loopback Telegram, whether it runs in this process or in a child.
import { resolve } from "node:path";
import { IpcChild } from "./ipc.ts";
import { TelegramCore, type TelegramMetrics, type WorldInfo, type WorldSpec } from "./telegram-core.ts";

export interface TelegramSide {
  readonly info: WorldInfo;
  /** The server's own process (null when it shares the bench's). */
  readonly pid: number | null;
  send(phase: number, items: number[]): void;
  /** Bench messages of `phase` that reached customers so far (a child reports this every ~5 ms). */
  arrived(phase: number): number;
  sentTimes(phase: number): Promise<number[]>;
  arrivalTimes(phase: number): Promise<number[]>;
  forget(phase: number): void;
  accessHashes(pairs: number[]): Promise<string[]>;
  metrics(): Promise<TelegramMetrics>;
  stop(): Promise<void>;
}

export async function startTelegram(spec: WorldSpec, mode: "child" | "inproc"): Promise<TelegramSide> {
  if (mode === "inproc") {
    const core = await TelegramCore.start(spec);
    return {
      info: core.info,
      pid: null,
      send: (phase, items) => core.send(phase, items),
      arrived: (phase) => core.arrivedSoFar(phase),
      sentTimes: async (phase) => core.sentTimes(phase),
      arrivalTimes: async (phase) => core.arrivalTimes(phase),
      forget: (phase) => core.forget(phase),
      accessHashes: async (pairs) => core.accessHashes(pairs),
      metrics: async () => core.metrics(),
      stop: () => core.stop(),
    };
  }
  const arrivals = new Map<number, number>();
  const child = new IpcChild(resolve(import.meta.dir, "telegram-child.ts"), (e) => {
    if (e.event === "arrivals") arrivals.set(e.phase as number, Math.max(arrivals.get(e.phase as number) ?? 0, e.n as number));
  });
  let info: WorldInfo;
  try {
    info = await child.call<WorldInfo>("start", spec);
  } catch (e) {
    await child.stop(1000);
    throw e;
  }
  return {
    info,
    pid: child.pid,
    send: (phase, items) => child.post("send", phase, items),
    arrived: (phase) => arrivals.get(phase) ?? 0,
    sentTimes: (phase) => child.call("sentTimes", phase),
    arrivalTimes: (phase) => child.call("arrivalTimes", phase),
    forget: (phase) => {
      arrivals.delete(phase);
      child.post("forget", phase);
    },
    accessHashes: (pairs) => child.call("accessHashes", pairs),
    metrics: () => child.call("metrics"),
    stop: () => child.stop(),
  };
}

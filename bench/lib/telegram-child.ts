// The loopback Telegram in its own process, driven by the bench over IPC (see telegram-side.ts).
import { serveIpc } from "./ipc.ts";
import { TelegramCore, type WorldSpec } from "./telegram-core.ts";

let core: TelegramCore | null = null;
const need = (): TelegramCore => {
  if (!core) throw new Error("not started");
  return core;
};
// Arrival counts go to the parent at most every 5 ms (it paces the closed loop with them).
const counts = new Map<number, number>();
// biome-ignore lint/correctness/noUnusedVariables: read by `??=` below (one timer at a time)
let flushTimer: ReturnType<typeof setTimeout> | null = null;
const flush = () => {
  flushTimer = null;
  for (const [phase, n] of counts) ipc.emit({ event: "arrivals", phase, n });
  counts.clear();
};

const ipc = serveIpc({
  async start(spec: WorldSpec) {
    core = await TelegramCore.start(spec);
    core.onArrival = (phase, n) => {
      counts.set(phase, n);
      flushTimer ??= setTimeout(flush, 5);
    };
    return core.info;
  },
  send: (phase: number, items: number[]) => need().send(phase, items),
  sentTimes: (phase: number) => need().sentTimes(phase),
  arrivalTimes: (phase: number) => need().arrivalTimes(phase),
  forget: (phase: number) => need().forget(phase),
  accessHashes: (pairs: number[]) => need().accessHashes(pairs),
  metrics: () => need().metrics(),
  async exit() {
    await core?.stop();
    setTimeout(() => process.exit(0), 10);
  },
});

// Stops a TelegramClient so that nothing of it survives: no socket, no timer, no request left hanging.
// GramJS's own disconnect()/destroy() leave the upload/download senders open for ~30 s (destroy()
// iterates their Map as if it were an object), leave requests in flight pending forever, and do not
// close a socket that is still connecting.
import type { TelegramClient } from "telegram";
import type { Logger } from "../log.ts";
import { internals, type SenderInternals } from "./gram.ts";
import { settleWithin } from "./timing.ts";

/** How long to wait for an exported (other-DC) sender that is still being set up. */
const EXPORTED_WAIT_MS = 1000;
const DESTROY_WAIT_MS = 5000;

function rejectPending(s: SenderInternals | undefined, reason: Error): void {
  if (!s) return;
  try {
    for (const state of s._pendingState.values()) state.reject(reason);
    s._pendingState.clear();
    for (const state of [...s._sendQueue._pendingStates]) state.reject(reason);
    s._sendQueue.clear();
  } catch {
    // best effort: the structures are GramJS internals
  }
}

function neuter(s: SenderInternals): void {
  // A reconnect scheduled before the stop would open a new socket with the same key afterwards.
  s.reconnect = () => {};
  (s as unknown as { _reconnect: () => Promise<void> })._reconnect = async () => {};
}

function destroySocket(s: SenderInternals | undefined): void {
  try {
    s?._connection?.socket?.client?.destroy();
  } catch {
    // already gone
  }
}

export async function shutdownClient(client: TelegramClient, log: Logger, reason: Error): Promise<void> {
  const c = internals(client);
  for (const t of c._exportedSenderReleaseTimeouts.values()) clearTimeout(t);
  c._exportedSenderReleaseTimeouts.clear();

  const main = c._sender;
  const exportedPromises = [...c._exportedSenderPromises.values()];
  const exported: SenderInternals[] = [];
  for (const p of exportedPromises) {
    let s: SenderInternals | undefined;
    const settled = await settleWithin(
      p.then((x) => {
        s = x;
      }),
      EXPORTED_WAIT_MS,
    );
    if (!settled) log.warn("telegram: a file connection was still being set up at close");
    if (s) exported.push(s);
  }
  for (const s of [main, ...exported]) if (s) neuter(s);

  rejectPending(main, reason);
  for (const s of exported) rejectPending(s, reason);

  if (!(await settleWithin(client.destroy(), DESTROY_WAIT_MS))) log.warn("telegram: destroy() did not finish in time");
  await Promise.all(exported.map((s) => settleWithin(s.disconnect(), DESTROY_WAIT_MS)));

  // disconnect() skips a connection that never finished connecting; its socket must go too.
  destroySocket(main);
  for (const s of exported) destroySocket(s);
  c._exportedSenderPromises.clear();
}

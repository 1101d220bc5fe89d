// Ties the two directions to the account pool: which connection is live, and the hooks a number runs.
import type { AccountHooks } from "../accounts/runner.ts";
import type { TelegramConnection } from "../domain/telegram-port.ts";
import type { Transaction } from "../domain/repositories.ts";
import type { InboundBridge } from "./inbound.ts";
import { type OutboundBridge, seedOfKey } from "./outbound.ts";

export class ConnectionRegistry {
  private readonly live = new Map<number, TelegramConnection>();
  get(accountId: number): TelegramConnection | null {
    return this.live.get(accountId) ?? null;
  }
  set(accountId: number, conn: TelegramConnection | null): void {
    if (conn) this.live.set(accountId, conn);
    else this.live.delete(accountId);
  }
}

export function bridgeHooks(accountId: number, deps: { registry: ConnectionRegistry; inbound: InboundBridge; outbound: OutboundBridge; transaction: Transaction }): AccountHooks {
  return {
    onMessage: (message) => deps.inbound.accept(accountId, message),
    onRead: async (peerUserId, keys) => {
      // The keys are the jobs' (their random seed and the part): the "read" marks and their statuses in
      // one transaction, a crash between them would lose the ✓✓.
      const pending = await deps.transaction(async (tx) => {
        const read = await tx.jobs.takeRead(accountId, peerUserId, keys.map(seedOfKey));
        for (const job of read.jobs) {
          await deps.inbound.enqueueStatus(tx, accountId, peerUserId, `read:${job.id}`, { messageId: job.planfixMessageId, status: "read" });
        }
        return new Set(read.pending);
      });
      // A part read while its job is still being sent: asked again with the chat's next read.
      return keys.filter((k) => pending.has(seedOfKey(k)));
    },
    onContactChanged: (peer, photoChanged) => deps.inbound.contactChanged(accountId, peer, photoChanged),
    onOnline: (conn) => {
      deps.registry.set(accountId, conn);
      deps.outbound.kick(accountId);
      deps.inbound.kick(accountId);
    },
    onOffline: () => deps.registry.set(accountId, null),
  };
}

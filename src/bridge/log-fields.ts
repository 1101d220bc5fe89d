// Client and number on every log line that concerns one.
import type { ClientStore } from "../store/clients.ts";

export function logFields(clients: ClientStore, accountId: number): { client?: number; number?: string } {
  const a = clients.accountById(accountId);
  return a ? { client: a.clientId, number: a.number } : {};
}

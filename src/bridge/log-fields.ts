// Client and number on every log line that concerns one.
import type { ClientRepository } from "../domain/repositories.ts";

/** Read from the store, so a log line waits for them; never rejects (a line is still written without them). */
export async function logFields(clients: ClientRepository, accountId: number): Promise<{ client?: number; number?: string }> {
  try {
    const a = await clients.accountById(accountId);
    return a ? { client: a.clientId, number: a.number } : {};
  } catch {
    return {};
  }
}

// What the bridge needs of Planfix, per number: three commands, each ending in a classified outcome.
// src/planfix/ implements it over HTTP; unit tests inject a fake. The bridge never builds a client.
import type { ContactCard, MessageStatusCommand, NewMessageCommand, PlanfixOutcome } from "../planfix/index.ts";

export interface PlanfixPort {
  newMessage(command: NewMessageCommand): Promise<PlanfixOutcome>;
  messageStatus(command: MessageStatusCommand): Promise<PlanfixOutcome>;
  updateContact(card: ContactCard): Promise<PlanfixOutcome>;
}

/** The Planfix a number talks to: its url_planfix, token_planfix and providerId. */
export interface PlanfixAccount {
  id: number;
  urlPlanfix: string;
  tokenPlanfix: string;
  providerId: string | null;
}

export type PlanfixPorts = (account: PlanfixAccount) => PlanfixPort;

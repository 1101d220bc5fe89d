// A TelegramConnector without Telegram, for unit tests of the pool and the management API.
// (The end-to-end tests use the real GramJS adapter against the loopback MTProto server.)
import { telegramCapabilities } from "../../src/telegram/capabilities.ts";
import { createSessionClaims } from "../../src/telegram/session-claims.ts";
import { sessionDataOf, type SessionData } from "../../src/telegram/session-file.ts";
import { TelegramFailure, type ConnectOptions, type TelegramConnection, type TelegramConnector } from "../../src/domain/telegram-port.ts";

/** A connect's options with the session opened (the fake stands in for the connector, which may look inside). */
export type FakeConnectOptions = Omit<ConnectOptions, "session"> & { session: SessionData };

export interface FakeBehaviour {
  /** Decides each connect: resolve to go online, throw a TelegramFailure to fail. */
  onConnect?: (options: FakeConnectOptions, attempt: number) => Promise<void> | void;
  /** Decides each liveness probe: resolve for a live account, throw a TelegramFailure for a gone one. */
  onProbe?: (attempt: number) => Promise<void> | void;
  /** The Telegram user a connect's session belongs to (default "1000"). */
  selfOf?: (options: FakeConnectOptions) => string;
}

export class FakeConnector implements TelegramConnector {
  readonly capabilities = telegramCapabilities;
  readonly claims = createSessionClaims();
  attempts = 0;
  probes = 0;
  live = new Map<string, number>();
  maxLiveSameKey = 0;
  /** Each connection made; `resumedFrom`: the update state its catch-up started from (as the GramJS one decides it). */
  readonly connections: { options: ConnectOptions; resumedFrom: ConnectOptions["updateState"]; closed: boolean; lose(f: TelegramFailure): void }[] = [];

  constructor(private readonly behaviour: FakeBehaviour = {}) {}

  async connect(handed: ConnectOptions): Promise<TelegramConnection> {
    const options: FakeConnectOptions = { ...handed, session: sessionDataOf(handed.session) };
    const key = Buffer.from(options.session.authKey).toString("hex").slice(0, 16);
    this.live.set(key, (this.live.get(key) ?? 0) + 1);
    this.maxLiveSameKey = Math.max(this.maxLiveSameKey, this.live.get(key)!);
    const release = () => this.live.set(key, this.live.get(key)! - 1);
    try {
      await this.behaviour.onConnect?.(options, ++this.attempts);
    } catch (e) {
      release();
      throw e;
    }
    const selfUserId = this.behaviour.selfOf?.(options) ?? "1000";
    // As the GramJS connection does once the session's user is known: another account's state is not resumed.
    const same = options.sameAccount?.(selfUserId) ?? true;
    const entry = { options, resumedFrom: same ? options.updateState : null, closed: false, lose: (f: TelegramFailure) => options.events.onLost(f) };
    this.connections.push(entry);
    const fail = () => Promise.reject(new TelegramFailure("error", "fake connector"));
    return {
      self: { userId: selfUserId, firstName: "Fake", lastName: null, username: null, phone: null },
      sendText: fail,
      sendFile: fail,
      resolveUsername: async () => null,
      resolvePhone: async () => null,
      getUser: async () => null,
      downloadMedia: fail,
      downloadProfilePhoto: async () => null,
      probe: async () => {
        const attempt = ++this.probes;
        await this.behaviour.onProbe?.(attempt);
      },
      close: async () => {
        if (!entry.closed) release();
        entry.closed = true;
      },
    };
  }
}

// The GramJS internals this adapter relies on, typed in one place. GramJS 2.26.22 offers no public way
// to stop reconnects, to see updates as the server sent them, or to close every socket, so the adapter
// reaches into these fields; a GramJS upgrade must re-check exactly this list. src/telegram/longs.ts also replaces two of GramJS's Helpers exports.
import type { TelegramClient } from "telegram";
import type { Api } from "telegram";
import { returnBigInt } from "telegram/Helpers";

export type Long = ReturnType<typeof returnBigInt>;

/** Signed 64-bit value (as Telegram sends `long`) from a decimal string or a bigint of either sign convention. */
export function toLong(v: string | bigint): Long {
  let b = typeof v === "bigint" ? v : BigInt(v);
  b = BigInt.asIntN(64, b);
  return returnBigInt(b.toString());
}

/** A GramJS `long` as a decimal string. */
export function longText(v: Long | number | bigint | string | undefined | null): string | null {
  if (v === undefined || v === null) return null;
  return v.toString();
}

/** One request in flight inside an MTProtoSender (RequestState). */
export interface PendingRequest {
  reject(e: unknown): void;
}

/** The main (or an exported) MTProtoSender, as far as we touch it. */
export interface SenderInternals {
  /** Called by GramJS on every broken connection (recv/send failure, bad buffer, ping failure). */
  reconnect(): void;
  /** Receives every pushed `Updates` object and connection state changes. */
  _updateCallback: (client: unknown, update: unknown) => void;
  _userConnected: boolean;
  userDisconnected: boolean;
  _connection?: { socket?: { client?: { destroy(): void } } };
  _pendingState: { values(): PendingRequest[]; clear(): void };
  _sendQueue: { _pendingStates: PendingRequest[]; clear(): void };
  send(request: Api.AnyRequest | Api.PingDelayDisconnect): Promise<unknown>;
  connect(connection: unknown, force?: boolean): Promise<boolean>;
  disconnect(): Promise<void>;
}

/** A GramJS Connection (transport) instance: `_recv` reads one transport packet. */
export interface ConnectionInternals {
  _recv(): Promise<Buffer>;
}

export interface ClientInternals {
  _sender?: SenderInternals;
  _loopStarted: boolean;
  _destroyed: boolean;
  _exportedSenderPromises: Map<number, Promise<SenderInternals | undefined>>;
  _exportedSenderReleaseTimeouts: Map<number, ReturnType<typeof setTimeout>>;
  _selfInputPeer?: Api.InputPeerUser;
  _entityCache: { add(x: unknown): void };
  _switchDC(dc: number): Promise<unknown>;
  session: { processEntities(x: unknown): void; save(): unknown; dcId: number };
}

export function internals(client: TelegramClient): ClientInternals {
  return client as unknown as ClientInternals;
}

// Which API layers the loopback answers. Its TL schema is GramJS's own (the `telegram` package), so it
// can encode answers only in that one layer; Telegram refuses layers it does not serve with
// 400 CONNECTION_LAYER_INVALID, and so do we — for any other layer, older or newer, rather than answer
// in constructors the client cannot decode.
import { LAYER } from "telegram/tl/AllTLObjects";

/** invokeWithLayer#da9b0d0d layer:int query:!X */
const INVOKE_WITH_LAYER = 0xda9b0d0d;

export const SERVED_LAYERS: ReadonlySet<number> = new Set([LAYER]);

/** The layer an invokeWithLayer body declares, read from its first bytes (the query inside may be in
 * constructors of another layer that our schema cannot even parse). */
export function declaredLayer(body: Buffer): number | undefined {
  if (body.length < 8 || body.readUInt32LE(0) !== INVOKE_WITH_LAYER) return undefined;
  return body.readInt32LE(4);
}

// The loopback Telegram as the bench uses it: the server with the bench's users, customers writing to
// numbers (send times recorded per message), and the arrival time of every bench message a number sends
// to a customer. Runs inside the bench process or in a child process (telegram-child.ts) unchanged.
import { TelegramServer } from "../../tests/support/telegram/index.ts";
import type { WorldUser } from "../../tests/support/telegram/world.ts";
import { now } from "./clock.ts";

export interface WorldSpec {
  /** Number accounts the appliance runs. */
  numbers: number;
  /** Number accounts the floor (bare GramJS clients) runs: separate users, so the two never share a key. */
  floorNumbers: number;
  customers: number;
}

export interface BenchUser {
  id: number;
  phone: string;
  firstName: string;
  lastName: string;
  username: string | null;
  /** StringSession text of the first key. */
  session: string;
}

export interface WorldInfo {
  port: number;
  numbers: BenchUser[];
  floorNumbers: BenchUser[];
  customers: BenchUser[];
}

export interface TelegramMetrics {
  connections: number;
  duplicateEvents: number;
  internalErrors: number;
}

/** Bench message texts: `b<phase>:<seq>`. */
export const benchText = (phase: number, seq: number): string => `b${phase}:${seq}`;
const BENCH_TEXT = /^b(\d+):(\d+)$/;
export function parseBenchText(text: string): { phase: number; seq: number } | null {
  const m = BENCH_TEXT.exec(text);
  return m ? { phase: Number(m[1]), seq: Number(m[2]) } : null;
}

export class TelegramCore {
  private readonly sent = new Map<number, number[]>();
  private readonly arrivals = new Map<number, number[]>();
  private readonly arrivedCount = new Map<number, number>();
  private readonly customerIds = new Set<number>();
  /** Called after bench messages reached customers (throttling is the caller's business). */
  onArrival: (phase: number, count: number) => void = () => {};

  private constructor(
    readonly server: TelegramServer,
    readonly info: WorldInfo,
  ) {
    for (const c of info.customers) this.customerIds.add(c.id);
    const world = server.world;
    const original = world.sendMessage.bind(world);
    // A number's message reaches the customer the moment the server stores it in the customer's mailbox.
    world.sendMessage = (fromId, peer, content, opts) => {
      const out = original(fromId, peer, content, opts);
      if (!out.duplicate && peer.kind === "user" && this.customerIds.has(peer.id)) {
        const b = parseBenchText(content.text);
        if (b) this.arrived(b.phase, b.seq);
      }
      return out;
    };
  }

  static async start(spec: WorldSpec): Promise<TelegramCore> {
    const server = await TelegramServer.start({ builtins: false });
    const make = (prefix: string, first: string, i: number, username: string | null): WorldUser =>
      server.addUser({ firstName: first, lastName: `${first[0]}${i}`, phone: `${prefix}${String(i).padStart(7, "0")}`, ...(username ? { username } : {}) });
    const view = (u: WorldUser): BenchUser => ({
      id: u.id,
      phone: u.phone,
      firstName: u.firstName,
      lastName: u.lastName,
      username: u.username ?? null,
      session: server.sessionString(u),
    });
    const numbers = Array.from({ length: spec.numbers }, (_, i) => view(make("38050", "Number", i, null)));
    const floorNumbers = Array.from({ length: spec.floorNumbers }, (_, i) => view(make("38060", "Floor", i, null)));
    const customers = Array.from({ length: spec.customers }, (_, i) => view(make("38070", "Customer", i, `bench_customer_${i}`)));
    return new TelegramCore(server, { port: server.port, numbers, floorNumbers, customers });
  }

  /** Customers write to numbers: `items` is flat [customerId, numberId, seq, …]; each send time is kept. */
  send(phase: number, items: readonly number[]): void {
    let times = this.sent.get(phase);
    if (!times) this.sent.set(phase, (times = []));
    const driver = this.server.driver;
    for (let i = 0; i + 2 < items.length; i += 3) {
      const seq = items[i + 2]!;
      times[seq] = now();
      driver.sendText(items[i]!, items[i + 1]!, benchText(phase, seq));
    }
  }

  private arrived(phase: number, seq: number): void {
    let times = this.arrivals.get(phase);
    if (!times) this.arrivals.set(phase, (times = []));
    if (times[seq] !== undefined) return;
    times[seq] = now();
    const n = (this.arrivedCount.get(phase) ?? 0) + 1;
    this.arrivedCount.set(phase, n);
    this.onArrival(phase, n);
  }

  arrivedSoFar(phase: number): number {
    return this.arrivedCount.get(phase) ?? 0;
  }

  /** Send times of a phase by seq (0 where none). */
  sentTimes(phase: number): number[] {
    return Array.from(this.sent.get(phase) ?? [], (t) => t ?? 0);
  }

  /** Arrival times at customers of a phase by seq (0 where none). */
  arrivalTimes(phase: number): number[] {
    return Array.from(this.arrivals.get(phase) ?? [], (t) => t ?? 0);
  }

  /** Forgets a finished phase's times. */
  forget(phase: number): void {
    this.sent.delete(phase);
    this.arrivals.delete(phase);
    this.arrivedCount.delete(phase);
  }

  /** Access hashes as the viewer sees the target: flat [viewer, target, …] → decimal strings. */
  accessHashes(pairs: readonly number[]): string[] {
    const out: string[] = [];
    for (let i = 0; i + 1 < pairs.length; i += 2) out.push(this.server.world.accessHash(pairs[i]!, pairs[i + 1]!).toString());
    return out;
  }

  metrics(): TelegramMetrics {
    const m = this.server.metrics();
    return { connections: m.connections, duplicateEvents: m.duplicateEvents, internalErrors: this.server.internalErrors.length };
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}

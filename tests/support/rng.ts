// The one seeded PRNG of the test kit (xoshiro128**, seeded by splitmix32), for tests, the fuzzer and
// the drill. A generator is (seed, stream): the fuzzer gives every case its own numbered stream, so case
// N is the same whether the run has 10 or 20,000 cases and one case can be replayed alone (FUZZ_ONLY);
// the drill forks named streams, so each part of its plan depends only on the seed and its name.

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  readonly seed: number;
  /** The stream's name when it was forked by name ("" for a numbered one). */
  readonly stream: string;

  constructor(seed: number, stream: number | string = 0) {
    this.seed = seed;
    this.stream = typeof stream === "string" ? stream : "";
    const n = typeof stream === "string" ? hashName(stream) : stream;
    const sm = splitmix32((seed ^ Math.imul(n + 1, 0x27d4eb2d)) >>> 0);
    this.a = sm();
    this.b = sm();
    this.c = sm();
    this.d = sm() || 1;
  }

  /** 32 random bits. */
  u32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.b << 9) >>> 0;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** [0, 1) */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [lo, hi] (both included). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from nothing");
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Float in [min, max). */
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** Exponentially distributed pause with this mean (a Poisson process), capped at 5× the mean. */
  exp(mean: number): number {
    return Math.min(5 * mean, -Math.log(1 - this.next()) * mean);
  }

  /** A named child stream: depends only on the seed and the names, never on how much any stream was used. */
  fork(name: string): Rng {
    return new Rng(this.seed, `${this.stream}/${name}`);
  }

  /** Picks by weight: `[[weight, value], …]`. */
  weighted<T>(items: readonly (readonly [number, T])[]): T {
    const total = items.reduce((n, [w]) => n + w, 0);
    let x = this.next() * total;
    for (const [w, v] of items) {
      if ((x -= w) < 0) return v;
    }
    return items[items.length - 1]![1];
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }

  /** Random text from an alphabet. */
  text(n: number, alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"): string {
    let s = "";
    for (let i = 0; i < n; i++) s += alphabet[this.u32() % alphabet.length];
    return s;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.u32() % (i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

/** FNV-1a of a stream name, kept below 2^31 so a named stream never equals a small numbered one by chance. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return ((h >>> 0) % 0x7fffffff) + 0x10000;
}

/** A fresh seed for a run that was given none (printed, so the run can be repeated). */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]! % 1_000_000_000;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** The generator of case `index` under `seed`. */
export const caseRng = (seed: number, index: number) => new Rng(seed, index);

/** FUZZ_SEED as given (decimal or 0x-hex), or a fresh random one. */
export function parseSeed(text: string | undefined): number {
  if (text === undefined || text.trim() === "") return (Math.random() * 4294967296) >>> 0;
  const n = text.trim().toLowerCase().startsWith("0x") ? parseInt(text.trim().slice(2), 16) : Number(text.trim());
  if (!Number.isFinite(n) || n < 0 || n > 0xffffffff || !Number.isInteger(n)) throw new Error(`FUZZ_SEED must be an integer 0..4294967295, got "${text}"`);
  return n >>> 0;
}

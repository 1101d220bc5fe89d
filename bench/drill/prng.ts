// Seeded randomness for the drill: every choice (the fault schedule, each chat's messages and pauses)
// draws from its own stream derived from one printed seed, so a seed reproduces the same plan even
// though the interleaving of real processes never repeats exactly.

/** splitmix32: turns (seed, stream name) into well-mixed 32-bit states. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x21f0aaad);
  h = Math.imul(h ^ (h >>> 15), 0x735a2d97);
  return (h ^ (h >>> 15)) >>> 0;
}

function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(
    readonly seed: number,
    readonly stream = "",
  ) {
    const s = mix((seed >>> 0) ^ hashName(stream));
    this.a = mix(s + 1);
    this.b = mix(s + 2);
    this.c = mix(s + 3);
    this.d = mix(s + 4) | 1;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** sfc32: uniform in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Float in [min, max). */
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Exponentially distributed pause with this mean (a Poisson process), capped at 5× the mean. */
  exp(mean: number): number {
    return Math.min(5 * mean, -Math.log(1 - this.next()) * mean);
  }

  /** A named child stream: depends only on the seed and the names, never on how much any stream was used. */
  fork(name: string): Rng {
    return new Rng(this.seed, `${this.stream}/${name}`);
  }
}

export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]! % 1_000_000_000;
}

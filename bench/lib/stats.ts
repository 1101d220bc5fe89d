// Percentiles and rates over latency samples.

/** The p-th percentile (0..100) by nearest rank; null for no samples. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface LatencySummary {
  samples: number;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export function summarize(latencies: readonly number[]): LatencySummary {
  const s = [...latencies].sort((a, b) => a - b);
  const r = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);
  return { samples: s.length, p50Ms: r(percentile(s, 50)), p90Ms: r(percentile(s, 90)), p99Ms: r(percentile(s, 99)), maxMs: r(s[s.length - 1] ?? null) };
}

export const round = (v: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

// Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine
// (each process's timeOrigin is taken from the wall clock; the monotonic clock adds the fraction).
export const now = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

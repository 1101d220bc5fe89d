// Capped exponential backoff with jitter, so many numbers losing Telegram at once do not reconnect in step.
export function backoffMs(attempt: number, baseMs = 1000, capMs = 60_000, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling * (0.5 + random() * 0.5));
}

/** A sleep that can be cut short (stop, PUT). */
export function interruptibleSleep(ms: number): { done: Promise<void>; wake: () => void } {
  let wake = () => {};
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  return { done, wake };
}

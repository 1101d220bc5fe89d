// One JSON object per line on stdout. Secrets never reach here: callers pass ids, not tokens,
// and `redact` scrubs anything that looks like a bearer token or auth key from free text.
import type { LogLevel } from "./config.ts";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** A logger that adds these fields (e.g. client and number) to every line. */
  child(fields: Fields): Logger;
}

/** Long opaque strings (tokens, base64 keys, session strings) are cut down to a hint. */
export function redact(text: string): string {
  return text.replace(/[A-Za-z0-9+/_=-]{40,}/g, (m) => `${m.slice(0, 4)}…[redacted]`);
}

export function errorText(e: unknown): string {
  const text = e instanceof Error ? e.message || e.name : String(e);
  return redact(text);
}

/** No log line is longer than this (bytes): a huge field (an answer quoted in an error…) cannot flood the log. */
export const MAX_LINE_BYTES = 8 * 1024;
const FIELD_CHARS = 1024;
const TRUNCATED = "…[truncated]";

/** The line as JSON; when over MAX_LINE_BYTES, long fields are cut (marked), then fields dropped from the end. */
export function fitLine(line: Fields): string {
  const whole = JSON.stringify(line);
  if (Buffer.byteLength(whole) <= MAX_LINE_BYTES) return whole;
  const cut: Fields = {};
  for (const [k, v] of Object.entries(line)) {
    const text = typeof v === "string" ? v : v !== null && typeof v === "object" ? JSON.stringify(v) : undefined;
    cut[k] = text !== undefined && text.length > FIELD_CHARS ? text.slice(0, FIELD_CHARS) + TRUNCATED : v;
  }
  const shorter = JSON.stringify(cut);
  if (Buffer.byteLength(shorter) <= MAX_LINE_BYTES) return shorter;
  // Many long fields: keep those that fit, in order, and say how many were left out.
  const kept: Fields = {};
  let dropped = 0;
  for (const [k, v] of Object.entries(cut)) {
    kept[k] = v;
    if (Buffer.byteLength(JSON.stringify(kept)) > MAX_LINE_BYTES - 64) {
      delete kept[k];
      dropped++;
    }
  }
  kept.truncated = `${dropped} field(s) left out`;
  return JSON.stringify(kept);
}

export function createLogger(level: LogLevel, base: Fields = {}, write: (line: string) => void = (l) => process.stdout.write(l + "\n")): Logger {
  const min = RANK[level];
  const emit = (lvl: Exclude<LogLevel, "silent">, msg: string, fields?: Fields) => {
    if (RANK[lvl] < min) return;
    const line: Fields = { time: new Date().toISOString(), level: lvl, msg, ...base };
    if (fields) {
      for (const [k, v] of Object.entries(fields)) line[k] = v instanceof Error ? errorText(v) : v;
    }
    write(fitLine(line));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger(level, { ...base, ...fields }, write),
  };
}

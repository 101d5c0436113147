import { ConfigurationError } from "./errors";

/** A duration: milliseconds as a number, or a string such as "500ms", "5s", "2m", "1h", "1d". */
export type Duration = number | string;

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/;

/**
 * Resolve a duration to whole milliseconds. `what` names the option in the error, e.g. "retryDelay".
 * Negative, non-finite and unparseable values are rejected with a message that says what works.
 */
export function toMs(value: Duration, what: string): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) {
      throw new ConfigurationError(`${what} must be a duration of 0 or more milliseconds, got ${String(value)}`);
    }
    return Math.round(value);
  }
  if (typeof value === "string") {
    const m = PATTERN.exec(value);
    if (m) return Math.round(Number(m[1]) * UNITS[m[2] ?? "ms"]!);
  }
  throw new ConfigurationError(
    `${what} must be milliseconds or a string like "500ms", "5s", "2m", "1h", "1d"; got ${JSON.stringify(value)}`,
  );
}

/** Resolve `eta` (Date or epoch ms) to epoch ms. */
export function toEpochMs(value: Date | number, what: string): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== "number" || !Number.isFinite(ms)) {
    throw new ConfigurationError(`${what} must be a Date or epoch milliseconds, got ${String(value)}`);
  }
  return ms;
}

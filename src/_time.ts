import { ConfigurationError } from "./errors";

/** The units a duration string may end with: milliseconds, seconds, minutes, hours, days. */
export type DurationUnit = "ms" | "s" | "m" | "h" | "d";

/**
 * A duration: milliseconds as a number, or a string of a number and an optional unit:
 * `"250"` (ms), `"500ms"`, `"5s"`, `"1.5m"`, `"2h"`, `"1d"`, `"1e3ms"`, `" 5 s"`.
 *
 * The number is written in decimal (digits with an optional fraction and exponent: `"1.5"`,
 * `".5"`, `"1e3"`), may be preceded by whitespace and followed by whitespace before the unit.
 * The unit is one of {@link DurationUnit}; none means milliseconds. `"5 seconds"` or `"5sec"`
 * is not a Duration, in the type or at runtime.
 *
 * The type is TypeScript's `${number}` followed by a unit, so a few strings it admits are still
 * refused at runtime by a ConfigurationError: a negative number (`"-5s"`, as for `-5`), hex,
 * octal or binary digits (`"0x10s"`), and whitespace where the number should be (`" s"`). Runtime
 * also ignores whitespace after the unit (`"5s "`, from a config file), which the type does not admit.
 */
export type Duration = number | `${number}` | `${number}${DurationUnit}`;

/**
 * The largest |epoch ms| a Date can hold (100,000,000 days either side of 1970, about 275,760
 * years). A time past it is an "Invalid Date", which every listing would later fail to print.
 */
export const MAX_DATE_MS = 8.64e15;
const RANGE = `from -8.64e15 to 8.64e15 epoch milliseconds (the range of a Date, about year -271821 to 275760)`;

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** What Duration admits, as a decimal number (the sign is read, so "-5s" is refused as negative). */
const PATTERN = /^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(ms|s|m|h|d)?\s*$/;

/**
 * Resolve a duration to whole milliseconds. `what` names the option in the error, e.g. "retryDelay".
 * Negative, non-finite, unparseable and longer-than-any-Date (over 8.64e15 ms) values are rejected
 * with a message that says what works.
 */
export function toMs(value: Duration, what: string): number {
  let ms: number | undefined;
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) {
      throw new ConfigurationError(`${what} must be a duration of 0 or more milliseconds, got ${String(value)}`);
    }
    ms = Math.round(value);
  } else if (typeof value === "string") {
    const m = PATTERN.exec(value);
    if (m) {
      const n = Number(m[1]);
      if (n < 0) throw new ConfigurationError(`${what} must be a duration of 0 or more milliseconds, got ${JSON.stringify(value)}`);
      // n * unit may overflow to Infinity ("1e308d"): the range check below refuses it.
      ms = Math.round(n * UNITS[m[2] ?? "ms"]!) + 0;
    }
  }
  if (ms === undefined) {
    throw new ConfigurationError(
      `${what} must be milliseconds or a string of a number and a unit (ms, s, m, h, d) like "500ms", "5s", "1.5m", "2h", "1d"; got ${JSON.stringify(value)}`,
    );
  }
  if (!(ms <= MAX_DATE_MS)) {
    throw new ConfigurationError(`${what} must be at most 8.64e15 milliseconds (about 273,790 years, the range of a Date), got ${String(value)}`);
  }
  return ms;
}

/** Resolve `eta` (Date or epoch ms) to epoch ms, within the range a Date can hold. */
export function toEpochMs(value: Date | number, what: string): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== "number" || !Number.isFinite(ms)) {
    throw new ConfigurationError(`${what} must be a Date or epoch milliseconds, got ${String(value)}`);
  }
  return checkEpochMs(ms, what, String(value));
}

/** The epoch ms a duration from `now` ends at; rejected when no Date can hold it. */
export function fromNow(value: Duration, what: string, now: number = Date.now()): number {
  return checkEpochMs(now + toMs(value, what), what, `${String(value)} from now`);
}

/** `ms` itself when a Date can hold it; otherwise a ConfigurationError that says the range. */
export function checkEpochMs(ms: number, what: string, shown: string = String(ms)): number {
  if (!(Math.abs(ms) <= MAX_DATE_MS)) {
    throw new ConfigurationError(`${what} must come to a time ${RANGE}, got ${shown}`);
  }
  return ms;
}

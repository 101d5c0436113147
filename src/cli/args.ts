import type { ArgsDef } from "citty";
import { CliUsageError } from "./errors";
import { editDistance } from "../_text";

/** A negative number (`-1`, `-2.5`) is a value, not a flag: `huey enqueue tasks.ts add -1 2`. */
const NEGATIVE_NUMBER = /^-\d/;

/**
 * citty accepts any flag; a typo such as `--wokers 4` would run with defaults. Reject flags the
 * command does not define, and flags of a value type given without a value.
 */
export function checkFlags(rawArgs: string[], def: ArgsDef, command: string): void {
  const known = flagTypes(def);
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") break;
    if (!isFlag(arg)) continue;
    const body = arg.replace(/^--?/, "");
    const [flag, inline] = body.split("=", 2) as [string, string | undefined];
    const short = !arg.startsWith("--");
    const names = short && flag.length > 1 && inline === undefined ? [...flag] : [flag];
    for (const n of names) {
      let type = known.get(n);
      if (type === undefined && n.startsWith("no-") && known.get(n.slice(3)) === "boolean") type = "boolean";
      if (type === undefined) {
        const near = n.length > 1 ? nearest(n, [...known.keys()].filter((k) => k.length > 1)) : undefined;
        const hint = near === undefined ? "" : `; did you mean --${near}?`;
        throw new CliUsageError(`unknown flag ${short ? "-" : "--"}${n} for "${command}"${hint}`, command);
      }
      if (type !== "boolean" && inline === undefined) {
        const next = rawArgs[i + 1];
        if (next === undefined || (isFlag(next) && next !== "--")) {
          throw new CliUsageError(`${short ? "-" : "--"}${n} needs a value`, command);
        }
        i++;
      }
    }
  }
}

/**
 * The candidate closest to `word` by edit distance (a swap of two neighbours counts as one edit),
 * if it is close enough to be a typo: at most 2 edits, and fewer than half the word's length.
 * Ties go to the earlier candidate.
 */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= 2 && bestDistance * 2 < word.length ? best : undefined;
}

/**
 * The positional arguments, in order: everything that is not a flag or a flag's value, and
 * everything after `--`. (citty reads `-1` as a flag and keeps only the positionals it declares.)
 */
export function positionals(rawArgs: string[], def: ArgsDef): string[] {
  const known = flagTypes(def);
  const out: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") {
      out.push(...rawArgs.slice(i + 1));
      break;
    }
    if (!isFlag(arg)) {
      out.push(arg);
      continue;
    }
    if (arg.includes("=")) continue;
    const body = arg.replace(/^--?/, "");
    const last = arg.startsWith("--") ? body : body.slice(-1);
    if ((known.get(last) ?? "boolean") !== "boolean") i++;
  }
  return out;
}

function isFlag(arg: string): boolean {
  return arg.startsWith("-") && arg !== "-" && !NEGATIVE_NUMBER.test(arg);
}

function flagTypes(def: ArgsDef): Map<string, string> {
  const known = new Map<string, string>(); // flag -> type
  for (const [name, a] of Object.entries(def)) {
    if (a.type === "positional") continue;
    const type = a.type ?? "string";
    known.set(name, type);
    known.set(kebab(name), type);
    for (const al of [(a as { alias?: string | string[] }).alias ?? []].flat()) known.set(al, type);
  }
  known.set("help", "boolean");
  known.set("h", "boolean");
  return known;
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function wholeFlag(value: unknown, flag: string, min: number, command?: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value === "boolean" || String(value).trim() === "" || !Number.isInteger(n) || n < min) {
    throw new CliUsageError(`${flag} must be a whole number of ${min} or more, got "${String(value)}"`, command);
  }
  return n;
}

/** A whole number, negative allowed (priorities). */
export function intFlag(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value === "boolean" || String(value).trim() === "" || !Number.isSafeInteger(n)) {
    throw new CliUsageError(`${flag} must be a whole number, got "${String(value)}"`);
  }
  return n;
}

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/;

/**
 * A duration flag ("500ms", "5s", "2m", "1h", "1d") in ms. A bare number is refused: Huey's flags take
 * seconds and ours once took milliseconds, so "5" would silently mean something else to someone.
 */
export function durationFlag(value: unknown, flag: string, command?: string): number | undefined {
  if (value === undefined) return undefined;
  const s = typeof value === "string" ? value : "";
  if (/^\s*\d+(?:\.\d+)?\s*$/.test(s)) {
    throw new CliUsageError(`${flag} must be a duration with a unit such as ${s.trim()}s (bare numbers are not accepted), got "${s}"`, command);
  }
  const m = DURATION.exec(s);
  if (!m || m[2] === undefined) throw new CliUsageError(`${flag} must be a duration such as 500ms, 5s, 2m, 1h or 1d, got "${String(value)}"`, command);
  return Math.round(Number(m[1]) * UNITS[m[2]]!);
}

/**
 * A point in time: an ISO date ("2030-01-02T03:04:05Z", "2030-01-02") or epoch milliseconds;
 * with `fromNow`, also a duration from now ("1h").
 */
export function timeFlag(value: unknown, flag: string, options: { fromNow?: boolean } = {}): number | undefined {
  if (value === undefined) return undefined;
  const s = typeof value === "string" ? value.trim() : "";
  if (/^\d{10,}$/.test(s)) return Number(s);
  if (options.fromNow && DURATION.test(s)) return Date.now() + durationFlag(s, flag)!;
  const ms = /^\d{4}-\d{2}/.test(s) ? Date.parse(s) : NaN;
  if (!Number.isFinite(ms)) {
    const kinds = options.fromNow ? "an ISO date, epoch milliseconds or a duration from now (1h)" : "an ISO date or epoch milliseconds";
    throw new CliUsageError(`${flag} must be ${kinds}, got "${String(value)}"`);
  }
  return ms;
}

import type { ArgsDef } from "citty";
import { CliUsageError } from "./errors";

/**
 * citty accepts any flag; a typo such as `--wokers 4` would run with defaults. Reject flags the
 * command does not define, and flags of a value type given without a value.
 */
export function checkFlags(rawArgs: string[], def: ArgsDef, command: string): void {
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
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") break;
    if (!arg.startsWith("-") || arg === "-") continue;
    const body = arg.replace(/^--?/, "");
    const [flag, inline] = body.split("=", 2) as [string, string | undefined];
    const short = !arg.startsWith("--");
    const names = short && flag.length > 1 && inline === undefined ? [...flag] : [flag];
    for (const n of names) {
      let type = known.get(n);
      if (type === undefined && n.startsWith("no-") && known.get(n.slice(3)) === "boolean") type = "boolean";
      if (type === undefined) {
        throw new CliUsageError(`unknown flag ${short ? "-" : "--"}${n} for "${command}"`, command);
      }
      if (type !== "boolean" && inline === undefined) {
        const next = rawArgs[i + 1];
        if (next === undefined || (next.startsWith("-") && next.length > 1 && !/^-\d/.test(next))) {
          throw new CliUsageError(`${short ? "-" : "--"}${n} needs a value`, command);
        }
        i++;
      }
    }
  }
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function wholeFlag(value: unknown, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value === "boolean" || String(value).trim() === "" || !Number.isInteger(n) || n < min) {
    throw new CliUsageError(`${flag} must be a whole number of ${min} or more, got "${String(value)}"`);
  }
  return n;
}

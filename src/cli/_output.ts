// Everything the commands print goes through here: colour only on a terminal without NO_COLOR,
// aligned tables for people, JSON for scripts. Task data (ids, names, arguments, error messages,
// lock keys) may hold control characters: an OSC sequence in a task's error would reach the
// terminal through `huey failed`, piped or not. Commands pass such text through inert() before
// styling it; table() and the JSON writers escape whatever is left as well.
import { escapeControl, inertJson } from "../_text";

/** Task data as printed: every control character escaped (\n, \x1b, \x9b, \u202e). */
export function inert(s: string): string {
  return escapeControl(s);
}

/** JSON.stringify for people and scripts: C0 is escaped by JSON itself, DEL, C1 and the like too. */
export function jsonText(value: unknown, indent?: number): string {
  return inertJson(JSON.stringify(value, null, indent) ?? "null");
}

/** Colour only on a terminal, and never with NO_COLOR set. */
export function useColor(stream: "stdout" | "stderr"): boolean {
  return !!process[stream].isTTY && !process.env.NO_COLOR;
}

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

export function stripAnsi(s: string): string {
  return s.replace(ANSI, "");
}

let pending: Promise<unknown> = Promise.resolve();
let guarded = false;

/**
 * A reader that went away (`huey status --watch | head`) closes the pipe: the next write fails
 * with EPIPE, which Bun reports as an "error" event, and with no listener that is a stack trace
 * and a process that keeps running. Nobody is left to read what we would print, so end quietly
 * with the exit code set so far (0 unless an error was being reported).
 */
function guardPipes(): void {
  if (guarded) return;
  guarded = true;
  for (const stream of ["stdout", "stderr"] as const) {
    process[stream].on("error", (err: { code?: string }) => {
      if (err?.code === "EPIPE") process.exit(typeof process.exitCode === "number" ? process.exitCode : 0);
      throw err;
    });
  }
}

/**
 * Write raw text. Piped output is written asynchronously and cli.ts ends with process.exit(),
 * which drops what is still buffered (a 9 MB --json listing came out cut at 128 KiB): every write
 * is tracked so main() can wait for `flushed()`.
 */
export function raw(stream: "stdout" | "stderr", text: string): void {
  guardPipes();
  const done = new Promise<void>((resolve) => process[stream].write(text, () => resolve()));
  pending = Promise.all([pending, done]);
}

/** Resolves once everything written so far has been handed to the OS. */
export function flushed(): Promise<void> {
  return pending.then(() => undefined);
}

/** Write a line (or lines) to a stream, without colour codes unless that stream shows colour. */
export function write(stream: "stdout" | "stderr", s: string): void {
  const text = useColor(stream) ? s : stripAnsi(s);
  raw(stream, text.endsWith("\n") ? text : `${text}\n`);
}

export function out(s: string): void {
  write("stdout", s);
}

export function note(s: string): void {
  write("stderr", s);
}

/** Machine output: pretty JSON, one document. */
export function printJson(value: unknown): void {
  raw("stdout", `${jsonText(value, 2)}\n`);
}

const paint = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;

/** Colour codes; write()/out() strip them when the stream shows no colour. */
export const style = {
  bold: paint(1, 22),
  dim: paint(2, 22),
  red: paint(31, 39),
  green: paint(32, 39),
  yellow: paint(33, 39),
  cyan: paint(36, 39),
};

/** The exact sequences `style` writes. */
const OWN_STYLE = /\x1b\[(?:1|2|22|31|32|33|36|39)m/g;

/** A cell with every control character escaped except the colour codes of `style`. */
function inertCell(c: string): string {
  let out = "";
  let last = 0;
  for (const m of c.matchAll(OWN_STYLE)) {
    out += escapeControl(c.slice(last, m.index)) + m[0];
    last = m.index + m[0].length;
  }
  return out + escapeControl(c.slice(last));
}

/**
 * An aligned table: two spaces between columns; `right` columns (numbers) align right. Cells are
 * one line each: control characters in them (a newline, ESC) are escaped, keeping only `style`'s colours.
 */
export function table(headers: string[], cells: string[][], options: { right?: number[] } = {}): string {
  const rows = cells.map((r) => r.map(inertCell));
  headers = headers.map(inertCell);
  const right = new Set(options.right ?? []);
  const widths = headers.map((h, i) => Math.max(Bun.stringWidth(stripAnsi(h)), ...rows.map((r) => Bun.stringWidth(stripAnsi(r[i] ?? "")))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => {
        const pad = " ".repeat(Math.max(0, widths[i]! - Bun.stringWidth(stripAnsi(c)))); // wide characters take two columns
        if (i === cells.length - 1 && !right.has(i)) return c;
        return right.has(i) ? pad + c : c + pad;
      })
      .join("  ")
      .trimEnd();
  return [style.bold(line(headers)), ...rows.map(line)].join("\n");
}

/** Cut `s` to `max` characters, ending with an ellipsis when cut. */
export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** Task arguments as people read them: JSON (inert on a terminal), cut to `max`. */
export function formatArgs(args: unknown[], max = 40): string {
  let s: string;
  try {
    s = jsonText(args) ?? "[]";
  } catch {
    s = "[?]";
  }
  return truncate(s, max);
}

/** "350ms", "4.2s", "3m 12s", "2h 5m", "3d 4h". */
export function formatDuration(ms: number): string {
  const a = Math.abs(ms);
  if (a < 1_000) return `${Math.round(a)}ms`;
  if (a < 10_000) return `${(Math.floor(a / 100) / 10).toFixed(1)}s`;
  if (a < 60_000) return `${Math.floor(a / 1_000)}s`;
  const s = Math.floor(a / 1_000);
  const two = (big: number, bigUnit: string, small: number, smallUnit: string) =>
    small === 0 ? `${big}${bigUnit}` : `${big}${bigUnit} ${small}${smallUnit}`;
  if (a < 3_600_000) return two(Math.floor(s / 60), "m", s % 60, "s");
  if (a < 86_400_000) return two(Math.floor(s / 3_600), "h", Math.floor((s % 3_600) / 60), "m");
  return two(Math.floor(s / 86_400), "d", Math.floor((s % 86_400) / 3_600), "h");
}

/** "in 3m 12s" or "3m 12s ago". */
export function relative(at: number, now = Date.now()): string {
  return at >= now ? `in ${formatDuration(at - now)}` : `${formatDuration(now - at)} ago`;
}

/**
 * "2030-01-02 03:04:05Z" (UTC, to the second). A time no Date can hold (stored before enqueue
 * checked the range) prints as its number instead of failing the whole listing.
 */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return `${String(ms)} (epoch ms, out of range)`;
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** A time with how far it is: "2030-01-02 03:04:05Z (in 5m 0s)". */
export function formatWhen(ms: number, now = Date.now()): string {
  return `${formatTime(ms)} ${style.dim(`(${relative(ms, now)})`)}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

// A task's log: the lines it wrote with ctx.log() and the timeline of its signals, one bounded record per
// attempt. A record is written by the consumer in the task's fenced commit, with its outcome (a consumer
// that lost the lease writes none), and kept as long as the task's result would be: see recordWrites().
import { formatWithOptions } from "node:util";
import { KEYS } from "./message";
import type { Storage } from "./storage/types";

/** Most lines one run keeps; the rest are counted in `dropped`. */
export const MAX_LOG_LINES = 100;
/** Longest line kept, in UTF-16 units; a longer one is cut and ends with "…". */
export const MAX_LOG_LINE = 2_000;
/** How long a record is kept when the task keeps its results until read (`resultTtl: false`). */
export const LOG_TTL_FALLBACK = 7 * 24 * 3600_000;

export type TaskLogLevel = "debug" | "info" | "warn" | "error";

export interface TaskLogLine {
  /** Epoch ms. */
  at: number;
  /** Absent for plain ctx.log(). */
  level?: TaskLogLevel;
  /** Formatted as console.log formats its arguments (util.format), never evaluated. Raw: escape before printing. */
  message: string;
  /** The attempt that wrote it (1 on the first run). */
  attempt: number;
}

/**
 * One signal of the task, with its time. `enqueued` (attempt 1, from the stored message's time),
 * `started`, then what the run came to: `complete`, `error`, `timeout`, `canceled`, `locked`,
 * `expired`, `revoked`, and `retrying` (with `eta`: when the next attempt may run).
 */
export interface TaskEvent {
  at: number;
  event: string;
  attempt: number;
  /** retrying: when the next attempt becomes ready (epoch ms). */
  eta?: number;
  /** error, timeout, canceled, locked: "Name: message". */
  error?: string;
}

/** What `huey.taskLog(id)` returns: every attempt's lines and events, oldest first. */
export interface TaskLog {
  lines: TaskLogLine[];
  events: TaskEvent[];
  /** Lines not kept (over MAX_LOG_LINES in a run), over all attempts. */
  dropped: number;
}

/** One attempt's stored record. */
interface StoredRecord {
  v: 1;
  attempt: number;
  events: TaskEvent[];
  lines: TaskLogLine[];
  dropped: number;
}

/** The callable ctx.log: `ctx.log(...)`, `ctx.log.warn(...)`, ... */
export interface TaskLogFn {
  (...args: unknown[]): void;
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

const FORMAT = { showProxy: true, getters: false, depth: 4, breakLength: Infinity, colors: false } as const;

/** The arguments as console.log would print them; never throws (a value that cannot be shown is named). */
export function formatLogArgs(args: unknown[]): string {
  try {
    return formatWithOptions(FORMAT, ...args);
  } catch {
    return args.map((a) => {
      try {
        return typeof a === "string" ? a : formatWithOptions(FORMAT, a);
      } catch {
        return `[unprintable ${typeof a}]`;
      }
    }).join(" ");
  }
}

/** The lines of one run, bounded. */
export class LogCollector {
  lines: Omit<TaskLogLine, "attempt">[] = [];
  dropped = 0;
  constructor(readonly clock: () => number = Date.now) {}
  add(level: TaskLogLevel | undefined, args: unknown[]): void {
    if (this.lines.length >= MAX_LOG_LINES) {
      this.dropped++;
      return;
    }
    let message = formatLogArgs(args);
    if (message.length > MAX_LOG_LINE) message = `${message.slice(0, MAX_LOG_LINE - 1)}…`;
    this.lines.push(level === undefined ? { at: this.clock(), message } : { at: this.clock(), level, message });
  }
}

/** A ctx.log writing to `sink` (a collector, the console, or nowhere). */
export function logFn(sink: (level: TaskLogLevel | undefined, args: unknown[]) => void): TaskLogFn {
  const f = ((...args: unknown[]) => sink(undefined, args)) as TaskLogFn;
  f.debug = (...args) => sink("debug", args);
  f.info = (...args) => sink("info", args);
  f.warn = (...args) => sink("warn", args);
  f.error = (...args) => sink("error", args);
  return f;
}

/** callLocal()'s ctx.log: the console (warn and error to stderr). */
export const consoleLog: TaskLogFn = logFn((level, args) => {
  if (level === "warn" || level === "error") console[level](...args);
  else console.log(...args);
});

/** The key of attempt `attempt`'s record: attempts sort in order under the task's prefix. */
export function recordKey(id: string, attempt: number): string {
  return `${KEYS.taskLog}${id}#${String(attempt).padStart(4, "0")}`;
}

/** The expiry index entry of a record: key order is expiry order, so retention reads only what is due. */
function expiryKey(expiresAt: number, key: string): string {
  return `${KEYS.taskLogExpiry}${String(Math.max(0, Math.floor(expiresAt))).padStart(15, "0")}:${key}`;
}

/**
 * The key-value writes of one attempt's record: the record, and its expiry index entry. Key-value data
 * has no expiry of its own, so the consumer's retention round reads the index (in expiry order) and
 * deletes what is due (purgeTaskLogs); a result-store row would have expired by itself, but would count
 * as a result in `huey status` and could be read as one.
 */
export function recordWrites(
  id: string,
  attempt: number,
  events: TaskEvent[],
  lines: Omit<TaskLogLine, "attempt">[],
  dropped: number,
  expiresAt: number,
): { key: string; value: string }[] {
  const key = recordKey(id, attempt);
  const rec: StoredRecord = { v: 1, attempt, events, lines: lines.map((l) => ({ ...l, attempt })), dropped };
  return [
    { key, value: JSON.stringify(rec) },
    { key: expiryKey(expiresAt, key), value: "" },
  ];
}

/** Every attempt's record of task `id`, merged (lines and events oldest first). */
export async function readTaskLog(storage: Pick<Storage, "listData">, id: string): Promise<TaskLog> {
  const prefix = `${KEYS.taskLog}${id}#`;
  const rows = await storage.listData(prefix, 10_000);
  const out: TaskLog = { lines: [], events: [], dropped: 0 };
  for (const r of rows) {
    // Only this id's records: "a#" is also the prefix of the id "a#b"'s.
    if (!/^\d{4,}$/.test(r.key.slice(prefix.length))) continue;
    let rec: StoredRecord;
    try {
      rec = JSON.parse(r.value) as StoredRecord;
    } catch {
      continue;
    }
    if (!rec || rec.v !== 1) continue;
    out.lines.push(...(rec.lines ?? []));
    out.events.push(...(rec.events ?? []));
    out.dropped += rec.dropped ?? 0;
  }
  return out;
}

/** Records due by `now`, `limit` at a time: returns how many were dropped. */
export async function purgeTaskLogs(storage: Pick<Storage, "listData" | "commit">, now: number, limit: number): Promise<number> {
  const rows = await storage.listData(KEYS.taskLogExpiry, limit);
  const due: string[] = [];
  for (const r of rows) {
    const rest = r.key.slice(KEYS.taskLogExpiry.length);
    const at = Number(rest.slice(0, 15));
    if (!(at <= now)) break;
    due.push(r.key, rest.slice(16));
  }
  if (due.length) await storage.commit({ deleteData: due });
  return due.length / 2;
}

import { openSync, writeSync } from "node:fs";
import type { LogLevel } from "./options";

/** A writer appending to `path` (created when missing). */
export function fileSink(path: string): (s: string) => void {
  const fd = openSync(path, "a");
  return (s) => void writeSync(fd, s);
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/**
 * Line logger for the consumer. Lines are buffered and written once per event-loop turn: one
 * write per group commit instead of one per task.
 */
export class Logger {
  #min: number;
  #buf: string[] = [];
  #scheduled = false;

  constructor(
    level: LogLevel,
    readonly format: "text" | "json" = "text",
    readonly write: (s: string) => void = (s) => process.stderr.write(s),
  ) {
    this.#min = RANK[level];
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.#min;
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.log("error", msg, fields);
  }

  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (RANK[level] < this.#min) return;
    const time = new Date().toISOString();
    this.#buf.push(
      this.format === "json"
        ? JSON.stringify({ time, level, msg, ...fields }) + "\n"
        : `${time} ${level.toUpperCase().padEnd(5)} ${msg}\n`,
    );
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#buf.length === 0) return;
    const out = this.#buf.join("");
    this.#buf = [];
    this.write(out);
  }
}

import { closeSync, openSync, writeSync } from "node:fs";
import { escapeControl, inertJson } from "../_text";
import type { LogLevel } from "./options";

/**
 * A log file, appended to. Created with mode 0600 (log lines carry task data); an existing file keeps
 * its mode. `reopen()` (SIGUSR1) opens `path` anew and closes the old descriptor: after logrotate has
 * moved the file away, lines go to a new file at `path`.
 */
export class LogFile {
  #fd: number;

  constructor(readonly path: string) {
    this.#fd = LogFile.#open(path);
  }

  static #open(path: string): number {
    return openSync(path, "a", 0o600);
  }

  write(s: string): void {
    writeSync(this.#fd, s);
  }

  /** Open `path` again; on failure the old file stays in use and the error is thrown. */
  reopen(): void {
    const next = LogFile.#open(this.path);
    const old = this.#fd;
    this.#fd = next;
    closeSync(old);
  }

  close(): void {
    closeSync(this.#fd);
  }
}

/** Lines of `detail`, each escaped and indented under its entry. */
function continuation(detail: string): string {
  let out = "";
  for (const line of detail.split(/\r\n|\n/)) out += `    ${escapeControl(line)}\n`;
  return out;
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

  debug(msg: string, fields?: Record<string, unknown>, detail?: string): void {
    this.log("debug", msg, fields, detail);
  }
  info(msg: string, fields?: Record<string, unknown>, detail?: string): void {
    this.log("info", msg, fields, detail);
  }
  warn(msg: string, fields?: Record<string, unknown>, detail?: string): void {
    this.log("warn", msg, fields, detail);
  }
  error(msg: string, fields?: Record<string, unknown>, detail?: string): void {
    this.log("error", msg, fields, detail);
  }

  /**
   * One entry. `msg` is one line: in text format its control characters (a newline in a task's
   * error message, ESC) are escaped, so task data can neither forge a line nor reach the terminal.
   * `detail` (a stack trace) is many lines: in text format each follows as an indented
   * continuation line, escaped the same way, so none can pass for a timestamped entry; in JSON it
   * is the "detail" field.
   */
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>, detail?: string): void {
    if (RANK[level] < this.#min) return;
    const time = new Date().toISOString();
    this.#buf.push(
      this.format === "json"
        ? inertJson(JSON.stringify({ time, level, msg, ...fields, ...(detail ? { detail } : {}) })) + "\n"
        : `${time} ${level.toUpperCase().padEnd(5)} ${escapeControl(msg)}\n${detail ? continuation(detail) : ""}`,
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

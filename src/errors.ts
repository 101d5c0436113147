/**
 * Every error bun-huey throws. Each has a stable `code`: match on it, not on `instanceof`,
 * because each thread has its own copy of these classes and an error posted from a Worker
 * arrives as a plain Error (and `--minify` renames classes).
 */
import { types as utilTypes } from "node:util";

export type HueyErrorCode =
  | "HUEY_CONFIGURATION"
  | "HUEY_UNKNOWN_TASK"
  | "HUEY_DUPLICATE_TASK"
  | "HUEY_SERIALIZATION"
  | "HUEY_PAYLOAD_TOO_LARGE"
  | "HUEY_STORAGE"
  | "HUEY_DUPLICATE_ID"
  | "HUEY_TASK_FAILED"
  | "HUEY_RESULT_TIMEOUT"
  | "HUEY_TASK_TIMEOUT"
  | "HUEY_RETRY"
  | "HUEY_CANCEL"
  | "HUEY_LOCKED"
  | "HUEY_WORKER_DIED"
  | "HUEY_LOAD"
  | "HUEY_CLI";

export class HueyError extends Error {
  override readonly name: string = "HueyError";
  readonly code: HueyErrorCode;
  constructor(code: HueyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A Huey or consumer option is wrong. The message names the option and the value. */
export class ConfigurationError extends HueyError {
  override readonly name = "ConfigurationError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("HUEY_CONFIGURATION", message, options);
  }
}

export class UnknownTaskError extends HueyError {
  override readonly name = "UnknownTaskError";
  constructor(readonly taskName: string, known: string[]) {
    super(
      "HUEY_UNKNOWN_TASK",
      `no task named "${taskName}" is registered` +
        (known.length ? ` (registered: ${known.join(", ")})` : " (no tasks are registered)"),
    );
  }
}

export class DuplicateTaskError extends HueyError {
  override readonly name = "DuplicateTaskError";
  constructor(readonly taskName: string, hueyName: string) {
    super(
      "HUEY_DUPLICATE_TASK",
      `a task named "${taskName}" is already registered on huey "${hueyName}"; task names must be unique`,
    );
  }
}

/** Arguments or a result that cannot be stored as JSON without changing meaning. */
export class SerializationError extends HueyError {
  override readonly name = "SerializationError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("HUEY_SERIALIZATION", message, options);
  }
}

export class PayloadTooLargeError extends HueyError {
  override readonly name = "PayloadTooLargeError";
  constructor(what: string, readonly size: number, readonly limit: number) {
    super(
      "HUEY_PAYLOAD_TOO_LARGE",
      `${what} is ${formatBytes(size)}, over the ${formatBytes(limit)} limit (option maxPayloadSize); ` +
        `store large data elsewhere and pass a reference to it`,
    );
  }
}

/** The storage cannot be opened or written: not a database, read-only, disk full, locked. */
export class StorageError extends HueyError {
  override readonly name = "StorageError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("HUEY_STORAGE", message, options);
  }
}

/**
 * A task with this id is already queued, scheduled or running: a write with a given id, or a
 * write repeated after its reply was lost. Every backend raises this one, so callers can tell it
 * from other storage failures by its code.
 */
export class DuplicateIdError extends HueyError {
  override readonly name = "DuplicateIdError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("HUEY_DUPLICATE_ID", message, options);
  }
}

/** A task file could not be loaded, or does not export a Huey instance. */
export class LoadError extends HueyError {
  override readonly name = "LoadError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("HUEY_LOAD", message, options);
  }
}

/** The error a task threw, as stored; what `Result.get()` throws for a failed task. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

export class TaskFailedError extends HueyError {
  override readonly name = "TaskFailedError";
  constructor(
    readonly taskId: string,
    readonly taskName: string,
    readonly error: SerializedError,
    readonly attempts: number,
  ) {
    super("HUEY_TASK_FAILED", `task ${taskName} (${taskId}) failed: ${error.name}: ${error.message}`);
  }
  /** The remote error's `name`, `message`, `stack` and `code`. */
  get remote(): SerializedError {
    return this.error;
  }
}

export class ResultTimeoutError extends HueyError {
  override readonly name = "ResultTimeoutError";
  constructor(readonly taskId: string, timeoutMs: number) {
    super("HUEY_RESULT_TIMEOUT", `no result for task ${taskId} within ${timeoutMs}ms`);
  }
}

export class TaskTimeoutError extends HueyError {
  override readonly name = "TaskTimeoutError";
  constructor(taskName: string, timeoutMs: number) {
    super("HUEY_TASK_TIMEOUT", `task ${taskName} ran longer than its timeout of ${timeoutMs}ms`);
  }
}

/** The Worker running a task died (crash, out of memory, process.exit in the task). */
export class WorkerDiedError extends HueyError {
  override readonly name = "WorkerDiedError";
  constructor(detail: string) {
    super("HUEY_WORKER_DIED", `the worker running this task died: ${detail}`);
  }
}

/** The largest |epoch ms| a Date holds: _time.ts MAX_DATE_MS, repeated here because _time.ts imports this file. */
const MAX_DATE_MS = 8.64e15;

/** Throw from a task to have it run again, even when it has no `retries` left. */
export class RetryTask extends HueyError {
  override readonly name = "RetryTask";
  readonly delay?: number;
  readonly eta?: number;
  /**
   * `delay` is milliseconds from now, `eta` a Date or epoch ms. Either must come to a time a Date
   * can hold (within 8.64e15 epoch ms); otherwise this throws a ConfigurationError, and the task
   * fails with it instead of being retried at a time no listing could show.
   */
  constructor(options: { delay?: number; eta?: number | Date; message?: string } = {}) {
    super("HUEY_RETRY", options.message ?? "task asked to be retried");
    const { delay, eta } = options;
    if (delay !== undefined) {
      if (typeof delay !== "number" || !Number.isFinite(delay) || delay < 0 || !(Date.now() + delay <= MAX_DATE_MS)) {
        throw new ConfigurationError(`RetryTask delay must be 0 or more milliseconds that come to a time within 8.64e15 epoch ms (the range of a Date), got ${String(delay)}`);
      }
    }
    const at = eta instanceof Date ? eta.getTime() : eta;
    if (at !== undefined && (typeof at !== "number" || !(Math.abs(at) <= MAX_DATE_MS))) {
      throw new ConfigurationError(`RetryTask eta must be a Date or epoch milliseconds from -8.64e15 to 8.64e15 (the range of a Date), got ${String(eta)}`);
    }
    this.delay = delay;
    this.eta = at;
  }
}

/** Throw from a task or a pre-execute hook to stop this run (signal "canceled"); `retry` runs it again. */
export class CancelExecution extends HueyError {
  override readonly name = "CancelExecution";
  readonly retry: boolean;
  constructor(options: { retry?: boolean; message?: string } = {}) {
    super("HUEY_CANCEL", options.message ?? "task execution was canceled");
    this.retry = options.retry ?? false;
  }
}

/** A lock is held by someone else. */
export class TaskLockedError extends HueyError {
  override readonly name = "TaskLockedError";
  constructor(readonly key: string) {
    super("HUEY_LOCKED", `lock "${key}" is held by another task`);
  }
}

/**
 * Describe whatever a task threw as a SerializedError, as well as it can be. Never throws: a
 * Proxy whose traps throw, an Error whose `message` or `stack` getter throws, an object whose
 * `toString` throws all come out as a description (the failure to read a part is said in place
 * of that part), so the task fails once with it instead of taking its Worker down.
 */
export function serializeError(err: unknown): SerializedError {
  try {
    return describeThrown(err);
  } catch (inner) {
    return { name: "NonError", message: `a thrown value that could not be described (${printable(inner)})` };
  }
}

function describeThrown(err: unknown): SerializedError {
  if (isProxy(err)) return describeProxy(err as object);
  if (isErrorObject(err)) {
    const e = err as Error;
    const name = read(() => e.name);
    const message = read(() => e.message);
    const out: SerializedError = {
      name: typeof name.value === "string" && name.value.length > 0 ? name.value : "Error",
      message: "threw" in message ? `(reading its message threw: ${printable(message.threw)})` : stringOf(message.value),
    };
    const stack = read(() => e.stack);
    if (typeof stack.value === "string" && stack.value) out.stack = stack.value;
    const code = read(() => (e as { code?: unknown }).code).value;
    if (typeof code === "string" || typeof code === "number") out.code = String(code);
    return out;
  }
  if (err && typeof err === "object") {
    const o = err as Record<string, unknown>;
    const message = read(() => o.message).value;
    if (typeof message === "string") {
      const name = read(() => o.name).value;
      const code = read(() => o.code).value;
      const out: SerializedError = { name: typeof name === "string" ? name : "Error", message };
      if (typeof code === "string") out.code = code;
      return out;
    }
  }
  let message: string | undefined;
  if (typeof err !== "string") {
    try {
      message = JSON.stringify(err);
    } catch {
      /* BigInt, a cycle, a toJSON that throws: fall back to String() */
    }
  }
  return { name: "NonError", message: message ?? printable(err) };
}

/** A Proxy cannot be read safely: say what it wraps, if its traps let us, and what reading it did. */
function describeProxy(p: object): SerializedError {
  const probe = read(() => (p as { message?: unknown }).message);
  if (typeof probe.value === "string") {
    const name = read(() => (p as { name?: unknown }).name).value;
    return { name: typeof name === "string" && name ? name : "Error", message: `${probe.value} (thrown as a Proxy)` };
  }
  const why = "threw" in probe ? `; reading it threw: ${printable(probe.threw)}` : "";
  return { name: "NonError", message: `a Proxy object was thrown instead of an Error${why}` };
}

function isProxy(v: unknown): boolean {
  try {
    return typeof v === "object" && v !== null && utilTypes.isProxy(v);
  } catch {
    return false;
  }
}

function isErrorObject(v: unknown): boolean {
  try {
    // Error.isError sees Errors from other realms too; instanceof is the fallback where it is missing.
    const isError = (Error as { isError?: (v: unknown) => boolean }).isError;
    return isError ? isError(v) : v instanceof Error;
  } catch {
    return false;
  }
}

function read(get: () => unknown): { value: unknown } | { value?: undefined; threw: unknown } {
  try {
    return { value: get() };
  } catch (threw) {
    return { threw };
  }
}

function stringOf(v: unknown): string {
  return typeof v === "string" ? v : v === undefined ? "" : printable(v);
}

/** String(v), or failing that what v is: for text about values whose own conversions throw. */
function printable(v: unknown): string {
  try {
    return String(v);
  } catch {
    try {
      return Object.prototype.toString.call(v);
    } catch {
      return `a value of type ${typeof v} that cannot be printed`;
    }
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** True when `err` carries the given code, whichever thread or build made it. */
export function hasCode(err: unknown, code: HueyErrorCode | string): boolean {
  try {
    return !!err && typeof err === "object" && (err as { code?: unknown }).code === code;
  } catch {
    return false; // a Proxy or a getter that throws: it carries no code we can read
  }
}

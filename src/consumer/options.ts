import { ConfigurationError } from "../errors";
import { checkQueueName } from "../task-options";
import { toMs, type Duration } from "../_time";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

export interface ConsumerOptions {
  /**
   * Bun Workers that run tasks. 0 runs them on the consumer's own thread (fastest for short tasks; a
   * timeout then only fires the AbortSignal, and a task that crashes or blocks the thread stops the
   * consumer). @default 1
   */
  workers?: number;
  /** Tasks each Worker runs at once (for async, I/O-bound tasks). @default 1 */
  concurrency?: number;
  /**
   * Tasks handed to each Worker ahead of what it is running, so it never waits on the poller.
   * Higher drains short tasks faster; lower keeps priorities sharper across consumers.
   * The consumer also limits each Worker's queue to about 2 ms of its measured task time, so
   * slow tasks are never queued behind one another: the default only binds tasks of under 2 us.
   * @default 1024 across the pool: 1024 with one Worker, 256 each with 4 (at least 128 each)
   */
  prefetch?: number;
  /** On SIGINT/SIGTERM, how long running tasks may take to finish before they are returned to the queue. @default "30s" */
  grace?: Duration;
  /**
   * How long a taken task stays invisible to other consumers. Running tasks renew it; a consumer
   * that dies leaves tasks that run again once it passes.
   * @default "30s"
   */
  lease?: Duration;
  /** A task leased this many times without an outcome (its consumer kept dying) fails for good. @default 5 */
  maxLeases?: number;
  /** A task whose name this consumer does not know is put back for this long. @default "30s" */
  unknownTaskDelay?: Duration;
  /** Stop a task that runs longer than this (tasks' own `timeout` option wins). @default no limit */
  timeout?: Duration;
  /** After a timeout fires a task's AbortSignal, how long it has to stop before its Worker is replaced. @default "1s" */
  timeoutGrace?: Duration;
  /** Replace a Worker after it ran this many tasks (contains memory leaks in task code). @default never */
  maxTasks?: number;
  /** Enqueue periodic tasks from this consumer (several consumers may; each tick runs once). @default true */
  periodic?: boolean;
  /** @default "info" */
  logLevel?: LogLevel;
  /** "text" lines or one JSON object per line. @default "text" */
  logFormat?: "text" | "json";
  /** Handle SIGINT/SIGTERM (graceful, then forced on a second signal). @default true */
  handleSignals?: boolean;
  /**
   * Serve only these named queues, each with its most tasks in flight at once (null: no limit), or a
   * CLI-style string "emails=4,default". @default every queue, no limits
   */
  queues?: Record<string, number | null> | string;
  /**
   * How often this consumer writes its heartbeat and statistics (`huey status`, --check, the
   * dashboard); it counts as live for 3 intervals after each. @default "5s"
   */
  heartbeat?: Duration;
}

export interface ResolvedConsumerOptions {
  readonly workers: number;
  readonly concurrency: number;
  readonly prefetch: number;
  readonly grace: number;
  readonly lease: number;
  readonly maxLeases: number;
  readonly unknownTaskDelay: number;
  readonly timeout: number | null;
  readonly timeoutGrace: number;
  readonly maxTasks: number | null;
  readonly periodic: boolean;
  readonly logLevel: LogLevel;
  readonly logFormat: "text" | "json";
  readonly handleSignals: boolean;
  readonly queues: Readonly<Record<string, number | null>> | null;
  readonly heartbeat: number;
}

/**
 * Tasks queued ahead of the running ones, by default: this many across the pool, shared by its Workers
 * (at least DEFAULT_PREFETCH_MIN each). The 2 ms budget of measured task time (worker-pool.ts) is what
 * binds for any task of 2 us or more. At 128 a Worker, one Worker and the poller took turns (a lease
 * of ~129, run, report, commit, lease again) and drained no-op tasks at 65k/s instead of ~95k/s; 1024
 * for each of 4 Workers drained no faster than 256 each and held ~35 MB more.
 */
export const DEFAULT_PREFETCH = 1024;
export const DEFAULT_PREFETCH_MIN = 128;

/** The default prefetch of each Worker of a pool of `workers` (0: the consumer's own thread, one pool). */
export function defaultPrefetch(workers: number): number {
  return Math.max(DEFAULT_PREFETCH_MIN, Math.floor(DEFAULT_PREFETCH / Math.max(1, workers)));
}

const LEVELS: LogLevel[] = ["debug", "info", "warn", "error", "silent"];

function whole(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigurationError(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function positiveMs(v: Duration, name: string): number {
  const ms = toMs(v, name);
  if (ms <= 0) throw new ConfigurationError(`${name} must be longer than 0, got ${JSON.stringify(v)}`);
  return ms;
}

/** "emails=4,default" or { emails: 4, default: null } -> a frozen map of queue -> limit (null: none). */
export function parseQueues(q: Record<string, number | null> | string): Readonly<Record<string, number | null>> {
  const out: Record<string, number | null> = {};
  const entries: [string, unknown][] = typeof q === "string"
    ? q.split(",").map((p) => p.trim()).filter(Boolean).map((p) => {
      const [name, limit, ...rest] = p.split("=");
      if (rest.length) throw new ConfigurationError(`queues: "${p}" is not NAME or NAME=LIMIT`);
      return [name!.trim(), limit === undefined ? null : Number(limit.trim() === "" ? NaN : limit)];
    })
    : Object.entries(q);
  for (const [name, limit] of entries) {
    checkQueueName(name, "queues");
    if (name in out) throw new ConfigurationError(`queues: "${name}" is given twice`);
    out[name] = limit === null ? null : whole(`queues: the limit of "${name}"`, limit, 1, 1_000_000);
  }
  if (Object.keys(out).length === 0) throw new ConfigurationError(`queues: name at least one queue, as in "emails=4,default"`);
  return Object.freeze(out);
}

function heartbeatMs(v: Duration | undefined): number {
  const ms = toMs(v ?? "5s", "heartbeat");
  if (ms < 100 || ms > 600_000) throw new ConfigurationError(`heartbeat must be from 100ms to 10m, got ${JSON.stringify(v)}`);
  return ms;
}

export function resolveConsumerOptions(o: ConsumerOptions = {}): ResolvedConsumerOptions {
  const lease = toMs(o.lease ?? "30s", "lease");
  if (lease < 1000) throw new ConfigurationError(`lease must be at least 1s, got ${lease}ms`);
  const logLevel = o.logLevel ?? "info";
  if (!LEVELS.includes(logLevel)) {
    throw new ConfigurationError(`logLevel must be one of ${LEVELS.join(", ")}, got ${JSON.stringify(logLevel)}`);
  }
  const logFormat = o.logFormat ?? "text";
  if (logFormat !== "text" && logFormat !== "json") {
    throw new ConfigurationError(`logFormat must be "text" or "json", got ${JSON.stringify(logFormat)}`);
  }
  const workers = whole("workers", o.workers ?? 1, 0, 256);
  return Object.freeze({
    workers,
    concurrency: whole("concurrency", o.concurrency ?? 1, 1, 10_000),
    prefetch: whole("prefetch", o.prefetch ?? defaultPrefetch(workers), 0, 10_000),
    grace: toMs(o.grace ?? "30s", "grace"),
    lease,
    maxLeases: whole("maxLeases", o.maxLeases ?? 5, 1, 1_000_000),
    unknownTaskDelay: toMs(o.unknownTaskDelay ?? "30s", "unknownTaskDelay"),
    timeout: o.timeout === undefined ? null : positiveMs(o.timeout, "timeout"),
    timeoutGrace: toMs(o.timeoutGrace ?? "1s", "timeoutGrace"),
    maxTasks: o.maxTasks === undefined ? null : whole("maxTasks", o.maxTasks, 1, Number.MAX_SAFE_INTEGER),
    periodic: o.periodic ?? true,
    logLevel,
    logFormat,
    handleSignals: o.handleSignals ?? true,
    queues: o.queues === undefined ? null : parseQueues(o.queues),
    heartbeat: heartbeatMs(o.heartbeat),
  });
}

import type { Huey } from "./huey";
import type { Signature } from "./pipeline";
import type { Result, ResultGroup } from "./result";
import type { Duration } from "./_time";

/** What a task learns of its own run when registered with `{ context: true }`. */
export interface TaskContext {
  id: string;
  name: string;
  /** Retries left after this attempt. */
  retries: number;
  /** 1 on the first run, 2 on the first retry, ... */
  attempt: number;
  /** Aborted when the task times out, is revoked while running, or the consumer shuts down. */
  signal: AbortSignal;
  /** Record progress (any JSON value, typically 0..1 or a count); read it with `result.progress()`. */
  progress(value: unknown): void;
  /**
   * For a task with a `lock`: the lock's fencing token, a number that grows with every acquisition of
   * the key. Send it with writes elsewhere so they can refuse a token older than one already seen (a
   * holder that was paused past its lease). null for a task without a lock.
   */
  lockFence: number | null;
}

export interface RateLimit {
  /** Runs allowed per window. */
  limit: number;
  /** The window: ms or "1s", "1m". */
  per: Duration;
  /** Separate limits per key, e.g. `(userId) => userId`. @default one limit for the task */
  key?: (...args: any[]) => string;
}

export interface TaskOptions {
  /** Higher runs first. Any whole number. @default 0 */
  priority?: number;
  /** How many times a failed run is retried. @default 0 */
  retries?: number;
  /** Wait before the first retry: ms or "5s". @default 0 */
  retryDelay?: Duration;
  /** Each further retry waits this many times longer (exponential backoff). @default 1 */
  retryBackoff?: number;
  /** Randomise each retry delay by up to this fraction (0..1), so failures do not retry in lockstep. @default 0 */
  retryJitter?: number;
  /** Longest retry delay, whatever the backoff. @default no limit */
  retryMaxDelay?: Duration;
  /** Store the return value for `Result.get()`. @default the Huey's `results` option */
  results?: boolean;
  /** Store `undefined`/`null` return values too (Huey does not by default; a blocking get() then waits forever). @default true */
  storeNone?: boolean;
  /** Drop a stored result this long after it was written. @default kept until read with preserve:false or flushed */
  resultTtl?: Duration;
  /** A task not started this long after it was enqueued is skipped (signal "expired"). @default never */
  expires?: Duration;
  /** Stop a run after this long: its AbortSignal fires, then its Worker is replaced. @default the consumer's `timeout` */
  timeout?: Duration;
  /** Pass a TaskContext as the first argument. @default false */
  context?: boolean;
  /**
   * Enqueuing while an equal task is queued, scheduled or running returns the existing Result.
   * `true` compares all arguments; a function maps arguments to the key. An object is a
   * deduplication window instead (see Dedup); the Result's `merged` says whether a call was merged.
   * @default false
   */
  unique?: boolean | ((...args: any[]) => string) | Dedup;
  /** Run at most `limit` times `per` window, across all consumers; over it, runs are delayed (signal "rate-limited"). */
  rateLimit?: RateLimit;
  /**
   * Never run two of this task at once, across all consumers: a run that finds the lock held is
   * not run (signal "locked", TaskLockedError), or is delayed by `lockRetry` when that is set.
   * A function of the arguments gives one lock per key (stored as `<task name>:<key>`): one run at a
   * time per customer, say. A key function that throws fails that run with its error (retries apply).
   */
  lock?: string | LockKeyFn;
  /** With `lock`: when the lock is held, try again after this long instead of failing. */
  lockRetry?: Duration;
  /** At most `limit` runs at once across all consumers, per task or per `key` (see Concurrency). */
  concurrency?: Concurrency;
}

// keys: per-key locks and concurrency limits.
/** Maps a task's arguments to a key (of a lock or a concurrency limit). */
export type LockKeyFn = (...args: any[]) => string;

export interface Concurrency {
  /** Runs allowed at once (a whole number of 1 or more). */
  limit: number;
  /** A function of the arguments: `limit` per key instead of per task. */
  key?: LockKeyFn;
}

export interface ResolvedTaskOptions {
  readonly priority: number;
  readonly retries: number;
  readonly retryDelay: number;
  readonly retryBackoff: number;
  readonly retryJitter: number;
  readonly retryMaxDelay: number | null;
  readonly results: boolean;
  readonly storeNone: boolean;
  readonly resultTtl: number | null;
  readonly expires: number | null;
  readonly timeout: number | null;
  readonly context: boolean;
  readonly unique: false | ((...args: any[]) => string);
  /** A deduplication window (unique: { ttl, mode, key? }), or null. */
  readonly dedup: { readonly key: (...args: any[]) => string; readonly ttl: number; readonly mode: DedupMode } | null;
  readonly rateLimit: { readonly limit: number; readonly per: number; readonly key: ((...args: any[]) => string) | null } | null;
  readonly lock: string | null;
  readonly lockRetry: number | null;
  /** With a `lock` function: the key function; `lock` is then the task's name, the prefix of each key. */
  readonly lockKey: LockKeyFn | null;
  readonly concurrency: { readonly limit: number; readonly key: LockKeyFn | null } | null;
}

/** Per-call settings for `task.schedule(args, options)`. */
export interface ScheduleOptions {
  /** Run after this long. */
  delay?: Duration;
  /** Run at this time (Date or epoch ms). */
  eta?: Date | number;
  priority?: number;
  retries?: number;
  retryDelay?: Duration;
  /** Skip if not started by then: a Date, epoch ms, or a duration from now. */
  expires?: Duration | Date;
  /** Use this id instead of a new one (it must not be queued already). */
  id?: string;
}

/** What `huey.task()` returns: call it to enqueue, or use its methods. */
export interface TaskDef<A extends unknown[], R> {
  (...args: A): Promise<Result<Awaited<R>>>;
  /** The task's registered name. */
  readonly taskName: string;
  readonly options: ResolvedTaskOptions;
  readonly huey: Huey;
  /** Run the function here and now, without the queue. */
  callLocal(...args: A): R;
  /** Enqueue with per-call settings: `{ delay: "5m" }`, `{ eta: date }`, `{ priority, retries, expires, id }`. */
  schedule(args: A, options: ScheduleOptions): Promise<Result<Awaited<R>>>;
  /** Enqueue one call per element, in one transaction. */
  map(argsList: Iterable<A>): Promise<ResultGroup<Awaited<R>>>;
  /** A signature for pipelines: `fetch.s(1).then(transform, 5)`, then `huey.enqueue(sig)`. */
  s(...args: A): Signature;
  /** Revoke every call of this task: `until` a time, or `once` (the next run only). */
  revoke(options?: { until?: Date | number; once?: boolean }): Promise<void>;
  /** Undo `revoke()`. */
  restore(): Promise<boolean>;
  isRevoked(): Promise<boolean>;
}

/** Arguments of a task function registered with `{ context: true }`: the context is not passed by callers. */
export type ArgsOf<F> = F extends (ctx: TaskContext, ...args: infer A) => unknown ? A : never;

export type AnyTaskDef = TaskDef<any[], unknown>;

export const DEDUP_MODES = ["throttle", "debounce", "replace"] as const;
export type DedupMode = (typeof DEDUP_MODES)[number];

/**
 * A deduplication window: calls with an equal key (all arguments, or `key(...args)`) merge.
 * - "throttle": the first call in `ttl` is stored; later calls within `ttl` of it return its
 *   Result (run or not), merged.
 * - "debounce": the run waits until `ttl` after the last call; each call while it waits replaces
 *   its arguments and returns the same Result, merged. A call once it started opens a new window.
 * - "replace": a call while the key's task waits (queued or scheduled, not running) replaces its
 *   arguments and eta (the call's delay/eta, else now); else a new task is stored.
 */
export interface Dedup {
  ttl: Duration;
  mode: DedupMode;
  key?: (...args: any[]) => string;
}

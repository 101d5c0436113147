import type { Huey } from "./huey";
import type { Signature } from "./pipeline";
import type { Result, ResultGroup } from "./result";
import type { Duration } from "./_time";
import type { TaskLogFn } from "./task-log";

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
   * Keep a line with the task, formatted as console.log formats its arguments: `ctx.log("sent", n)`,
   * `ctx.log.warn(...)`, `.error`, `.info`, `.debug`. At most 100 lines of 2,000 characters per run
   * (the rest are counted as dropped), written with the run's outcome and kept as long as its result;
   * read them with `huey.taskLog(id)` or `huey result FILE ID --log`. Under callLocal() they go to the console.
   */
  log: TaskLogFn;
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
  key?: ((...args: any[]) => string) | undefined;
}

export interface TaskOptions {
  /** The named queue it runs in: consumers may serve some queues only (`--queues`), and a queue can be paused. @default "default" */
  queue?: string;
  /** Higher runs first. Any whole number. @default 0 */
  priority?: number | undefined;
  /** How many times a failed run is retried. @default 0 */
  retries?: number | undefined;
  /** Wait before the first retry: ms or "5s". @default 0 */
  retryDelay?: Duration | undefined;
  /** Each further retry waits this many times longer (exponential backoff). @default 1 */
  retryBackoff?: number | undefined;
  /** Randomise each retry delay by up to this fraction (0..1), so failures do not retry in lockstep. @default 0 */
  retryJitter?: number | undefined;
  /** Longest retry delay, whatever the backoff. @default no limit */
  retryMaxDelay?: Duration | undefined;
  /** Store the return value for `Result.get()`. @default the Huey's `results` option */
  results?: boolean | undefined;
  /** Store `undefined`/`null` return values too (Huey does not by default; a blocking get() then waits forever). @default true */
  storeNone?: boolean | undefined;
  /** Drop a stored result this long after it was written; `false` keeps it until read. @default the Huey's `resultTtl` (7 days) */
  resultTtl?: Duration | false | undefined;
  /** A task not started this long after it was enqueued is skipped (signal "expired"). @default never */
  expires?: Duration | undefined;
  /** Stop a run after this long: its AbortSignal fires, then its Worker is replaced. @default the consumer's `timeout` */
  timeout?: Duration | undefined;
  /** Pass a TaskContext as the first argument. @default false */
  context?: boolean | undefined;
  /**
   * Enqueuing while an equal task is queued, scheduled or running returns the existing Result.
   * `true` compares all arguments; a function maps arguments to the key. An object is a
   * deduplication window instead (see Dedup); the Result's `merged` says whether a call was merged.
   * @default false
   */
  unique?: boolean | ((...args: any[]) => string) | Dedup | undefined;
  /** Run at most `limit` times `per` window, across all consumers; over it, runs are delayed (signal "rate-limited"). */
  rateLimit?: RateLimit | undefined;
  /**
   * Never run two of this task at once, across all consumers: a run that finds the lock held is
   * not run (signal "locked", TaskLockedError), or is delayed by `lockRetry` when that is set.
   * A function of the arguments gives one lock per key (stored as `<task name>:<key>`): one run at a
   * time per customer, say. A key function that throws fails that run with its error (retries apply).
   */
  lock?: string | LockKeyFn | undefined;
  /** With `lock`: when the lock is held, try again after this long instead of failing. */
  lockRetry?: Duration | undefined;
  /** At most `limit` runs at once across all consumers, per task or per `key` (see Concurrency). */
  concurrency?: Concurrency | undefined;
}

// keys: per-key locks and concurrency limits.
/** Maps a task's arguments to a key (of a lock or a concurrency limit). */
export type LockKeyFn = (...args: any[]) => string;

export interface Concurrency {
  /** Runs allowed at once (a whole number of 1 or more). */
  limit: number;
  /** A function of the arguments: `limit` per key instead of per task. */
  key?: LockKeyFn | undefined;
}

export interface ResolvedTaskOptions {
  readonly queue: string;
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
  delay?: Duration | undefined;
  /** Run at this time (Date or epoch ms). */
  eta?: Date | number | undefined;
  priority?: number | undefined;
  /** Run in this named queue instead of the task's own. */
  queue?: string | undefined;
  retries?: number | undefined;
  retryDelay?: Duration | undefined;
  /** Skip if not started by then: a Date, epoch ms, or a duration from now. */
  expires?: Duration | Date | undefined;
  /** Use this id instead of a new one (it must not be queued already). */
  id?: string | undefined;
}

/** Settings shared by every call of `task.map(argsList, options)`: those of `schedule()` but the id. */
export type BulkOptions = Omit<ScheduleOptions, "id">;

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
  schedule<const O extends ScheduleOptions>(args: A, options: KnownOptions<O, ScheduleOptions>): Promise<Result<Awaited<R>>>;
  /**
   * Enqueue one call per element, in one transaction; `options` (delay, eta, priority, retries,
   * expires, queue) apply to every call: `sendReminder.map(users, { delay: "1h" })`.
   */
  map<const O extends BulkOptions>(argsList: Iterable<A>, options?: KnownOptions<O, BulkOptions>): Promise<ResultGroup<Awaited<R>>>;
  /**
   * A signature for pipelines: `fetch.s(1).then(transform, 5)`, then `huey.enqueue(sig)`. Its type
   * carries the result: `Signature<Awaited<R>, [Awaited<R>]>`.
   */
  s(...args: A): Signature<Awaited<R>, [Awaited<R>]>;
  /** Revoke every call of this task: `until` a time, or `once` (the next run only). */
  revoke(options?: { until?: Date | number | undefined; once?: boolean | undefined }): Promise<void>;
  /** Undo `revoke()`. */
  restore(): Promise<boolean>;
  isRevoked(): Promise<boolean>;
}

/** Arguments of a task function registered with `{ context: true }`: the context is not passed by callers. */
export type ArgsOf<F> = F extends (ctx: TaskContext, ...args: infer A) => unknown ? A : never;

export type AnyTaskDef = TaskDef<any[], unknown>;

/**
 * The options `O` as given, where every key `Known` does not have must be of the type
 * `"... is not an option"`, which no value is: an unknown option is a type error, also when the
 * options are in a variable (an object literal gets that from TypeScript's excess property check).
 * Options typed with an index signature (`Record<string, unknown>`) are left to the runtime check.
 */
export type KnownOptions<O, Known> = O & { [K in Exclude<keyof O, keyof Known> as NamedKey<K>]: UnknownOption<K> };

/** `K` for a key that is a name, never for an index signature (`Record<string, unknown>` is not checked). */
type NamedKey<K> = string extends K ? never : number extends K ? never : symbol extends K ? never : K;

/** The type of an unknown option: a message, so that the type error says what is wrong. */
export type UnknownOption<K> = `"${K & string}" is not an option here`;

/** The parameters after the first: what a pipeline stage's extra arguments must fit. */
export type ParamsAfterFirst<P extends unknown[]> = P extends [] ? [] : P extends [unknown?, ...infer Rest] ? Rest : [];

/**
 * A task that can be called with `First` and then arguments of its own: `TaskDef<P, R>` when
 * `[First, ...ParamsAfterFirst<P>]` fits its parameters `P`. Otherwise the task with `First` as its
 * first parameter, so the type error says which value does not fit where ("Type '[number]' is not
 * assignable to type '[s: string]'"). Tasks without parameters do not fit: a stage is always given
 * the previous result.
 */
export type TaskTaking<First, P extends unknown[], R> = [First, ...ParamsAfterFirst<P>] extends P
  ? TaskDef<P, R>
  : TaskDef<NoInfer<[First, ...ParamsAfterFirst<P>]>, R>;

/** A task that can be called with exactly `Args` (an `.error()` task gets only the error). */
export type TaskTakingOnly<Args extends unknown[], P extends unknown[], R> = Args extends P ? TaskDef<P, R> : TaskDef<NoInfer<Args>, R>;

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
  key?: ((...args: any[]) => string) | undefined;
}

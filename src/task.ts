import type { Huey } from "./huey";
import type { Result } from "./result";
import type { Duration } from "./_time";

export interface TaskOptions {
  /** Higher runs first. Any integer. @default 0 */
  priority?: number;
  /** How many times a failed run is retried. @default 0 */
  retries?: number;
  /** Wait before each retry: ms or "5s". @default 0 */
  retryDelay?: Duration;
  /** Store the return value for `Result.get()`. @default the Huey's `results` option */
  results?: boolean;
}

export interface ResolvedTaskOptions {
  readonly priority: number;
  readonly retries: number;
  readonly retryDelay: number;
  readonly results: boolean;
}

export interface ScheduleOptions {
  /** Run after this long. */
  delay?: Duration;
  /** Run at this time (Date or epoch ms). */
  eta?: Date | number;
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
  /** Enqueue to run later: `{ delay: "5m" }` or `{ eta: date }`. */
  schedule(args: A, options: ScheduleOptions): Promise<Result<Awaited<R>>>;
  /** Enqueue one call per element, in one transaction. */
  map(argsList: Iterable<A>): Promise<Result<Awaited<R>>[]>;
}

export type AnyTaskDef = TaskDef<any[], unknown>;

// Huey's options: what the user passes, and resolveHueyOptions() (defaults under them, checked, frozen).
import { ConfigurationError } from "./errors";
import type { Storage } from "./storage/types";
import { toMs, type Duration } from "./_time";

export interface HueyOptions {
  /** The queue's name. Several Huey instances may share one store under different names. */
  name: string;
  /** Where tasks live. A Storage, or a factory called on first use. @default MemoryStorage */
  storage?: Storage | (() => Storage);
  /**
   * Run each task in-process the moment it is called, on memory storage: for your own tests.
   * Retries run at once; tasks scheduled for later stay in the schedule.
   * @default false
   */
  immediate?: boolean;
  /** Store return values for `Result.get()`; a task's own `results` option wins. Periodic tasks store none unless their own `results` is true. @default true */
  results?: boolean;
  /**
   * How long a stored result is kept when nobody reads it: results (and failures) older than this read as
   * missing and consumers delete them. A task's own `resultTtl` wins; `false` keeps results until read.
   * @default "7d"
   */
  resultTtl?: Duration | false;
  /** Largest stored payload (arguments, or a result) in bytes. @default 1 MiB */
  maxPayloadSize?: number;
  /**
   * How long tasks that failed for good stay in the dead-letter store (`huey.failed()`);
   * `false` keeps none.
   * @default "7d"
   */
  failedRetention?: Duration | false;
}

export interface ResolvedHueyOptions {
  readonly name: string;
  readonly immediate: boolean;
  readonly results: boolean;
  /** ms, or null to keep results until read. */
  readonly resultTtl: number | null;
  readonly maxPayloadSize: number;
  /** ms, or null to keep no dead letters. */
  readonly failedRetention: number | null;
}


export function resolveHueyOptions(o: HueyOptions): ResolvedHueyOptions {
  if (!o || typeof o.name !== "string" || o.name.trim() === "") {
    throw new ConfigurationError(`Huey needs a non-empty "name" option, got ${JSON.stringify(o?.name)}`);
  }
  const maxPayloadSize = o.maxPayloadSize ?? 1024 * 1024;
  if (!Number.isInteger(maxPayloadSize) || maxPayloadSize < 64) {
    throw new ConfigurationError(`maxPayloadSize must be a whole number of bytes, 64 or more; got ${String(o.maxPayloadSize)}`);
  }
  const retention = o.failedRetention ?? "7d";
  const resultTtl = o.resultTtl ?? "7d";
  const resultTtlMs = resultTtl === false ? null : toMs(resultTtl, "resultTtl");
  if (resultTtlMs === 0) throw new ConfigurationError(`resultTtl must be longer than 0 (false keeps results until read), got ${JSON.stringify(o.resultTtl)}`);
  return Object.freeze({
    name: o.name,
    immediate: o.immediate ?? false,
    results: o.results ?? true,
    resultTtl: resultTtlMs,
    maxPayloadSize,
    failedRetention: retention === false ? null : toMs(retention, "failedRetention"),
  });
}

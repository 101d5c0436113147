import { ResultTimeoutError, TaskFailedError } from "./errors";
import type { StoredResult } from "./message";
import { decode } from "./serializer";
import type { Storage } from "./storage/types";
import { toMs, type Duration } from "./_time";

export interface GetOptions {
  /** Wait until the result is there. @default false */
  blocking?: boolean;
  /** With `blocking`: give up after this long and throw ResultTimeoutError. @default no limit */
  timeout?: Duration;
  /** Keep the result in the store after reading it. @default true */
  preserve?: boolean;
}

/** Longest single wait between checks; the storage wakes us sooner when something changes. */
const MAX_WAIT_MS = 1_000;

/** A handle on one task's result. Cheap: it holds the id and reads storage when asked. */
export class Result<T = unknown> {
  readonly #storage: () => Storage;

  constructor(readonly id: string, storage: () => Storage) {
    this.#storage = storage;
  }

  /**
   * The task's return value. Without `blocking`, `undefined` when it has not finished. A task
   * that failed for good throws TaskFailedError carrying the remote error.
   */
  async get(options: GetOptions = {}): Promise<T | undefined> {
    const preserve = options.preserve ?? true;
    const storage = this.#storage();
    const read = async () => storage.getResult(this.id, preserve, Date.now());
    let raw = await read();
    if (raw === null && options.blocking) {
      const timeout = options.timeout === undefined ? Infinity : toMs(options.timeout, "timeout");
      const deadline = Date.now() + timeout;
      while (raw === null) {
        const left = deadline - Date.now();
        if (left <= 0) throw new ResultTimeoutError(this.id, timeout);
        await storage.waitForChange(Math.min(left, MAX_WAIT_MS), "results");
        raw = await read();
      }
    }
    if (raw === null) return undefined;
    const stored = decode<StoredResult>(raw);
    if (!stored.ok) throw new TaskFailedError(this.id, stored.name, stored.error, stored.attempts);
    return stored.value as T;
  }

  toJSON(): { id: string } {
    return { id: this.id };
  }
}

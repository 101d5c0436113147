import { ConfigurationError, ResultTimeoutError, TaskFailedError } from "./errors";
import { KEYS, type StoredResult } from "./message";
import { decode } from "./serializer";
import { internalsOf } from "./_internals";
import type { Storage } from "./storage/types";
import { fromNow, toEpochMs, toMs, type Duration } from "./_time";

export interface GetOptions {
  /** Wait until the result is there. @default false */
  blocking?: boolean | undefined;
  /** With `blocking`: give up after this long and throw ResultTimeoutError. @default no limit */
  timeout?: Duration | undefined;
  /** Keep the result in the store after reading it. @default true */
  preserve?: boolean | undefined;
}

/** A get() that waits: it returns the value, or throws (the task failed, or the timeout passed). */
export type BlockingGetOptions = GetOptions & { blocking: true };

/** What a Result needs of its Huey (kept narrow so Result does not import Huey). */
export interface ResultOwner {
  readonly storage: Storage;
  revokeById(id: string, options?: { until?: Date | number | undefined; once?: boolean | undefined }): Promise<void>;
  restoreById(id: string): Promise<boolean>;
  isRevokedId(id: string): Promise<boolean>;
}

/** Told of every blocking get() that has to wait (a consumer's Worker uses it to warn of deadlocks). */
let blockingGetHook: ((id: string) => void) | null = null;

/** @internal Set by the Worker entry. */
export function onBlockingGet(fn: ((id: string) => void) | null): void {
  blockingGetHook = fn;
}

/** Longest single wait between checks; the storage wakes us sooner when something changes. */
const MAX_WAIT_MS = 1_000;

const PENDING = Symbol("pending");

/** A handle on one task's result. Cheap: it holds the id and reads storage when asked. */
export class Result<T = unknown> {
  readonly #owner: ResultOwner;
  /** The stored message, when this Result came from enqueuing (needed by reschedule). */
  readonly #payload: string | null;

  /**
   * True when this call was merged into another by a deduplication window (unique: { mode }):
   * `id` is then the task that took the call. False for a normal enqueue.
   */
  readonly merged: boolean;

  constructor(readonly id: string, owner: ResultOwner, payload: string | null = null, merged = false) {
    this.merged = merged;
    this.#owner = owner;
    this.#payload = payload;
  }

  /**
   * The task's return value. Without `blocking`, `undefined` when it has not finished. A task
   * that failed for good throws TaskFailedError carrying the remote error.
   */
  get(options: BlockingGetOptions): Promise<T>;
  get(options?: GetOptions): Promise<T | undefined>;
  async get(options: GetOptions = {}): Promise<T | undefined> {
    const v = await this.#read(options);
    return v === PENDING ? undefined : v;
  }

  /** @internal One read: `{ done: false }` while unfinished (get() cannot tell that from a stored undefined). */
  async poll(): Promise<{ done: false } | { done: true; value: T }> {
    const v = await this.#read({});
    return v === PENDING ? { done: false } : { done: true, value: v };
  }

  /** True once a result (or a failure) is stored. */
  async ready(): Promise<boolean> {
    return (await this.#owner.storage.getResult(this.id, true, Date.now())) !== null;
  }

  async #read(options: GetOptions): Promise<T | typeof PENDING> {
    const preserve = options.preserve ?? true;
    const storage = this.#owner.storage;
    const read = async () => storage.getResult(this.id, preserve, Date.now());
    let raw = await read();
    if (raw === null && options.blocking) {
      blockingGetHook?.(this.id);
      const timeout = options.timeout === undefined ? Infinity : toMs(options.timeout, "timeout");
      const deadline = Date.now() + timeout;
      while (raw === null) {
        const left = deadline - Date.now();
        if (left <= 0) throw new ResultTimeoutError(this.id, timeout);
        await storage.waitForChange(Math.min(left, MAX_WAIT_MS), "results");
        raw = await read();
      }
    }
    if (raw === null) return PENDING;
    const stored = decode<StoredResult>(raw);
    if (!stored.ok) throw new TaskFailedError(this.id, stored.name, stored.error, stored.attempts);
    return stored.value as T;
  }

  /** The last value the task passed to `ctx.progress()`, or undefined. */
  async progress(): Promise<unknown> {
    const raw = await this.#owner.storage.getData(KEYS.progress + this.id, true);
    return raw === null ? undefined : decode(raw);
  }

  /** Skip this task if it has not started (signal "revoked"); a running one has its AbortSignal fired. */
  revoke(options?: { until?: Date | number | undefined; once?: boolean | undefined }): Promise<void> {
    return this.#owner.revokeById(this.id, options);
  }

  restore(): Promise<boolean> {
    return this.#owner.restoreById(this.id);
  }

  isRevoked(): Promise<boolean> {
    return this.#owner.isRevokedId(this.id);
  }

  /** Revoke this task and enqueue a copy (a new id) to run later. Returns the copy's Result. */
  async reschedule(options: { delay?: Duration | undefined; eta?: Date | number | undefined }): Promise<Result<T>> {
    if (this.#payload === null) {
      throw new ConfigurationError("reschedule() needs the Result returned when the task was enqueued (it holds the task's arguments)");
    }
    const eta =
      options.eta !== undefined
        ? toEpochMs(options.eta, "reschedule() eta")
        : fromNow(options.delay ?? 0, "reschedule() delay");
    await this.revoke({ once: true });
    return internalsOf(this.#owner).requeueCopy(this.#payload, eta);
  }

  /** @internal Sleep until results may have changed (or `ms` pass). */
  waitForResults(ms: number): Promise<void> {
    return this.#owner.storage.waitForChange(ms, "results");
  }

  toJSON(): { id: string } {
    return { id: this.id };
  }
}

/** A Result for each value of `V`: `[Result<A>, Result<B>]` for `[A, B]`, `Result<T>[]` for `T[]`. */
export type ResultsFor<V extends readonly unknown[]> = { [K in keyof V]: Result<V[K]> };

/**
 * The Results of several tasks (task.map, enqueueMany, a pipeline's stages, a group): read together
 * or as they complete. `T` is the type of any one value; `V` the values in order, a tuple when
 * they are known one by one: `huey.group([a.s(1), b.s("x")])` gives a `ResultGroup<A | B, [A, B]>`,
 * whose `get({ blocking: true })` returns `[A, B]`.
 */
export class ResultGroup<T = unknown, V extends readonly T[] = T[]> implements Iterable<Result<T>> {
  /** The Results, in enqueue order. */
  readonly results: ResultsFor<V>;

  constructor(results: readonly Result<T>[]) {
    this.results = results as unknown as ResultsFor<V>;
  }

  /** The Results as a plain list (`results` typed for V is not one to TypeScript). */
  get #list(): readonly Result<T>[] {
    return this.results as unknown as readonly Result<T>[];
  }

  get length(): number {
    return this.#list.length;
  }

  at(i: number): Result<T> | undefined {
    return this.#list.at(i);
  }

  [Symbol.iterator](): Iterator<Result<T>> {
    return this.#list[Symbol.iterator]();
  }

  /**
   * Every value, in enqueue order. `timeout` bounds the whole wait. The first failure throws.
   * Without `blocking`, an unfinished task's value is `undefined`.
   */
  get(options: BlockingGetOptions): Promise<V>;
  get(options?: GetOptions): Promise<{ -readonly [K in keyof V]: V[K] | undefined }>;
  async get(options: GetOptions = {}): Promise<readonly unknown[]> {
    const deadline = options.timeout === undefined ? undefined : Date.now() + toMs(options.timeout, "timeout");
    const out: (T | undefined)[] = [];
    for (const r of this.#list) {
      const timeout = deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
      out.push(await r.get({ ...options, timeout }));
    }
    return out;
  }

  /** Yield `[result, value]` as each task finishes, in finishing order. A failed task throws. */
  async *asCompleted(options: { timeout?: Duration | undefined } = {}): AsyncGenerator<[Result<T>, T]> {
    const timeout = options.timeout === undefined ? Infinity : toMs(options.timeout, "timeout");
    const deadline = Date.now() + timeout;
    const left = new Set(this.#list);
    while (left.size > 0) {
      for (const r of [...left]) {
        const p = await r.poll();
        if (p.done) {
          left.delete(r);
          yield [r, p.value];
        }
      }
      if (left.size === 0) return;
      const wait = deadline - Date.now();
      if (wait <= 0) throw new ResultTimeoutError([...left][0]!.id, timeout);
      await this.#list[0]!.waitForResults(Math.min(wait, MAX_WAIT_MS));
    }
  }
}

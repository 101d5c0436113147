// Where tasks run: a pool of Bun Workers (WorkerPool), or this thread (InlinePool, for immediate mode and
// for the consumer's unit tests). Both report through the same PoolListener, so the engine cannot tell them
// apart. The pool owns timeouts: after a task's timeout its AbortSignal fires; a Worker that does not stop
// within `timeoutGrace` is terminated and replaced.
import { serializeError, TaskTimeoutError, WorkerDiedError } from "../errors";
import { execute, type ExecuteOptions, type Outcome } from "../executor";
import { encode } from "../serializer";
import type { SignalName, TaskInfo } from "../signals";

export interface PoolTask {
  id: string;
  name: string;
  payload: string;
  /** ms, or null for none. */
  timeout: number | null;
  /** The fencing token of the lock it runs under, if any. */
  fence?: number;
}

export interface PoolListener {
  started(id: string): void;
  /** `timedOut`: its timeout fired before the outcome came (a non-ok outcome then counts as a timeout). */
  done(id: string, outcome: Outcome, ms: number | undefined, timedOut: boolean): void;
  /** Tasks handed back unstarted (a stopping or stolen-from Worker): the engine places them again. */
  returned(ids: string[]): void;
  progress(id: string, value: string): void;
  signal(signal: SignalName, task: TaskInfo): void;
  /** Room may have grown (a Worker is ready, finished, or was replaced). */
  capacity(): void;
  note(level: "info" | "warn" | "error", message: string): void;
  /** A running task blocks on `child`'s result; `free` is how many more tasks the pool could start now. */
  waiting?(child: string, parents: string[], free: number): void;
}

export interface Pool {
  start(): Promise<void>;
  /** Tasks it can take now, prefetch included. */
  room(): number;
  /** Some slot runs fewer tasks than it could: worth leasing even a few. */
  starving(): boolean;
  /** Hand tasks over; false when there was no room for one (the caller returns it). */
  submit(task: PoolTask): boolean;
  /** Send what submit() gathered (one message per Worker). */
  flushSubmits(): void;
  abort(id: string, reason: string): void;
  /** Stop `id` now: abort it and, if it has not stopped within the grace, kill where it runs. */
  kill(id: string, reason: string): void;
  isStarted(id: string): boolean;
  runningCount(): number;
  /** Take no more; hand back unstarted tasks; run shutdown hooks; resolve when idle or at `deadline`. */
  stop(): void;
  /** Every slot has said it stopped (or runs a task and cannot). */
  quiet(): boolean;
  terminate(): void;
}

/**
 * Runs tasks in this thread with `execute()`, `concurrency` at a time. No thread can be terminated, so a
 * timeout only fires the task's AbortSignal.
 */
export class InlinePool implements Pool {
  #queue: PoolTask[] = [];
  #running = new Map<string, { abort: AbortController; timer?: ReturnType<typeof setTimeout>; timedOut: boolean }>();
  #idle: (() => void)[] = [];
  constructor(
    readonly listener: PoolListener,
    readonly exec: Omit<ExecuteOptions, "signal" | "onStart" | "onProgress">,
    readonly concurrency = 1,
    readonly prefetch = 0,
  ) {}
  async start(): Promise<void> {}
  room(): number {
    return Math.max(0, this.concurrency + this.prefetch - this.#running.size - this.#queue.length);
  }
  starving(): boolean {
    return this.#running.size + this.#queue.length < this.concurrency;
  }
  submit(task: PoolTask): boolean {
    if (this.room() === 0) return false;
    this.#queue.push(task);
    return true;
  }
  flushSubmits(): void {
    while (this.#running.size < this.concurrency && this.#queue.length > 0) void this.#run(this.#queue.shift()!);
  }
  async #run(task: PoolTask): Promise<void> {
    const state = { abort: new AbortController(), timedOut: false } as { abort: AbortController; timer?: ReturnType<typeof setTimeout>; timedOut: boolean };
    this.#running.set(task.id, state);
    const t0 = performance.now();
    const outcome = await execute(task.payload, {
      ...this.exec,
      signal: state.abort.signal,
      lockFence: task.fence ?? null,
      onStart: () => {
        this.listener.started(task.id);
        if (task.timeout !== null) {
          state.timer = setTimeout(() => {
            state.timedOut = true;
            state.abort.abort(new DOMException(`timed out after ${task.timeout}ms`, "AbortError"));
          }, task.timeout);
        }
      },
      onProgress: (v) => {
        try {
          this.listener.progress(task.id, encode(v, "ctx.progress() value"));
        } catch (err) {
          this.listener.note("error", err instanceof Error ? err.message : String(err));
        }
      },
    });
    if (state.timer) clearTimeout(state.timer);
    this.#running.delete(task.id);
    this.listener.done(task.id, outcome, performance.now() - t0, state.timedOut);
    this.flushSubmits();
    this.listener.capacity();
    if (this.#running.size === 0 && this.#queue.length === 0) for (const f of this.#idle.splice(0)) f();
  }
  /** Resolves once nothing runs or waits here. */
  whenIdle(): Promise<void> {
    if (this.#running.size === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }
  abort(id: string, reason: string): void {
    this.#running.get(id)?.abort.abort(new DOMException(reason, "AbortError"));
  }
  kill(id: string, reason: string): void {
    this.abort(id, reason);
  }
  isStarted(id: string): boolean {
    return this.#running.has(id);
  }
  runningCount(): number {
    return this.#running.size;
  }
  stop(): void {
    const ids = this.#queue.splice(0).map((t) => t.id);
    if (ids.length) this.listener.returned(ids);
  }
  quiet(): boolean {
    return true;
  }
  terminate(): void {}
}


/** The error a task gets when its Worker is gone under it. */
export function workerDied(reason: string): Outcome {
  return { kind: "error", error: serializeError(new WorkerDiedError(reason)) };
}

/** The error a timed-out task fails with. */
export function timedOut(name: string, ms: number): Outcome & { kind: "error" } {
  return { kind: "error", error: serializeError(new TaskTimeoutError(name, ms)) };
}

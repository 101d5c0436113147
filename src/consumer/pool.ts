// Where tasks run: a pool of Bun Workers (WorkerPool), or this thread (InlinePool, for immediate mode and
// for the consumer's unit tests). Both report through the same PoolListener, so the engine cannot tell them
// apart. The pool owns timeouts: after a task's timeout its AbortSignal fires; a Worker that does not stop
// within `timeoutGrace` is terminated and replaced.
import { serializeError, TaskTimeoutError, WorkerDiedError } from "../errors";
import { execute, type ExecuteOptions, type Outcome } from "../executor";
import { encode } from "../serializer";
import type { Message } from "../message";
import type { SignalName, TaskInfo } from "../signals";
import { LogCollector, type TaskLogLine } from "../task-log";

export interface PoolTask {
  id: string;
  name: string;
  payload: string;
  /** ms, or null for none. */
  timeout: number | null;
  /** The fencing token of the lock it runs under, if any. */
  fence?: number;
}

/**
 * What the thread that ran a task says of the run besides its outcome, read from the message it decoded
 * (the main thread does not decode payloads on the success path). Sent when the consumer logs at info,
 * for context tasks, retries and failures, and whenever the task logged.
 */
export interface RunInfo {
  attempt: number;
  /** Retries left after this attempt. */
  retries: number;
  /** When this attempt was stored (Message.at), if the message says. */
  at?: number;
  context: boolean;
  /** Its ctx.log() lines (bounded) and how many were dropped. */
  lines?: Omit<TaskLogLine, "attempt">[];
  dropped?: number;
  /** The Worker that ran it (WorkerPool), by index. */
  worker?: number;
}

/**
 * A task's AbortController, made only when the task asks for its signal (a context task's ctx.signal):
 * other tasks never see it, and one per task cost ~0.35 us of the inline consumer's ~9 us. An abort
 * before that is kept, and the signal comes already aborted with its reason (the first abort wins, as
 * with AbortController itself).
 */
export class LazyAbort {
  #controller: AbortController | null = null;
  #aborted = false;
  #reason: unknown;
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }
  abort(reason: unknown): void {
    if (this.#controller) this.#controller.abort(reason);
    else if (!this.#aborted) {
      this.#aborted = true;
      this.#reason = reason;
    }
  }
}

/** The RunInfo a thread reports, or undefined when nothing asks for it (the hot path sends none). */
export function runInfo(m: Message | null, context: boolean, outcome: Outcome, log: LogCollector, always: boolean): RunInfo | undefined {
  if (!m) return undefined;
  if (!always && !context && m.attempt <= 1 && outcome.kind === "ok" && log.lines.length === 0 && log.dropped === 0) return undefined;
  const r: RunInfo = { attempt: m.attempt, retries: m.retries, context };
  if (m.at !== undefined) r.at = m.at;
  if (log.lines.length) r.lines = log.lines;
  if (log.dropped) r.dropped = log.dropped;
  return r;
}

export interface PoolListener {
  /**
   * `worker`: the index of the Worker it started on (WorkerPool). `message`: the task's message as the
   * pool decoded it to run it, when that was on this thread (InlinePool): the engine's signals use it
   * instead of decoding the payload again.
   */
  started(id: string, worker?: number, message?: Message): void;
  /** `timedOut`: its timeout fired before the outcome came (a non-ok outcome then counts as a timeout). */
  done(id: string, outcome: Outcome, ms: number | undefined, timedOut: boolean, run?: RunInfo): void;
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
  /** The fewest tasks worth a lease while it is not starving (default: the engine's MIN_LEASE_BATCH). */
  readonly minLease?: number;
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
  #running = new Map<string, { abort: LazyAbort; timer?: ReturnType<typeof setTimeout>; timedOut: boolean }>();
  #idle: (() => void)[] = [];
  /** The time of ctx.log() lines (tests pass their own). */
  clock: () => number = Date.now;
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
    const state = { abort: new LazyAbort(), timedOut: false } as { abort: LazyAbort; timer?: ReturnType<typeof setTimeout>; timedOut: boolean };
    this.#running.set(task.id, state);
    const t0 = performance.now();
    const log = new LogCollector(this.clock);
    let started: Message | null = null;
    const outcome = await execute(task.payload, {
      ...this.exec,
      signal: () => state.abort.signal,
      lockFence: task.fence ?? null,
      log,
      onStart: (m) => {
        started = m;
        this.listener.started(task.id, undefined, m);
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
    const context = started !== null && this.exec.lookup((started as Message).name)?.context === true;
    this.listener.done(task.id, outcome, performance.now() - t0, state.timedOut, runInfo(started, context, outcome, log, true));
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

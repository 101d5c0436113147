import { completeChord, pendingChords } from "./chords";
import { parseSchedule, type ScheduleSpec } from "./cron";
import { buildMessage } from "./enqueue";
import { ConfigurationError, DuplicateTaskError, UnknownTaskError } from "./errors";
import { KEYS, newTaskId, taskInfo, toQueueItem, type Message } from "./message";
import type { PeriodicDef } from "./periodic";
import { callbackSpec, Signature, type AnySignature, type ResultsOf } from "./pipeline";
import { HueyData } from "./huey-data";
import { NO_SETTINGS, Producer } from "./producer";
import { Result, ResultGroup } from "./result";
import { Signals, type SignalHandler, type SignalName, type TaskInfo } from "./signals";
import { MemoryStorage } from "./storage/memory";
import type { AnyTaskDef, BulkOptions, KnownOptions, ParamsAfterFirst, ResolvedTaskOptions, ScheduleOptions, TaskContext, TaskDef, TaskOptions, TaskTaking } from "./task";
import { checkLockKey, resolveTaskOptions } from "./task-options";
import { consoleLog } from "./task-log";
import { setInternals, type Registered, type Registry } from "./_internals";
import { toMs, type Duration } from "./_time";
import { resolveHueyOptions, type HueyOptions, type ResolvedHueyOptions } from "./options";

export { resolveHueyOptions } from "./options";
export type { HueyOptions, ResolvedHueyOptions } from "./options";

export type { PendingTask, ScheduledTask } from "./huey-data";

const BRAND = Symbol.for("bun-huey.Huey");

/** map()'s shared settings, checked: an object without an id (one id cannot name every call). */
function bulkOptions(name: string, o: BulkOptions | undefined): ScheduleOptions {
  if (o === undefined) return NO_SETTINGS;
  if (o === null || typeof o !== "object") throw new ConfigurationError(`${name}.map(argsList, options): options must be an object such as { delay: "5m" }, got ${JSON.stringify(o)}`);
  if ("id" in o) throw new ConfigurationError(`${name}.map(argsList, options): "id" would name every call; give ids per call with huey.enqueueMany([[task, args, { id }], ...])`);
  return o;
}

/** The options of `huey.periodicTask()`: a task's, and `catchUp`. */
export type PeriodicTaskOptions = TaskOptions & {
  /** After downtime, fire each missed tick (up to 100) instead of only the latest. @default false */
  catchUp?: boolean | undefined;
};

export class Huey extends HueyData {
  readonly options: ResolvedHueyOptions;
  readonly signals: Signals;
  readonly [BRAND] = true;
  #tasks = new Map<string, Registered>();
  #periodic: PeriodicDef[] = [];
  #forward: ((signal: SignalName, task: TaskInfo) => void) | null = null;
  #hooks: Registry["hooks"] = { pre: [], post: [], startup: [], shutdown: [] };
  readonly #producer: Producer;

  constructor(options: HueyOptions) {
    const resolved = resolveHueyOptions(options);
    const s = options.storage;
    const name = resolved.name;
    super(resolved.immediate || !s ? () => new MemoryStorage(name) : typeof s === "function" ? s : () => s);
    this.options = resolved;
    this.signals = new Signals();
    this.#producer = new Producer(this, (def) => this.#registered(def), () => this.#forward);
    const self = this;
    const chordHost = {
      get storage() {
        return self.storage;
      },
      maxPayloadSize: this.options.maxPayloadSize,
      options: (n: string) => this.#tasks.get(n)?.options,
      onEnqueued: (m: Message) => {
        if (this.#forward) this.#forward("enqueued", taskInfo(m));
        else if (this.signals.has("enqueued")) void this.signals.emit("enqueued", taskInfo(m));
      },
    };
    setInternals(this, {
      registry: {
        lookup: (n) => this.#tasks.get(n),
        get periodic() {
          return self.#periodic;
        },
        hooks: this.#hooks,
        forwardSignals: (fn) => void (this.#forward = fn),
      },
      completeChord: (c) => completeChord(chordHost, c),
      pendingChords: (limit) => pendingChords(this.storage, limit),
      requeueCopy: (payload, eta) => this.#producer.requeueCopy(payload, eta),
      itemFor: (def, args, where) => {
        const reg = this.#registered(def);
        if (reg.options.unique || reg.options.dedup) throw new ConfigurationError(`task "${reg.name}" is unique: enqueue it with a plain call, not ${where}`);
        return toQueueItem(buildMessage(reg.name, reg.options, args as unknown[], {}, Date.now()), this.options.maxPayloadSize);
      },
    });
  }

  /** True for a Huey made by any copy of this library (threads and bundles each have their own). */
  static isHuey(x: unknown): x is Huey {
    return !!x && typeof x === "object" && (x as Record<symbol, unknown>)[BRAND] === true;
  }

  get name(): string {
    return this.options.name;
  }

  protected retriesOf(name: string): number {
    return this.#tasks.get(name)?.options.retries ?? 0;
  }

  // ------------------------------------------------------------------ tasks

  /**
   * Register a task. The name is stored with each call and must be the same in every process
   * that enqueues or runs it; calling the returned function enqueues.
   */
  task<A extends unknown[], R, const O extends TaskOptions & { context: true } = TaskOptions & { context: true }>(
    name: string,
    options: KnownOptions<O, TaskOptions>,
    fn: (ctx: TaskContext, ...args: A) => R,
  ): TaskDef<A, R>;
  task<A extends unknown[], R>(name: string, fn: (...args: A) => R): TaskDef<A, R>;
  task<A extends unknown[], R, const O extends TaskOptions = TaskOptions>(name: string, options: KnownOptions<O, TaskOptions>, fn: (...args: A) => R): TaskDef<A, R>;
  task<A extends unknown[], R>(
    name: string,
    optionsOrFn: TaskOptions | ((...args: A) => R),
    maybeFn?: (...args: any[]) => R,
  ): TaskDef<A, R> {
    const fn = typeof optionsOrFn === "function" ? optionsOrFn : maybeFn;
    const options = typeof optionsOrFn === "function" ? {} : (optionsOrFn ?? {});
    if (typeof name !== "string" || name.trim() === "") {
      throw new ConfigurationError(`huey.task() needs a non-empty name as its first argument, got ${JSON.stringify(name)}`);
    }
    if (typeof fn !== "function") {
      throw new ConfigurationError(`task "${name}": the last argument of huey.task() must be the task function`);
    }
    if (this.#tasks.has(name)) throw new DuplicateTaskError(name, this.name);
    const resolved = resolveTaskOptions(name, options, this.options);
    const huey = this;
    const def = function (...args: A) {
      return huey.#producer.one(name, resolved, args, {});
    } as TaskDef<A, R>;
    const revokeKey = KEYS.revokedTask + name;
    Object.defineProperties(def, {
      taskName: { value: name, enumerable: true },
      options: { value: resolved, enumerable: true, configurable: true },
      huey: { value: this },
      callLocal: { value: (...args: A) => (resolved.context ? (fn as (...a: unknown[]) => R)(localContext(name), ...args) : fn(...args)) },
      schedule: { value: (args: A, s: ScheduleOptions) => huey.#producer.one(name, resolved, args, s ?? {}) },
      map: {
        value: async (argsList: Iterable<A>, bulk?: BulkOptions) => {
          const shared = bulkOptions(name, bulk);
          return huey.enqueueMany([...argsList].map((args) => [def, args, shared] as const));
        },
      },
      s: { value: (...args: A) => Signature.of(def, args) },
      revoke: { value: (o?: { until?: Date | number; once?: boolean }) => huey.revokeKey(revokeKey, o) },
      restore: { value: () => huey.storage.deleteData(revokeKey) },
      isRevoked: { value: () => huey.isRevokedKey(revokeKey) },
    });
    this.#tasks.set(name, {
      name, fn, options: resolved, def,
      storeResult: resolved.results, storeNone: resolved.storeNone, resultTtl: resolved.resultTtl, context: resolved.context,
    });
    return def;
  }

  /**
   * Make `task` run one at a time under the lock `key`, across all consumers (the `lock` option,
   * for a task already registered). Returns the task.
   */
  lockTask<T extends AnyTaskDef>(key: string, task: T, options: { retry?: Duration | undefined } = {}): T {
    const reg = this.#registered(task);
    checkLockKey(key, `lockTask("${reg.name}")`);
    reg.options = Object.freeze({
      ...reg.options,
      lock: key,
      lockKey: null,
      lockRetry: options.retry === undefined ? null : toMs(options.retry, `lockTask("${reg.name}") retry`),
    });
    Object.defineProperty(task, "options", { value: reg.options, enumerable: true, configurable: true });
    return task;
  }


  /**
   * Register a task that runs on a schedule: `crontab({ minute: "0", hour: "3" })`, a cron string
   * (5 fields, or 6 with seconds first), or `{ cron, timezone }`. Ticks fall on the wall clock;
   * each is claimed in storage, so with several consumers it runs once. A consumer that was down
   * fires only the latest missed tick, or up to 100 with `catchUp: true`. Its return value is not
   * stored unless its options say `results: true`.
   */
  periodicTask<R>(name: string, schedule: ScheduleSpec, fn: () => R): TaskDef<[], R>;
  periodicTask<R, const O extends PeriodicTaskOptions & { context: true } = PeriodicTaskOptions & { context: true }>(
    name: string,
    schedule: ScheduleSpec,
    options: KnownOptions<O, PeriodicTaskOptions>,
    fn: (ctx: TaskContext) => R,
  ): TaskDef<[], R>;
  periodicTask<R, const O extends PeriodicTaskOptions = PeriodicTaskOptions>(name: string, schedule: ScheduleSpec, options: KnownOptions<O, PeriodicTaskOptions>, fn: () => R): TaskDef<[], R>;
  periodicTask<R>(name: string, schedule: ScheduleSpec, optionsOrFn: PeriodicTaskOptions | ((...a: any[]) => R), maybeFn?: (...a: any[]) => R): TaskDef<[], R> {
    const fn = typeof optionsOrFn === "function" ? optionsOrFn : maybeFn;
    const { catchUp, ...options } = typeof optionsOrFn === "function" ? {} : (optionsOrFn ?? {});
    const parsed = parseSchedule(schedule, name);
    // As in Huey, a periodic task's return value has no reader: it is stored only when asked (`results: true`).
    const def = this.task<[], R, TaskOptions>(name, { ...options, results: options.results ?? false }, fn as () => R);
    this.#periodic.push({ name, schedule: parsed, catchUp: catchUp ?? false });
    return def;
  }


  /** Periodic tasks with their schedule and next run (epoch ms, or null for never). */
  periodicTasks(now = Date.now()): { name: string; schedule: string; nextRun: number | null }[] {
    return this.#periodic.map((d) => ({ name: d.name, schedule: d.schedule.describe(), nextRun: d.schedule.nextAfter(now) }));
  }

  /** Registered task names. */
  taskNames(): string[] {
    return [...this.#tasks.keys()];
  }

  /** Registered tasks with their options. */
  tasks(): { name: string; options: ResolvedTaskOptions }[] {
    return [...this.#tasks.values()].map((t) => ({ name: t.name, options: t.options }));
  }

  /** The named queues the registered tasks use (their `queue` option), sorted. */
  queues(): string[] {
    return [...new Set([...this.#tasks.values()].map((t) => t.options.queue))].sort();
  }

  /**
   * Stop every consumer (of every process) from taking tasks of `queue`: at once, as each lease checks
   * the pause in storage. Queued and scheduled tasks stay; running ones finish. `for` ends the pause by
   * itself after that long. In immediate mode, calls of a paused queue wait in storage until resume().
   */
  async pause(queue: string, options: { for?: Duration; now?: number } = {}): Promise<{ queue: string; until: number | null }> {
    this.#knownQueue(queue, "pause");
    const now = options.now ?? Date.now();
    let until: number | null = null;
    if (options.for !== undefined) {
      const ms = toMs(options.for, "pause(queue, { for })");
      if (ms <= 0) throw new ConfigurationError(`pause(queue, { for }): the duration must be longer than 0, got ${JSON.stringify(options.for)}`);
      until = now + ms;
    }
    await this.storage.pauseLane(queue, until);
    return { queue, until };
  }

  /** End a pause; consumers take the queue's tasks again at once. True when it was paused. */
  async resume(queue: string): Promise<boolean> {
    this.#knownQueue(queue, "resume");
    const had = await this.storage.resumeLane(queue);
    if (this.options.immediate) await this.#producer.drain();
    return had;
  }

  /** The queues paused now, with when each pause ends (null: until resumed). */
  paused(now = Date.now()): Promise<{ queue: string; until: number | null }[]> {
    return this.storage.listPaused(now).then((ps) => ps.map((p) => ({ queue: p.lane, until: p.until })));
  }

  #knownQueue(queue: string, what: string): void {
    const known = this.queues();
    if (!known.includes(queue)) {
      throw new ConfigurationError(`${what}: no task uses the queue ${JSON.stringify(queue)}; known queues: ${known.join(", ") || "(none)"}`);
    }
  }


  /**
   * Enqueue many calls in one transaction: `huey.enqueueMany(rows.map(r => [sendEmail, [r.to, r.subject]]))`.
   * A call may carry its own settings as a third element, as `schedule()` takes them:
   * `[remind, [user], { delay: "1h", priority: 5 }]`. Ready and delayed calls are stored together.
   */
  enqueueMany<R = unknown>(
    calls: Iterable<readonly [AnyTaskDef, readonly unknown[]] | readonly [AnyTaskDef, readonly unknown[], ScheduleOptions | undefined]>,
  ): Promise<ResultGroup<R>> {
    return this.#producer.many<R>(calls);
  }

  /**
   * Enqueue a pipeline: `huey.enqueue(fetch.s(123).then(transform, 5).then(store))`. Returns the
   * Results of every stage, in order. Each stage gets the previous stage's result as its first
   * argument, then its own extra arguments. A stage that fails for good (after its retries) runs
   * its `.error()` task with the error and stops the pipeline: later stages get a failure result.
   */
  async enqueue<R, S extends unknown[]>(sig: Signature<R, S>): Promise<ResultGroup<S[number], S>> {
    const [planned] = await this.#producer.signatures([sig], null);
    return new ResultGroup(planned!.ids.map((id) => new Result(id, this)));
  }

  /**
   * Run signatures in parallel, in one transaction; returns each one's (last stage's) Result:
   * `group([a.s(1), b.s("x")])` gives a ResultGroup whose values are `[A, B]`.
   */
  async group<const Sigs extends readonly AnySignature[]>(sigs: Sigs): Promise<ResultGroup<ResultsOf<Sigs>[number], ResultsOf<Sigs>>> {
    const out = await this.#producer.signatures(sigs, null);
    return new ResultGroup(out.map((o) => new Result(o.ids.at(-1)!, this)));
  }

  /**
   * Run signatures in parallel, then `callback(results, ...extraArgs)` once all succeeded (results
   * in the order given, a tuple the callback's first parameter must accept). Returns the
   * callback's Result; a failed member fails it.
   */
  async chord<const Sigs extends readonly AnySignature[], P extends unknown[], R>(
    sigs: Sigs,
    callback: TaskTaking<ResultsOf<Sigs>, P, R>,
    ...extraArgs: ParamsAfterFirst<P>
  ): Promise<Result<Awaited<R>>> {
    if (sigs.length === 0) throw new ConfigurationError("huey.chord() needs at least one signature");
    const reg = this.#registered(callback as AnyTaskDef);
    const cb = callbackSpec(reg.def, extraArgs);
    await this.#producer.signatures(sigs, (ids) => ({ id: newTaskId(), members: ids, callback: cb }));
    return new Result(cb.id, this);
  }

  /** A handle on the result of the task with this id. */
  result<T = unknown>(id: string): Result<T> {
    return new Result<T>(id, this);
  }

  // ------------------------------------------------------------------ signals and hooks

  /** Connect a handler to signals (all of them when `names` is empty). Returns an unregister function. */
  signal(names: SignalName | readonly SignalName[], handler: SignalHandler): () => void {
    return this.signals.connect(typeof names === "string" ? [names] : names, handler);
  }

  /** Run `fn(task)` in the Worker before each task; throw CancelExecution to skip the task. */
  preExecute(fn: (task: TaskInfo) => unknown): () => void {
    return addHook(this.#hooks.pre, fn);
  }

  /** Run `fn(task, value, error)` in the Worker after each task. */
  postExecute(fn: (task: TaskInfo, value: unknown, error: Error | undefined) => unknown): () => void {
    return addHook(this.#hooks.post, fn);
  }

  /** Run `fn()` in each Worker once it has loaded the tasks file, before it takes tasks. */
  onStartup(fn: () => unknown): () => void {
    return addHook(this.#hooks.startup, fn);
  }

  /** Run `fn()` in each Worker as the consumer stops it. */
  onShutdown(fn: () => unknown): () => void {
    return addHook(this.#hooks.shutdown, fn);
  }


  // ------------------------------------------------------------------ internals

  #registered(def: AnyTaskDef): Registered {
    const reg = def && this.#tasks.get(def.taskName);
    if (!reg || reg.def !== def) {
      if (def?.taskName && def.huey && def.huey !== this) {
        throw new ConfigurationError(`task "${def.taskName}" belongs to huey "${def.huey.name}", not "${this.name}"`);
      }
      throw new UnknownTaskError(String(def?.taskName ?? def), this.taskNames());
    }
    return reg;
  }
}

/** The context of a task run in place by callLocal(): not queued, never aborted. */
function localContext(name: string): TaskContext {
  return { id: newTaskId(), name, retries: 0, attempt: 1, signal: new AbortController().signal, progress: () => {}, log: consoleLog, lockFence: null };
}

function addHook<F>(list: F[], fn: F): () => void {
  if (typeof fn !== "function") throw new ConfigurationError("a hook must be a function");
  list.push(fn);
  return () => {
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
  };
}

/** A Huey on in-process memory: tests, or a consumer started in the same process. */
export class MemoryHuey extends Huey {
  constructor(options: Omit<HueyOptions, "storage">) {
    super({ ...options });
  }
}

export { resolveTaskOptions } from "./task-options";
export type { Registered } from "./_internals";

import { ConfigurationError, DuplicateTaskError, UnknownTaskError } from "./errors";
import { execute, planOutcome, type RunnableTask } from "./executor";
import { newTaskId, readMessage, taskInfo, toQueueItem, type Message } from "./message";
import { Result } from "./result";
import { Signals, type SignalHandler, type SignalName, type TaskInfo } from "./signals";
import { MemoryStorage } from "./storage/memory";
import { SqliteStorage, type SqliteStorageOptions } from "./storage/sqlite";
import type { QueueItem, ScheduledItem, Storage } from "./storage/types";
import type { AnyTaskDef, ResolvedTaskOptions, ScheduleOptions, TaskDef, TaskOptions } from "./task";
import { toEpochMs, toMs } from "./_time";

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
  /** Store return values for `Result.get()`; a task's own `results` option wins. @default true */
  results?: boolean;
  /** Largest stored payload (arguments, or a result) in bytes. @default 1 MiB */
  maxPayloadSize?: number;
}

export interface ResolvedHueyOptions {
  readonly name: string;
  readonly immediate: boolean;
  readonly results: boolean;
  readonly maxPayloadSize: number;
}

interface Registered extends RunnableTask {
  name: string;
  options: ResolvedTaskOptions;
  def: AnyTaskDef;
}

const BRAND = Symbol.for("bun-huey.Huey");

export function resolveHueyOptions(o: HueyOptions): ResolvedHueyOptions {
  if (!o || typeof o.name !== "string" || o.name.trim() === "") {
    throw new ConfigurationError(`Huey needs a non-empty "name" option, got ${JSON.stringify(o?.name)}`);
  }
  const maxPayloadSize = o.maxPayloadSize ?? 1024 * 1024;
  if (!Number.isInteger(maxPayloadSize) || maxPayloadSize < 64) {
    throw new ConfigurationError(`maxPayloadSize must be a whole number of bytes, 64 or more; got ${String(o.maxPayloadSize)}`);
  }
  return Object.freeze({ name: o.name, immediate: o.immediate ?? false, results: o.results ?? true, maxPayloadSize });
}

export function resolveTaskOptions(name: string, o: TaskOptions, huey: ResolvedHueyOptions): ResolvedTaskOptions {
  const priority = o.priority ?? 0;
  if (!Number.isSafeInteger(priority)) {
    throw new ConfigurationError(`task "${name}": priority must be a whole number, got ${String(o.priority)}`);
  }
  const retries = o.retries ?? 0;
  if (!Number.isSafeInteger(retries) || retries < 0) {
    throw new ConfigurationError(`task "${name}": retries must be a whole number of 0 or more, got ${String(o.retries)}`);
  }
  return Object.freeze({
    priority,
    retries,
    retryDelay: toMs(o.retryDelay ?? 0, `task "${name}": retryDelay`),
    results: o.results ?? huey.results,
  });
}

/** The task queue: register tasks, enqueue them, read results. */
export class Huey {
  readonly options: ResolvedHueyOptions;
  readonly signals: Signals;
  readonly [BRAND] = true;
  #storage: Storage | null = null;
  #storageFactory: () => Storage;
  #tasks = new Map<string, Registered>();
  #forward: ((signal: SignalName, task: TaskInfo) => void) | null = null;

  constructor(options: HueyOptions) {
    this.options = resolveHueyOptions(options);
    this.signals = new Signals();
    const s = options.storage;
    const name = this.options.name;
    if (this.options.immediate) this.#storageFactory = () => new MemoryStorage(name);
    else if (typeof s === "function") this.#storageFactory = s;
    else if (s) this.#storageFactory = () => s;
    else this.#storageFactory = () => new MemoryStorage(name);
  }

  /** True for a Huey made by any copy of this library (threads and bundles each have their own). */
  static isHuey(x: unknown): x is Huey {
    return !!x && typeof x === "object" && (x as Record<symbol, unknown>)[BRAND] === true;
  }

  get name(): string {
    return this.options.name;
  }

  /** The storage, opened on first use. */
  get storage(): Storage {
    return (this.#storage ??= this.#storageFactory());
  }

  /**
   * Register a task. The name is stored with each call and must be the same in every process
   * that enqueues or runs it; calling the returned function enqueues.
   */
  task<A extends unknown[], R>(name: string, fn: (...args: A) => R): TaskDef<A, R>;
  task<A extends unknown[], R>(name: string, options: TaskOptions, fn: (...args: A) => R): TaskDef<A, R>;
  task<A extends unknown[], R>(
    name: string,
    optionsOrFn: TaskOptions | ((...args: A) => R),
    maybeFn?: (...args: A) => R,
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
      return huey.#enqueueOne(name, resolved, args, undefined);
    } as TaskDef<A, R>;
    Object.defineProperties(def, {
      taskName: { value: name, enumerable: true },
      options: { value: resolved, enumerable: true },
      huey: { value: this },
      callLocal: { value: (...args: A) => fn(...args) },
      schedule: {
        value: (args: A, s: ScheduleOptions) => huey.#enqueueOne(name, resolved, args, huey.#etaOf(name, s)),
      },
      map: {
        value: async (argsList: Iterable<A>) => huey.enqueueMany([...argsList].map((args) => [def, args] as const)),
      },
    });
    this.#tasks.set(name, { name, fn, options: resolved, def, storeResult: resolved.results });
    return def;
  }

  /** Connect a handler to signals (all of them when `names` is empty). Returns an unregister function. */
  signal(names: SignalName | readonly SignalName[], handler: SignalHandler): () => void {
    return this.signals.connect(typeof names === "string" ? [names] : names, handler);
  }

  /** A handle on the result of the task with this id. */
  result<T = unknown>(id: string): Result<T> {
    return new Result<T>(id, () => this.storage);
  }

  /** Enqueue many calls in one transaction: `huey.enqueueMany(rows.map(r => [sendEmail, [r.to, r.subject]]))`. */
  async enqueueMany<R = unknown>(calls: Iterable<readonly [AnyTaskDef, readonly unknown[]]>): Promise<Result<R>[]> {
    const messages: Message[] = [];
    for (const [def, args] of calls) {
      const reg = this.#registered(def);
      messages.push(this.#message(reg.name, reg.options, args as unknown[]));
    }
    const items = messages.map((m) => toQueueItem(m, this.options.maxPayloadSize));
    if (this.options.immediate) {
      for (const item of items) await this.#runImmediately(item);
    } else {
      await this.storage.enqueue(items);
      if (this.#wants("enqueued")) for (const m of messages) this.#emit("enqueued", taskInfo(m));
    }
    return messages.map((m) => this.result<R>(m.id));
  }

  /** Registered task names. */
  taskNames(): string[] {
    return [...this.#tasks.keys()];
  }

  /** @internal The function and options of a registered task (consumer and workers). */
  lookup(name: string): Registered | undefined {
    return this.#tasks.get(name);
  }

  /** @internal Workers forward signals to the consumer's main thread instead of emitting them. */
  forwardSignals(fn: ((signal: SignalName, task: TaskInfo) => void) | null): void {
    this.#forward = fn;
  }

  /** Ready tasks waiting to run (not counting running ones). */
  pendingCount(): Promise<number> {
    return this.storage.pendingCount();
  }

  scheduledCount(): Promise<number> {
    return this.storage.scheduledCount();
  }

  resultCount(): Promise<number> {
    return this.storage.resultCount();
  }

  /** Close the storage; the next use opens it again. */
  async close(): Promise<void> {
    const s = this.#storage;
    this.#storage = null;
    await s?.close();
  }

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

  #message(name: string, o: ResolvedTaskOptions, args: unknown[]): Message {
    return { v: 1, id: newTaskId(), name, args, priority: o.priority, retries: o.retries, retryDelay: o.retryDelay, attempt: 1 };
  }

  #etaOf(name: string, s: ScheduleOptions): number {
    if (!s || (s.delay === undefined && s.eta === undefined)) {
      throw new ConfigurationError(`${name}.schedule(args, options): options needs "delay" or "eta"`);
    }
    if (s.delay !== undefined && s.eta !== undefined) {
      throw new ConfigurationError(`${name}.schedule(args, options): give "delay" or "eta", not both`);
    }
    return s.eta !== undefined ? toEpochMs(s.eta, `${name}.schedule() eta`) : Date.now() + toMs(s.delay!, `${name}.schedule() delay`);
  }

  async #enqueueOne(name: string, o: ResolvedTaskOptions, args: unknown[], eta: number | undefined): Promise<Result<any>> {
    const m = this.#message(name, o, args);
    const item = toQueueItem(m, this.options.maxPayloadSize);
    if (eta !== undefined) {
      const scheduled: ScheduledItem = { ...item, eta };
      await this.storage.schedule([scheduled]);
      if (this.#wants("scheduled")) this.#emit("scheduled", taskInfo(m));
    } else if (this.options.immediate) {
      await this.#runImmediately(item);
    } else {
      await this.storage.enqueue([item]);
      if (this.#wants("enqueued")) this.#emit("enqueued", taskInfo(m));
    }
    return this.result(m.id);
  }

  /** Immediate mode: run now, in this thread, retrying at once while retries last. */
  async #runImmediately(item: QueueItem): Promise<void> {
    const storage = this.storage;
    await storage.enqueue([item]);
    await this.signals.emit("enqueued", taskInfo(readMessage(item.payload)));
    for (;;) {
      const [lease] = await storage.lease(1, Number.MAX_SAFE_INTEGER);
      if (!lease) return;
      const info = taskInfo(readMessage(lease.payload));
      await this.signals.emit("executing", info);
      const outcome = await execute(lease.payload, (n) => this.#tasks.get(n), this.options.maxPayloadSize);
      const plan = planOutcome(lease, outcome, Date.now(), { storeErrors: true });
      // Retries run now: move any scheduled retry into the ready queue.
      if (plan.batch.schedule?.length) {
        plan.batch.enqueue = plan.batch.schedule.map(({ eta: _eta, ...it }) => it);
        plan.batch.schedule = [];
      }
      await storage.commit(plan.batch);
      const err = outcome.kind === "ok" ? undefined : Object.assign(new Error(outcome.error.message), outcome.error);
      await this.signals.emit(plan.signal, info, err);
    }
  }

  #wants(signal: SignalName): boolean {
    return this.#forward !== null || this.signals.has(signal);
  }

  #emit(signal: SignalName, info: TaskInfo): void {
    if (this.#forward) this.#forward(signal, info);
    else void this.signals.emit(signal, info);
  }
}

export interface SqliteHueyOptions extends Omit<HueyOptions, "storage">, Partial<Omit<SqliteStorageOptions, "queue">> {}

/** A Huey on one SQLite file: `new SqliteHuey({ name: "app", filename: "app.db" })`. */
export class SqliteHuey extends Huey {
  readonly filename: string;
  constructor(options: SqliteHueyOptions) {
    const filename = options.filename ?? `${options.name}.db`;
    if (typeof filename !== "string" || filename === "") {
      throw new ConfigurationError(`SqliteHuey "filename" must be a path, got ${JSON.stringify(options.filename)}`);
    }
    if (options.synchronous !== undefined && options.synchronous !== "NORMAL" && options.synchronous !== "FULL") {
      throw new ConfigurationError(`SqliteHuey "synchronous" must be "NORMAL" or "FULL", got ${JSON.stringify(options.synchronous)}`);
    }
    super({
      ...options,
      storage: () =>
        new SqliteStorage({
          filename,
          queue: options.name,
          synchronous: options.synchronous,
          busyTimeout: options.busyTimeout,
          readonly: options.readonly,
        }),
    });
    this.filename = filename;
  }
}

/** A Huey on in-process memory: tests, or a consumer started in the same process. */
export class MemoryHuey extends Huey {
  constructor(options: Omit<HueyOptions, "storage">) {
    super({ ...options });
  }
}

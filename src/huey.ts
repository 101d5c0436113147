import { ConfigurationError, DuplicateTaskError, TaskLockedError, UnknownTaskError } from "./errors";
import { execute, planOutcome, planSkip, type Hooks, type RunnableTask } from "./executor";
import { itemInfo, KEYS, newTaskId, readMessage, taskInfo, toQueueItem, type DeadLetter, type Message } from "./message";
import { parseSchedule, type ScheduleSpec } from "./cron";
import type { PeriodicDef } from "./periodic";
import { callbackSpec, Signature, specsOf, stageMessage, type ChordSpec } from "./pipeline";
import { Result, ResultGroup, type ResultOwner } from "./result";
import { decode, encode } from "./serializer";
import { Signals, type SignalHandler, type SignalName, type TaskInfo } from "./signals";
import { MemoryStorage } from "./storage/memory";
import { PostgresStorage, type PostgresStorageOptions } from "./storage/postgres";
import { RedisStorage, type RedisStorageOptions } from "./storage/redis";
import { SqliteStorage, type SqliteStorageOptions } from "./storage/sqlite";
import type { QueueItem, ScheduledItem, Storage } from "./storage/types";
import type {
  AnyTaskDef, ResolvedTaskOptions, ScheduleOptions, TaskContext, TaskDef, TaskOptions,
} from "./task";
import { toEpochMs, toMs, type Duration } from "./_time";

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
  readonly maxPayloadSize: number;
  /** ms, or null to keep no dead letters. */
  readonly failedRetention: number | null;
}

/** A registered task, as the consumer and Workers see it. */
export interface Registered extends RunnableTask {
  name: string;
  options: ResolvedTaskOptions;
  def: AnyTaskDef;
}

export interface PendingTask extends TaskInfo {
  /** Taken by a consumer (running or about to). */
  leased: boolean;
}

export interface ScheduledTask extends TaskInfo {
  eta: number;
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
  const retention = o.failedRetention ?? "7d";
  return Object.freeze({
    name: o.name,
    immediate: o.immediate ?? false,
    results: o.results ?? true,
    maxPayloadSize,
    failedRetention: retention === false ? null : toMs(retention, "failedRetention"),
  });
}

function whole(task: string, option: string, v: unknown, min: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    throw new ConfigurationError(`task "${task}": ${option} must be a whole number${min > -Infinity ? ` of ${min} or more` : ""}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function optionalMs(task: string, option: string, v: Duration | undefined): number | null {
  return v === undefined ? null : toMs(v, `task "${task}": ${option}`);
}

export function resolveTaskOptions(name: string, o: TaskOptions, huey: ResolvedHueyOptions): ResolvedTaskOptions {
  const backoff = o.retryBackoff ?? 1;
  if (typeof backoff !== "number" || !Number.isFinite(backoff) || backoff < 1) {
    throw new ConfigurationError(`task "${name}": retryBackoff must be a number of 1 or more (a factor), got ${JSON.stringify(o.retryBackoff)}`);
  }
  const jitter = o.retryJitter ?? 0;
  if (typeof jitter !== "number" || !(jitter >= 0 && jitter <= 1)) {
    throw new ConfigurationError(`task "${name}": retryJitter must be a fraction from 0 to 1, got ${JSON.stringify(o.retryJitter)}`);
  }
  if (o.unique !== undefined && typeof o.unique !== "boolean" && typeof o.unique !== "function") {
    throw new ConfigurationError(`task "${name}": unique must be true, false or a function of the arguments returning a key`);
  }
  let rateLimit: ResolvedTaskOptions["rateLimit"] = null;
  if (o.rateLimit !== undefined) {
    const r = o.rateLimit;
    if (!r || typeof r !== "object") throw new ConfigurationError(`task "${name}": rateLimit must be { limit, per }`);
    const limit = whole(name, "rateLimit.limit", r.limit, 1);
    const per = toMs(r.per, `task "${name}": rateLimit.per`);
    if (per <= 0) throw new ConfigurationError(`task "${name}": rateLimit.per must be longer than 0, got ${JSON.stringify(r.per)}`);
    if (r.key !== undefined && typeof r.key !== "function") {
      throw new ConfigurationError(`task "${name}": rateLimit.key must be a function of the arguments`);
    }
    rateLimit = Object.freeze({ limit, per, key: r.key ?? null });
  }
  if (o.lock !== undefined) checkLockKey(o.lock, `task "${name}": lock`);
  if (o.lockRetry !== undefined && o.lock === undefined) {
    throw new ConfigurationError(`task "${name}": lockRetry needs a lock option`);
  }
  const timeout = optionalMs(name, "timeout", o.timeout);
  if (timeout === 0) throw new ConfigurationError(`task "${name}": timeout must be longer than 0`);
  return Object.freeze({
    priority: whole(name, "priority", o.priority ?? 0, -Infinity),
    retries: whole(name, "retries", o.retries ?? 0, 0),
    retryDelay: toMs(o.retryDelay ?? 0, `task "${name}": retryDelay`),
    retryBackoff: backoff,
    retryJitter: jitter,
    retryMaxDelay: optionalMs(name, "retryMaxDelay", o.retryMaxDelay),
    results: o.results ?? huey.results,
    storeNone: o.storeNone ?? true,
    resultTtl: optionalMs(name, "resultTtl", o.resultTtl),
    expires: optionalMs(name, "expires", o.expires),
    timeout,
    context: o.context ?? false,
    unique: o.unique === true ? (...args: unknown[]) => encode(args, `task "${name}" unique key`) : (o.unique || false),
    rateLimit,
    lock: o.lock ?? null,
    lockRetry: optionalMs(name, "lockRetry", o.lockRetry),
  });
}

function checkLockKey(key: unknown, where: string): asserts key is string {
  if (typeof key !== "string" || key.trim() === "") {
    throw new ConfigurationError(`${where}: a lock key must be a non-empty string, got ${JSON.stringify(key)}`);
  }
}

/** The task queue: register tasks, enqueue them, read results, inspect and control the queue. */
export class Huey implements ResultOwner {
  readonly options: ResolvedHueyOptions;
  readonly signals: Signals;
  readonly [BRAND] = true;
  #storage: Storage | null = null;
  #storageFactory: () => Storage;
  #tasks = new Map<string, Registered>();
  #periodic: PeriodicDef[] = [];
  #forward: ((signal: SignalName, task: TaskInfo) => void) | null = null;
  /** @internal Hooks run by Workers around each task, and on Worker start and stop. */
  readonly hooks: Hooks & { startup: (() => unknown)[]; shutdown: (() => unknown)[] } = {
    pre: [],
    post: [],
    startup: [],
    shutdown: [],
  };

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

  // ------------------------------------------------------------------ tasks

  /**
   * Register a task. The name is stored with each call and must be the same in every process
   * that enqueues or runs it; calling the returned function enqueues.
   */
  task<A extends unknown[], R>(name: string, options: TaskOptions & { context: true }, fn: (ctx: TaskContext, ...args: A) => R): TaskDef<A, R>;
  task<A extends unknown[], R>(name: string, fn: (...args: A) => R): TaskDef<A, R>;
  task<A extends unknown[], R>(name: string, options: TaskOptions, fn: (...args: A) => R): TaskDef<A, R>;
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
      return huey.#enqueueOne(name, resolved, args, {});
    } as TaskDef<A, R>;
    const revokeKey = KEYS.revokedTask + name;
    Object.defineProperties(def, {
      taskName: { value: name, enumerable: true },
      options: { value: resolved, enumerable: true, configurable: true },
      huey: { value: this },
      callLocal: { value: (...args: A) => (resolved.context ? (fn as (...a: unknown[]) => R)(localContext(name), ...args) : fn(...args)) },
      schedule: { value: (args: A, s: ScheduleOptions) => huey.#enqueueOne(name, resolved, args, s ?? {}) },
      map: { value: (argsList: Iterable<A>) => huey.enqueueMany([...argsList].map((args) => [def, args] as const)) },
      s: { value: (...args: A) => Signature.of(def, args) },
      revoke: { value: (o?: { until?: Date | number; once?: boolean }) => huey.#revoke(revokeKey, o) },
      restore: { value: () => huey.storage.deleteData(revokeKey) },
      isRevoked: { value: () => huey.#isRevoked(revokeKey) },
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
  lockTask<T extends AnyTaskDef>(key: string, task: T, options: { retry?: Duration } = {}): T {
    const reg = this.#registered(task);
    checkLockKey(key, `lockTask("${reg.name}")`);
    reg.options = Object.freeze({
      ...reg.options,
      lock: key,
      lockRetry: options.retry === undefined ? null : toMs(options.retry, `lockTask("${reg.name}") retry`),
    });
    Object.defineProperty(task, "options", { value: reg.options, enumerable: true, configurable: true });
    return task;
  }

  /**
   * Run `fn` holding the lock `key` (for code inside a task). Throws TaskLockedError when someone
   * else holds it. The lock is a lease renewed while `fn` runs, so a process that dies frees it.
   */
  async withLock<T>(key: string, fn: () => T | Promise<T>, options: { lease?: Duration } = {}): Promise<T> {
    checkLockKey(key, "withLock()");
    const lease = toMs(options.lease ?? "30s", "withLock() lease");
    const owner = crypto.randomUUID();
    const storage = this.storage;
    if (!(await storage.acquireLock(key, owner, Date.now() + lease, Date.now()))) throw new TaskLockedError(key);
    const renew = setInterval(() => void storage.renewLocks([key], owner, Date.now() + lease).catch(() => {}), Math.max(100, lease / 3));
    (renew as { unref?: () => void }).unref?.();
    try {
      return await fn();
    } finally {
      clearInterval(renew);
      await storage.releaseLock(key, owner);
    }
  }

  /** True while someone holds the lock `key`. */
  async isLocked(key: string): Promise<boolean> {
    return (await this.storage.listLocks(Date.now())).some((l) => l.key === key);
  }

  /** Locks held now, with their owner and lease end. */
  locks(): Promise<{ key: string; owner: string; until: number }[]> {
    return this.storage.listLocks(Date.now());
  }

  /** Free the named locks, or every lock when none is named; returns how many were freed. */
  async flushLocks(...keys: string[]): Promise<number> {
    const names = keys.length ? keys : (await this.storage.listLocks(Number.MIN_SAFE_INTEGER)).map((l) => l.key);
    let n = 0;
    for (const k of names) if (await this.storage.releaseLock(k, null)) n++;
    return n;
  }

  /**
   * Register a task that runs on a schedule: `crontab({ minute: "0", hour: "3" })`, a cron string
   * (5 fields, or 6 with seconds first), or `{ cron, timezone }`. Ticks fall on the wall clock;
   * each is claimed in storage, so with several consumers it runs once. A consumer that was down
   * fires only the latest missed tick, or up to 100 with `catchUp: true`.
   */
  periodicTask<R>(name: string, schedule: ScheduleSpec, fn: () => R): TaskDef<[], R>;
  periodicTask<R>(name: string, schedule: ScheduleSpec, options: TaskOptions & { catchUp?: boolean; context: true }, fn: (ctx: TaskContext) => R): TaskDef<[], R>;
  periodicTask<R>(name: string, schedule: ScheduleSpec, options: TaskOptions & { catchUp?: boolean }, fn: () => R): TaskDef<[], R>;
  periodicTask<R>(name: string, schedule: ScheduleSpec, optionsOrFn: (TaskOptions & { catchUp?: boolean }) | ((...a: any[]) => R), maybeFn?: (...a: any[]) => R): TaskDef<[], R> {
    const fn = typeof optionsOrFn === "function" ? optionsOrFn : maybeFn;
    const { catchUp, ...options } = typeof optionsOrFn === "function" ? {} : (optionsOrFn ?? {});
    const parsed = parseSchedule(schedule, name);
    const def = this.task<[], R>(name, options, fn as () => R);
    this.#periodic.push({ name, schedule: parsed, catchUp: catchUp ?? false });
    return def;
  }

  /** @internal The periodic tasks' schedules (the consumer's scheduler ticks them). */
  periodicDefs(): readonly PeriodicDef[] {
    return this.#periodic;
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

  /** @internal The function and options of a registered task (consumer and workers). */
  lookup(name: string): Registered | undefined {
    return this.#tasks.get(name);
  }

  /** Enqueue many calls in one transaction: `huey.enqueueMany(rows.map(r => [sendEmail, [r.to, r.subject]]))`. */
  async enqueueMany<R = unknown>(calls: Iterable<readonly [AnyTaskDef, readonly unknown[]]>): Promise<ResultGroup<R>> {
    const messages: Message[] = [];
    for (const [def, args] of calls) {
      const reg = this.#registered(def);
      if (reg.options.unique) {
        throw new ConfigurationError(`task "${reg.name}" is unique: enqueue it one call at a time, not with map()/enqueueMany()`);
      }
      messages.push(this.#message(reg.name, reg.options, args as unknown[], {}));
    }
    const items = messages.map((m) => toQueueItem(m, this.options.maxPayloadSize));
    if (this.options.immediate) {
      for (const item of items) await this.#runImmediately(item);
    } else if (items.length > 0) {
      await this.storage.enqueue(items);
      if (this.#wants("enqueued")) for (const m of messages) this.#emit("enqueued", taskInfo(m));
    }
    return new ResultGroup<R>(items.map((it) => new Result<R>(it.id, this, it.payload)));
  }

  // ------------------------------------------------ enqueue in the caller's transaction (PostgreSQL)
  // (bun-huey PostgreSQL backend issue: one self-contained block; storage side is
  // PostgresStorage.enqueueWith.)

  /**
   * Enqueue calls inside your own PostgreSQL transaction, so the tasks exist only if your writes
   * commit: `await sql.begin(async (tx) => { await tx\`INSERT INTO orders ...\`;
   * await huey.enqueueInTransaction(tx, [[sendReceipt, [orderId]]]); })`. `tx` is a Bun.SQL
   * transaction on the same database as this PostgresHuey. Calls with `{ delay }` or `{ eta }`
   * are not accepted here (use a task with no delay, or schedule after the commit); unique tasks
   * are refused, as in enqueueMany. Consumers are woken when the transaction commits. The
   * "enqueued" signal is not emitted: this process cannot know whether the transaction commits.
   */
  async enqueueInTransaction<R = unknown>(
    tx: Parameters<PostgresStorage["enqueueWith"]>[0],
    calls: Iterable<readonly [AnyTaskDef, readonly unknown[]]>,
  ): Promise<ResultGroup<R>> {
    const storage = this.storage as Storage & Partial<Pick<PostgresStorage, "enqueueWith">>;
    if (this.options.immediate || typeof storage.enqueueWith !== "function") {
      throw new ConfigurationError(
        `huey.enqueueInTransaction() needs a PostgresHuey (this huey "${this.name}" uses ${this.options.immediate ? "immediate mode" : `${storage.kind} storage`})`,
      );
    }
    if (!tx || typeof tx !== "function") {
      throw new ConfigurationError("huey.enqueueInTransaction(tx, calls): tx must be the transaction of a Bun.SQL sql.begin() callback");
    }
    const items: QueueItem[] = [];
    for (const [def, args] of calls) {
      const reg = this.#registered(def);
      if (reg.options.unique) {
        throw new ConfigurationError(`task "${reg.name}" is unique: enqueue it with a plain call, not in a transaction`);
      }
      items.push(toQueueItem(this.#message(reg.name, reg.options, args as unknown[], {}), this.options.maxPayloadSize));
    }
    await storage.enqueueWith(tx, items);
    return new ResultGroup<R>(items.map((it) => new Result<R>(it.id, this, it.payload)));
  }

  // ------------------------------------------------ end of: enqueue in the caller's transaction

  /**
   * Enqueue a pipeline: `huey.enqueue(fetch.s(123).then(transform, 5).then(store))`. Returns the
   * Results of every stage, in order. Each stage gets the previous stage's result as its first
   * argument, then its own extra arguments. A stage that fails for good (after its retries) runs
   * its `.error()` task with the error and stops the pipeline: later stages get a failure result.
   */
  async enqueue(sig: Signature): Promise<ResultGroup<unknown>> {
    const [planned] = await this.#enqueueSignatures([sig], null);
    return new ResultGroup(planned!.ids.map((id) => new Result(id, this)));
  }

  /** Run signatures in parallel, in one transaction; returns each one's (last stage's) Result. */
  async group(sigs: Signature[]): Promise<ResultGroup<unknown>> {
    const out = await this.#enqueueSignatures(sigs, null);
    return new ResultGroup(out.map((o) => new Result(o.ids.at(-1)!, this)));
  }

  /**
   * Run signatures in parallel, then `callback(results, ...extraArgs)` once all succeeded (results
   * in the order given). Returns the callback's Result; a failed member fails it.
   */
  async chord(sigs: Signature[], callback: AnyTaskDef, ...extraArgs: unknown[]): Promise<Result<unknown>> {
    if (sigs.length === 0) throw new ConfigurationError("huey.chord() needs at least one signature");
    const reg = this.#registered(callback);
    const cb = callbackSpec(reg.def, extraArgs);
    await this.#enqueueSignatures(sigs, (ids) => ({ id: newTaskId(), members: ids, callback: cb }));
    return new Result(cb.id, this);
  }

  async #enqueueSignatures(sigs: Signature[], chordOf: ((lastIds: string[]) => ChordSpec) | null): Promise<{ ids: string[] }[]> {
    const planned = sigs.map((sig) => {
      if (!(sig instanceof Signature)) throw new ConfigurationError("expected a signature made with task.s(...args)");
      return { sig, spec: specsOf(sig, chordOf !== null) };
    });
    const chord = chordOf?.(planned.map((p) => p.spec.ids.at(-1)!));
    const ready: QueueItem[] = [];
    const later: ScheduledItem[] = [];
    for (const { sig, spec } of planned) {
      const s0 = sig.stages[0]!;
      const reg = this.#registered(s0.task);
      const m = this.#message(reg.name, reg.options, s0.args, { priority: s0.options.priority, id: spec.first.id });
      if (spec.then) m.then = spec.then;
      if (spec.onError) m.onError = spec.onError;
      if (chord) m.chord = chord;
      const item = toQueueItem(m, this.options.maxPayloadSize);
      if (spec.first.eta !== undefined) later.push({ ...item, eta: spec.first.eta });
      else ready.push(item);
    }
    if (this.options.immediate) {
      if (later.length) await this.storage.schedule(later);
      for (const item of ready) await this.#runImmediately(item);
    } else {
      // A chord is recorded as pending with its members, so a consumer that dies after the last
      // member finishes cannot lose the callback: consumers re-check pending chords.
      const putData = chord ? [{ key: KEYS.chordPending + chord.id, value: JSON.stringify(chord) }] : [];
      await this.storage.commit({ enqueue: ready, schedule: later, putData });
      if (this.#wants("enqueued")) for (const it of ready) this.#emit("enqueued", taskInfo(readMessage(it.payload)));
      if (this.#wants("scheduled")) for (const it of later) this.#emit("scheduled", taskInfo(readMessage(it.payload)));
    }
    return planned.map((p) => ({ ids: p.spec.ids }));
  }

  /**
   * @internal After a chord member's result is stored, and from consumers' maintenance for
   * chords still pending: when every member has succeeded, enqueue the callback. Safe to repeat:
   * `enqueueUnique` keeps a second check from enqueuing it again while it is queued or running,
   * and a callback that already ran has its result stored. The pending record goes last, once the
   * callback is enqueued (or can never be: a member failed, and so did the callback).
   */
  async completeChord(c: ChordSpec): Promise<void> {
    const storage = this.storage;
    const now = Date.now();
    const raws = await Promise.all(c.members.map((id) => storage.getResult(id, true, now)));
    if (raws.some((r) => r === null)) return;
    const values: unknown[] = [];
    let failed = false;
    for (const raw of raws) {
      const r = decode<{ ok: boolean; value?: unknown }>(raw!);
      if (!r.ok) failed = true; // the failed member already failed the callback
      values.push(r.value);
    }
    if (!failed && (await storage.getResult(c.callback.id, true, now)) === null) {
      const prev: Message = { v: 1, id: c.id, name: "", args: [], priority: 0, retries: 0, retryDelay: 0, attempt: 1 };
      const m = stageMessage(c.callback, values, prev, this.#tasks.get(c.callback.name)?.options, now);
      m.unique = KEYS.chord + c.id; // removed when the callback finishes
      const holder = await storage.enqueueUnique(toQueueItem(m, this.options.maxPayloadSize), m.unique);
      if (holder === null && this.#wants("enqueued")) this.#emit("enqueued", taskInfo(m));
    }
    await storage.deleteData(KEYS.chordPending + c.id);
  }

  /** @internal Chords whose callback may not be enqueued yet (consumers re-check them). */
  async pendingChords(limit = 100): Promise<ChordSpec[]> {
    const rows = await this.storage.listData(KEYS.chordPending, limit);
    return rows.map((r) => JSON.parse(r.value) as ChordSpec);
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
    return addHook(this.hooks.pre, fn);
  }

  /** Run `fn(task, value, error)` in the Worker after each task. */
  postExecute(fn: (task: TaskInfo, value: unknown, error: Error | undefined) => unknown): () => void {
    return addHook(this.hooks.post, fn);
  }

  /** Run `fn()` in each Worker once it has loaded the tasks file, before it takes tasks. */
  onStartup(fn: () => unknown): () => void {
    return addHook(this.hooks.startup, fn);
  }

  /** Run `fn()` in each Worker as the consumer stops it. */
  onShutdown(fn: () => unknown): () => void {
    return addHook(this.hooks.shutdown, fn);
  }

  /** @internal Workers forward signals to the consumer's main thread instead of emitting them. */
  forwardSignals(fn: ((signal: SignalName, task: TaskInfo) => void) | null): void {
    this.#forward = fn;
  }

  // ------------------------------------------------------------------ revocation

  /**
   * Skip the task with this id when it comes up (signal "revoked"); abort it if running. The
   * task must be queued, scheduled or running: revoking an id that is unknown or already
   * finished is an error, not a silent no-op.
   */
  async revokeById(id: string, options?: { until?: Date | number; once?: boolean }): Promise<void> {
    if (typeof id !== "string" || id === "") throw new ConfigurationError(`revokeById() needs a task id, got ${JSON.stringify(id)}`);
    if (!(await this.storage.hasTask(id))) {
      const finished = (await this.storage.getResult(id, true, Date.now())) !== null;
      throw new ConfigurationError(
        finished
          ? `task ${id} has already finished; there is nothing to revoke`
          : `no task with id ${id} is queued, scheduled or running (check the id; finished tasks cannot be revoked)`,
      );
    }
    return this.#revoke(KEYS.revokedId + id, options);
  }

  restoreById(id: string): Promise<boolean> {
    return this.storage.deleteData(KEYS.revokedId + id);
  }

  isRevokedId(id: string): Promise<boolean> {
    return this.#isRevoked(KEYS.revokedId + id);
  }

  async #revoke(key: string, o: { until?: Date | number; once?: boolean } = {}): Promise<void> {
    const until = o.until === undefined ? null : toEpochMs(o.until, "revoke() until");
    await this.storage.putData(key, JSON.stringify({ until, once: o.once ?? false }));
  }

  async #isRevoked(key: string): Promise<boolean> {
    const raw = await this.storage.getData(key, true);
    if (raw === null) return false;
    const r = JSON.parse(raw) as { until: number | null };
    return r.until === null || r.until > Date.now();
  }

  /** @internal Enqueue a copy of a stored message under a new id, at `eta`. */
  async requeueCopy(payload: string, eta: number): Promise<Result<any>> {
    const m = readMessage(payload);
    const copy: Message = { ...m, id: newTaskId(), unique: undefined };
    const item = toQueueItem(copy, this.options.maxPayloadSize);
    if (eta > Date.now()) await this.storage.schedule([{ ...item, eta }]);
    else await this.storage.enqueue([item]);
    return new Result(copy.id, this, item.payload);
  }

  // ------------------------------------------------------------------ key-value data

  /** Store a JSON value under `key` (shared by every process on this store). */
  async put(key: string, value: unknown): Promise<void> {
    await this.storage.putData(KEYS.user + key, encode(value, `huey.put("${key}")`));
  }

  /** Store only when `key` is absent; true when stored. */
  putIfEmpty(key: string, value: unknown): Promise<boolean> {
    return this.storage.putIfEmpty(KEYS.user + key, encode(value, `huey.putIfEmpty("${key}")`));
  }

  /** Read `key`: removes it unless `peek` (as in Huey). Undefined when absent. */
  async get<T = unknown>(key: string, options: { peek?: boolean } = {}): Promise<T | undefined> {
    const raw = await this.storage.getData(KEYS.user + key, options.peek ?? false);
    return raw === null ? undefined : decode<T>(raw);
  }

  delete(key: string): Promise<boolean> {
    return this.storage.deleteData(KEYS.user + key);
  }

  // ------------------------------------------------------------------ introspection

  /** Tasks waiting to run (and, flagged `leased`, those taken by a consumer), in run order. */
  async pending(options: { limit?: number } = {}): Promise<PendingTask[]> {
    const items = await this.storage.listPending(options.limit ?? 100);
    return items.map((it) => ({ ...itemInfo(it), leased: it.leased }));
  }

  /** Tasks waiting for their eta (delayed tasks and retries), earliest first. */
  async scheduled(options: { limit?: number } = {}): Promise<ScheduledTask[]> {
    const items = await this.storage.listScheduled(options.limit ?? 100);
    return items.map((it) => ({ ...itemInfo(it), eta: it.eta }));
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

  /** Remove every task, schedule entry, result, dead letter, lock and key of this queue. */
  flush(): Promise<void> {
    return this.storage.flush();
  }

  // ------------------------------------------------------------------ dead letters

  /** How many tasks are in the dead-letter store. */
  failedCount(): Promise<number> {
    return this.storage.countData(KEYS.failed);
  }

  /** Tasks that failed for good, oldest first, with their arguments, error and attempts. */
  async failed(options: { limit?: number } = {}): Promise<DeadLetter[]> {
    const rows = await this.storage.listData(KEYS.failed, options.limit ?? 100);
    return rows.map((r) => JSON.parse(r.value) as DeadLetter);
  }

  /** Enqueue a failed task again (same id, its retries restored) and drop its dead letter. */
  async retryFailed(id: string): Promise<Result<unknown>> {
    const raw = await this.storage.getData(KEYS.failed + id, true);
    if (raw === null) throw new ConfigurationError(`no failed task with id ${JSON.stringify(id)} (see huey.failed())`);
    const dl = JSON.parse(raw) as DeadLetter;
    const m = readMessage(dl.payload);
    const reg = this.#tasks.get(m.name);
    const again: Message = { ...m, retries: reg?.options.retries ?? 0, attempt: 1, expires: undefined };
    const item = toQueueItem(again, Number.MAX_SAFE_INTEGER);
    await this.storage.deleteResult(id);
    await this.storage.commit({ enqueue: [item], deleteData: [KEYS.failed + id] });
    return new Result(id, this, item.payload);
  }

  /**
   * Drop one dead letter, or all of them (1000 per transaction, `onProgress` told the running
   * total after each); returns how many were dropped.
   */
  async purgeFailed(id?: string, options: { onProgress?: (purged: number) => void } = {}): Promise<number> {
    if (id !== undefined) return (await this.storage.deleteData(KEYS.failed + id)) ? 1 : 0;
    let n = 0;
    for (;;) {
      const rows = await this.storage.listData(KEYS.failed, 1000);
      if (rows.length === 0) return n;
      await this.storage.commit({ deleteData: rows.map((r) => r.key) });
      n += rows.length;
      options.onProgress?.(n);
    }
  }

  /** Close the storage; the next use opens it again. */
  async close(): Promise<void> {
    const s = this.#storage;
    this.#storage = null;
    await s?.close();
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

  #message(name: string, o: ResolvedTaskOptions, args: unknown[], s: ScheduleOptions): Message {
    const where = `${name}.schedule()`;
    const now = Date.now();
    const m: Message = {
      v: 1,
      id: s.id !== undefined ? checkId(s.id, where) : newTaskId(),
      name,
      args,
      priority: s.priority !== undefined ? whole(name, "priority", s.priority, -Infinity) : o.priority,
      retries: s.retries !== undefined ? whole(name, "retries", s.retries, 0) : o.retries,
      retryDelay: s.retryDelay !== undefined ? toMs(s.retryDelay, `${where} retryDelay`) : o.retryDelay,
      attempt: 1,
    };
    if (o.retryBackoff !== 1) m.backoff = o.retryBackoff;
    if (o.retryJitter) m.jitter = o.retryJitter;
    if (o.retryMaxDelay !== null) m.maxDelay = o.retryMaxDelay;
    if (s.expires !== undefined) {
      m.expires = s.expires instanceof Date ? toEpochMs(s.expires, `${where} expires`) : now + toMs(s.expires, `${where} expires`);
    } else if (o.expires !== null) {
      m.expires = now + o.expires;
    }
    return m;
  }

  #etaOf(name: string, s: ScheduleOptions): number | undefined {
    if (s.delay !== undefined && s.eta !== undefined) {
      throw new ConfigurationError(`${name}.schedule(args, options): give "delay" or "eta", not both`);
    }
    if (s.eta !== undefined) return toEpochMs(s.eta, `${name}.schedule() eta`);
    if (s.delay !== undefined) return Date.now() + toMs(s.delay, `${name}.schedule() delay`);
    return undefined;
  }

  #uniqueKey(name: string, o: ResolvedTaskOptions, args: unknown[]): string | undefined {
    if (!o.unique) return undefined;
    let key: unknown;
    try {
      key = o.unique(...args);
    } catch (err) {
      throw new ConfigurationError(`task "${name}": the unique key function threw: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (typeof key !== "string") {
      throw new ConfigurationError(`task "${name}": the unique key function must return a string, got ${typeof key}`);
    }
    return `${KEYS.unique}${name}:${key}`;
  }

  async #enqueueOne(name: string, o: ResolvedTaskOptions, args: unknown[], s: ScheduleOptions): Promise<Result<any>> {
    const eta = this.#etaOf(name, s);
    const m = this.#message(name, o, args, s);
    const unique = this.#uniqueKey(name, o, args);
    if (unique) m.unique = unique;
    const item = toQueueItem(m, this.options.maxPayloadSize);
    const stored: QueueItem | ScheduledItem = eta !== undefined ? { ...item, eta } : item;
    if (unique) {
      const holder = await this.storage.enqueueUnique(stored, unique);
      if (holder !== null) return new Result(holder, this);
      if (this.options.immediate && eta === undefined) {
        await this.#drainImmediately();
        return new Result(m.id, this, item.payload);
      }
    } else if (eta !== undefined) {
      await this.storage.schedule([stored as ScheduledItem]);
    } else if (this.options.immediate) {
      await this.#runImmediately(item);
      return new Result(m.id, this, item.payload);
    } else {
      await this.storage.enqueue([item]);
    }
    const signal = eta !== undefined ? "scheduled" : "enqueued";
    if (this.#wants(signal)) this.#emit(signal, taskInfo(m));
    return new Result(m.id, this, item.payload);
  }

  /** Immediate mode: run now, in this thread, retrying at once while retries last. */
  async #runImmediately(item: QueueItem): Promise<void> {
    await this.storage.enqueue([item]);
    await this.signals.emit("enqueued", taskInfo(readMessage(item.payload)));
    await this.#drainImmediately();
  }

  async #drainImmediately(): Promise<void> {
    const storage = this.storage;
    for (;;) {
      const [lease] = await storage.lease(1, Number.MAX_SAFE_INTEGER);
      if (!lease) return;
      const info = taskInfo(readMessage(lease.payload));
      if ((await this.isRevokedId(lease.id)) || (await this.#isRevoked(KEYS.revokedTask + lease.name))) {
        await storage.commit(planSkip(lease, "revoked").batch);
        await this.signals.emit("revoked", info);
        continue;
      }
      await this.signals.emit("executing", info);
      const outcome = await execute(lease.payload, {
        lookup: (n) => this.#tasks.get(n),
        maxPayloadSize: this.options.maxPayloadSize,
        hooks: this.hooks,
      });
      const plan = planOutcome(lease, outcome, Date.now(), {
        keepFailed: this.options.failedRetention !== null,
        lookup: (n) => this.#tasks.get(n)?.options,
      });
      // Retries run now: move any scheduled retry into the ready queue.
      if (plan.batch.schedule?.length) {
        plan.batch.enqueue = plan.batch.schedule.map(({ eta: _eta, ...it }) => it);
        plan.batch.schedule = [];
      }
      await storage.commit(plan.batch);
      const err = "error" in outcome ? Object.assign(new Error(outcome.error.message), outcome.error) : undefined;
      for (const sig of plan.signals) await this.signals.emit(sig, info, err);
      // What the batch stored: its schedule was moved to the ready queue above.
      for (const a of plan.also ?? []) await this.signals.emit(a.signal === "scheduled" ? "enqueued" : a.signal, taskInfo(readMessage(a.payload)));
      if (plan.chord) await this.completeChord(plan.chord); // after the member's signals, as in the consumer
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

/** The context of a task run in place by callLocal(): not queued, never aborted. */
function localContext(name: string): TaskContext {
  return { id: newTaskId(), name, retries: 0, attempt: 1, signal: new AbortController().signal, progress: () => {} };
}

function addHook<F>(list: F[], fn: F): () => void {
  if (typeof fn !== "function") throw new ConfigurationError("a hook must be a function");
  list.push(fn);
  return () => {
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
  };
}

function checkId(id: unknown, where: string): string {
  if (typeof id !== "string" || id.trim() === "" || id.length > 200) {
    throw new ConfigurationError(`${where}: id must be a non-empty string of at most 200 characters, got ${JSON.stringify(id)}`);
  }
  return id;
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

export interface RedisHueyOptions extends Omit<HueyOptions, "storage">, Omit<RedisStorageOptions, "queue"> {}

/**
 * A Huey on a Redis server (7.2+ or Valkey, standalone): `new RedisHuey({ name: "app", url:
 * process.env.REDIS_URL })`. Consumers on many machines share it.
 */
export class RedisHuey extends Huey {
  constructor(options: RedisHueyOptions) {
    if (typeof options.url !== "string" || options.url === "") {
      throw new ConfigurationError(`RedisHuey needs a "url" such as redis://127.0.0.1:6379, got ${JSON.stringify(options.url)}`);
    }
    super({ ...options, storage: () => new RedisStorage({ url: options.url, queue: options.name, prefix: options.prefix }) });
  }
}

export interface PostgresHueyOptions extends Omit<HueyOptions, "storage">, Omit<PostgresStorageOptions, "queue"> {}

/**
 * A Huey on PostgreSQL: `new PostgresHuey({ name: "app", url: process.env.DATABASE_URL })`.
 * Tables live in their own schema (`huey` by default); consumers on many machines share them.
 */
export class PostgresHuey extends Huey {
  constructor(options: PostgresHueyOptions) {
    if (typeof options.url !== "string" || options.url === "") {
      throw new ConfigurationError(`PostgresHuey needs a "url" such as postgres://user@host:5432/db, got ${JSON.stringify(options.url)}`);
    }
    const { url, schema, max, connectTimeout } = options;
    super({ ...options, storage: () => new PostgresStorage({ url, queue: options.name, schema, max, connectTimeout }) });
  }
}

/** A Huey on in-process memory: tests, or a consumer started in the same process. */
export class MemoryHuey extends Huey {
  constructor(options: Omit<HueyOptions, "storage">) {
    super({ ...options });
  }
}

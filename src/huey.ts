import { completeChord, pendingChords } from "./chords";
import { purgeFailed, retryFailed } from "./dead-letters";
import { flushLocks, withLock } from "./locks";
import { drainImmediately } from "./consumer/immediate";
import { parseSchedule, type ScheduleSpec } from "./cron";
import { buildMessage, etaOf, uniqueKey } from "./enqueue";
import { ConfigurationError, DuplicateTaskError, TaskLockedError, UnknownTaskError } from "./errors";
import { itemInfo, KEYS, newTaskId, readMessage, taskInfo, toQueueItem, type DeadLetter, type Message } from "./message";
import type { PeriodicDef } from "./periodic";
import { callbackSpec, Signature, specsOf, type ChordSpec } from "./pipeline";
import { Result, ResultGroup, type ResultOwner } from "./result";
import { decode, encode } from "./serializer";
import { Signals, type SignalHandler, type SignalName, type TaskInfo } from "./signals";
import { MemoryStorage } from "./storage/memory";
import type { LockInfo, QueueItem, ScheduledItem, Storage } from "./storage/types";
import type { AnyTaskDef, ResolvedTaskOptions, ScheduleOptions, TaskContext, TaskDef, TaskOptions } from "./task";
import { checkLockKey, resolveTaskOptions } from "./task-options";
import { internalsOf, setInternals, type Registered, type Registry } from "./_internals";
import { toEpochMs, toMs, type Duration } from "./_time";
import { resolveHueyOptions, type HueyOptions, type ResolvedHueyOptions } from "./options";

export { resolveHueyOptions } from "./options";
export type { HueyOptions, ResolvedHueyOptions } from "./options";

export interface PendingTask extends TaskInfo {
  /** Taken by a consumer (running or about to). */
  leased: boolean;
}

export interface ScheduledTask extends TaskInfo {
  eta: number;
}

const BRAND = Symbol.for("bun-huey.Huey");




export class Huey implements ResultOwner {
  readonly options: ResolvedHueyOptions;
  readonly signals: Signals;
  readonly [BRAND] = true;
  #storage: Storage | null = null;
  #storageFactory: () => Storage;
  #tasks = new Map<string, Registered>();
  #periodic: PeriodicDef[] = [];
  #forward: ((signal: SignalName, task: TaskInfo) => void) | null = null;
  #hooks: Registry["hooks"] = { pre: [], post: [], startup: [], shutdown: [] };

  constructor(options: HueyOptions) {
    this.options = resolveHueyOptions(options);
    this.signals = new Signals();
    const s = options.storage;
    const name = this.options.name;
    if (this.options.immediate) this.#storageFactory = () => new MemoryStorage(name);
    else if (typeof s === "function") this.#storageFactory = s;
    else if (s) this.#storageFactory = () => s;
    else this.#storageFactory = () => new MemoryStorage(name);
    const self = this;
    const chordHost = {
      get storage() {
        return self.storage;
      },
      maxPayloadSize: this.options.maxPayloadSize,
      options: (n: string) => this.#tasks.get(n)?.options,
      onEnqueued: (m: Message) => {
        if (this.#wants("enqueued")) this.#emit("enqueued", taskInfo(m));
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
      requeueCopy: (payload, eta) => this.#requeueCopy(payload, eta),
      itemFor: (def, args, where) => {
        const reg = this.#registered(def);
        if (reg.options.unique) throw new ConfigurationError(`task "${reg.name}" is unique: enqueue it with a plain call, not ${where}`);
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
   * `fn` gets the lock's fencing token: pass it with writes elsewhere, which can then refuse a
   * token older than one they have seen (a holder whose lease ran out while it was paused).
   */
  async withLock<T>(key: string, fn: (fence: number) => T | Promise<T>, options: { lease?: Duration } = {}): Promise<T> {
    return withLock(this.storage, key, fn, options);
  }

  /** True while someone holds the lock `key`. */
  async isLocked(key: string): Promise<boolean> {
    return (await this.storage.listLocks(Date.now())).some((l) => l.key === key);
  }

  /** Locks held now, with their owner, lease end and fencing token. */
  locks(): Promise<LockInfo[]> {
    return this.storage.listLocks(Date.now());
  }

  /** Free the named locks, or every lock when none is named; returns how many were freed. */
  async flushLocks(...keys: string[]): Promise<number> {
    return flushLocks(this.storage, keys);
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


  /** Enqueue many calls in one transaction: `huey.enqueueMany(rows.map(r => [sendEmail, [r.to, r.subject]]))`. */
  async enqueueMany<R = unknown>(calls: Iterable<readonly [AnyTaskDef, readonly unknown[]]>): Promise<ResultGroup<R>> {
    const messages: Message[] = [];
    for (const [def, args] of calls) {
      const reg = this.#registered(def);
      if (reg.options.unique) {
        throw new ConfigurationError(`task "${reg.name}" is unique: enqueue it one call at a time, not with map()/enqueueMany()`);
      }
      messages.push(buildMessage(reg.name, reg.options, args as unknown[], {}, Date.now()));
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
      const m = buildMessage(reg.name, reg.options, s0.args, { priority: s0.options.priority, id: spec.first.id }, Date.now());
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
    const payload = await retryFailed(this.storage, id, (name) => this.#tasks.get(name)?.options.retries ?? 0);
    return new Result(id, this, payload);
  }

  /**
   * Drop one dead letter, or all of them (1000 per transaction, `onProgress` told the running
   * total after each); returns how many were dropped.
   */
  async purgeFailed(id?: string, options: { onProgress?: (purged: number) => void } = {}): Promise<number> {
    return purgeFailed(this.storage, id, options.onProgress);
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


  async #enqueueOne(name: string, o: ResolvedTaskOptions, args: unknown[], s: ScheduleOptions): Promise<Result<any>> {
    const now = Date.now();
    const eta = etaOf(name, s, now);
    const m = buildMessage(name, o, args, s, now);
    const unique = uniqueKey(name, o, args);
    if (unique) m.unique = unique;
    const item = toQueueItem(m, this.options.maxPayloadSize);
    const stored: QueueItem | ScheduledItem = eta !== undefined ? { ...item, eta } : item;
    if (unique) {
      const holder = await this.storage.enqueueUnique(stored, unique);
      if (holder !== null) return new Result(holder, this);
      if (this.options.immediate && eta === undefined) {
        await this.#drain();
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


  /** Immediate mode: store, then run now, in this thread, through the consumer's engine. */
  async #runImmediately(item: QueueItem): Promise<void> {
    await this.storage.enqueue([item]);
    await this.signals.emit("enqueued", itemInfo(item));
    await this.#drain();
  }

  #drain(): Promise<void> {
    const i = internalsOf(this);
    return drainImmediately({
      storage: this.storage,
      signals: this.signals,
      registry: i.registry,
      keepFailed: this.options.failedRetention !== null,
      maxPayloadSize: this.options.maxPayloadSize,
      completeChord: (c) => i.completeChord(c),
    });
  }

  /** Enqueue a copy of a stored message under a new id, at `eta` (result.reschedule()). */
  async #requeueCopy(payload: string, eta: number): Promise<Result<any>> {
    const m = readMessage(payload);
    const copy: Message = { ...m, id: newTaskId(), unique: undefined };
    const item = toQueueItem(copy, this.options.maxPayloadSize);
    if (eta > Date.now()) await this.storage.schedule([{ ...item, eta }]);
    else await this.storage.enqueue([item]);
    return new Result(copy.id, this, item.payload);
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

/** The context of a task run in place by callLocal(): not queued, never aborted. */
function localContext(name: string): TaskContext {
  return { id: newTaskId(), name, retries: 0, attempt: 1, signal: new AbortController().signal, progress: () => {}, lockFence: null };
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

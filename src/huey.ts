import { completeChord, pendingChords } from "./chords";
import { drainImmediately } from "./consumer/immediate";
import { parseSchedule, type ScheduleSpec } from "./cron";
import { buildMessage, dedupKey, etaOf, uniqueKey } from "./enqueue";
import { ConfigurationError, DuplicateTaskError, StorageError, UnknownTaskError } from "./errors";
import { itemInfo, KEYS, newTaskId, readMessage, taskInfo, toQueueItem, type Message } from "./message";
import type { PeriodicDef } from "./periodic";
import { callbackSpec, Signature, specsOf, type ChordSpec } from "./pipeline";
import { HueyData } from "./huey-data";
import { Result, ResultGroup } from "./result";
import { Signals, type SignalHandler, type SignalName, type TaskInfo } from "./signals";
import { MemoryStorage } from "./storage/memory";
import { parseDedupValue, type QueueItem, type ScheduledItem } from "./storage/types";
import type { AnyTaskDef, ResolvedTaskOptions, ScheduleOptions, TaskContext, TaskDef, TaskOptions } from "./task";
import { checkLockKey, resolveTaskOptions } from "./task-options";
import { internalsOf, setInternals, type Registered, type Registry } from "./_internals";
import { toMs, type Duration } from "./_time";
import { resolveHueyOptions, type HueyOptions, type ResolvedHueyOptions } from "./options";

export { resolveHueyOptions } from "./options";
export type { HueyOptions, ResolvedHueyOptions } from "./options";

export type { PendingTask, ScheduledTask } from "./huey-data";

const BRAND = Symbol.for("bun-huey.Huey");




export class Huey extends HueyData {
  readonly options: ResolvedHueyOptions;
  readonly signals: Signals;
  readonly [BRAND] = true;
  #tasks = new Map<string, Registered>();
  #periodic: PeriodicDef[] = [];
  #forward: ((signal: SignalName, task: TaskInfo) => void) | null = null;
  #hooks: Registry["hooks"] = { pre: [], post: [], startup: [], shutdown: [] };

  constructor(options: HueyOptions) {
    const resolved = resolveHueyOptions(options);
    const s = options.storage;
    const name = resolved.name;
    super(resolved.immediate || !s ? () => new MemoryStorage(name) : typeof s === "function" ? s : () => s);
    this.options = resolved;
    this.signals = new Signals();
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
  lockTask<T extends AnyTaskDef>(key: string, task: T, options: { retry?: Duration } = {}): T {
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
      if (reg.options.unique || reg.options.dedup) {
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
    if (o.dedup) return this.#enqueueDeduped(name, o, args, s);
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


  /**
   * A call of a task with a deduplication window (unique: { ttl, mode }): one atomic storage step.
   * replace and debounce swap the pending task's payload, which carries its id: the item is built
   * with the id the key names, and built again when storage reports that changed meanwhile.
   */
  async #enqueueDeduped(name: string, o: ResolvedTaskOptions, args: unknown[], s: ScheduleOptions): Promise<Result<any>> {
    const d = o.dedup!;
    const key = dedupKey(name, o, args)!; // a key function that throws fails here, before any write
    const mode = d.mode === "throttle" ? "throttle" : "replace";
    let id: string | undefined;
    if (mode === "replace") id = parseDedupValue(await this.storage.getData(key, true))?.id;
    for (let attempt = 0; ; attempt++) {
      const now = Date.now();
      let eta = etaOf(name, s, now);
      if (d.mode === "debounce") eta = now + d.ttl;
      const m = buildMessage(name, o, args, id !== undefined ? { ...s, id } : s, now);
      const item = toQueueItem(m, this.options.maxPayloadSize);
      const stored: QueueItem | ScheduledItem = eta !== undefined ? { ...item, eta } : item;
      const out = await this.storage.enqueueDeduped(stored, key, mode, now + d.ttl, now);
      if (out.kind === "conflict") {
        // Another producer changed the key's task between our read and our write: build again.
        if (attempt >= 20) throw new StorageError(`task "${name}": the deduplication key kept changing under concurrent calls; retry the call`);
        id = out.holder ?? undefined;
        continue;
      }
      if (out.kind === "merged") {
        if (this.options.immediate && eta === undefined && mode === "replace") await this.#drain();
        return new Result(out.id, this, mode === "replace" ? item.payload : null, true);
      }
      if (this.options.immediate && eta === undefined) {
        await this.#drain();
        return new Result(m.id, this, item.payload);
      }
      const signal = eta !== undefined ? "scheduled" : "enqueued";
      if (this.#wants(signal)) this.#emit(signal, taskInfo(m));
      return new Result(m.id, this, item.payload);
    }
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

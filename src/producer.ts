// How calls reach storage: one call (plain, unique, or within a deduplication window), many in one
// transaction, and pipelines, groups and chords; in immediate mode, stored then run at once through the
// consumer's engine. Huey (huey.ts) keeps the user's API and hands each call here.
import { drainImmediately } from "./consumer/immediate";
import { buildBulk, buildMessage, dedupKey, etaOf, uniqueKey, type BulkCall } from "./enqueue";
import { ConfigurationError, StorageError } from "./errors";
import { builtQueueItem, itemInfo, KEYS, newTaskId, readMessage, taskInfo, toQueueItem, type Message } from "./message";
import type { ResolvedHueyOptions } from "./options";
import { Signature, specsOf, type AnySignature, type ChordSpec } from "./pipeline";
import { Result, ResultGroup, type ResultOwner } from "./result";
import type { SignalName, Signals, TaskInfo } from "./signals";
import { parseDedupValue, type QueueItem, type ScheduledItem } from "./storage/types";
import type { AnyTaskDef, ResolvedTaskOptions, ScheduleOptions } from "./task";
import { internalsOf, type Registered } from "./_internals";
import { CallBatch } from "./producer-batch";

export const NO_SETTINGS: ScheduleOptions = Object.freeze({});

/** What a Producer needs of its Huey. */
export interface ProducerHost extends ResultOwner {
  readonly options: ResolvedHueyOptions;
  readonly signals: Signals;
}

export class Producer {
  /** Plain calls of one turn of the event loop, stored in one commit. */
  readonly #calls = new CallBatch(() => this.huey.storage);

  constructor(
    private readonly huey: ProducerHost,
    private readonly registered: (def: AnyTaskDef) => Registered,
    private readonly forward: () => ((signal: SignalName, task: TaskInfo) => void) | null,
  ) {}

  private get storage() {
    return this.huey.storage;
  }

  private get immediate(): boolean {
    return this.huey.options.immediate;
  }

  /** One call of a task: stored (or run, in immediate mode); a unique or deduplicated one may be merged. */
  async one(name: string, o: ResolvedTaskOptions, args: unknown[], s: ScheduleOptions): Promise<Result<any>> {
    if (o.dedup) return this.#deduped(name, o, args, s);
    const now = Date.now();
    const eta = etaOf(name, s, now);
    const m = buildMessage(name, o, args, s, now);
    if (eta !== undefined) m.at = eta;
    const unique = uniqueKey(name, o, args);
    if (unique) m.unique = unique;
    const item = builtQueueItem(m, this.huey.options.maxPayloadSize);
    const stored: QueueItem | ScheduledItem = eta !== undefined ? { ...item, eta } : item;
    if (unique) {
      const holder = await this.storage.enqueueUnique(stored, unique);
      if (holder !== null) return new Result(holder, this.huey);
      if (this.immediate && eta === undefined) {
        await this.drain();
        return new Result(m.id, this.huey, item.payload);
      }
    } else if (this.immediate && eta === undefined) {
      await this.#runImmediately(item);
      return new Result(m.id, this.huey, item.payload);
    } else {
      await this.#calls.add(stored);
    }
    this.#announce(eta !== undefined ? "scheduled" : "enqueued", m);
    return new Result(m.id, this.huey, item.payload);
  }

  /**
   * A call of a task with a deduplication window (unique: { ttl, mode }): one atomic storage step.
   * replace and debounce swap the pending task's payload, which carries its id: the item is built
   * with the id the key names, and built again when storage reports that changed meanwhile.
   */
  async #deduped(name: string, o: ResolvedTaskOptions, args: unknown[], s: ScheduleOptions): Promise<Result<any>> {
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
      if (eta !== undefined) m.at = eta;
      const item = builtQueueItem(m, this.huey.options.maxPayloadSize);
      const stored: QueueItem | ScheduledItem = eta !== undefined ? { ...item, eta } : item;
      const out = await this.storage.enqueueDeduped(stored, key, mode, now + d.ttl, now);
      if (out.kind === "conflict") {
        // Another producer changed the key's task between our read and our write: build again.
        if (attempt >= 20) throw new StorageError(`task "${name}": the deduplication key kept changing under concurrent calls; retry the call`);
        id = out.holder ?? undefined;
        continue;
      }
      if (out.kind === "merged") {
        if (this.immediate && eta === undefined && mode === "replace") await this.drain();
        return new Result(out.id, this.huey, mode === "replace" ? item.payload : null, true);
      }
      if (this.immediate && eta === undefined) {
        await this.drain();
        return new Result(m.id, this.huey, item.payload);
      }
      this.#announce(eta !== undefined ? "scheduled" : "enqueued", m);
      return new Result(m.id, this.huey, item.payload);
    }
  }

  /** Many calls in one transaction (enqueueMany, map). */
  async many<R>(calls: Iterable<readonly [AnyTaskDef, readonly unknown[]] | readonly [AnyTaskDef, readonly unknown[], ScheduleOptions | undefined]>): Promise<ResultGroup<R>> {
    const list: BulkCall[] = [];
    for (const call of calls) {
      const [def, args, settings] = call as readonly [AnyTaskDef, readonly unknown[], ScheduleOptions | undefined];
      const reg = this.registered(def);
      if (reg.options.unique || reg.options.dedup) {
        throw new ConfigurationError(`task "${reg.name}" is unique: enqueue it one call at a time, not with map()/enqueueMany()`);
      }
      if (!Array.isArray(args)) throw new ConfigurationError(`enqueueMany(): the arguments of a ${reg.name} call must be an array, got ${typeof args}`);
      if (settings !== undefined && (settings === null || typeof settings !== "object")) {
        throw new ConfigurationError(`enqueueMany(): the settings of a ${reg.name} call must be an object such as { delay: "5m" }, got ${JSON.stringify(settings)}`);
      }
      list.push({ name: reg.name, options: reg.options, args: args as unknown[], schedule: settings ?? NO_SETTINGS });
    }
    const { ready, later, messages, items } = buildBulk(list, Date.now(), this.huey.options.maxPayloadSize);
    if (this.immediate) {
      if (later.length) await this.storage.schedule(later);
      for (const item of ready) await this.#runImmediately(item);
    } else if (items.length > 0) {
      if (later.length === 0) await this.storage.enqueue(ready);
      else if (ready.length === 0) await this.storage.schedule(later);
      else await this.storage.commit({ enqueue: ready, schedule: later });
      if (this.#wants("enqueued") || this.#wants("scheduled")) {
        const isLater = new Set(later.map((it) => it.id));
        for (const m of messages) this.#emit(isLater.has(m.id) ? "scheduled" : "enqueued", taskInfo(m));
      }
    }
    return new ResultGroup<R>(items.map((it) => new Result<R>(it.id, this.huey, it.payload)));
  }

  /** Pipelines (and a chord's members) in one transaction; the ids of each one's stages. */
  async signatures(sigs: readonly AnySignature[], chordOf: ((lastIds: string[]) => ChordSpec) | null): Promise<{ ids: string[] }[]> {
    const planned = sigs.map((sig) => {
      if (!(sig instanceof Signature)) throw new ConfigurationError("expected a signature made with task.s(...args)");
      return { sig, spec: specsOf(sig, chordOf !== null) };
    });
    const chord = chordOf?.(planned.map((p) => p.spec.ids.at(-1)!));
    const ready: QueueItem[] = [];
    const later: ScheduledItem[] = [];
    for (const { sig, spec } of planned) {
      const s0 = sig.stages[0]!;
      const reg = this.registered(s0.task);
      const m = buildMessage(reg.name, reg.options, s0.args, { priority: s0.options.priority, id: spec.first.id }, Date.now());
      if (spec.then) m.then = spec.then;
      if (spec.onError) m.onError = spec.onError;
      if (chord) m.chord = chord;
      if (spec.first.eta !== undefined) m.at = spec.first.eta;
      const item = toQueueItem(m, this.huey.options.maxPayloadSize);
      if (spec.first.eta !== undefined) later.push({ ...item, eta: spec.first.eta });
      else ready.push(item);
    }
    if (this.immediate) {
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

  /** Enqueue a copy of a stored message under a new id, at `eta` (result.reschedule()). */
  async requeueCopy(payload: string, eta: number): Promise<Result<any>> {
    const m = readMessage(payload);
    const copy: Message = { ...m, id: newTaskId(), unique: undefined, at: Math.max(eta, Date.now()) };
    const item = toQueueItem(copy, this.huey.options.maxPayloadSize);
    if (eta > Date.now()) await this.storage.schedule([{ ...item, eta }]);
    else await this.storage.enqueue([item]);
    return new Result(copy.id, this.huey, item.payload);
  }

  /** Immediate mode: run what is ready now, in this thread, through the consumer's engine. */
  drain(): Promise<void> {
    const i = internalsOf(this.huey);
    return drainImmediately({
      storage: this.storage,
      signals: this.huey.signals,
      registry: i.registry,
      keepFailed: this.huey.options.failedRetention !== null,
      maxPayloadSize: this.huey.options.maxPayloadSize,
      completeChord: (c) => i.completeChord(c),
    });
  }

  /** Immediate mode: store, then run now. */
  async #runImmediately(item: QueueItem): Promise<void> {
    await this.storage.enqueue([item]);
    await this.huey.signals.emit("enqueued", itemInfo(item));
    await this.drain();
  }

  #announce(signal: SignalName, m: Message): void {
    if (this.#wants(signal)) this.#emit(signal, taskInfo(m));
  }

  #wants(signal: SignalName): boolean {
    return this.forward() !== null || this.huey.signals.has(signal);
  }

  #emit(signal: SignalName, info: TaskInfo): void {
    const fwd = this.forward();
    if (fwd) fwd(signal, info);
    else void this.huey.signals.emit(signal, info);
  }
}

// The engine: what the consumer decides, with no timers and no threads of its own. It leases, admits and
// hands tasks to a Pool, turns what the pool reports into Plans and gives them to a Committer, and emits
// signals once they are written. The consumer (Worker pool, group commit) and immediate mode (inline pool,
// inline commit) both run through it; its unit tests drive it on memory storage with time as an argument.
import { serializeError } from "../errors";
import { planOutcome, planSkip, type Hooks, type Outcome, type Plan, type PlanOptions } from "../executor";
import { KEYS, type Message } from "../message";
import type { ChordSpec, StageTaskOptions } from "../pipeline";
import type { SignalName, Signals, TaskInfo } from "../signals";
import type { LeaseRef, LeasedItem, Storage } from "../storage/types";
import { admit, heldLocks, isRevokedNow, needsAdmission, readRevocations, REVOCATIONS, toRevocations, unreadablePlan, type AdmissionRules, type Revocation } from "./admission";
import type { Committer, PendingOutcome } from "./committer";
import type { Pool, PoolListener, RunInfo } from "./pool";
import { addRecord } from "./task-record";
import { timedOut } from "./pool";
import { infoOf, reportOutcome, type ReportSink } from "./report";

/** Most tasks taken in one lease statement. */
export const MAX_LEASE_BATCH = 512;
/**
 * Fewest tasks worth a lease statement while every Worker has work: each statement has a fixed cost, and
 * leasing a handful after every small group commit cost ~20 µs a row instead of ~8.
 */
export const MIN_LEASE_BATCH = 32;

/** What the engine needs of a registered task. */
export interface EngineTask {
  options: AdmissionRules & { timeout: number | null };
}

/** What the engine needs of its Huey. */
export interface EngineHost {
  storage: Storage;
  signals: Signals;
  lookup(name: string): EngineTask | undefined;
  keepFailed: boolean;
  /** A chord member finished: enqueue the callback once all have. */
  completeChord(c: ChordSpec): Promise<void>;
}

export interface EngineOptions {
  lease: number;
  maxLeases: number;
  unknownTaskDelay: number;
  /** The consumer's default timeout (a task's own wins). */
  timeout: number | null;
  /**
   * Immediate mode: retries go to the ready queue at once instead of the schedule, and signal emissions are
   * collected in `emitted` for the caller to await.
   */
  immediate?: boolean;
  /**
   * The named queues this consumer serves, each with its most tasks in flight at once (null: no limit
   * but the pool's). Absent or null: every queue, no limits. Paused queues are skipped either way.
   */
  queues?: Readonly<Record<string, number | null>> | null;
  /** The clock outcomes are planned by (tests pass their own). @default Date.now */
  clock?: () => number;
  /** This consumer's id, for its log lines (see newConsumerId in observe/heartbeat.ts). */
  consumerId?: string;
}

export interface Log {
  enabled(level: "debug" | "info" | "warn" | "error"): boolean;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>, detail?: string): void;
}

export interface InFlight extends LeasedItem {
  /** Handed to the pool. */
  placed: boolean;
  /** Revoked while running. */
  revoked?: boolean;
  /** Its lease (or lock) was lost: whatever it returns is discarded. */
  lost?: boolean;
  /** The lock it holds while it runs. */
  lock?: { key: string; owner: string; fence: number | null };
  /** The concurrency slot it holds while it runs (a lock too, freed with the outcome). */
  slot?: { key: string; owner: string };
  hadProgress?: boolean;
  /** When the pool said it started (the engine's clock), and on which Worker. */
  startedAt?: number;
  worker?: number;
  /** What the thread that ran it said of the run (attempt, its ctx.log lines), when it said. */
  run?: RunInfo;
  /** Its message as decoded to run it, when it ran on this thread (see PoolListener.started). */
  message?: Message;
  /** Its outcome is planned, under this lease, and waits for the commit. */
  planned?: boolean;
  /** Leased again while this run was here and could not go on under the new lease: dispatched once it is gone. */
  next?: LeasedItem;
}

export class Engine implements PoolListener {
  readonly inflight = new Map<string, InFlight>();
  readonly stats = { completed: 0, failed: 0, retried: 0, interrupted: 0, lost: 0 };
  pool!: Pool;
  committer!: Committer<InFlight>;
  stopping = false;
  /** Told when room may have grown or a write finished (the loop wakes). */
  onWake: () => void = () => {};
  /** Signal emissions under way (immediate mode waits for them). */
  emitted: Promise<void>[] = [];
  #unknownWarned = new Map<string, number>();
  /** Each task's own options, for the stages and retries a plan stores. */
  #stageOptions = (name: string) => this.host.lookup(name)?.options as StageTaskOptions | undefined;

  readonly #sink: ReportSink;

  constructor(readonly host: EngineHost, readonly o: EngineOptions, readonly log: Log) {
    this.#sink = {
      log, stats: this.stats, signals: host.signals, immediate: o.immediate === true, consumerId: o.consumerId,
      emit: (sig, info, err) => this.#emit(sig, info, err),
    };
  }

  /** Room in the pool for more tasks, and whether leasing a few is worth it now. */
  want(): number {
    if (this.stopping) return 0;
    const free = this.pool.room();
    return free >= (this.pool.minLease ?? MIN_LEASE_BATCH) || (free > 0 && this.pool.starving()) ? Math.min(free, MAX_LEASE_BATCH) : 0;
  }

  /** Lease up to `want` tasks and dispatch them; returns how many were leased. */
  async leaseAndDispatch(want: number, now: number): Promise<number> {
    const lanes = this.#laneRoom(want);
    if (lanes && Object.keys(lanes).length === 0) return 0;
    const storage = this.host.storage;
    const filter = { now, lanes };
    // Where the storage can, the revocations are read in the lease's own transaction (see leaseWithData).
    let items: LeasedItem[];
    let revocations: Map<string, Revocation> | null | undefined;
    if (storage.leaseWithData) {
      const got = await storage.leaseWithData(want, now + this.o.lease, filter, REVOCATIONS.prefix, REVOCATIONS.limit);
      items = got.items;
      if (got.data) revocations = toRevocations(got.data);
    } else {
      items = await storage.lease(want, now + this.o.lease, filter);
    }
    if (items.length > 0) await this.dispatch(items, now, revocations);
    return items.length;
  }

  /**
   * Admit each leased task (run it, or plan what happens instead) and hand the runnable ones to the
   * pool. `revocations`: as read with the lease; undefined to read them now.
   */
  async dispatch(items: LeasedItem[], now: number, revocations?: Map<string, Revocation> | null): Promise<void> {
    const storage = this.host.storage;
    const state = {
      storage,
      rules: (n: string) => this.host.lookup(n)?.options,
      lookup: this.#stageOptions,
      revocations: revocations === undefined ? await readRevocations(storage) : revocations,
      maxLeases: this.o.maxLeases,
      lease: this.o.lease,
      unknownTaskDelay: this.o.unknownTaskDelay,
      keepFailed: this.host.keepFailed,
      warn: (m: string) => this.log.warn(m),
    };
    for (const item of items) {
      const prev = this.inflight.get(item.id);
      if (prev !== undefined) {
        this.#leasedAgain(prev, item);
        continue;
      }
      const task = item as InFlight;
      task.placed = false;
      task.planned = false;
      this.inflight.set(item.id, task);
      if (!needsAdmission(item, state)) {
        this.#place(task);
        continue;
      }
      let verdict;
      try {
        verdict = await admit(item, state, now);
      } catch (err) {
        verdict = { run: false as const, plan: unreadablePlan(item, serializeError(err)) };
      }
      if (!verdict.run) {
        if (verdict.unknown) this.#warnUnknown(task, now);
        this.#queue({ task, plan: verdict.plan });
        continue;
      }
      if (verdict.lock) task.lock = verdict.lock;
      if (verdict.slot) task.slot = verdict.slot;
      this.#place(task);
    }
    this.pool.flushSubmits();
  }

  /**
   * A task leased while this consumer still has it in flight: its lease ran out here (the event loop was
   * blocked past it, or renewals failed), it was reclaimed, and it came back to this consumer. The old
   * lease is gone either way. A run of the same message that is still going goes on under the new lease
   * (it runs once, and its outcome is committed under that lease). Otherwise (its outcome was planned
   * under the old lease, it was stopped as lost, or the message is another) the new lease waits until
   * the old run is gone, then is dispatched as any other. Before, the new lease replaced the entry and
   * went to the pool a second time: the task ran twice here, the first run's outcome was committed
   * under the second's lease and the second's was dropped.
   */
  #leasedAgain(prev: InFlight, item: LeasedItem): void {
    const running = !prev.lost && !prev.planned;
    if (running && prev.payload === item.payload) {
      prev.token = item.token;
      prev.leases = item.leases;
      if (item.seq === undefined) delete prev.seq;
      else prev.seq = item.seq;
      this.log.warn(`${prev.name} ${prev.id}: its lease ran out while it ran here and this consumer leased it again; it goes on under the new lease`);
      return;
    }
    prev.next = item;
    if (running) this.loseLeases([prev.id], "its lease ran out and it was leased again with another message");
  }

  /** Per served queue, how many more it may take now (limit minus in flight); null when serving all. */
  #laneRoom(want: number): Record<string, number> | null {
    const q = this.o.queues;
    if (!q) return null;
    const inFlight = new Map<string, number>();
    for (const t of this.inflight.values()) {
      const lane = t.lane ?? "default";
      inFlight.set(lane, (inFlight.get(lane) ?? 0) + 1);
    }
    const room: Record<string, number> = {};
    for (const [lane, limit] of Object.entries(q)) {
      const n = limit === null ? want : Math.min(want, limit - (inFlight.get(lane) ?? 0));
      if (n > 0) room[lane] = n;
    }
    return room;
  }

  #place(task: InFlight): void {
    const timeout = this.host.lookup(task.name)?.options.timeout ?? this.o.timeout;
    const fence = task.lock?.fence ?? undefined;
    if (this.pool.submit(fence === undefined || fence === null ? { id: task.id, name: task.name, payload: task.payload, timeout } : { id: task.id, name: task.name, payload: task.payload, timeout, fence })) {
      task.placed = true;
      return;
    }
    // No room (we lease only what fits, so rare): give it back rather than overfill.
    this.#giveBack([task]);
  }

  #giveBack(tasks: InFlight[]): void {
    for (const t of tasks) this.#forget(t);
    if (tasks.length === 0) return;
    const locks = tasks.flatMap(heldLocks);
    // Never started here (placement found no Worker, or the consumer stops): not a lease that counts.
    void this.host.storage
      .release(tasks.map(({ id, token }) => ({ id, token })), true)
      .then(() => Promise.all(locks.map((l) => this.host.storage.releaseLock(l.key, l.owner))))
      .catch((err) => this.log.error(`could not return tasks to the queue (their leases will expire): ${String(err)}`));
  }

  #warnUnknown(task: InFlight, now: number): void {
    const last = this.#unknownWarned.get(task.name) ?? 0;
    if (now - last <= 60_000) return;
    this.#unknownWarned.set(task.name, now);
    this.log.warn(
      `task "${task.name}" (${task.id}) is not registered in this consumer's tasks file; it stays queued and is ` +
        `retried in ${this.o.unknownTaskDelay}ms`,
    );
  }

  // ------------------------------------------------------------------ what the pool reports

  started(id: string, worker?: number, message?: Message): void {
    const t = this.inflight.get(id);
    if (!t) return;
    t.startedAt = (this.o.clock ?? Date.now)();
    if (worker !== undefined) t.worker = worker;
    if (message !== undefined) t.message = message;
    if (this.host.signals.has("executing")) this.#emit("executing", infoOf(t));
  }

  done(id: string, outcome: Outcome, ms: number | undefined, wasTimedOut: boolean, run?: RunInfo): void {
    const task = this.inflight.get(id);
    if (!task) return;
    if (run) task.run = run;
    if (task.lost) {
      this.#forget(task);
      this.stats.lost++;
      this.log.warn(`${task.name} ${id}: its lease was lost while it ran; its outcome is discarded (another consumer may run it)`);
      return;
    }
    if (outcome.kind !== "ok" && wasTimedOut) {
      const ms2 = this.host.lookup(task.name)?.options.timeout ?? this.o.timeout ?? 0;
      this.#plan(task, timedOut(task.name, ms2), ms, ["timeout"]);
    } else if (outcome.kind !== "ok" && task.revoked) {
      this.#queue({ task, plan: planSkip(task, "revoked"), ms });
    } else {
      this.#plan(task, outcome, ms);
    }
  }

  returned(ids: string[]): void {
    const tasks = ids.flatMap((id) => this.inflight.get(id) ?? []);
    if (this.stopping) {
      this.#giveBack(tasks);
    } else {
      for (const t of tasks) this.#place(t);
      this.pool.flushSubmits();
    }
    this.onWake();
  }

  progress(id: string, value: string): void {
    const t = this.inflight.get(id);
    if (!t || t.lost) return;
    t.hadProgress = true;
    this.committer.progress(KEYS.progress + id, value);
  }

  signal(signal: SignalName, task: TaskInfo): void {
    this.#emit(signal, task);
  }

  capacity(): void {
    this.onWake();
  }

  #deadlockWarned = new Set<string>();
  waiting(child: string, parents: string[], free: number): void {
    if (free > 0) return;
    const names = parents.map((id) => this.inflight.get(id)?.name ?? id).join(", ");
    if (this.#deadlockWarned.has(names)) return;
    this.#deadlockWarned.add(names);
    this.log.warn(
      `task ${names} blocks on the result of task ${child} inside a Worker, but every Worker slot of this consumer is busy: ` +
        `unless another consumer runs ${child}, this is a deadlock until the get() times out. Give the consumer more ` +
        `--workers or --concurrency, or do not block on results inside tasks (use a pipeline: task.s().then(...))`,
    );
  }

  note(level: "info" | "warn" | "error", message: string): void {
    this.log[level](message);
  }

  // ------------------------------------------------------------------ leases lost, revoked while running

  /** These tasks' leases (or locks) are gone: stop them now and write nothing of theirs. */
  loseLeases(ids: Iterable<string>, why: string): void {
    for (const id of ids) {
      const t = this.inflight.get(id);
      if (!t || t.lost) continue;
      t.lost = true;
      this.log.warn(`${t.name} ${id}: ${why}; stopping it, its outcome will be discarded`);
      if (t.placed) this.pool.kill(id, why);
      else this.#forget(t);
    }
  }

  /** Fire the AbortSignal of running tasks revoked since they started. */
  async abortRevoked(now: number): Promise<void> {
    const revocations = await readRevocations(this.host.storage);
    if (!revocations) return;
    for (const t of this.inflight.values()) {
      if (t.revoked || !this.pool.isStarted(t.id)) continue;
      if (isRevokedNow(revocations, t.id, t.name, now)) {
        t.revoked = true;
        this.pool.abort(t.id, "the task was revoked");
      }
    }
  }

  // ------------------------------------------------------------------ outcomes

  #plan(task: InFlight, outcome: Outcome, ms?: number, before?: PlanOptions["before"]): void {
    let plan: Plan;
    try {
      const o: PlanOptions = { keepFailed: this.host.keepFailed, hadProgress: task.hadProgress, lookup: this.#stageOptions };
      if (before) o.before = before;
      plan = planOutcome(task, outcome, (this.o.clock ?? Date.now)(), o);
    } catch (err) {
      plan = unreadablePlan(task, serializeError(err));
    }
    this.#queue({ task, plan, error: "error" in outcome ? outcome.error : undefined, ms });
  }

  #queue(p: PendingOutcome<InFlight>): void {
    if (this.o.immediate && p.plan.signals.includes("retrying") && p.plan.batch.schedule?.length) {
      p.plan.batch.enqueue = [...(p.plan.batch.enqueue ?? []), ...p.plan.batch.schedule.map(({ eta: _eta, ...it }) => it)];
      p.plan.batch.schedule = [];
    }
    p.task.planned = true;
    if (p.task.lock) p.lock = { key: p.task.lock.key, owner: p.task.lock.owner };
    if (p.task.slot) p.slot = p.task.slot;
    if (p.task.hadProgress) this.committer.forgetProgress(KEYS.progress + p.task.id);
    try {
      addRecord(p.task, p.plan, p.error, (this.o.clock ?? Date.now)(), this.#stageOptions(p.task.name)?.resultTtl);
    } catch (err) {
      this.log.warn(`${p.task.name} ${p.task.id}: could not keep its log record: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.committer.add(p);
  }

  /** After a commit: forget the tasks, count, log, emit signals, complete chords. */
  async committed(done: PendingOutcome<InFlight>[], lost: Set<string>): Promise<void> {
    if (lost.size) {
      this.stats.lost += lost.size;
      this.log.warn(`lost the lease of ${lost.size} task(s) before their outcome was written (paused past the lease?): wrote nothing of them`);
    }
    for (const p of done) {
      this.#forget(p.task);
      if (lost.has(p.task.id)) continue;
      reportOutcome(p, this.#sink);
    }
    for (const p of done) {
      if (!p.plan.chord || lost.has(p.task.id)) continue;
      await this.host.completeChord(p.plan.chord).catch((err) =>
        this.log.error(`chord ${p.plan.chord!.id}: could not enqueue its callback: ${err instanceof Error ? err.message : String(err)}`),
      );
    }
    this.onWake();
  }

  /** Schedules this commit wrote, for the promoter (the earliest eta matters). */
  static earliestEta(done: PendingOutcome[]): number {
    let min = Infinity;
    for (const p of done) {
      const schedule = p.plan.batch.schedule;
      if (schedule) for (const s of schedule) if (s.eta < min) min = s.eta;
    }
    return min;
  }

  #emit(signal: SignalName, info: TaskInfo, err?: Error): void {
    const p = this.host.signals.emit(signal, info, err);
    if (this.o.immediate) this.emitted.push(p);
  }

  /** Shutdown: tasks still in flight go back to the queue, with signal "interrupted". */
  async interruptAll(): Promise<void> {
    const left = [...this.inflight.values()];
    if (left.length === 0) return;
    this.log.warn(`grace period over: returning ${left.length} running task(s) to the queue`);
    // Those that ran count as leased (a task that stops its consumer each time still reaches maxLeases);
    // those still waiting in a Worker's prefetch do not.
    const ran: LeaseRef[] = [];
    const waited: LeaseRef[] = [];
    for (const { id, token } of left) (this.pool.isStarted(id) ? ran : waited).push({ id, token });
    await Promise.all([this.host.storage.release(ran), this.host.storage.release(waited, true)]).catch((err) =>
      this.log.error(`could not return tasks to the queue (their leases will expire): ${String(err)}`),
    );
    for (const t of left) {
      this.#forget(t);
      for (const l of heldLocks(t)) await this.host.storage.releaseLock(l.key, l.owner).catch(() => {});
      this.stats.interrupted++;
      this.#emit("interrupted", infoOf(t));
    }
  }

  #forget(task: InFlight): void {
    if (this.inflight.get(task.id) !== task) return;
    this.inflight.delete(task.id);
    const next = task.next;
    if (next === undefined) return;
    task.next = undefined;
    // Never admitted: while stopping it goes back unstarted, as a task no Worker took.
    if (this.stopping) return this.#giveBack([next as InFlight]);
    this.dispatch([next], (this.o.clock ?? Date.now)()).catch((err) => this.log.error(`${next.name} ${next.id}: could not dispatch it (its lease will expire): ${String(err)}`));
  }
}

export type { Hooks };

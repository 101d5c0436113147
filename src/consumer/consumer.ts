import { hasCode, LoadError, serializeError, TaskTimeoutError, WorkerDiedError, type SerializedError } from "../errors";
import { planDefer, planLocked, planOutcome, planSkip, type Outcome, type Plan } from "../executor";
import type { Huey } from "../huey";
import { itemInfo, KEYS, readMessage, taskInfo, type DeadLetter } from "../message";
import { PeriodicScheduler } from "../periodic";
import type { SignalName } from "../signals";
import type { CommitBatch, LeasedItem, LeaseRef } from "../storage/types";
import { fileSink, Logger } from "./logger";
import { resolveConsumerOptions, type ConsumerOptions, type ResolvedConsumerOptions } from "./options";
import { WorkerSlot } from "./pool";
import type { WorkerMessage } from "./protocol";

/** Most tasks taken in one lease statement. */
const MAX_LEASE_BATCH = 256;
/**
 * Fewest tasks worth a lease statement while every Worker has work: each statement has a fixed
 * cost, and leasing a handful after every small group commit cost ~20 µs a row instead of ~8.
 */
const MIN_LEASE_BATCH = 32;
/**
 * How much expected work a Worker may hold queued behind its running tasks. Deep queues keep
 * short tasks flowing; for slow tasks they would make the queued ones wait behind a slow one
 * while another Worker idles, so the queue depth follows each Worker's measured task time.
 */
const PREFETCH_BUDGET_MS = 2;
/** Longest idle sleep between schedule checks; changes in storage wake the poller sooner. */
const MAX_IDLE_MS = 1_000;
/** A group commit smaller than this waits up to 1 ms for more outcomes while many tasks are in flight. */
const GROUP_COMMIT_MIN = 32;
/** How long to wait before retrying a group commit that failed (disk full, database locked). */
const COMMIT_RETRY_MS = 1_000;
/** How often expired dead letters, results, counters and locks are dropped. */
const RETENTION_EVERY_MS = 60_000;
/** Longest wait between attempts to start a replacement Worker that fails to load. */
const RESPAWN_MAX_MS = 30_000;
/** How long a stopping Worker gets for its onShutdown hooks. */
const SHUTDOWN_HOOKS_MS = 2_000;

interface InFlight extends LeaseRef {
  name: string;
  priority: number;
  payload: string;
  slot: WorkerSlot | null;
  timer?: ReturnType<typeof setTimeout>;
  /** Its timeout fired: whatever it returns now counts as a timeout (unless it succeeded). */
  timedOut?: boolean;
  /** Revoked while running. */
  revoked?: boolean;
  /** The lock it holds while it runs (owner: its id). */
  lock?: string;
  /** It called ctx.progress(): its progress entry is removed when it finishes. */
  hadProgress?: boolean;
}

interface PendingPlan {
  task: InFlight;
  plan: Plan;
  error?: SerializedError;
  ms?: number;
}

interface Revocation {
  until: number | null;
  once: boolean;
}

export interface ConsumerSetup {
  /** The tasks file each Worker loads. */
  file: string;
  /** Which Huey instance of the file (export name or Huey name); null when it has one. */
  instance: string | null;
}

/**
 * The consumer: one poller in this thread leases ready tasks in batches and hands them to a pool
 * of Bun Workers; their outcomes come back and are written in group commits.
 */
export class Consumer {
  readonly options: ResolvedConsumerOptions;
  readonly log: Logger;
  #huey: Huey;
  #setup: ConsumerSetup;
  #slots: WorkerSlot[] = [];
  #inflight = new Map<string, InFlight>();
  #pending: PendingPlan[] = [];
  #progress = new Map<string, string>();
  #flushing = false;
  #flushScheduled = false;
  #queuingReport = false;
  #stopping = false;
  #kick: (() => void) | null = null;
  #storageWait: Promise<void> | null = null;
  #nextPromote = 0;
  #nextMaintenance = 0;
  #nextRetention = 0;
  #periodic: PeriodicScheduler | null = null;
  #nextPeriodic = Infinity;
  #loopDone: Promise<void> | null = null;
  #unknownWarned = new Map<string, number>();
  #nextSlotIndex = 0;
  #started = false;
  #readyWaiters = new Map<WorkerSlot, { resolve: () => void; reject: (e: Error) => void }>();
  #stoppedResolve!: () => void;
  #stoppedPromise = new Promise<void>((r) => (this.#stoppedResolve = r));
  /** Counts for status and tests. */
  readonly stats = { completed: 0, failed: 0, retried: 0, interrupted: 0, workerRestarts: 0, recycled: 0 };

  constructor(huey: Huey, setup: ConsumerSetup, options: ConsumerOptions = {}, logger?: Logger) {
    this.#huey = huey;
    this.#setup = setup;
    this.options = resolveConsumerOptions(options);
    this.log = logger ?? new Logger(this.options.logLevel, this.options.logFormat);
    huey.signals.setErrorReporter((err, signal) =>
      this.log.error(`a "${signal}" signal handler threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`),
    );
  }

  /** Start the Workers (each loads the tasks file) and the poller. Rejects if a Worker cannot load the file. */
  async start(): Promise<void> {
    if (this.#started) throw new Error("this consumer was already started");
    this.#started = true;
    const storage = this.#huey.storage; // open (and migrate) before the Workers start
    await storage.reclaimExpired(Date.now());
    const ready = [];
    for (let i = 0; i < this.options.workers; i++) ready.push(this.#spawn());
    try {
      await Promise.all(ready);
    } catch (err) {
      for (const s of this.#slots) s.terminate();
      this.#slots = [];
      throw err;
    }
    const o = this.options;
    const defs = this.#huey.periodicDefs();
    if (o.periodic && defs.length > 0) {
      this.#periodic = new PeriodicScheduler({
        storage,
        defs: [...defs],
        // Each tick's task has the id "<name>:<tick>": a second guard against running a tick
        // twice, and a way for a context task to know its tick.
        enqueue: async (def, tickMs) => {
          try {
            await this.#huey.lookup(def.name)!.def.schedule([], { id: `${def.name}:${tickMs}` });
          } catch (err) {
            if (!isDuplicateId(err)) throw err;
          }
        },
      });
      this.#nextPeriodic = 0;
    }
    this.log.info(
      `consumer started: huey "${this.#huey.name}" on ${storage.kind}, ${o.workers} worker(s) x concurrency ${o.concurrency}, ` +
        `tasks: ${this.#huey.taskNames().join(", ") || "(none)"}`,
    );
    this.#loopDone = this.#loop();
  }

  /** Resolves once a stop has finished (storage closed). */
  get stopped(): Promise<void> {
    return this.#stoppedPromise;
  }

  /**
   * Graceful stop: take no more tasks, hand back tasks not started, let running ones finish
   * within `grace`, then fire their AbortSignals, give them `timeoutGrace`, and return whatever
   * still runs to the queue. Closes the storage.
   */
  async stop(grace = this.options.grace): Promise<void> {
    if (this.#stopping) return this.#stoppedPromise;
    this.#stopping = true;
    this.log.info(`stopping: ${this.#runningCount()} task(s) running, grace ${grace}ms`);
    this.#wake();
    await this.#loopDone;
    for (const s of this.#live()) s.send({ type: "stop" });
    const deadline = Date.now() + grace;
    await this.#until(() => this.#inflight.size === 0, deadline);
    if (this.#inflight.size > 0) {
      for (const t of this.#inflight.values()) if (t.slot) t.slot.send({ type: "abort", id: t.id, reason: "the consumer is shutting down" });
      await this.#until(() => this.#inflight.size === 0, Date.now() + this.options.timeoutGrace);
    }
    // A Worker still running a task cannot run its onShutdown hooks: do not wait for it.
    await this.#until(() => this.#live().every((s) => s.stopped || s.started.size > 0), Date.now() + SHUTDOWN_HOOKS_MS);
    for (const s of this.#slots) s.terminate();
    // Write every outcome that came in before closing the storage (a flush may be under way).
    await this.#until(() => {
      if (!this.#flushing && (this.#pending.length > 0 || this.#progress.size > 0)) void this.#flush();
      return !this.#flushing && this.#pending.length === 0;
    }, Date.now() + SHUTDOWN_HOOKS_MS);
    if (this.#inflight.size > 0) {
      const left = [...this.#inflight.values()];
      this.log.warn(`grace period over: returning ${left.length} running task(s) to the queue`);
      await this.#huey.storage.release(left.map(({ id, token }) => ({ id, token }))).catch((err) =>
        this.log.error(`could not return tasks to the queue (their leases will expire): ${String(err)}`),
      );
      for (const t of left) {
        this.#forget(t);
        this.#unlock(t);
        this.stats.interrupted++;
        this.#emit("interrupted", t);
      }
    }
    await this.#huey.close();
    this.log.info("consumer stopped");
    this.log.flush();
    this.#stoppedResolve();
  }

  async #until(cond: () => boolean, deadline: number): Promise<void> {
    while (!cond() && Date.now() < deadline) await this.#waitKick(Math.min(50, deadline - Date.now()));
  }

  // ---------------------------------------------------------------- the poller

  async #loop(): Promise<void> {
    const storage = this.#huey.storage;
    const leaseMs = this.options.lease;
    while (!this.#stopping) {
      try {
        const now = Date.now();
        if (now >= this.#nextMaintenance) await this.#maintain(now);
        if (now >= this.#nextPromote) await this.#promote(now);
        if (now >= this.#nextPeriodic) await this.#tickPeriodic(now);
        const free = this.#room();
        if (free >= MIN_LEASE_BATCH || (free > 0 && this.#starving())) {
          const want = Math.min(free, MAX_LEASE_BATCH);
          const items = await storage.lease(want, now + leaseMs);
          if (items.length > 0) await this.#dispatch(items);
          if (items.length === want) continue;
          await this.#idle(true);
        } else {
          await this.#idle(false);
        }
      } catch (err) {
        this.log.error(`poller: ${err instanceof Error ? err.message : String(err)}; retrying in 1s`);
        await this.#waitKick(COMMIT_RETRY_MS);
      }
    }
  }

  /** Sleep until an outcome frees capacity, another writer changes storage, or a timer is due. */
  async #idle(watchStorage: boolean): Promise<void> {
    const until = Math.min(this.#nextPromote, this.#nextMaintenance, this.#nextPeriodic);
    const ms = Math.max(0, Math.min(MAX_IDLE_MS, until - Date.now()));
    if (ms === 0) return;
    const waits: Promise<unknown>[] = [this.#waitKick(ms)];
    if (watchStorage) {
      this.#storageWait ??= this.#huey.storage.waitForChange(ms, "queue").then(() => {
        this.#storageWait = null;
        this.#nextPromote = 0; // someone may have scheduled something sooner
      });
      waits.push(this.#storageWait);
    }
    await Promise.race(waits);
  }

  #waitKick(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, Math.max(0, ms));
      const prev = this.#kick;
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.#kick = () => {
        prev?.();
        done();
      };
    });
  }

  #wake(): void {
    const k = this.#kick;
    this.#kick = null;
    k?.();
  }

  async #maintain(now: number): Promise<void> {
    const storage = this.#huey.storage;
    this.#nextMaintenance = now + Math.max(250, Math.floor(this.options.lease / 3));
    if (this.#inflight.size > 0) {
      const refs = [...this.#inflight.values()].map(({ id, token }) => ({ id, token }));
      await storage.renew(refs, now + this.options.lease);
      for (const t of this.#inflight.values()) if (t.lock) await storage.renewLocks([t.lock], t.id, now + this.options.lease);
      await this.#abortRevokedRunning();
    }
    const reclaimed = await storage.reclaimExpired(now);
    if (reclaimed > 0) this.log.warn(`${reclaimed} task(s) whose consumer stopped renewing their lease are ready again`);
    // Chords whose last member finished in a consumer that died before enqueuing the callback.
    for (const c of await this.#huey.pendingChords()) await this.#huey.completeChord(c);
    if (now >= this.#nextRetention) {
      this.#nextRetention = now + RETENTION_EVERY_MS;
      await this.#dropOldDeadLetters(now);
      // Expired results, rate-limit windows and locks read as missing but would otherwise stay.
      const purged = await storage.purgeExpired(now);
      if (purged > 0) this.log.debug(`dropped ${purged} expired result(s), counter(s) and lock(s)`);
    }
  }

  /** Enqueue the periodic ticks that are due and claimed by us; sleep until the next tick. */
  async #tickPeriodic(now: number): Promise<void> {
    const p = this.#periodic!;
    const report = await p.tick(now);
    for (const t of report.enqueued) this.log.debug(`periodic ${t.def.name}: tick ${new Date(t.tickMs).toISOString()} enqueued`);
    for (const f of report.failed) {
      this.log.error(`periodic ${f.def.name}: could not enqueue its tick (tried again next time): ${f.error instanceof Error ? f.error.message : String(f.error)}`);
    }
    const wait = p.msUntilNextTick(Date.now());
    this.#nextPeriodic = wait === null ? Infinity : Date.now() + Math.max(1, wait);
  }

  async #promote(now: number): Promise<void> {
    const storage = this.#huey.storage;
    // A read first: promoteDue is a write transaction, not worth taking when nothing is due.
    let next = await storage.nextEta();
    if (next !== null && next <= now) {
      let moved: number;
      do moved = await storage.promoteDue(now, 1000);
      while (moved === 1000);
      next = await storage.nextEta();
    }
    this.#nextPromote = next === null ? now + MAX_IDLE_MS : Math.min(next, now + MAX_IDLE_MS);
  }

  /** Dead letters are keyed by time-ordered id: drop from the oldest until one is young enough. */
  async #dropOldDeadLetters(now: number): Promise<void> {
    const keep = this.#huey.options.failedRetention;
    if (keep === null) return;
    const rows = await this.#huey.storage.listData(KEYS.failed, 500);
    const old = rows.filter((r) => (JSON.parse(r.value) as DeadLetter).failedAt < now - keep).map((r) => r.key);
    if (old.length) await this.#huey.storage.commit({ deleteData: old });
  }

  #live(): WorkerSlot[] {
    return this.#slots.filter((s) => !s.gone);
  }

  #runningCount(): number {
    let n = 0;
    for (const s of this.#slots) n += s.started.size;
    return n;
  }

  /** Tasks `slot` may hold now: its concurrency plus a prefetch sized to its task time. */
  #slotLimit(slot: WorkerSlot): number {
    if (!slot.ready || slot.gone || slot.retiring) return 0;
    const byTime = Math.floor((PREFETCH_BUDGET_MS * this.options.concurrency) / Math.max(slot.avgMs, 0.001));
    return this.options.concurrency + Math.min(this.options.prefetch, byTime);
  }

  /** A ready Worker has fewer tasks than it can run at once: lease now, even a few. */
  #starving(): boolean {
    for (const s of this.#slots) if (s.ready && !s.gone && !s.retiring && s.held.size < this.options.concurrency) return true;
    return false;
  }

  /** Room for more tasks across ready Workers. */
  #room(): number {
    let n = 0;
    for (const s of this.#slots) n += Math.max(0, this.#slotLimit(s) - s.held.size);
    return n;
  }

  // ---------------------------------------------------------------- dispatch

  /** Check leased tasks (name known, not revoked, within rate limits) and hand them to the Workers. */
  async #dispatch(items: LeasedItem[]): Promise<void> {
    const revocations = await this.#revocations();
    const now = Date.now();
    const batches = new Map<WorkerSlot, { id: string; payload: string }[]>();
    for (const item of items) {
      const task: InFlight = { id: item.id, token: item.token, name: item.name, priority: item.priority, payload: item.payload, slot: null };
      this.#inflight.set(item.id, task);
      const reg = this.#huey.lookup(item.name);
      if (!reg) {
        this.#putBackUnknown(task, now);
        continue;
      }
      if (item.leases > this.options.maxLeases) {
        const error = {
          name: "WorkerDiedError",
          message: `task was taken ${item.leases - 1} times and never finished: its worker or consumer died each time (option maxLeases)`,
          code: "HUEY_WORKER_DIED",
        };
        this.#plan(task, { kind: "error", error }, undefined, { noRetry: true });
        continue;
      }
      const revokedBy = revocations && this.#revokedBy(revocations, task, now);
      if (revokedBy) {
        const plan = planSkip(task, "revoked");
        if (revokedBy.consume) (plan.batch.deleteData ??= []).push(revokedBy.key);
        this.#queuePlan({ task, plan });
        continue;
      }
      if (reg.options.rateLimit) {
        const retryAt = await this.#rateLimited(task, reg.options.rateLimit, now);
        if (retryAt !== null) {
          this.#queuePlan({ task, plan: planDefer(task, retryAt, "rate-limited") });
          continue;
        }
      }
      if (reg.options.lock !== null) {
        // The lock is a lease like the task's own: renewed together, freed by expiry if we die.
        if (!(await this.#huey.storage.acquireLock(reg.options.lock, task.id, now + this.options.lease, now))) {
          this.#queuePlan({ task, plan: planLocked(task, reg.options.lock, reg.options.lockRetry, now, { lookup: (n) => this.#huey.lookup(n)?.options }) });
          continue;
        }
        task.lock = reg.options.lock;
      }
      const slot = this.#pickSlot();
      if (!slot) {
        // Should not happen (we lease only what fits); return it rather than overfill.
        this.#inflight.delete(item.id);
        void this.#huey.storage.release([{ id: item.id, token: item.token }]);
        continue;
      }
      task.slot = slot;
      slot.held.add(item.id);
      let b = batches.get(slot);
      if (!b) batches.set(slot, (b = []));
      b.push({ id: item.id, payload: item.payload });
    }
    for (const [slot, tasks] of batches) slot.send({ type: "run", tasks });
  }

  /** The Worker with the most room relative to its limit. */
  #pickSlot(): WorkerSlot | null {
    let best: WorkerSlot | null = null;
    let bestRoom = 0;
    for (const s of this.#slots) {
      const room = this.#slotLimit(s) - s.held.size;
      if (room > bestRoom) {
        best = s;
        bestRoom = room;
      }
    }
    return best;
  }

  /** Current revocations, or null when there are none (the common case: one cheap range read). */
  async #revocations(): Promise<Map<string, Revocation> | null> {
    const rows = await this.#huey.storage.listData("revoked:", 10_000);
    if (rows.length === 0) return null;
    return new Map(rows.map((r) => [r.key, JSON.parse(r.value) as Revocation]));
  }

  /** The revocation that applies to `task`, and whether applying it uses it up. */
  #revokedBy(revocations: Map<string, Revocation>, task: InFlight, now: number): { key: string; consume: boolean } | null {
    for (const [key, consumeAlways] of [
      [KEYS.revokedId + task.id, true],
      [KEYS.revokedTask + task.name, false],
    ] as const) {
      const r = revocations.get(key);
      if (r && (r.until === null || r.until > now)) return { key, consume: consumeAlways || r.once };
    }
    return null;
  }

  /** Fire the AbortSignal of running tasks revoked since they started. */
  async #abortRevokedRunning(): Promise<void> {
    const revocations = await this.#revocations();
    if (!revocations) return;
    const now = Date.now();
    for (const t of this.#inflight.values()) {
      if (t.revoked || !t.slot || !t.slot.started.has(t.id)) continue;
      if (this.#revokedBy(revocations, t, now)) {
        t.revoked = true;
        t.slot.send({ type: "abort", id: t.id, reason: "the task was revoked" });
      }
    }
  }

  /** Fixed-window rate limit shared through storage: null to run now, else when to try again. */
  async #rateLimited(task: InFlight, rl: { limit: number; per: number; key: ((...a: any[]) => string) | null }, now: number): Promise<number | null> {
    let key = "";
    if (rl.key) {
      try {
        key = String(rl.key(...readMessage(task.payload).args));
      } catch (err) {
        this.log.error(`${task.name} ${task.id}: its rateLimit.key function threw (${String(err)}); using one limit for the task`);
      }
    }
    const windowStart = Math.floor(now / rl.per) * rl.per;
    const windowEnd = windowStart + rl.per;
    const count = await this.#huey.storage.incr(`${KEYS.rate}${task.name}:${key}:${windowStart}`, 1, windowEnd, now);
    return count > rl.limit ? windowEnd : null;
  }

  #putBackUnknown(task: InFlight, now: number): void {
    const delay = this.options.unknownTaskDelay;
    const last = this.#unknownWarned.get(task.name) ?? 0;
    if (now - last > 60_000) {
      this.#unknownWarned.set(task.name, now);
      this.log.warn(
        `task "${task.name}" (${task.id}) is not registered in this consumer's tasks file; it stays queued and is ` +
          `retried in ${delay}ms (registered: ${this.#huey.taskNames().join(", ") || "none"})`,
      );
    }
    // Not a retry of the task: no signal, nothing counted.
    this.#queuePlan({ task, plan: { ...planDefer(task, now + delay, "retrying"), signals: [] } });
  }

  // ---------------------------------------------------------------- Workers

  #spawn(): Promise<void> {
    const slot = new WorkerSlot(
      this.#nextSlotIndex++,
      (s, m) => this.#onMessage(s, m),
      (s, reason) => this.#onGone(s, reason),
    );
    this.#slots.push(slot);
    const ready = new Promise<void>((resolve, reject) => this.#readyWaiters.set(slot, { resolve, reject }));
    slot.send({
      type: "init",
      file: this.#setup.file,
      instance: this.#setup.instance,
      maxPayloadSize: this.#huey.options.maxPayloadSize,
      concurrency: this.options.concurrency,
      timeout: this.options.timeout,
    });
    return ready;
  }

  #onMessage(slot: WorkerSlot, msg: WorkerMessage): void {
    switch (msg.type) {
      case "ready":
        slot.ready = true;
        this.#readyWaiters.get(slot)?.resolve();
        this.#readyWaiters.delete(slot);
        this.#wake();
        return;
      case "load-error": {
        const err = new LoadError(`worker ${slot.index}: ${msg.error.message}`);
        const w = this.#readyWaiters.get(slot);
        this.#readyWaiters.delete(slot);
        slot.terminate();
        this.#slots = this.#slots.filter((s) => s !== slot);
        if (w) w.reject(err);
        else this.log.error(err.message);
        return;
      }
      case "report":
        this.#onReport(slot, msg.started, msg.done);
        return;
      case "returned":
        this.#onReturned(slot, msg.ids);
        return;
      case "stopped":
        slot.stopped = true;
        if (slot.retiring && !this.#stopping) this.#replace(slot);
        this.#wake();
        return;
      case "progress": {
        const t = this.#inflight.get(msg.id);
        if (t) t.hadProgress = true;
        this.#progress.set(KEYS.progress + msg.id, msg.value);
        this.#scheduleFlush();
        return;
      }
      case "signal":
        void this.#huey.signals.emit(msg.signal, msg.task);
        return;
    }
  }

  #onReport(slot: WorkerSlot, started: string[], done: { id: string; outcome: Outcome; ms: number }[]): void {
    const wantExecuting = this.#huey.signals.has("executing");
    for (const id of started) {
      slot.started.add(id);
      const t = this.#inflight.get(id);
      if (!t) continue;
      this.#armTimeout(t);
      if (wantExecuting) this.#emit("executing", t);
    }
    // Decide on the group commit once the whole report is queued, not at its first outcome.
    this.#queuingReport = true;
    try {
      for (const d of done) {
        slot.held.delete(d.id);
        slot.started.delete(d.id);
        slot.tasksRun++;
        slot.avgMs = slot.avgMs * 0.8 + d.ms * 0.2;
        const task = this.#inflight.get(d.id);
        if (task) this.#finish(task, d.outcome, d.ms);
      }
    } finally {
      this.#queuingReport = false;
    }
    if (this.#pending.length > 0) this.#scheduleFlush();
    const max = this.options.maxTasks;
    if (max !== null && slot.tasksRun >= max && !slot.retiring && !this.#stopping) {
      slot.retiring = true;
      this.stats.recycled++;
      this.log.info(`worker ${slot.index} ran ${slot.tasksRun} tasks (--max-tasks ${max}): replacing it`);
      slot.send({ type: "stop" });
    }
  }

  /** A task's outcome, seen through what happened to it meanwhile (timeout, revoke). */
  #finish(task: InFlight, outcome: Outcome, ms?: number): void {
    if (task.timer) clearTimeout(task.timer);
    if (outcome.kind !== "ok" && task.timedOut) {
      this.#plan(task, { kind: "error", error: serializeError(new TaskTimeoutError(task.name, this.#timeoutOf(task) ?? 0)) }, ms, {
        before: ["timeout"],
      });
    } else if (outcome.kind !== "ok" && task.revoked) {
      this.#queuePlan({ task, plan: planSkip(task, "revoked"), ms });
    } else {
      this.#plan(task, outcome, ms);
    }
  }

  #timeoutOf(task: InFlight): number | null {
    return this.#huey.lookup(task.name)?.options.timeout ?? this.options.timeout;
  }

  /** On start: after its timeout, fire the task's AbortSignal; after the grace, replace its Worker. */
  #armTimeout(task: InFlight): void {
    const ms = this.#timeoutOf(task);
    if (ms === null || task.timer) return;
    task.timer = setTimeout(() => {
      if (!this.#inflight.has(task.id) || !task.slot) return;
      task.timedOut = true;
      task.slot.send({ type: "abort", id: task.id, reason: `timed out after ${ms}ms` });
      task.timer = setTimeout(() => {
        const slot = task.slot;
        if (!this.#inflight.has(task.id) || !slot || slot.gone) return;
        this.log.warn(`${task.name} ${task.id} did not stop ${this.options.timeoutGrace}ms after its timeout: replacing worker ${slot.index}`);
        slot.terminate();
        this.#retire(slot, task.id, `terminated: task ${task.name} ${task.id} timed out`);
      }, this.options.timeoutGrace);
    }, ms);
  }

  #onReturned(slot: WorkerSlot, ids: string[]): void {
    const refs: LeaseRef[] = [];
    for (const id of ids) {
      slot.held.delete(id);
      const t = this.#inflight.get(id);
      if (!t) continue;
      this.#forget(t);
      this.#unlock(t);
      refs.push({ id, token: t.token });
    }
    if (refs.length) {
      void this.#huey.storage
        .release(refs)
        .catch((err) => this.log.error(`could not return tasks to the queue (their leases will expire): ${String(err)}`));
    }
    this.#wake();
  }

  /** A Worker died on its own: replace it (unless stopping). */
  #onGone(slot: WorkerSlot, reason: string): void {
    const w = this.#readyWaiters.get(slot);
    if (w) {
      this.#slots = this.#slots.filter((s) => s !== slot);
      this.#readyWaiters.delete(slot);
      w.reject(new LoadError(`worker ${slot.index} died while loading ${this.#setup.file}: ${reason}`));
      return;
    }
    this.#retire(slot, null, reason);
  }

  /**
   * Take a dead or terminated Worker out: the task that caused it (`culprit`: a timeout) or, for a
   * crash, every task it had started, fails (or retries); tasks it had not started go back to the
   * queue, and so do other running tasks when the culprit is known. Then start a new Worker.
   */
  #retire(slot: WorkerSlot, culprit: string | null, reason: string): void {
    this.#slots = this.#slots.filter((s) => s !== slot);
    const release: InFlight[] = [];
    for (const id of slot.held) {
      const task = this.#inflight.get(id);
      if (!task) continue;
      if (id === culprit) {
        this.#finish(task, { kind: "error", error: serializeError(new WorkerDiedError(reason)) });
      } else if (culprit === null && slot.started.has(id)) {
        this.#finish(task, { kind: "error", error: serializeError(new WorkerDiedError(reason)) });
      } else {
        this.#forget(task);
        this.#unlock(task);
        release.push(task);
      }
    }
    slot.held.clear();
    slot.started.clear();
    if (release.length) {
      void this.#huey.storage
        .release(release.map(({ id, token }) => ({ id, token })))
        .catch((err) => this.log.error(`could not return tasks: ${String(err)}`));
      for (const t of release) if (culprit !== null) this.#emit("interrupted", t);
    }
    if (this.#stopping) return;
    this.stats.workerRestarts++;
    if (culprit === null) this.log.warn(`worker ${slot.index} ${reason}; starting a new one`);
    this.#spawnLogged();
  }

  /** A retiring Worker (--max-tasks) finished its tasks: swap it for a new one. */
  #replace(slot: WorkerSlot): void {
    slot.terminate();
    this.#slots = this.#slots.filter((s) => s !== slot);
    this.#spawnLogged();
  }

  /**
   * Start a replacement Worker; if it cannot load the tasks file (edited into a broken state
   * since we started, say), try again with backoff rather than run one Worker short for good.
   */
  #spawnLogged(attempt = 0): void {
    this.#spawn().catch((err) => {
      if (this.#stopping) return;
      const wait = Math.min(RESPAWN_MAX_MS, 1_000 * 2 ** attempt);
      this.log.error(`a replacement worker failed to start (trying again in ${wait}ms): ${err instanceof Error ? err.message : String(err)}`);
      const t = setTimeout(() => {
        if (!this.#stopping) this.#spawnLogged(attempt + 1);
      }, wait);
      (t as { unref?: () => void }).unref?.();
    });
  }

  #forget(task: InFlight): void {
    if (task.timer) clearTimeout(task.timer);
    this.#inflight.delete(task.id);
  }

  /** Free the lock of a task that goes back to the queue without an outcome. */
  #unlock(task: InFlight): void {
    if (!task.lock) return;
    void this.#huey.storage.releaseLock(task.lock, task.id).catch(() => {});
  }

  // ---------------------------------------------------------------- outcomes and group commit

  #plan(task: InFlight, outcome: Outcome, ms?: number, extra: { noRetry?: boolean; before?: SignalName[] } = {}): void {
    let plan: Plan;
    try {
      plan = planOutcome(task, outcome, Date.now(), {
        keepFailed: this.#huey.options.failedRetention !== null,
        hadProgress: task.hadProgress,
        lookup: (n) => this.#huey.lookup(n)?.options,
        ...extra,
      });
    } catch (err) {
      // The payload itself is unreadable: fail it for good, keeping the error.
      const error = serializeError(err);
      plan = {
        batch: {
          ack: [{ id: task.id, token: task.token }],
          results: [{ id: task.id, payload: JSON.stringify({ ok: false, name: task.name, error, attempts: 1 }) }],
        },
        signals: ["error"],
      };
    }
    this.#queuePlan({ task, plan, error: "error" in outcome ? outcome.error : undefined, ms });
  }

  #queuePlan(p: PendingPlan): void {
    this.#pending.push(p);
    if (!this.#queuingReport) this.#scheduleFlush();
  }

  /**
   * Group commit: when the consumer is busy and few outcomes wait, give other Workers' reports a
   * millisecond to join the same transaction; when it is nearly idle, commit at once (latency).
   */
  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    const run = () => {
      this.#flushScheduled = false;
      void this.#flush();
    };
    const busy = this.#pending.length < GROUP_COMMIT_MIN && this.#inflight.size - this.#pending.length > GROUP_COMMIT_MIN;
    if (busy) setTimeout(run, 1);
    else setImmediate(run);
  }

  /** Write every pending outcome in one transaction, then emit signals and log. */
  async #flush(): Promise<void> {
    if (this.#flushing || (this.#pending.length === 0 && this.#progress.size === 0)) return;
    this.#flushing = true;
    const pending = this.#pending;
    const progress = this.#progress;
    this.#pending = [];
    this.#progress = new Map();
    const batch = mergeBatches([
      { putData: [...progress].filter(([k]) => this.#inflight.has(k.slice(KEYS.progress.length))).map(([key, value]) => ({ key, value })) },
      ...pending.map((p) => p.plan.batch),
    ]);
    try {
      await this.#commitOnce(batch);
    } catch (err) {
      this.#pending = pending.concat(this.#pending);
      for (const [k, v] of progress) if (!this.#progress.has(k)) this.#progress.set(k, v);
      this.#flushing = false;
      this.log.error(`could not write ${pending.length} outcome(s), retrying in 1s: ${err instanceof Error ? err.message : String(err)}`);
      setTimeout(() => this.#scheduleFlush(), COMMIT_RETRY_MS);
      return;
    }
    for (const s of batch.schedule) if (s.eta < this.#nextPromote) this.#nextPromote = s.eta;
    for (const p of pending) {
      this.#forget(p.task);
      this.#report(p);
    }
    for (const p of pending) {
      if (!p.task.lock) continue;
      await this.#huey.storage.releaseLock(p.task.lock, p.task.id).catch((err) =>
        this.log.error(`could not free lock "${p.task.lock}" (it frees itself when its lease runs out): ${String(err)}`),
      );
    }
    for (const p of pending) {
      if (!p.plan.chord) continue;
      await this.#huey.completeChord(p.plan.chord).catch((err) =>
        this.log.error(`chord ${p.plan.chord!.id}: could not enqueue its callback: ${err instanceof Error ? err.message : String(err)}`),
      );
    }
    this.#flushing = false;
    if (this.#pending.length || this.#progress.size) this.#scheduleFlush();
    this.#wake();
  }

  /**
   * Commit, and survive a commit that was applied but whose reply was lost (a network backend
   * dropping the connection): its retry would fail forever on the ids it already enqueued. On a
   * duplicate id, drop the enqueues and schedules that are already stored and commit the rest.
   */
  async #commitOnce(batch: Required<CommitBatch>): Promise<void> {
    const storage = this.#huey.storage;
    try {
      await storage.commit(batch);
    } catch (err) {
      if (!isDuplicateId(err) || (batch.enqueue.length === 0 && batch.schedule.length === 0)) throw err;
      const stored = new Set<string>();
      for (const it of [...batch.enqueue, ...batch.schedule]) if (await storage.hasTask(it.id)) stored.add(it.id);
      if (stored.size === 0) throw err;
      this.log.warn(`${stored.size} task(s) of this commit were already stored (a repeated commit?): writing the rest`);
      await storage.commit({
        ...batch,
        enqueue: batch.enqueue.filter((it) => !stored.has(it.id)),
        schedule: batch.schedule.filter((it) => !stored.has(it.id)),
      });
    }
  }

  #report(p: PendingPlan): void {
    const { task, plan } = p;
    const log = this.log;
    const last = plan.signals[plan.signals.length - 1];
    const what = `${task.name} ${task.id}`;
    const fields = { task: task.name, id: task.id };
    switch (last) {
      case "complete":
        this.stats.completed++;
        if (log.enabled("info")) log.info(`${what} complete in ${fmtMs(p.ms)}`, { ...fields, ms: p.ms });
        break;
      case "retrying":
        this.stats.retried++;
        if (p.error && log.enabled("warn")) {
          const when = plan.retryAt !== undefined ? ` in ${Math.max(0, plan.retryAt - Date.now())}ms` : "";
          log.warn(`${what} failed (${p.error.name}: ${p.error.message}), retrying${when}`, fields);
        }
        break;
      case "error":
        this.stats.failed++;
        if (log.enabled("error")) {
          const stack = log.enabled("debug") && p.error?.stack ? `\n${p.error.stack}` : "";
          log.error(`${what} failed: ${p.error?.name}: ${p.error?.message}${stack}`, fields);
        }
        break;
      case "rate-limited":
        log.debug(`${what} is over its rate limit: delayed until ${new Date(plan.retryAt ?? 0).toISOString()}`, fields);
        break;
      case undefined:
        break;
      default:
        log.info(`${what} ${last}`, fields);
    }
    for (const sig of plan.signals) this.#emit(sig, task, p.error);
    // About what the commit stored: the task's retry, the next pipeline stage, the .error() stage.
    for (const a of plan.also ?? []) if (this.#huey.signals.has(a.signal)) void this.#huey.signals.emit(a.signal, taskInfo(readMessage(a.payload)));
  }

  #emit(signal: SignalName, task: InFlight, error?: SerializedError): void {
    const signals = this.#huey.signals;
    if (!signals.has(signal)) return;
    const info = itemInfo(task);
    const err = error ? Object.assign(new Error(error.message), error) : undefined;
    void signals.emit(signal, info, err);
  }
}

/** A write refused because a task with that id is already stored. */
function isDuplicateId(err: unknown): boolean {
  return hasCode(err, "HUEY_DUPLICATE_ID");
}

/** One CommitBatch holding every write of `batches`, in order. */
export function mergeBatches(batches: CommitBatch[]): Required<CommitBatch> {
  const out: Required<CommitBatch> = { ack: [], results: [], enqueue: [], schedule: [], putData: [], deleteData: [] };
  for (const b of batches) {
    for (const k of Object.keys(out) as (keyof CommitBatch)[]) {
      const part = b[k];
      if (part) for (const x of part) (out[k] as unknown[]).push(x);
    }
  }
  return out;
}

function fmtMs(ms: number | undefined): string {
  if (ms === undefined) return "?";
  return ms < 10 ? `${ms.toFixed(2)}ms` : `${Math.round(ms)}ms`;
}

export interface RunConsumerOptions extends ConsumerOptions {
  /** Which Huey instance of the file, when it exports several. */
  instance?: string | null;
  /** Free every lock before starting (locks left by a consumer that was killed). @default false */
  flushLocks?: boolean;
  /** Append log lines to this file instead of stderr. */
  logFile?: string;
}

/** A consumer run by runConsumer: it may be replaced by a reload (SIGHUP). */
export interface RunningConsumer {
  /** The consumer running now. */
  readonly consumer: Consumer;
  /** Resolves when the consumer stopped for good (not for a reload). */
  readonly stopped: Promise<void>;
  /** Stop gracefully, load the tasks file anew and start again (what SIGHUP does). */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Load a tasks file and run its consumer until SIGINT/SIGTERM (what `huey run FILE` does).
 * A second signal exits at once; leases of tasks still running then expire and they run again.
 * SIGHUP reloads: running tasks finish, then the file is imported anew with new Workers.
 */
export async function runConsumer(file: string, options: RunConsumerOptions = {}): Promise<RunningConsumer> {
  const { loadTasksFile, registerModulePlugin } = await import("./loader");
  const api = await import("../index");
  registerModulePlugin(api as unknown as Record<string, unknown>);
  const o = resolveConsumerOptions(options);
  const logger = new Logger(o.logLevel, o.logFormat, options.logFile ? fileSink(options.logFile) : undefined);
  const instance = options.instance ?? null;
  let generation = 0;

  async function startOne(): Promise<Consumer> {
    const { huey, path } = await loadTasksFile(file, instance, generation);
    const c = new Consumer(huey, { file: path, instance }, options, logger);
    if (options.flushLocks && generation === 0) {
      const n = await huey.flushLocks();
      logger.info(`--flush-locks: freed ${n} lock(s)`);
    }
    await c.start();
    return c;
  }

  let current = await startOne();
  let finish!: () => void;
  const stopped = new Promise<void>((r) => (finish = r));
  let stopping = false;
  let reloading: Promise<void> | null = null;

  const running: RunningConsumer = {
    get consumer() {
      return current;
    },
    stopped,
    reload() {
      if (stopping) return Promise.resolve();
      reloading ??= (async () => {
        logger.info("SIGHUP: reloading: finishing running tasks, then loading the tasks file anew");
        await current.stop();
        generation++;
        try {
          current = await startOne();
        } catch (err) {
          logger.error(`reload failed, stopping: ${err instanceof Error ? err.message : String(err)}`);
          logger.flush();
          stopping = true;
          finish();
          throw err;
        } finally {
          reloading = null;
        }
      })();
      return reloading;
    },
    async stop() {
      stopping = true;
      await reloading?.catch(() => {});
      await current.stop();
      finish();
    },
  };

  if (o.handleSignals) {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        logger.warn(`${sig} again: exiting now; tasks still running go back to the queue when their leases expire`);
        logger.flush();
        process.exit(130);
      }
      logger.info(`${sig} received: finishing running tasks (send it again to exit at once)`);
      void running.stop().then(() => {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        process.off("SIGHUP", onHup);
      });
    };
    const onHup = () => void running.reload().catch(() => {});
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    process.on("SIGHUP", onHup);
  }
  return running;
}

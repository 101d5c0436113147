import { LoadError, serializeError, WorkerDiedError, type SerializedError } from "../errors";
import { planOutcome, type Outcome, type Plan } from "../executor";
import type { Huey } from "../huey";
import { readMessage, taskInfo } from "../message";
import type { SignalName } from "../signals";
import type { CommitBatch, LeasedItem, LeaseRef } from "../storage/types";
import { Logger } from "./logger";
import { resolveConsumerOptions, type ConsumerOptions, type ResolvedConsumerOptions } from "./options";
import { WorkerSlot } from "./pool";
import type { WorkerMessage } from "./protocol";

/** Most tasks taken in one lease statement. */
const MAX_LEASE_BATCH = 256;
/**
 * How much expected work a Worker may hold queued behind its running tasks. Deep queues keep
 * short tasks flowing; for slow tasks they would make the queued ones wait behind a slow one
 * while another Worker idles, so the queue depth follows each Worker's measured task time.
 */
const PREFETCH_BUDGET_MS = 2;
/** Longest idle sleep between schedule checks; changes in storage wake the poller sooner. */
const MAX_IDLE_MS = 1_000;
/** How long to wait before retrying a group commit that failed (disk full, database locked). */
const COMMIT_RETRY_MS = 1_000;

interface InFlight extends LeaseRef {
  name: string;
  priority: number;
  payload: string;
  slot: WorkerSlot | null;
}

interface PendingPlan {
  task: InFlight;
  plan: Plan;
  error?: SerializedError;
  ms?: number;
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
  #flushing = false;
  #flushScheduled = false;
  #stopping = false;
  #stoppedResolve!: () => void;
  #stoppedPromise = new Promise<void>((r) => (this.#stoppedResolve = r));
  #kick: (() => void) | null = null;
  #storageWait: Promise<void> | null = null;
  #nextPromote = 0;
  #nextMaintenance = 0;
  #loopDone: Promise<void> | null = null;
  #unknownWarned = new Map<string, number>();
  #returnedWaiters = new Set<() => void>();
  #nextSlotIndex = 0;
  #started = false;
  #readyWaiters = new Map<WorkerSlot, { resolve: () => void; reject: (e: Error) => void }>();
  /** Counts for status and tests. */
  readonly stats = { completed: 0, failed: 0, retried: 0, interrupted: 0, workerRestarts: 0 };

  constructor(huey: Huey, setup: ConsumerSetup, options: ConsumerOptions = {}, logger?: Logger) {
    this.#huey = huey;
    this.#setup = setup;
    this.options = resolveConsumerOptions(options);
    this.log = logger ?? new Logger(this.options.logLevel, this.options.logFormat);
    huey.signals.setErrorReporter((err, signal) =>
      this.log.error(`a "${signal}" signal handler threw: ${err instanceof Error ? err.stack ?? err.message : String(err)}`),
    );
  }

  /** Upper bound of tasks held at once: every Worker running `concurrency` with a full prefetch. */
  get capacity(): number {
    return this.options.workers * (this.options.concurrency + this.options.prefetch);
  }

  /** Tasks `slot` may hold now: its concurrency plus a prefetch sized to its task time. */
  #slotLimit(slot: WorkerSlot): number {
    const byTime = Math.floor((PREFETCH_BUDGET_MS * this.options.concurrency) / Math.max(slot.avgMs, 0.001));
    return this.options.concurrency + Math.min(this.options.prefetch, byTime);
  }

  /** Room for more tasks across ready Workers. */
  #room(): number {
    let n = 0;
    for (const s of this.#slots) if (s.ready && !s.gone) n += Math.max(0, this.#slotLimit(s) - s.held.size);
    return n;
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
    this.log.info(
      `consumer started: huey "${this.#huey.name}" on ${storage.kind}, ${o.workers} worker(s) x concurrency ${o.concurrency}, ` +
        `tasks: ${this.#huey.taskNames().join(", ") || "(none)"}`,
    );
    this.#loopDone = this.#loop();
  }

  /** Resolves when the consumer has stopped. */
  get done(): Promise<void> {
    return this.#loopDone ?? Promise.resolve();
  }

  /**
   * Graceful stop: take no more tasks, hand back tasks not started, let running ones finish
   * within `grace`, return whatever is still running to the queue, close the storage.
   */
  async stop(grace = this.options.grace): Promise<void> {
    if (this.#stopping) return this.#waitStopped();
    this.#stopping = true;
    this.log.info(`stopping: ${this.#runningCount()} task(s) running, grace ${grace}ms`);
    this.#wake();
    await this.#loopDone;
    // Ask each Worker for the tasks it has not started and put them back at once.
    await this.#collectReturned();
    const deadline = Date.now() + grace;
    while (this.#inflight.size > 0 && Date.now() < deadline) {
      await this.#waitKick(Math.min(100, deadline - Date.now()));
    }
    for (const s of this.#slots) s.terminate();
    await this.#flush();
    if (this.#inflight.size > 0) {
      const left = [...this.#inflight.values()];
      this.log.warn(`grace period over: returning ${left.length} running task(s) to the queue`);
      await this.#huey.storage.release(left.map(({ id, token }) => ({ id, token }))).catch((err) =>
        this.log.error(`could not return tasks to the queue (their leases will expire): ${String(err)}`),
      );
      for (const t of left) {
        this.#inflight.delete(t.id);
        this.stats.interrupted++;
        this.#emit("interrupted", t);
      }
    }
    await this.#huey.close();
    this.log.info("consumer stopped");
    this.log.flush();
    this.#stoppedResolve();
  }

  /** Stop now: Workers are terminated; leases are left to expire. */
  async kill(): Promise<void> {
    this.#stopping = true;
    for (const s of this.#slots) s.terminate();
    this.#wake();
    this.log.flush();
  }

  /** Resolves once a stop has finished (storage closed). */
  get stopped(): Promise<void> {
    return this.#stoppedPromise;
  }

  #waitStopped(): Promise<void> {
    return this.#stoppedPromise;
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
        const free = this.#room();
        if (free > 0) {
          const want = Math.min(free, MAX_LEASE_BATCH);
          const items = await storage.lease(want, now + leaseMs);
          if (items.length > 0) this.#dispatch(items);
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
    const until = Math.min(this.#nextPromote, this.#nextMaintenance);
    const ms = Math.max(0, Math.min(MAX_IDLE_MS, until - Date.now()));
    if (ms === 0) return;
    const waits: Promise<unknown>[] = [this.#waitKick(ms)];
    if (watchStorage) {
      this.#storageWait ??= this.#huey.storage.waitForChange(ms).then(() => {
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
    }
    const reclaimed = await storage.reclaimExpired(now);
    if (reclaimed > 0) this.log.warn(`${reclaimed} task(s) whose consumer stopped renewing their lease are ready again`);
  }

  async #promote(now: number): Promise<void> {
    const storage = this.#huey.storage;
    let moved: number;
    do moved = await storage.promoteDue(now, 1000);
    while (moved === 1000);
    const next = await storage.nextEta();
    this.#nextPromote = next === null ? now + MAX_IDLE_MS : Math.min(next, now + MAX_IDLE_MS);
  }

  #readySlots(): WorkerSlot[] {
    return this.#slots.filter((s) => s.ready && !s.gone);
  }

  #runningCount(): number {
    let n = 0;
    for (const s of this.#slots) n += s.started.size;
    return n;
  }

  /** Hand leased tasks to the Workers with the most room; tasks no one here can run go back. */
  #dispatch(items: LeasedItem[]): void {
    const slots = this.#readySlots();
    const batches = new Map<WorkerSlot, { id: string; payload: string }[]>();
    const now = Date.now();
    for (const item of items) {
      const task: InFlight = { id: item.id, token: item.token, name: item.name, priority: item.priority, payload: item.payload, slot: null };
      this.#inflight.set(item.id, task);
      if (!this.#huey.lookup(item.name)) {
        this.#putBackUnknown(task, now);
        continue;
      }
      if (item.leases > this.options.maxLeases) {
        const error = {
          name: "WorkerDiedError",
          message: `task was taken ${item.leases - 1} times and never finished: its worker or consumer died each time (option maxLeases)`,
          code: "HUEY_WORKER_DIED",
        };
        this.#plan(task, { kind: "error", error }, undefined, true);
        continue;
      }
      // The Worker with the most room relative to its limit.
      let best: WorkerSlot | null = null;
      let bestRoom = 0;
      for (const s of slots) {
        const room = this.#slotLimit(s) - s.held.size;
        if (room > bestRoom) {
          best = s;
          bestRoom = room;
        }
      }
      if (!best) {
        // Should not happen (we lease only what fits); return it rather than overfill.
        this.#inflight.delete(item.id);
        void this.#huey.storage.release([{ id: item.id, token: item.token }]);
        continue;
      }
      task.slot = best;
      best.held.add(item.id);
      let b = batches.get(best);
      if (!b) batches.set(best, (b = []));
      b.push({ id: item.id, payload: item.payload });
    }
    for (const [slot, tasks] of batches) slot.send({ type: "run", tasks });
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
    const { id, name, payload, token, priority } = task;
    const plan: Plan = {
      batch: { ack: [{ id, token }], schedule: [{ id, name, payload, priority, eta: now + delay }] },
      signal: "retrying",
    };
    this.#pending.push({ task, plan });
    this.#scheduleFlush();
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
      case "signal":
        void this.#huey.signals.emit(msg.signal, msg.task);
        return;
    }
  }

  #onReport(slot: WorkerSlot, started: string[], done: { id: string; outcome: Outcome; ms: number }[]): void {
    const wantExecuting = this.#huey.signals.has("executing");
    for (const id of started) {
      slot.started.add(id);
      if (wantExecuting) {
        const t = this.#inflight.get(id);
        if (t) this.#emit("executing", t);
      }
    }
    for (const d of done) {
      slot.held.delete(d.id);
      slot.started.delete(d.id);
      slot.tasksRun++;
      slot.avgMs = slot.avgMs * 0.8 + d.ms * 0.2;
      const task = this.#inflight.get(d.id);
      if (task) this.#plan(task, d.outcome, d.ms);
    }
  }

  #onReturned(slot: WorkerSlot, ids: string[]): void {
    const refs: LeaseRef[] = [];
    for (const id of ids) {
      slot.held.delete(id);
      const t = this.#inflight.get(id);
      if (!t) continue;
      this.#inflight.delete(id);
      refs.push({ id, token: t.token });
    }
    const release = refs.length ? this.#huey.storage.release(refs) : Promise.resolve(0);
    void release
      .catch((err) => this.log.error(`could not return tasks to the queue (their leases will expire): ${String(err)}`))
      .finally(() => {
        slot.ready = false;
        for (const w of this.#returnedWaiters) w();
      });
  }

  async #collectReturned(): Promise<void> {
    const live = this.#slots.filter((s) => !s.gone && s.ready);
    if (live.length === 0) return;
    let left = live.length;
    await new Promise<void>((resolve) => {
      const w = () => {
        if (--left <= 0) {
          this.#returnedWaiters.delete(w);
          resolve();
        }
      };
      this.#returnedWaiters.add(w);
      for (const s of live) s.send({ type: "stop" });
      setTimeout(() => {
        this.#returnedWaiters.delete(w);
        resolve();
      }, 2_000);
    });
  }

  /** A Worker died: tasks it had started fail (or retry); tasks it had not started go back. Replace it. */
  #onGone(slot: WorkerSlot, reason: string): void {
    this.#slots = this.#slots.filter((s) => s !== slot);
    const w = this.#readyWaiters.get(slot);
    if (w) {
      this.#readyWaiters.delete(slot);
      w.reject(new LoadError(`worker ${slot.index} died while loading ${this.#setup.file}: ${reason}`));
      return;
    }
    if (this.#stopping && slot.held.size === 0) return;
    const release: LeaseRef[] = [];
    for (const id of slot.held) {
      const task = this.#inflight.get(id);
      if (!task) continue;
      if (slot.started.has(id)) {
        this.#plan(task, { kind: "error", error: serializeError(new WorkerDiedError(reason)) });
      } else {
        this.#inflight.delete(id);
        release.push({ id, token: task.token });
      }
    }
    slot.held.clear();
    slot.started.clear();
    if (release.length) {
      void this.#huey.storage.release(release).catch((err) => this.log.error(`could not return tasks: ${String(err)}`));
    }
    if (this.#stopping) return;
    this.stats.workerRestarts++;
    this.log.warn(`worker ${slot.index} ${reason}; starting a new one`);
    this.#spawn().catch((err) => {
      this.log.error(`a replacement worker failed to start: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  // ---------------------------------------------------------------- outcomes and group commit

  #plan(task: InFlight, outcome: Outcome, ms?: number, final = false): void {
    let plan: Plan;
    try {
      plan = planOutcome(task, outcome, Date.now(), { storeErrors: true, noRetry: final });
    } catch (err) {
      // The payload itself is unreadable: fail it for good, keeping the error.
      const error = serializeError(err);
      plan = {
        batch: {
          ack: [{ id: task.id, token: task.token }],
          results: [{ id: task.id, payload: JSON.stringify({ ok: false, name: task.name, error, attempts: 1 }) }],
        },
        signal: "error",
      };
    }
    this.#pending.push({ task, plan, error: outcome.kind === "ok" ? undefined : outcome.error, ms });
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      void this.#flush();
    });
  }

  /** Write every pending outcome in one transaction, then emit signals and log. */
  async #flush(): Promise<void> {
    if (this.#flushing || this.#pending.length === 0) return;
    this.#flushing = true;
    const pending = this.#pending;
    this.#pending = [];
    const batch = mergeBatches(pending.map((p) => p.plan.batch));
    try {
      await this.#huey.storage.commit(batch);
    } catch (err) {
      this.#pending = pending.concat(this.#pending);
      this.#flushing = false;
      this.log.error(`could not write ${pending.length} outcome(s), retrying in 1s: ${err instanceof Error ? err.message : String(err)}`);
      setTimeout(() => this.#scheduleFlush(), COMMIT_RETRY_MS);
      return;
    }
    for (const s of batch.schedule) if (s.eta < this.#nextPromote) this.#nextPromote = s.eta;
    for (const p of pending) {
      this.#inflight.delete(p.task.id);
      this.#report(p);
    }
    this.#flushing = false;
    if (this.#pending.length) this.#scheduleFlush();
    this.#wake();
  }

  #report(p: PendingPlan): void {
    const { task, plan } = p;
    const log = this.log;
    switch (plan.signal) {
      case "complete":
        this.stats.completed++;
        if (log.enabled("info")) log.info(`${task.name} ${task.id} complete in ${fmtMs(p.ms)}`, { task: task.name, id: task.id, ms: p.ms });
        break;
      case "retrying":
        this.stats.retried++;
        if (p.error && log.enabled("warn")) {
          const when = plan.retryAt !== undefined ? ` in ${Math.max(0, plan.retryAt - Date.now())}ms` : "";
          log.warn(`${task.name} ${task.id} failed (${p.error.name}: ${p.error.message}), retrying${when}`, { task: task.name, id: task.id });
        }
        break;
      case "error":
        this.stats.failed++;
        if (log.enabled("error")) {
          const stack = log.enabled("debug") && p.error?.stack ? `\n${p.error.stack}` : "";
          log.error(`${task.name} ${task.id} failed: ${p.error?.name}: ${p.error?.message}${stack}`, { task: task.name, id: task.id });
        }
        break;
    }
    if (p.error || this.#huey.signals.has(plan.signal)) this.#emit(plan.signal, task, p.error);
  }

  #emit(signal: SignalName, task: InFlight, error?: SerializedError): void {
    const signals = this.#huey.signals;
    if (!signals.has(signal)) return;
    let info;
    try {
      info = taskInfo(readMessage(task.payload));
    } catch {
      info = { id: task.id, name: task.name, args: [], priority: 0, retries: 0, attempt: 1 };
    }
    const err = error ? Object.assign(new Error(error.message), error) : undefined;
    void signals.emit(signal, info, err);
  }
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
}

/**
 * Load a tasks file and run its consumer until SIGINT/SIGTERM (what `huey run FILE` does).
 * A second signal exits at once; leases of tasks still running then expire and they run again.
 */
export async function runConsumer(file: string, options: RunConsumerOptions = {}): Promise<Consumer> {
  const { loadTasksFile, registerModulePlugin } = await import("./loader");
  const api = await import("../index");
  registerModulePlugin(api as unknown as Record<string, unknown>);
  const { huey, path } = await loadTasksFile(file, options.instance ?? null);
  const consumer = new Consumer(huey, { file: path, instance: options.instance ?? null }, options);
  await consumer.start();
  if (consumer.options.handleSignals) {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        consumer.log.warn(`${sig} again: exiting now; tasks still running go back to the queue when their leases expire`);
        consumer.log.flush();
        process.exit(130);
      }
      consumer.log.info(`${sig} received: finishing running tasks (send it again to exit at once)`);
      void consumer.stop().then(() => {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      });
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  return consumer;
}

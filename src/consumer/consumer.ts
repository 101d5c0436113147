// The consumer: the loop (lease, idle, wake) around an Engine with a WorkerPool and a GroupCommitter, plus
// Maintenance. Start, stop with grace, and nothing else; OS signals and reload live in run.ts.
import { hasCode } from "../errors";
import type { Huey } from "../huey";
import { internalsOf } from "../_internals";
import type { PeriodicDef } from "../periodic";
import { GroupCommitter } from "./committer";
import { Engine } from "./engine";
import { Logger } from "./logger";
import { Maintenance, MAX_IDLE_MS, storageWhere } from "./maintenance";
import { VERSION } from "../_version";
import { resolveConsumerOptions, type ConsumerOptions, type ResolvedConsumerOptions } from "./options";
import { MainThreadPool } from "./main-thread-pool";
import { WorkerPool } from "./worker-pool";
import { Heartbeat, newConsumerId } from "../observe/heartbeat";

/** How long to wait after the poller failed (database locked, server gone) before trying again. */
const POLL_RETRY_MS = 1_000;
/** How long a stopping Worker gets for its onShutdown hooks. */
const SHUTDOWN_HOOKS_MS = 2_000;

export interface ConsumerSetup {
  /** The tasks file each Worker loads. */
  file: string;
  /** Which Huey instance of the file (export name or Huey name); null when it has one. */
  instance: string | null;
}

/**
 * How a consumer enqueues one periodic tick: its task has the id "<name>:<tick>", a second guard against
 * running a tick twice (another consumer stored it already), and a way for a context task to know its tick.
 */
export function enqueueTick(huey: Huey): (def: PeriodicDef, tickMs: number) => Promise<void> {
  const registry = internalsOf(huey).registry;
  return async (def, tickMs) => {
    try {
      await registry.lookup(def.name)!.def.schedule([], { id: `${def.name}:${tickMs}` });
    } catch (err) {
      if (!hasCode(err, "HUEY_DUPLICATE_ID")) throw err;
    }
  };
}

export class Consumer {
  readonly options: ResolvedConsumerOptions;
  readonly log: Logger;
  readonly engine: Engine;
  /** The Workers, or with `workers: 0` the consumer's own thread. */
  readonly pool: WorkerPool | MainThreadPool;
  readonly maintenance: Maintenance;
  /** Heartbeat and statistics (src/observe): `huey status`, --check, /metrics, the dashboard. */
  readonly heartbeat: Heartbeat;
  #beatTimer: ReturnType<typeof setInterval> | null = null;
  #beatErrorAt = -Infinity;
  #huey: Huey;
  #stopping = false;
  #started = false;
  #kick: (() => void) | null = null;
  #storageWait: Promise<void> | null = null;
  /** Another process changed storage while this loop slept: promote due scheduled tasks after the next lease. */
  #promoteSoon = false;
  #loopDone: Promise<void> | null = null;
  #stoppedResolve!: () => void;
  #stoppedPromise = new Promise<void>((r) => (this.#stoppedResolve = r));
  /** Set when the storage broke under us (file replaced): the reason, and run.ts exits non-zero. */
  fatal: string | null = null;

  constructor(huey: Huey, setup: ConsumerSetup, options: ConsumerOptions = {}, logger?: Logger) {
    this.#huey = huey;
    const o = (this.options = resolveConsumerOptions(options));
    this.log = logger ?? new Logger(o.logLevel, o.logFormat);
    const hi = internalsOf(huey);
    huey.signals.setErrorReporter((err, signal) =>
      this.log.error(`a "${signal}" signal handler threw: ${err instanceof Error ? err.message : String(err)}`, undefined, err instanceof Error ? err.stack : undefined),
    );
    const host = {
      get storage() {
        return huey.storage;
      },
      signals: huey.signals,
      lookup: (n: string) => hi.registry.lookup(n),
      keepFailed: huey.options.failedRetention !== null,
      completeChord: (c: Parameters<typeof hi.completeChord>[0]) => hi.completeChord(c),
    };
    // One id for this consumer in its log lines, its heartbeat and what `huey.state()` says runs where.
    const id = newConsumerId();
    this.engine = new Engine(host, { lease: o.lease, maxLeases: o.maxLeases, unknownTaskDelay: o.unknownTaskDelay, timeout: o.timeout, queues: o.queues, consumerId: id }, this.log);
    this.pool =
      o.workers === 0
        ? new MainThreadPool(this.engine, hi.registry, huey.options.maxPayloadSize, o.concurrency, o.prefetch)
        : new WorkerPool(
            { ...setup, workers: o.workers, concurrency: o.concurrency, prefetch: o.prefetch, maxPayloadSize: huey.options.maxPayloadSize, timeout: o.timeout, timeoutGrace: o.timeoutGrace, maxTasks: o.maxTasks, runInfo: this.log.enabled("info") },
            this.engine,
          );
    this.engine.pool = this.pool;
    this.engine.committer = new GroupCommitter({
      get storage() {
        return huey.storage;
      },
      onCommitted: async (done, lost) => {
        this.heartbeat.stats.record(done, lost, Date.now());
        const eta = Engine.earliestEta(done);
        if (eta < this.maintenance.nextPromote) this.maintenance.nextPromote = eta;
        await this.engine.committed(done, lost);
      },
      onError: (err, n, ms) => this.log.error(`could not write ${n} outcome(s), retrying in ${ms}ms: ${err instanceof Error ? err.message : String(err)}`),
      inFlight: () => this.engine.inflight.size,
    });
    this.engine.onWake = () => this.#wake();
    const engine = this.engine;
    const pool = this.pool;
    this.heartbeat = new Heartbeat(
      {
        get storage() {
          return huey.storage;
        },
        workers: o.workers,
        concurrency: o.concurrency,
        queues: o.queues ? Object.keys(o.queues) : null,
        busy: () => pool.runningCount(),
        *running() {
          for (const t of engine.inflight.values()) if (!t.lost && pool.isStarted(t.id)) yield t;
        },
      },
      o.heartbeat,
      Date.now(),
      id,
    );
    // Only for bench/observe-overhead.ts, which compares drains with and without recording.
    if (process.env.HUEY_INTERNAL_NO_STATS === "1") this.heartbeat.stats.enabled = false;
    this.maintenance = new Maintenance({
      get storage() {
        return huey.storage;
      },
      engine: this.engine,
      log: this.log,
      lease: o.lease,
      failedRetention: huey.options.failedRetention,
      pendingChords: () => hi.pendingChords(),
      completeChord: (c) => hi.completeChord(c),
      fatal: (reason) => this.#fatal(reason),
    });
  }

  /** The Huey this consumer serves. */
  get huey(): Huey {
    return this.#huey;
  }

  /** Counts for status and tests. */
  get stats() {
    const e = this.engine.stats;
    return { ...e, workerRestarts: this.pool.stats.workerRestarts, recycled: this.pool.stats.recycled };
  }

  /** Start the Workers (each loads the tasks file) and the poller. Rejects if a Worker cannot load the file. */
  async start(): Promise<void> {
    if (this.#started) throw new Error("this consumer was already started");
    this.#started = true;
    const storage = this.#huey.storage; // open (and migrate) before the Workers start
    await storage.reclaimExpired(Date.now());
    // This process writes a lot: its store may move housekeeping (the SQLite WAL checkpoint) off this thread.
    storage.offloadCheckpoints?.();
    await this.pool.start();
    const o = this.options;
    const hi = internalsOf(this.#huey);
    if (o.periodic) this.maintenance.usePeriodic(hi.registry.periodic, enqueueTick(this.#huey));
    if (o.queues) {
      const known = new Set(this.#huey.queues());
      const unknown = Object.keys(o.queues).filter((q) => !known.has(q));
      // A warning, not an error: tasks may be enqueued into any queue per call ({ queue } in schedule()).
      if (unknown.length) {
        this.log.warn(`--queues names ${unknown.map((q) => `"${q}"`).join(", ")}, which no task of this file uses (known queues: ${[...known].join(", ")}); it serves only tasks enqueued there per call`);
      }
    }
    this.log.info(
      `consumer started: bun-huey ${VERSION}, huey "${this.#huey.name}" on ${storage.kind}${storageWhere(storage)}, ${o.workers === 0 ? "tasks on this thread (-w 0)" : `${o.workers} worker(s)`} x concurrency ${o.concurrency}, ` +
        `tasks: ${this.#huey.taskNames().join(", ") || "(none)"}`,
    );
    await this.#beat();
    this.#beatTimer = setInterval(() => void this.#beat(), this.options.heartbeat);
    this.#loopDone = this.#loop();
  }

  /** Write the heartbeat; a failure is logged (once a minute at most) and the next beat tries again. */
  async #beat(stopped = false): Promise<void> {
    try {
      await this.heartbeat.beat(Date.now(), stopped);
    } catch (err) {
      const now = Date.now();
      if (now - this.#beatErrorAt < 60_000) return;
      this.#beatErrorAt = now;
      this.log.warn(`could not write the heartbeat (tried again every ${this.options.heartbeat}ms): ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Resolves once a stop has finished (storage closed). */
  get stopped(): Promise<void> {
    return this.#stoppedPromise;
  }

  /**
   * Graceful stop: take no more tasks, hand back tasks not started, let running ones finish within
   * `grace`, then fire their AbortSignals, give them `timeoutGrace`, and return whatever still runs to
   * the queue. Closes the storage.
   */
  async stop(grace = this.options.grace): Promise<void> {
    if (this.#stopping) return this.#stoppedPromise;
    this.#stopping = true;
    const engine = this.engine;
    engine.stopping = true;
    this.log.info(`stopping: ${this.pool.runningCount()} task(s) running, grace ${grace}ms`);
    this.#wake();
    await this.#loopDone;
    this.pool.stop();
    await this.#until(() => engine.inflight.size === 0, Date.now() + grace);
    if (engine.inflight.size > 0) {
      for (const id of engine.inflight.keys()) this.pool.abort(id, "the consumer is shutting down");
      await this.#until(() => engine.inflight.size === 0, Date.now() + this.options.timeoutGrace);
    }
    // A Worker still running a task cannot run its onShutdown hooks: do not wait for it.
    await this.#until(() => this.pool.quiet(), Date.now() + SHUTDOWN_HOOKS_MS);
    this.pool.terminate();
    // Write every outcome that came in before closing the storage.
    await engine.committer.flush().catch(() => {});
    await engine.interruptAll();
    if (this.#beatTimer) clearInterval(this.#beatTimer);
    if (this.#started) await this.#beat(true);
    await this.#huey.close();
    this.log.info("consumer stopped");
    this.log.flush();
    this.#stoppedResolve();
  }

  #fatal(reason: string): void {
    if (this.fatal) return;
    this.fatal = reason;
    this.log.error(`stopping: ${reason}`);
    void this.stop(0);
  }

  async #until(cond: () => boolean, deadline: number): Promise<void> {
    while (!cond() && Date.now() < deadline) await this.#waitKick(Math.min(50, deadline - Date.now()));
  }

  async #loop(): Promise<void> {
    const m = this.maintenance;
    while (!this.#stopping) {
      try {
        const now = Date.now();
        await m.run(now);
        if (this.#stopping) break;
        const want = this.engine.want();
        if (want > 0) {
          const got = await this.engine.leaseAndDispatch(want, now);
          if (got === want) {
            // A turn of the event loop before the next lease: the Workers' reports (room freed) and the
            // commits they scheduled go first. Leasing on at once filled every Worker's prefetch before
            // one report was read, so short tasks spread over all Workers (see leadOf), and at -w 0
            // leases ran ahead of the commits. A report read in that turn schedules its commit behind
            // this turn's end: one more turn lets it go before the lease, as #idle does.
            await nextTurn();
            if (this.engine.committer.size > 0) await nextTurn();
            continue;
          }
          // The queue ran dry: now, with the new work on its way, look for scheduled work that a
          // wake-up may have brought nearer (see #idle). Moved some: lease it at once.
          if (this.#promoteSoon && (await this.#promoteNow()) > 0) continue;
          await this.#idle(true);
        } else {
          if (this.#promoteSoon) await this.#promoteNow();
          await this.#idle(false);
        }
      } catch (err) {
        this.log.error(`poller: ${err instanceof Error ? err.message : String(err)}; retrying in 1s`);
        await this.#waitKick(POLL_RETRY_MS);
      }
    }
  }

  /** Sleep until an outcome frees capacity, another writer changes storage, or a chore is due. */
  async #idle(watchStorage: boolean): Promise<void> {
    const ms = Math.max(0, Math.min(MAX_IDLE_MS, this.maintenance.nextDue() - Date.now()));
    if (ms === 0) return;
    const waits: Promise<unknown>[] = [this.#waitKick(ms)];
    if (watchStorage) {
      // Someone may have scheduled something sooner: promote after the next lease, not before it,
      // so a task enqueued into an idle queue waits for no read of the schedule (about a tenth of a
      // millisecond of a cold consumer's latency).
      this.#storageWait ??= this.#huey.storage.waitForChange(ms, "queue").then(() => {
        this.#storageWait = null;
        this.#promoteSoon = true;
      });
      waits.push(this.#storageWait);
    }
    await Promise.race(waits);
    // Outcomes that woke this loop while other tasks run have their commit scheduled with setImmediate:
    // let it go first, so their results are not held behind the lease this loop makes next. With nothing
    // else in flight the commit is already under way (a microtask, see GroupCommitter), and a wake for new
    // work has none waiting: both lease at once.
    if (this.engine.committer.size > 0) await nextTurn();
  }

  /** The promotion a storage wake-up asked for; returns how many tasks it moved. */
  #promoteNow(): Promise<number> {
    this.#promoteSoon = false;
    return this.maintenance.promote(Date.now());
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
}

/** Resolves after one turn of the event loop (setImmediate): what was scheduled before goes first. */
function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

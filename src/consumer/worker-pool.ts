// The pool of Bun Workers: spawn, replace (crash, --max-tasks, a load that failed), timeouts, and where each
// task goes. Tasks go to the least loaded Worker, short ones to the first Worker with room (see submit),
// trivial ones all to that one (see leadTakesAll), and the unstarted tasks queued on a Worker busy with a
// slow one are handed back to go elsewhere, so a task does not wait behind a slow one while a Worker that
// could run it is idle (a few ms at most).
import { LoadError } from "../errors";
import type { PoolListener, Pool, PoolTask } from "./pool";
import { workerDied } from "./pool";
import { decodeReport, doneOutcome, encodeRun, type DoneColumns, type HostMessage, type WorkerMessage } from "./protocol";
import { WORKER_URL } from "../_worker-url";

/** Longest wait between attempts to start a replacement Worker that fails to load. */
const RESPAWN_MAX_MS = 30_000;
/**
 * How much expected work a Worker may hold queued behind its running tasks. Deep queues keep short tasks
 * flowing; for slow tasks they would make the queued ones wait, so the depth follows measured task time.
 */
const PREFETCH_BUDGET_MS = 2;
/**
 * Short tasks: a Worker that has run this many, at SHORT_PER_BUDGET or more per PREFETCH_BUDGET_MS, is
 * filled before the next one is woken (see submit).
 */
const SHORT_AFTER_TASKS = 16;
const SHORT_PER_BUDGET = 8;
/** How often an idle Worker looks for tasks queued behind a slow one, while any Worker holds unstarted tasks. */
const RESCUE_EVERY_MS = PREFETCH_BUDGET_MS * 2;

/** What placement reads of a Worker (a WorkerSlot; plain objects in the unit tests). */
export interface SlotLoad {
  ready: boolean;
  gone: boolean;
  retiring: boolean;
  avgMs: number;
  tasksRun: number;
  lastDone: number;
  held: { size: number };
  started: { size: number };
}

/** Running a task, and nothing finished there for longer than its tasks take (#steal judges a victim alike). */
export function isStuck(s: SlotLoad, now: number): boolean {
  return s.started.size > 0 && now - s.lastDone > Math.max(PREFETCH_BUDGET_MS * 2, s.avgMs * 4);
}

/** Its tasks have been short, and it is not stuck on one that is not. */
export function isShort(s: SlotLoad, now: number): boolean {
  return s.tasksRun >= SHORT_AFTER_TASKS && s.avgMs * SHORT_PER_BUDGET <= PREFETCH_BUDGET_MS && !isStuck(s, now);
}

/**
 * The lead: the first Worker in order whose tasks are short. It is filled first (see submit) and may
 * hold the prefetch of the whole pool, so short tasks keep to one Worker. With `--prefetch` per
 * Worker, each lease of 512 short tasks split over two or three Workers at -w 4: each woke, took its
 * share of run and report messages and warmed up its own JIT, and -w 4 drained slower than -w 2.
 */
export function leadOf<S extends SlotLoad>(slots: readonly S[], now: number): S | null {
  for (const s of slots) if (s.ready && !s.gone && !s.retiring && isShort(s, now)) return s;
  return null;
}

/**
 * How many tasks a Worker may hold: its running ones plus a prefetch of at most PREFETCH_BUDGET_MS of
 * its measured task time and at most `prefetch`; the lead, `workers` times both. Tasks that are short
 * but not trivial thus still fill the lead to a few and go on to the next Worker. While the lead's limit
 * is its count (`prefetch` times `workers`: it runs all it may hold within its budget), the other Workers
 * take none: see leadTakesAll.
 */
export function slotLimit(s: SlotLoad, lead: SlotLoad | null, workers: number, o: { concurrency: number; prefetch: number }): number {
  if (!s.ready || s.gone || s.retiring) return 0;
  if (lead !== null && s !== lead && leadTakesAll(lead, workers, o)) return 0;
  const share = s === lead ? workers : 1;
  return o.concurrency + Math.min(o.prefetch * share, byTime(s, share, o.concurrency));
}

/** Tasks of `s` that take PREFETCH_BUDGET_MS times `share` (per unit of concurrency) by its measured time. */
function byTime(s: SlotLoad, share: number, concurrency: number): number {
  return Math.floor((PREFETCH_BUDGET_MS * share * concurrency) / Math.max(s.avgMs, 0.001));
}

/**
 * The lead's limit is its count, not its time: all it may hold takes it less than its budget, so no
 * task waits longer there than it would queued on another Worker, and the main thread (several us a
 * task) cannot place tasks faster than the lead runs them. Other Workers then get none. Not with
 * `--prefetch 0`: a Worker then holds only what it runs, so the lead can take no more than its
 * concurrency and the rest must go elsewhere (a task blocked on a child's result, say). Before, the
 * main thread leased ahead to fill every Worker's prefetch while the lead's reports were on their way,
 * and about a fifth of a drain of no-op tasks at -w 4 went to Workers that each woke for it, warmed up
 * their own JIT and grew their own heap (RSS after 100,000: 190 MB against 168 MB now).
 */
export function leadTakesAll(lead: SlotLoad, workers: number, o: { concurrency: number; prefetch: number }): boolean {
  return o.prefetch > 0 && o.prefetch * workers <= byTime(lead, workers, o.concurrency);
}

/**
 * Where a task goes (see WorkerPool.submit): to the first Worker in order with room whose tasks are short
 * (the lead counts as short: it was judged so when its lease began), `inOrder`; else to the least loaded
 * Worker with room; else, room() having promised it (the limits moved since: a report changed a Worker's
 * measured time, or which Worker leads), to the least overfull Worker that takes tasks at all. Null only
 * when none does (none ready, all gone or retiring, the pool stopping: `limit` 0). A task given back
 * instead went back to storage and was leased again, and each lease counts towards maxLeases: under load,
 * tasks that never ran were failed as taken 5 times. `limit` is each Worker's (slotLimit).
 */
export function pickSlot<S extends SlotLoad>(slots: readonly S[], lead: S | null, now: number, limit: (s: S, lead: S | null) => number): { slot: S | null; inOrder: boolean } {
  let best: S | null = null;
  let spare: S | null = null;
  let spareOver = Infinity;
  for (const s of slots) {
    const max = limit(s, lead);
    if (max <= 0) continue;
    const over = s.held.size - max;
    if (over >= 0) {
      if (over < spareOver) {
        spare = s;
        spareOver = over;
      }
      continue;
    }
    if (s === lead || isShort(s, now)) return { slot: s, inOrder: true };
    if (!best || s.held.size < best.held.size) best = s;
  }
  return { slot: best ?? spare, inOrder: false };
}

export interface WorkerPoolOptions {
  file: string;
  instance: string | null;
  workers: number;
  concurrency: number;
  prefetch: number;
  maxPayloadSize: number;
  /** The consumer's default timeout (tasks' own option wins). */
  timeout: number | null;
  timeoutGrace: number;
  maxTasks: number | null;
  /** Have Workers report every task's RunInfo (the consumer logs at info). */
  runInfo?: boolean;
}

/** One Bun Worker and the tasks it holds. */
class WorkerSlot {
  readonly worker: Worker;
  /** Handed to this Worker and not reported done, in hand-over order. */
  readonly held = new Map<string, PoolTask>();
  readonly started = new Set<string>();
  ready = false;
  /** Running estimate of task duration in ms (EWMA); pessimistic until measured. */
  avgMs = 5;
  gone = false;
  retiring = false;
  stopped = false;
  tasksRun = 0;
  /** When it last reported a finished task (performance.now()). */
  lastDone = 0;
  /** Tasks submitted and not sent yet, as the columns of a "run" message. */
  outbox: { ids: string[]; payloads: string[]; fences: (number | null)[] | null } = { ids: [], payloads: [], fences: null };

  constructor(readonly index: number, onMessage: (s: WorkerSlot, m: WorkerMessage) => void, onGone: (s: WorkerSlot, reason: string) => void) {
    // Bun gives a Worker the environment the process started with: pass the current one.
    // The name is the thread's (top -H, /proc/PID/task/*/comm; 15 characters at most).
    this.worker = new Worker(WORKER_URL, { env: { ...process.env }, name: `huey-worker-${index}` } as WorkerOptions);
    this.worker.addEventListener("message", (e: MessageEvent<WorkerMessage>) => onMessage(this, e.data));
    // Always listen for error and close: without them a Worker that fails dies silently.
    this.worker.addEventListener("error", (e: ErrorEvent) => this.#gone(onGone, `uncaught error: ${e.message || String(e.error ?? "error")}`));
    this.worker.addEventListener("close", (e: Event) => this.#gone(onGone, `exited with code ${(e as CloseEvent).code ?? "unknown"}`));
  }
  send(msg: HostMessage): void {
    if (!this.gone) this.worker.postMessage(msg);
  }
  terminate(): void {
    this.gone = true;
    this.worker.terminate();
  }
  #gone(onGone: (s: WorkerSlot, reason: string) => void, reason: string): void {
    if (this.gone) return;
    this.gone = true;
    try {
      this.worker.terminate();
    } catch {
      /* already stopped */
    }
    onGone(this, reason);
  }
}

interface Timer {
  slot: WorkerSlot;
  handle: ReturnType<typeof setTimeout>;
  fired: boolean;
}

export class WorkerPool implements Pool {
  #slots: WorkerSlot[] = [];
  #next = 0;
  #stopping = false;
  #timers = new Map<string, Timer>();
  #ready = new Map<WorkerSlot, { resolve: () => void; reject: (e: Error) => void }>();
  #rescue: ReturnType<typeof setInterval> | null = null;
  /**
   * The lead as room() found it, for the submits of the lease that follows (cleared by flushSubmits and
   * by any message or loss of a Worker, so tasks handed back are never placed by a stale judgement).
   * Judged per submit, the lead looked stuck halfway through most dispatches: placing a lease of 512
   * takes the main thread about as long as isStuck waits (4 ms), and the lead's last report waits behind
   * that work, so the rest of the lease went to the next Worker (2 of 4 Workers shared a drain evenly).
   */
  #dispatchLead: WorkerSlot | null | undefined = undefined;
  readonly stats = { workerRestarts: 0, recycled: 0 };

  constructor(readonly o: WorkerPoolOptions, readonly listener: PoolListener) {}

  async start(): Promise<void> {
    const ready = [];
    for (let i = 0; i < this.o.workers; i++) ready.push(this.#spawn());
    try {
      await Promise.all(ready);
    } catch (err) {
      this.terminate();
      throw err;
    }
  }

  /** A field, not a method: submit hands it to pickSlot for every task placed, with no closure made per task. */
  readonly #limit = (s: WorkerSlot, lead: WorkerSlot | null): number => (this.#stopping ? 0 : slotLimit(s, lead, this.#slots.length, this.o));

  /** The lead room() judged for this lease, while it holds (see #dispatchLead); else judged now. */
  #lead(now: number): WorkerSlot | null {
    return this.#dispatchLead === undefined ? leadOf(this.#slots, now) : this.#dispatchLead;
  }

  room(): number {
    const lead = leadOf(this.#slots, performance.now());
    this.#dispatchLead = lead;
    let n = 0;
    for (const s of this.#slots) n += Math.max(0, this.#limit(s, lead) - s.held.size);
    return n;
  }

  starving(): boolean {
    const lead = this.#lead(performance.now());
    for (const s of this.#slots) if (this.#limit(s, lead) > 0 && s.held.size < this.o.concurrency) return true;
    return false;
  }

  /**
   * To the least loaded Worker with room (idle ones first) or, while tasks are short, to the first Worker
   * with room in order: a lease's tasks then go to fewer Workers (one run message and one report each,
   * fewer thread wake-ups), which took ~10 % off the main thread's CPU per task at -w 4 on two cores.
   * A Worker holds at most PREFETCH_BUDGET_MS of expected work (the lead that many times the number of
   * Workers, see slotLimit); should a task turn out slow, the ones queued behind it are handed back within
   * a few ms (#rescueStuck) and go elsewhere.
   */
  submit(task: PoolTask): boolean {
    const now = performance.now();
    const lead = this.#lead(now);
    const { slot: best, inOrder } = pickSlot(this.#slots, lead, now, this.#limit);
    if (inOrder) this.#armRescue();
    if (!best) return false;
    // Idle until now: it is not stuck on anything yet (see isStuck).
    if (best.held.size === 0) best.lastDone = now;
    best.held.set(task.id, task);
    const out = best.outbox;
    if (task.fence !== undefined && out.fences === null) out.fences = out.ids.map(() => null);
    out.ids.push(task.id);
    out.payloads.push(task.payload);
    if (out.fences !== null) out.fences.push(task.fence ?? null);
    return true;
  }

  /**
   * An idle Worker sends no report, so it would never take back tasks queued behind a slow one (#steal
   * runs on reports): while Workers are filled in order, look every RESCUE_EVERY_MS until no Worker holds
   * an unstarted task.
   */
  #armRescue(): void {
    if (this.#rescue || this.#stopping || this.#slots.length < 2) return;
    this.#rescue = setInterval(() => this.#rescueStuck(), RESCUE_EVERY_MS);
    (this.#rescue as { unref?: () => void }).unref?.();
  }

  #rescueStuck(): void {
    let waiting = false;
    let idle: WorkerSlot | null = null;
    for (const s of this.#slots) {
      if (s.gone) continue;
      if (s.held.size > s.started.size) waiting = true;
      if (idle === null && s.held.size === 0 && s.ready && !s.retiring) idle = s;
    }
    if (!waiting || this.#stopping) {
      clearInterval(this.#rescue!);
      this.#rescue = null;
      return;
    }
    if (idle) this.#steal(idle);
  }

  flushSubmits(): void {
    this.#dispatchLead = undefined;
    for (const s of this.#slots) {
      const out = s.outbox;
      if (out.ids.length === 0) continue;
      s.send(encodeRun(out.ids, out.payloads, out.fences));
      s.outbox = { ids: [], payloads: [], fences: null };
    }
  }

  #slotOf(id: string): WorkerSlot | undefined {
    for (const s of this.#slots) if (s.held.has(id)) return s;
    return undefined;
  }

  abort(id: string, reason: string): void {
    this.#slotOf(id)?.send({ type: "abort", id, reason });
  }

  kill(id: string, reason: string): void {
    const slot = this.#slotOf(id);
    if (!slot) return;
    slot.send({ type: "abort", id, reason });
    this.#after(id, slot, this.o.timeoutGrace, () => {
      this.listener.note("warn", `${slot.held.get(id)?.name ?? "task"} ${id} did not stop ${this.o.timeoutGrace}ms after: ${reason}; replacing worker ${slot.index}`);
      slot.terminate();
      this.#retire(slot, id, `terminated: ${reason}`);
    });
  }

  isStarted(id: string): boolean {
    return this.#slotOf(id)?.started.has(id) ?? false;
  }

  /** Slots that could start a task now (not counting prefetched tasks waiting in them). */
  #freeSlots(): number {
    let n = 0;
    for (const s of this.#slots) if (s.ready && !s.gone && !s.retiring) n += Math.max(0, this.o.concurrency - s.started.size);
    return n;
  }

  runningCount(): number {
    let n = 0;
    for (const s of this.#slots) n += s.started.size;
    return n;
  }

  stop(): void {
    this.#stopping = true;
    for (const s of this.#slots) if (!s.gone) s.send({ type: "stop" });
  }

  quiet(): boolean {
    return this.#slots.every((s) => s.gone || s.stopped || s.started.size > 0);
  }

  terminate(): void {
    this.#stopping = true;
    if (this.#rescue) clearInterval(this.#rescue);
    this.#rescue = null;
    for (const t of this.#timers.values()) clearTimeout(t.handle);
    this.#timers.clear();
    for (const s of this.#slots) s.terminate();
  }

  // ------------------------------------------------------------------ Workers

  #spawn(): Promise<void> {
    const slot = new WorkerSlot(this.#next++, (s, m) => this.#onMessage(s, m), (s, r) => this.#onGone(s, r));
    this.#slots.push(slot);
    const ready = new Promise<void>((resolve, reject) => this.#ready.set(slot, { resolve, reject }));
    const o = this.o;
    slot.send({ type: "init", file: o.file, instance: o.instance, maxPayloadSize: o.maxPayloadSize, concurrency: o.concurrency, timeout: o.timeout, runInfo: o.runInfo === true });
    return ready;
  }

  /** A replacement that cannot load the tasks file is tried again with backoff, not left a Worker short. */
  #spawnLogged(attempt = 0): void {
    this.#spawn().catch((err) => {
      if (this.#stopping) return;
      const wait = Math.min(RESPAWN_MAX_MS, 1_000 * 2 ** attempt);
      this.listener.note("error", `a replacement worker failed to start (trying again in ${wait}ms): ${err instanceof Error ? err.message : String(err)}`);
      const t = setTimeout(() => !this.#stopping && this.#spawnLogged(attempt + 1), wait);
      (t as { unref?: () => void }).unref?.();
    });
  }

  #onMessage(slot: WorkerSlot, msg: WorkerMessage): void {
    // Placements from here on (tasks handed back, a replacement's first tasks) judge the lead afresh.
    this.#dispatchLead = undefined;
    if (typeof msg === "string") {
      // A report of a few plain successes (see encodeReport).
      const r = decodeReport(msg);
      return this.#onReport(slot, r.started, r.done);
    }
    switch (msg.type) {
      case "ready":
        slot.ready = true;
        this.#ready.get(slot)?.resolve();
        this.#ready.delete(slot);
        this.listener.capacity();
        return;
      case "load-error": {
        const err = new LoadError(`worker ${slot.index}: ${msg.error.message}`);
        const w = this.#ready.get(slot);
        this.#ready.delete(slot);
        slot.terminate();
        this.#slots = this.#slots.filter((s) => s !== slot);
        if (w) w.reject(err);
        else this.listener.note("error", err.message);
        return;
      }
      case "report": {
        const r = decodeReport(msg);
        return this.#onReport(slot, r.started, r.done);
      }
      case "returned": {
        const ids = msg.ids.filter((id) => slot.held.delete(id));
        if (ids.length) this.listener.returned(ids);
        this.listener.capacity();
        return;
      }
      case "stopped":
        slot.stopped = true;
        if (slot.retiring && !this.#stopping) {
          slot.terminate();
          this.#slots = this.#slots.filter((s) => s !== slot);
          this.#spawnLogged();
        }
        this.listener.capacity();
        return;
      case "progress":
        return this.listener.progress(msg.id, msg.value);
      case "signal":
        return this.listener.signal(msg.signal, msg.task);
      case "waiting":
        return this.listener.waiting?.(msg.child, msg.running, this.#freeSlots());
    }
  }

  #onReport(slot: WorkerSlot, started: string[], done: DoneColumns): void {
    for (const id of started) {
      const task = slot.held.get(id);
      if (!task) continue;
      slot.started.add(id);
      if (task.timeout !== null) this.#armTimeout(slot, task, task.timeout);
      this.listener.started(id, slot.index);
    }
    const n = done.ids.length;
    if (n > 0) {
      slot.lastDone = performance.now();
      for (let i = 0; i < n; i++) {
        const id = done.ids[i]!;
        if (!slot.held.delete(id)) continue;
        const ms = done.ms[i]!;
        slot.started.delete(id);
        slot.tasksRun++;
        slot.avgMs = slot.avgMs * 0.8 + ms * 0.2;
        const run = done.runs?.[i];
        this.listener.done(id, doneOutcome(done, i), ms, this.#clearTimer(id), run === 0 ? undefined : run);
      }
    }
    const max = this.o.maxTasks;
    if (max !== null && slot.tasksRun >= max && !slot.retiring && !this.#stopping) {
      slot.retiring = true;
      this.stats.recycled++;
      this.listener.note("info", `worker ${slot.index} ran ${slot.tasksRun} tasks (--max-tasks ${max}): replacing it`);
      slot.send({ type: "stop" });
    }
    if (n > 0 && slot.held.size === 0) this.#steal(slot);
    this.listener.capacity();
  }

  /**
   * `idle` ran dry: ask the Worker with the most unstarted tasks to hand them back for re-placement, if it
   * is stuck (no task finished there for a while). A Worker that keeps finishing tasks drains its queue
   * itself: taking tasks back from it would only bounce short tasks between Workers.
   */
  #steal(idle: WorkerSlot): void {
    let victim: WorkerSlot | null = null;
    let most = 0;
    const stuckSince = performance.now() - Math.max(PREFETCH_BUDGET_MS * 2, idle.avgMs * 4);
    for (const s of this.#slots) {
      if (s === idle || s.gone || s.lastDone > stuckSince) continue;
      const waiting = s.held.size - s.started.size - s.outbox.ids.length;
      if (s.started.size > 0 && waiting > most) {
        victim = s;
        most = waiting;
      }
    }
    if (victim) victim.send({ type: "give-back" });
  }

  #armTimeout(slot: WorkerSlot, task: PoolTask, ms: number): void {
    if (this.#timers.has(task.id)) return;
    this.#after(task.id, slot, ms, () => {
      const t = this.#timers.get(task.id);
      if (t) t.fired = true;
      slot.send({ type: "abort", id: task.id, reason: `timed out after ${ms}ms` });
      this.#after(task.id, slot, this.o.timeoutGrace, () => {
        this.listener.note("warn", `${task.name} ${task.id} did not stop ${this.o.timeoutGrace}ms after its timeout: replacing worker ${slot.index}`);
        slot.terminate();
        this.#retire(slot, task.id, `terminated: task ${task.name} ${task.id} timed out`);
      });
    });
  }

  /** Run `fn` after `ms` while `id` is still held by `slot`; one timer per task. */
  #after(id: string, slot: WorkerSlot, ms: number, fn: () => void): void {
    const prev = this.#timers.get(id);
    if (prev) clearTimeout(prev.handle);
    const handle = setTimeout(() => {
      if (!slot.held.has(id) || slot.gone) return;
      fn();
    }, ms);
    this.#timers.set(id, { slot, handle, fired: prev?.fired ?? false });
  }

  /** Clear `id`'s timer; true when its timeout had fired. */
  #clearTimer(id: string): boolean {
    const t = this.#timers.get(id);
    if (!t) return false;
    clearTimeout(t.handle);
    this.#timers.delete(id);
    return t.fired;
  }

  #onGone(slot: WorkerSlot, reason: string): void {
    const w = this.#ready.get(slot);
    if (w) {
      this.#slots = this.#slots.filter((s) => s !== slot);
      this.#ready.delete(slot);
      w.reject(new LoadError(`worker ${slot.index} died while loading ${this.o.file}: ${reason}`));
      return;
    }
    this.#retire(slot, null, reason);
  }

  /**
   * Take a dead or terminated Worker out. The task that caused it (`culprit`, a timeout or a kill) or, for
   * a crash, every task it had started, fails (or retries); unstarted tasks go back to the engine, and so do
   * other started ones when the culprit is known. Then start a new Worker.
   */
  #retire(slot: WorkerSlot, culprit: string | null, reason: string): void {
    this.#dispatchLead = undefined;
    this.#slots = this.#slots.filter((s) => s !== slot);
    const back: string[] = [];
    for (const id of slot.held.keys()) {
      const fired = this.#clearTimer(id);
      if (id === culprit || (culprit === null && slot.started.has(id))) this.listener.done(id, workerDied(reason), undefined, fired || id === culprit);
      else back.push(id);
    }
    slot.held.clear();
    slot.started.clear();
    if (back.length) this.listener.returned(back);
    if (this.#stopping) return;
    this.stats.workerRestarts++;
    if (culprit === null) this.listener.note("warn", `worker ${slot.index} ${reason}; starting a new one`);
    this.#spawnLogged();
  }
}

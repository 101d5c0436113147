/**
 * Periodic tasks: which ticks are due, and enqueueing each exactly once when several consumers share a store.
 *
 * A tick is claimed with `putIfEmpty("periodic:<name>:<tickMs>", owner)` before it is enqueued: whichever
 * consumer stores the key first enqueues, the others skip. Claims are kept for the last `claimHistory` ticks of
 * each task (older ones are deleted), which does three jobs: the kv table stays small, a consumer whose clock
 * lags a little behind still finds the claims of the ticks it considers, and a restarted consumer learns the
 * last tick a `catchUp` task got.
 */
import type { Schedule } from "./cron";
import type { Storage } from "./storage/types";

export interface PeriodicDef {
  name: string;
  schedule: Schedule;
  /** Enqueue every tick missed while no consumer ran (up to `maxCatchUp`), instead of only the latest. */
  catchUp: boolean;
}

export interface DueTick {
  def: PeriodicDef;
  tickMs: number;
}

/**
 * How many missed ticks a `catchUp` task fires at most, the newest ones: a per-second task after a day of
 * downtime fires 100 times, not 86,400.
 */
export const MAX_CATCH_UP = 100;

/**
 * The ticks t with `lastCheckMs < t <= nowMs`, ordered by time. A task without catchUp gets only its newest due
 * tick, so a consumer that was stalled or down does not fire a storm of missed runs; one with catchUp gets
 * the newest `maxCatchUp` of them.
 */
export function duePeriodicTicks(
  defs: readonly PeriodicDef[],
  lastCheckMs: number,
  nowMs: number,
  limits: { maxCatchUp?: number } = {},
): DueTick[] {
  const maxCatchUp = limits.maxCatchUp ?? MAX_CATCH_UP;
  const due = defs.flatMap((def) =>
    def.schedule.ticksBetween(lastCheckMs, nowMs, def.catchUp ? maxCatchUp : 1).map((tickMs) => ({ def, tickMs })),
  );
  // Stable sort: same-time ticks keep the order of `defs`.
  return due.sort((a, b) => a.tickMs - b.tickMs);
}

/** The kv key that claims one tick of one task. */
export function claimKey(name: string, tickMs: number): string {
  return `${claimPrefix(name)}${tickMs}`;
}

function claimPrefix(name: string): string {
  return `periodic:${name}:`;
}

export interface PeriodicSchedulerOptions {
  storage: Pick<Storage, "putIfEmpty" | "deleteData" | "listData">;
  defs: readonly PeriodicDef[];
  /** Put one run of the task in the queue. Called once per won claim; a throw releases the claim. */
  enqueue: (def: PeriodicDef, tickMs: number) => Promise<void>;
  /** @default Date.now */
  now?: () => number;
  /** Stored as the value of each claim, to see who enqueued a tick. @default a random UUID */
  owner?: string;
  /** @default MAX_CATCH_UP (100) */
  maxCatchUp?: number;
  /**
   * Claims kept per task. It must exceed `maxCatchUp`, so every tick a consumer may still consider has its claim
   * in storage; the margin is the number of ticks a consumer's clock may lag behind another's. @default maxCatchUp + 20
   */
  claimHistory?: number;
}

export interface TickReport {
  /** Ticks this scheduler claimed and enqueued. */
  enqueued: DueTick[];
  /** Due ticks another consumer had already claimed. */
  claimedElsewhere: DueTick[];
  /**
   * Ticks whose claim or enqueue threw: the claim was released and the tick is tried again at the next tick()
   * (for a task without catchUp, unless a newer tick is due by then). `tickMs` is null when the task's claims
   * could not be read at start.
   */
  failed: { def: PeriodicDef; tickMs: number | null; error: unknown }[];
}

/** A clock that moved back more than this restarts the scheduler as if just started. */
const CLOCK_JUMP_MS = 60 * 60_000;
/** Prune old claims of a task on every Nth claim this scheduler wins, not every one. */
const PRUNE_EVERY = 10;
/** Extra claims read when pruning, so leftovers (crashes, a smaller claimHistory) are drained too. */
const PRUNE_SLACK = 50;

/**
 * Enqueues the due ticks of periodic tasks, exactly once across consumers sharing a store.
 *
 * Start: the first tick() fires only a tick that falls in the current second. Ticks missed before the consumer
 * started are skipped (as in Huey and cron), except for catchUp tasks, which resume after the newest claim
 * found in storage. After that, each tick() handles the ticks since the previous one.
 *
 * Wire it into the consumer loop as: `await scheduler.tick(now)`, then sleep at most
 * `scheduler.msUntilNextTick(now)` (it is wall-clock aligned). Waking a little late is fine: the late tick is
 * still due at the next tick(); waking early is fine too: nothing is due and the sleep is recomputed.
 */
export class PeriodicScheduler {
  readonly owner: string;
  readonly #storage: PeriodicSchedulerOptions["storage"];
  readonly #defs: readonly PeriodicDef[];
  readonly #enqueue: PeriodicSchedulerOptions["enqueue"];
  readonly #now: () => number;
  readonly #maxCatchUp: number;
  readonly #claimHistory: number;
  /** Per task: every tick up to this time has been handled. */
  readonly #last = new Map<string, number>();
  readonly #wins = new Map<string, number>();
  /** tick() calls run one after another, never interleaved. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: PeriodicSchedulerOptions) {
    this.#storage = options.storage;
    this.#defs = options.defs;
    this.#enqueue = options.enqueue;
    this.#now = options.now ?? Date.now;
    this.owner = options.owner ?? crypto.randomUUID();
    this.#maxCatchUp = Math.max(1, options.maxCatchUp ?? MAX_CATCH_UP);
    this.#claimHistory = Math.max(this.#maxCatchUp + 1, options.claimHistory ?? this.#maxCatchUp + 20);
  }

  /** Claim and enqueue every tick due since the previous call. */
  tick(nowMs: number = this.#now()): Promise<TickReport> {
    const run = this.#queue.then(() => this.#tick(nowMs));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Each task's next run strictly after `nowMs` (null: none), for listings. */
  nextRunAfter(nowMs: number = this.#now()): { name: string; schedule: string; nextRun: number | null }[] {
    return this.#defs.map((def) => ({
      name: def.name,
      schedule: def.schedule.describe(),
      nextRun: def.schedule.nextAfter(nowMs),
    }));
  }

  /** Milliseconds from `nowMs` to the next tick of any task; null when no task will ever tick. */
  msUntilNextTick(nowMs: number = this.#now()): number | null {
    let next: number | null = null;
    for (const def of this.#defs) {
      const t = def.schedule.nextAfter(nowMs);
      if (t !== null && (next === null || t < next)) next = t;
    }
    return next === null ? null : next - nowMs;
  }

  async #tick(nowMs: number): Promise<TickReport> {
    const report: TickReport = { enqueued: [], claimedElsewhere: [], failed: [] };
    for (const def of this.#defs) {
      let after = this.#last.get(def.name);
      if (after === undefined || after - nowMs > CLOCK_JUMP_MS) {
        try {
          after = await this.#startAfter(def, nowMs);
        } catch (error) {
          // Its claims could not be read: try the whole start again at the next tick().
          report.failed.push({ def, tickMs: null, error });
          continue;
        }
      }
      // A clock that moved back a little: keep `after`, so ticks already handled are not handled again.
      if (nowMs <= after) {
        this.#last.set(def.name, after);
        continue;
      }
      this.#last.set(def.name, after);
      let ok = true;
      for (const tickMs of def.schedule.ticksBetween(after, nowMs, def.catchUp ? this.#maxCatchUp : 1)) {
        const due = { def, tickMs };
        try {
          if (await this.#claimAndEnqueue(def, tickMs)) report.enqueued.push(due);
          else report.claimedElsewhere.push(due);
        } catch (error) {
          // Stop this task here; #last stays before the tick, so the next tick() tries it again.
          report.failed.push({ ...due, error });
          ok = false;
          break;
        }
        this.#last.set(def.name, tickMs);
      }
      if (ok) this.#last.set(def.name, nowMs);
    }
    return report;
  }

  async #claimAndEnqueue(def: PeriodicDef, tickMs: number): Promise<boolean> {
    const key = claimKey(def.name, tickMs);
    if (!(await this.#storage.putIfEmpty(key, this.owner))) return false;
    try {
      await this.#enqueue(def, tickMs);
    } catch (err) {
      // Give the tick back so a retry (ours or another consumer's) can claim it. If this fails too, the
      // tick is lost: better than enqueueing it twice.
      await this.#storage.deleteData(key).catch(() => {});
      throw err;
    }
    const wins = (this.#wins.get(def.name) ?? 0) + 1;
    this.#wins.set(def.name, wins);
    // The first win also drains what an earlier run left. A failed prune is retried at a later win.
    if (wins % PRUNE_EVERY === 1) await this.#prune(def).catch(() => {});
    return true;
  }

  /** Where the first tick() of a task starts: just before the current second, or after its newest claim. */
  async #startAfter(def: PeriodicDef, nowMs: number): Promise<number> {
    const thisSecond = Math.floor(nowMs / 1000) * 1000 - 1;
    if (!def.catchUp) return thisSecond;
    const claims = await this.#claims(def);
    const newest = claims.at(-1);
    // A claim in the future (another consumer's clock runs ahead) must not hide the ticks up to now.
    return newest === undefined ? thisSecond : Math.min(newest, thisSecond);
  }

  /** Delete all but the newest `claimHistory` claims of a task. */
  async #prune(def: PeriodicDef): Promise<void> {
    const claims = await this.#claims(def);
    for (const tickMs of claims.slice(0, Math.max(0, claims.length - this.#claimHistory))) {
      await this.#storage.deleteData(claimKey(def.name, tickMs));
    }
  }

  /** The claimed ticks of a task, oldest first. */
  async #claims(def: PeriodicDef): Promise<number[]> {
    const prefix = claimPrefix(def.name);
    const rows = await this.#storage.listData(prefix, this.#claimHistory + PRUNE_SLACK);
    // The prefix of task "a" also lists task "a:b"; keep only keys that end in a number.
    return rows
      .map((r) => r.key.slice(prefix.length))
      .filter((rest) => /^\d+$/.test(rest))
      .map(Number)
      .sort((a, b) => a - b);
  }
}

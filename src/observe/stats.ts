// Per-task statistics of one consumer: counts by outcome and two histograms (run time, queue wait), kept
// in memory per minute and written with the heartbeat as ONE key-value entry per consumer per minute
// (`stats:<minute>:<consumer id>`, overwritten on each flush of that minute: no read-modify-write).
// Recording an outcome is a few array increments: no storage write and no allocation per task.
import { readyAt } from "../message";

/** Key-value prefix of the per-minute buckets. */
export const STATS_PREFIX = "stats:";
/** Minutes of buckets kept in storage; older ones are pruned. */
export const STATS_KEEP_MINUTES = 60;
export const MINUTE_MS = 60_000;

/** The outcomes counted, in array order. */
export const OUTCOMES = ["complete", "error", "retrying", "expired", "revoked", "canceled", "locked", "rate-limited"] as const;
export type OutcomeName = (typeof OUTCOMES)[number];
const OUTCOME_INDEX = new Map<string, number>(OUTCOMES.map((o, i) => [o, i]));
const RAN = new Set<number>([0, 1, 2, 5]); // complete, error, retrying, canceled: the task ran

/** Upper bounds (ms, inclusive) of both histograms' buckets; one more bucket holds what is above the last. */
export const HISTOGRAM_BOUNDS_MS: readonly number[] = [
  1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000,
];
const NB = HISTOGRAM_BOUNDS_MS.length + 1;

/** A histogram as read back: counts per bucket (not cumulative; the last one is above every bound). */
export interface Histogram {
  bounds: number[];
  counts: number[];
  /** Sum of the observations, ms. */
  sum: number;
  count: number;
}

/** One task name's numbers over some span. */
export class TaskAgg {
  readonly counts = new Float64Array(OUTCOMES.length);
  readonly run = new Float64Array(NB);
  runSum = 0;
  readonly wait = new Float64Array(NB);
  waitSum = 0;

  add(o: TaskAgg): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += o.counts[i]!;
    for (let i = 0; i < NB; i++) {
      this.run[i]! += o.run[i]!;
      this.wait[i]! += o.wait[i]!;
    }
    this.runSum += o.runSum;
    this.waitSum += o.waitSum;
  }
}

/**
 * The bucket of `ms`: the first bound it does not pass. Twice a task on the consumer's thread: the bounds
 * are a plain array (readonly by type only), for JSC indexes a frozen array through its slow path (132
 * against 25 ns a call here).
 */
export function bucketOf(ms: number): number {
  const b = HISTOGRAM_BOUNDS_MS;
  let lo = 0;
  let hi = b.length; // answer in [lo, hi]
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ms <= b[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The start (epoch ms) of the minute `now` is in. */
export function minuteOf(now: number): number {
  return Math.floor(now / MINUTE_MS) * MINUTE_MS;
}

/** The key of one consumer's bucket of one minute; zero-padded so keys sort by time. */
export function statsKey(minute: number, consumerId: string): string {
  return `${STATS_PREFIX}${String(minute).padStart(15, "0")}:${consumerId}`;
}

/** The key prefix of every consumer's bucket of one minute. */
export function statsMinutePrefix(minute: number): string {
  return `${STATS_PREFIX}${String(minute).padStart(15, "0")}:`;
}

/** The minute of a bucket key, or NaN. */
export function minuteOfKey(key: string): number {
  return Number(key.slice(STATS_PREFIX.length, STATS_PREFIX.length + 15));
}

/** What a stored bucket holds (JSON). Histogram arrays follow HISTOGRAM_BOUNDS_MS plus one. */
export interface StoredBucket {
  v: 1;
  consumer: string;
  minute: number;
  tasks: Record<string, { counts: Partial<Record<OutcomeName, number>>; run: number[]; runSum: number; wait: number[]; waitSum: number }>;
}

/** What the recorder reads of one written outcome (the committer's PendingOutcome). */
export interface RecordedOutcome {
  task: { name: string; payload: string; id: string };
  plan: { signals: readonly string[] };
  ms?: number;
}

/**
 * Aggregates outcomes. `record` runs after each group commit (one clock read per commit, taken by the
 * caller); `take` hands the buckets to write. `totals` is cumulative for the process (Prometheus): a
 * reload passes the old recorder's totals to the new one.
 */
export class StatsRecorder {
  #minute = -1;
  #current = new Map<string, TaskAgg>();
  /** Minutes that ended and were not written yet (oldest first). */
  #ended: { minute: number; tasks: Map<string, TaskAgg> }[] = [];
  /** Cumulative for this process, across reloads. */
  totals = new Map<string, TaskAgg>();
  /** Cumulative for this consumer. */
  done = 0;
  failed = 0;
  /** Off only for the overhead bench (HUEY_INTERNAL_NO_STATS=1). */
  enabled = true;

  /** Count written outcomes at `now` (the commit's time). Ids in `lost` were not written: not counted. */
  record(done: readonly RecordedOutcome[], lost: ReadonlySet<string>, now: number): void {
    if (!this.enabled) return;
    if (now >= this.#minute + MINUTE_MS || now < this.#minute) this.#roll(minuteOf(now));
    const current = this.#current;
    const totals = this.totals;
    for (let k = 0; k < done.length; k++) {
      const p = done[k]!;
      if (lost.size && lost.has(p.task.id)) continue;
      const sig = p.plan.signals;
      const oi = sig.length ? OUTCOME_INDEX.get(sig[sig.length - 1]!) : undefined;
      if (oi === undefined) continue; // deferred without a signal (a task this consumer does not know)
      const name = p.task.name;
      let a = current.get(name);
      if (a === undefined) current.set(name, (a = new TaskAgg()));
      let t = totals.get(name);
      if (t === undefined) totals.set(name, (t = new TaskAgg()));
      a.counts[oi]!++;
      t.counts[oi]!++;
      if (oi === 0) this.done++;
      else if (oi === 1) this.failed++;
      const ms = p.ms;
      if (ms === undefined || !RAN.has(oi)) continue;
      const rb = bucketOf(ms);
      a.run[rb]!++;
      a.runSum += ms;
      t.run[rb]!++;
      t.runSum += ms;
      const at = readyAt(p.task.payload);
      if (at !== at) continue; // NaN: a message of an older build
      const wait = Math.max(0, now - ms - at);
      const wb = bucketOf(wait);
      a.wait[wb]!++;
      a.waitSum += wait;
      t.wait[wb]!++;
      t.waitSum += wait;
    }
  }

  #roll(minute: number): void {
    if (this.#current.size > 0) this.#ended.push({ minute: this.#minute, tasks: this.#current });
    // Bounded: a store that stays unwritable for long keeps only the latest minutes.
    if (this.#ended.length > STATS_KEEP_MINUTES) this.#ended.shift();
    this.#minute = minute;
    this.#current = new Map();
  }

  /**
   * The buckets to write now: every ended minute not written yet, and the current minute (written
   * again on the next flush, overwriting). After a failed write, call `putBack` with what was taken.
   */
  take(now: number, consumerId: string): { key: string; value: string }[] {
    if (this.#minute >= 0 && now >= this.#minute + MINUTE_MS) this.#roll(minuteOf(now));
    const out: { key: string; value: string }[] = [];
    for (const e of this.#ended) out.push(bucketEntry(e.minute, e.tasks, consumerId));
    this.#taken = this.#ended;
    this.#ended = [];
    if (this.#current.size > 0) out.push(bucketEntry(this.#minute, this.#current, consumerId));
    return out;
  }

  #taken: { minute: number; tasks: Map<string, TaskAgg> }[] = [];
  /** The last take() was not written: its ended minutes are written with the next one. */
  putBack(): void {
    this.#ended = this.#taken.concat(this.#ended).slice(-STATS_KEEP_MINUTES);
    this.#taken = [];
  }
}

function bucketEntry(minute: number, tasks: Map<string, TaskAgg>, consumer: string): { key: string; value: string } {
  const b: StoredBucket = { v: 1, consumer, minute, tasks: {} };
  for (const [name, a] of tasks) {
    const counts: Partial<Record<OutcomeName, number>> = {};
    for (let i = 0; i < OUTCOMES.length; i++) if (a.counts[i]) counts[OUTCOMES[i]!] = a.counts[i]!;
    b.tasks[name] = { counts, run: Array.from(a.run), runSum: a.runSum, wait: Array.from(a.wait), waitSum: a.waitSum };
  }
  return { key: statsKey(minute, consumer), value: JSON.stringify(b) };
}

/** A stored bucket read back, or null when it is not one (another build's, or damaged). */
export function parseBucket(value: string): StoredBucket | null {
  try {
    const b = JSON.parse(value) as StoredBucket;
    if (!b || b.v !== 1 || typeof b.minute !== "number" || !b.tasks || typeof b.tasks !== "object") return null;
    return b;
  } catch {
    return null;
  }
}

/** A stored task entry as a TaskAgg (arrays of another length are cut or padded). */
export function aggOf(t: StoredBucket["tasks"][string]): TaskAgg {
  const a = new TaskAgg();
  for (let i = 0; i < OUTCOMES.length; i++) a.counts[i] = Number(t.counts?.[OUTCOMES[i]!] ?? 0) || 0;
  for (let i = 0; i < NB; i++) {
    a.run[i] = Number(t.run?.[i] ?? 0) || 0;
    a.wait[i] = Number(t.wait?.[i] ?? 0) || 0;
  }
  a.runSum = Number(t.runSum) || 0;
  a.waitSum = Number(t.waitSum) || 0;
  return a;
}

/** A TaskAgg's histogram as read back. */
export function histogramOf(counts: Float64Array, sum: number): Histogram {
  let count = 0;
  for (const c of counts) count += c;
  return { bounds: [...HISTOGRAM_BOUNDS_MS], counts: Array.from(counts), sum, count };
}

/** Outcome index by name (for readers). */
export function outcomeIndex(name: OutcomeName): number {
  return OUTCOME_INDEX.get(name)!;
}

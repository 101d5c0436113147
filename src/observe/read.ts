// The read side, for `huey status`, --check, /metrics and the dashboard: consumers (live and silent),
// throughput per minute and per-task statistics summed over consumers, and the oldest ready task's wait.
// Everything goes through the Storage interface, so it reads every backend alike; time is an argument.
import { readyAt } from "../message";
import type { Storage } from "../storage/types";
import { CONSUMER_PREFIX, LIVE_INTERVALS, parseHeartbeat, SILENT_KEEP_MS, type StoredHeartbeat } from "./heartbeat";
import {
  aggOf,
  histogramOf,
  MINUTE_MS,
  minuteOf,
  minuteOfKey,
  OUTCOMES,
  outcomeIndex,
  parseBucket,
  STATS_KEEP_MINUTES,
  STATS_PREFIX,
  statsMinutePrefix,
  TaskAgg,
  type Histogram,
  type OutcomeName,
  type StoredBucket,
} from "./stats";

/** A consumer as its heartbeat says (StoredHeartbeat without its format version and interval), judged live or not. */
export interface ConsumerInfo extends Omit<StoredHeartbeat, "v" | "interval"> {
  /** Seen within 3 heartbeat intervals and not stopped. */
  live: boolean;
}

/** Heartbeats read at most. */
const CONSUMERS_READ = 1_000;
/** Buckets read at most for a long span (60 minutes x many consumers). */
const BUCKETS_READ = 20_000;
/** A span up to this many minutes is read minute by minute (a prefix each), longer ones in one listing. */
const PER_MINUTE_UP_TO = 10;

/** Consumers that beat within the last hour: live ones first (then by last seen, newest first). */
export async function readConsumers(storage: Storage, now: number): Promise<ConsumerInfo[]> {
  const out: ConsumerInfo[] = [];
  for (const r of await storage.listData(CONSUMER_PREFIX, CONSUMERS_READ)) {
    const h = parseHeartbeat(r.value);
    if (h === null || h.lastSeen < now - SILENT_KEEP_MS) continue;
    const interval = typeof h.interval === "number" && h.interval > 0 ? h.interval : 5_000;
    out.push({
      id: h.id,
      host: String(h.host),
      pid: Number(h.pid),
      version: String(h.version),
      started: Number(h.started),
      backend: String(h.backend),
      workers: Number(h.workers),
      concurrency: Number(h.concurrency),
      queues: Array.isArray(h.queues) ? h.queues.map(String) : null,
      busy: Number(h.busy) || 0,
      done: Number(h.done) || 0,
      failed: Number(h.failed) || 0,
      running: Array.isArray(h.running) ? h.running : [],
      lastSeen: h.lastSeen,
      live: h.stopped !== true && now - h.lastSeen <= LIVE_INTERVALS * interval,
      stopped: h.stopped === true,
    });
  }
  return out.sort((a, b) => Number(b.live) - Number(a.live) || b.lastSeen - a.lastSeen);
}

/** The buckets of the `minutes` minutes up to the one `now` is in (that one included). */
export async function readBuckets(storage: Storage, now: number, minutes: number): Promise<StoredBucket[]> {
  const span = Math.max(1, Math.min(STATS_KEEP_MINUTES, Math.floor(minutes)));
  const last = minuteOf(now);
  const first = last - (span - 1) * MINUTE_MS;
  let rows: { key: string; value: string }[];
  if (span <= PER_MINUTE_UP_TO) {
    const lists = await Promise.all(Array.from({ length: span }, (_, i) => storage.listData(statsMinutePrefix(first + i * MINUTE_MS), CONSUMERS_READ)));
    rows = lists.flat();
  } else {
    rows = await storage.listData(STATS_PREFIX, BUCKETS_READ);
  }
  const out: StoredBucket[] = [];
  for (const r of rows) {
    const m = minuteOfKey(r.key);
    if (!(m >= first && m <= last)) continue;
    const b = parseBucket(r.value);
    if (b !== null) out.push({ ...b, minute: m });
  }
  return out;
}

export interface ThroughputPoint {
  /** Start of the minute, epoch ms. */
  minute: number;
  done: number;
  failed: number;
  retried: number;
}

/** Tasks done, failed and retried per minute, summed over consumers, oldest first, one entry per minute. */
export async function readThroughput(storage: Storage, now: number, minutes = 60): Promise<ThroughputPoint[]> {
  return throughputOf(await readBuckets(storage, now, minutes), now, minutes);
}

/** readThroughput's sums, from buckets already read. */
export function throughputOf(buckets: readonly StoredBucket[], now: number, minutes: number): ThroughputPoint[] {
  const span = Math.max(1, Math.min(STATS_KEEP_MINUTES, Math.floor(minutes)));
  const first = minuteOf(now) - (span - 1) * MINUTE_MS;
  const points = Array.from({ length: span }, (_, i) => ({ minute: first + i * MINUTE_MS, done: 0, failed: 0, retried: 0 }));
  for (const b of buckets) {
    const p = points[(b.minute - first) / MINUTE_MS];
    if (!p) continue;
    for (const t of Object.values(b.tasks)) {
      p.done += Number(t.counts?.complete) || 0;
      p.failed += Number(t.counts?.error) || 0;
      p.retried += Number(t.counts?.retrying) || 0;
    }
  }
  return points;
}

/** Sums of the last `n` points (the newest ones). */
export function lastMinutes(points: readonly ThroughputPoint[], n: number): { done: number; failed: number; retried: number } {
  const s = { done: 0, failed: 0, retried: 0 };
  for (const p of points.slice(-n)) {
    s.done += p.done;
    s.failed += p.failed;
    s.retried += p.retried;
  }
  return s;
}

export interface TaskStats {
  name: string;
  counts: Record<OutcomeName, number>;
  /** Run time of tasks that ran (complete, error, retrying, canceled), ms. */
  run: Histogram;
  /** Start time minus the time the call became ready (its enqueue time or eta), ms. */
  wait: Histogram;
}

/** Per task name, summed over consumers and the last `minutes` minutes; by name. */
export async function readTaskStats(storage: Storage, now: number, minutes = 60): Promise<TaskStats[]> {
  return taskStatsOf(await readBuckets(storage, now, minutes));
}

export function taskStatsOf(buckets: readonly StoredBucket[]): TaskStats[] {
  const by = new Map<string, TaskAgg>();
  for (const b of buckets) {
    for (const [name, t] of Object.entries(b.tasks)) {
      let a = by.get(name);
      if (!a) by.set(name, (a = new TaskAgg()));
      a.add(aggOf(t));
    }
  }
  return [...by.keys()].sort().map((name) => {
    const a = by.get(name)!;
    const counts = Object.fromEntries(OUTCOMES.map((o) => [o, a.counts[outcomeIndex(o)]!])) as Record<OutcomeName, number>;
    return { name, counts, run: histogramOf(a.run, a.runSum), wait: histogramOf(a.wait, a.waitSum) };
  });
}

/** Items read (in lease order) to find the oldest ready one. */
export const OLDEST_SCAN = 1_000;

export interface OldestReady {
  id: string;
  name: string;
  /** How long it has been ready, ms. */
  waitMs: number;
  /**
   * False when more items were queued than were read (OLDEST_SCAN, in lease order): an older one
   * may sit further back, so this is a lower bound. The Storage contract has no "oldest ready" query.
   */
  exact: boolean;
}

/**
 * The ready (not leased) task that became ready first among the first OLDEST_SCAN in lease order,
 * by the `at` its message records (the first in lease order need not be it: priorities go first).
 * Null when nothing is ready, or no ready message records its time (older builds).
 */
export async function readOldestReady(storage: Storage, now: number, lane?: string): Promise<OldestReady | null> {
  const items = await storage.listPending(OLDEST_SCAN, lane);
  let best: { id: string; name: string; at: number } | null = null;
  for (const it of items) {
    if (it.leased) continue;
    const at = readyAt(it.payload);
    if (at === at && (best === null || at < best.at)) best = { id: it.id, name: it.name, at };
  }
  if (best === null) return null;
  return { id: best.id, name: best.name, waitMs: Math.max(0, now - best.at), exact: items.length < OLDEST_SCAN };
}

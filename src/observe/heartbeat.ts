// The heartbeat: every few seconds (and at start, and at a clean stop) a consumer writes one key-value entry,
// `consumer:<id>`, saying who it is and what it does, and with it its statistics buckets (stats.ts) in the
// same transaction. Both are its own keys, written unfenced: a consumer paused past its leases writes these
// and nothing of its tasks (their writes go through the fenced group commit, untouched here).
// One consumer a minute also prunes old heartbeats and buckets, in bounded batches.
import { hostname } from "node:os";
import { tryReadMessage } from "../message";
import type { CommitBatch, Storage } from "../storage/types";
import { VERSION } from "../_version";
import { MINUTE_MS, minuteOf, minuteOfKey, STATS_KEEP_MINUTES, STATS_PREFIX, StatsRecorder } from "./stats";

export const CONSUMER_PREFIX = "consumer:";
/** Default heartbeat interval, ms. */
export const HEARTBEAT_MS = 5_000;
/** A consumer is live while its last heartbeat is younger than this many intervals (and it did not stop). */
export const LIVE_INTERVALS = 3;
/** Heartbeats silent for longer than this are pruned (and no longer listed). */
export const SILENT_KEEP_MS = 3_600_000;
/** Running tasks listed in a heartbeat, at most. */
export const RUNNING_LISTED = 100;
/** Entries deleted per prune statement. */
export const PRUNE_BATCH = 500;
/** The counter that elects the one consumer that prunes in a given minute. */
const PRUNE_COUNTER = "observe:prune:";

/** A running task, as a heartbeat lists it. */
export interface RunningTask {
  id: string;
  name: string;
  /** When this consumer first saw it running (epoch ms; up to one heartbeat late). */
  since: number;
  attempt: number;
}

/** What `consumer:<id>` holds (JSON). */
export interface StoredHeartbeat {
  v: 1;
  id: string;
  host: string;
  pid: number;
  version: string;
  started: number;
  backend: string;
  workers: number;
  /** Tasks at once per Worker. */
  concurrency: number;
  /** Named queues served; null: every queue. */
  queues: string[] | null;
  /** Slots running a task now. */
  busy: number;
  /** Cumulative for this consumer. */
  done: number;
  failed: number;
  running: RunningTask[];
  lastSeen: number;
  /** The interval this consumer beats at, ms (readers judge liveness by it). */
  interval: number;
  /** Set by a clean stop. */
  stopped: boolean;
}

/** What the heartbeat reads of its consumer at each beat. */
export interface HeartbeatSource {
  storage: Storage;
  workers: number;
  concurrency: number;
  queues: string[] | null;
  /** Slots running a task now. */
  busy(): number;
  /** Tasks running now (started in a Worker): id, name, payload. */
  running(): Iterable<{ id: string; name: string; payload: string }>;
}

/** A new consumer id: host, pid and a random tail (unique across restarts of the same pid). */
export function newConsumerId(host = hostname(), pid = process.pid): string {
  return `${host}.${pid}.${crypto.randomUUID().slice(0, 8)}`;
}

export class Heartbeat {
  readonly id: string;
  readonly host: string;
  readonly started: number;
  readonly stats = new StatsRecorder();
  #since = new Map<string, { since: number; attempt: number }>();
  #nextPrune = 0;
  #beating: Promise<void> | null = null;

  constructor(readonly src: HeartbeatSource, readonly interval = HEARTBEAT_MS, now = Date.now(), id?: string) {
    this.host = hostname();
    this.id = id ?? newConsumerId(this.host);
    this.started = now;
  }

  /** The entry as it would be written at `now`. */
  entry(now: number, stopped = false): StoredHeartbeat {
    const s = this.src;
    const running: RunningTask[] = [];
    const seen = new Map<string, { since: number; attempt: number }>();
    for (const t of s.running()) {
      if (running.length >= RUNNING_LISTED) break;
      let info = this.#since.get(t.id);
      if (info === undefined) {
        info = { since: now, attempt: tryReadMessage(t.payload)?.attempt ?? 1 };
      }
      seen.set(t.id, info);
      running.push({ id: t.id, name: t.name, since: info.since, attempt: info.attempt });
    }
    this.#since = seen;
    return {
      v: 1,
      id: this.id,
      host: this.host,
      pid: process.pid,
      version: VERSION,
      started: this.started,
      backend: s.storage.kind,
      workers: s.workers,
      concurrency: s.concurrency,
      queues: s.queues,
      busy: stopped ? 0 : s.busy(),
      done: this.stats.done,
      failed: this.stats.failed,
      running: stopped ? [] : running,
      lastSeen: now,
      interval: this.interval,
      stopped,
    };
  }

  /**
   * The one write of a beat: this consumer's heartbeat and its statistics buckets, nothing else
   * (no ack, no task write, no other consumer's key).
   */
  batch(now: number, stopped = false): CommitBatch {
    const putData = [{ key: CONSUMER_PREFIX + this.id, value: JSON.stringify(this.entry(now, stopped)) }, ...this.stats.take(now, this.id)];
    return { putData };
  }

  /** Write a beat (one at a time: a beat still under way is awaited instead). */
  beat(now: number, stopped = false): Promise<void> {
    if (this.#beating) return stopped ? this.#beating.catch(() => {}).then(() => this.beat(now, true)) : this.#beating;
    const run = (async () => {
      const batch = this.batch(now, stopped);
      try {
        await this.src.storage.commit(batch);
      } catch (err) {
        this.stats.putBack();
        throw err;
      }
      if (!stopped && now >= this.#nextPrune) {
        this.#nextPrune = now + MINUTE_MS;
        const more = await pruneIfElected(this.src.storage, now);
        if (more) this.#nextPrune = now; // a backlog: the next beat prunes again
      }
    })().finally(() => (this.#beating = null));
    this.#beating = run;
    return run;
  }
}

/** Prune when this is the first consumer to ask in this minute; true when entries may be left. */
export async function pruneIfElected(storage: Storage, now: number): Promise<boolean> {
  const minute = minuteOf(now);
  const n = await storage.incr(PRUNE_COUNTER + minute, 1, minute + 2 * MINUTE_MS, now);
  if (n !== 1) return false;
  return prune(storage, now);
}

/**
 * Delete heartbeats silent for over an hour and buckets older than STATS_KEEP_MINUTES, at most one
 * batch of each. True when a full batch of old buckets went (more may be left).
 */
export async function prune(storage: Storage, now: number): Promise<boolean> {
  const deleteData: string[] = [];
  for (const r of await storage.listData(CONSUMER_PREFIX, PRUNE_BATCH)) {
    const hb = parseHeartbeat(r.value);
    if (hb === null || hb.lastSeen < now - SILENT_KEEP_MS) deleteData.push(r.key);
  }
  const oldest = minuteOf(now) - STATS_KEEP_MINUTES * MINUTE_MS;
  const rows = await storage.listData(STATS_PREFIX, PRUNE_BATCH);
  let old = 0;
  for (const r of rows) {
    const m = minuteOfKey(r.key);
    if (!(m < oldest)) break; // keys sort by minute: the rest are newer (NaN: not ours, stop too)
    deleteData.push(r.key);
    old++;
  }
  if (deleteData.length) await storage.commit({ deleteData });
  return rows.length === PRUNE_BATCH && old === rows.length;
}

/** A stored heartbeat, or null when the value is not one. */
export function parseHeartbeat(value: string): StoredHeartbeat | null {
  try {
    const h = JSON.parse(value) as StoredHeartbeat;
    if (!h || h.v !== 1 || typeof h.id !== "string" || typeof h.lastSeen !== "number") return null;
    return h;
  } catch {
    return null;
  }
}

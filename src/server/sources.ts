// Data the dashboard shows that other parts of bun-huey will produce: the live consumers (from consumer
// heartbeats) and the tasks done and failed per minute (from per-task statistics). Each function returns
// [] until its source exists; the overview JSON always has the fields and the page shows "no data yet"
// for an empty one. Plug a source in here, nowhere else: api.ts and the page need no change.
import type { Huey } from "../huey";

/** One consumer process, as its heartbeat reports it. */
export interface ConsumerRow {
  id: string;
  host: string;
  pid: number;
  version: string;
  /** Epoch ms. */
  started: number;
  /** Storage kind: "sqlite", "postgres", ... */
  backend: string;
  workers: number;
  /** Tasks running now. */
  busy: number;
  /** Tasks finished (ok) and failed since it started. */
  done: number;
  failed: number;
  /** Epoch ms of its last heartbeat. */
  lastSeen: number;
  /** Heartbeat recent enough that it is taken to be running. */
  live: boolean;
}

/** Tasks finished in one minute. */
export interface ThroughputRow {
  /** The minute's start, epoch ms. */
  minute: number;
  done: number;
  failed: number;
}

/**
 * The consumers of this queue. To be fed by the consumer heartbeats (issue 11, consumer heartbeats:
 * each consumer writes {id, host, pid, version, started, backend, workers, busy, done, failed} with its
 * lastSeen; `live` is lastSeen within a few heartbeat intervals of `now`).
 */
export async function consumers(_huey: Huey, _now: number): Promise<ConsumerRow[]> {
  return [];
}

/**
 * Done and failed tasks per minute, oldest first, for the last hour. To be fed by the per-task
 * statistics (issue 11, per-task statistics: per-minute counters of completions and failures).
 */
export async function throughput(_huey: Huey, _now: number): Promise<ThroughputRow[]> {
  return [];
}

// What the dashboard shows of the consumers and of the tasks per minute, read from the consumers'
// heartbeats and per-minute statistics (src/observe/). The overview JSON always has both fields; the
// page shows "no data yet" for an empty one (no consumer has run with this storage in the last hour).
import type { Huey } from "../huey";
import { readConsumers, readThroughput, type ConsumerInfo } from "../observe/read";

/** One consumer process, as its heartbeat reports it (live ones first, then those gone silent). */
export type ConsumerRow = ConsumerInfo;

/** Tasks finished in one minute. */
export interface ThroughputRow {
  /** The minute's start, epoch ms. */
  minute: number;
  done: number;
  failed: number;
  retried: number;
}

/** The consumers of this queue seen in the last hour. */
export function consumers(huey: Huey, now: number): Promise<ConsumerRow[]> {
  return readConsumers(huey.storage, now);
}

/** Done, failed and retried tasks per minute, oldest first, for the last hour. */
export function throughput(huey: Huey, now: number): Promise<ThroughputRow[]> {
  return readThroughput(huey.storage, now, 60);
}

/** Task id -> the consumer whose last heartbeat lists it as running, and since when (live consumers only). */
export async function runningOn(huey: Huey, now: number): Promise<Map<string, { consumer: string; since: number }>> {
  const out = new Map<string, { consumer: string; since: number }>();
  for (const c of await readConsumers(huey.storage, now)) {
    if (!c.live) continue;
    for (const t of c.running) if (t && typeof t.id === "string" && !out.has(t.id)) out.set(t.id, { consumer: c.id, since: Number(t.since) });
  }
  return out;
}

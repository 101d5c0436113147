// Storage.locate() for the SQL backends: the rows of the queue and schedule tables of one id, as a LocatedItem.
import { DEFAULT_LANE, type LocatedItem } from "./types";

export interface QueueRow {
  name: string;
  priority: number | string;
  payload: string;
  lane?: string | null;
  leased_until: number | string | null;
  leases: number | string;
}

export interface ScheduleRow {
  name: string;
  priority: number | string;
  payload: string;
  lane?: string | null;
  eta: number | string;
}

/** The row found (queue first: an id is in one table at a time), or null. Numbers may come back as strings (bigint columns). */
export function locateRow(id: string, queued: QueueRow | null | undefined, scheduled: ScheduleRow | null | undefined): LocatedItem | null {
  if (queued) {
    const base = { id, name: queued.name, priority: Number(queued.priority), payload: queued.payload, lane: queued.lane ?? DEFAULT_LANE, leases: Number(queued.leases) };
    return queued.leased_until === null ? { ...base, where: "ready" } : { ...base, where: "leased", leasedUntil: Number(queued.leased_until) };
  }
  if (!scheduled) return null;
  return {
    id, name: scheduled.name, priority: Number(scheduled.priority), payload: scheduled.payload, lane: scheduled.lane ?? DEFAULT_LANE,
    leases: 0, where: "scheduled", eta: Number(scheduled.eta),
  };
}

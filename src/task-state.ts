// huey.state(id): where a task is in its life, from a handful of reads by id (Storage.locate, the result,
// the dead letter, the revoked marker, its log records), never a scan of the queue.
import { KEYS, readMessage, tryReadMessage, type DeadLetter, type Message, type StoredResult } from "./message";
import type { RevokedMarker } from "./plan";
import { decode } from "./serializer";
import type { Storage } from "./storage/types";
import { readTaskLog, type TaskEvent, type TaskLog } from "./task-log";

export type TaskError = { name: string; message: string; code?: string; stack?: string };

/**
 * A task's state, discriminated on `state`. Times are epoch ms; `null` where it is not known.
 * - queued: ready to run (`revoked`: revoked by id, it will be skipped when a consumer takes it).
 * - scheduled: waiting for `eta` (a delay, a retry's backoff, a rate limit).
 * - running: leased by a consumer (`since` and `consumer` from its heartbeat, when it keeps one).
 * - done: finished; `result` says whether a value is stored (false: results off, read with
 *   `preserve: false`, or expired, and the task's log said it completed).
 * - failed: failed for good: its stored error, or its dead letter.
 * - canceled: stopped by CancelExecution without a retry.
 * - revoked: a consumer skipped it as revoked.
 * - expired: not started before its `expires`, so skipped (known from its log record).
 * - unknown: none of these: never stored, flushed, or everything of it expired.
 */
export type TaskState =
  | { state: "queued"; id: string; name: string; queue: string; priority: number; attempt: number; retries: number; enqueuedAt: number | null; revoked: boolean }
  | { state: "scheduled"; id: string; name: string; queue: string; priority: number; attempt: number; retries: number; eta: number; revoked: boolean }
  | {
      state: "running"; id: string; name: string; queue: string; priority: number; attempt: number; retries: number;
      leases: number; leasedUntil: number | null; since: number | null; consumer: string | null; progress?: unknown;
    }
  | { state: "done"; id: string; result: boolean; at: number | null }
  | { state: "failed"; id: string; error: TaskError; attempts: number | null; at: number | null; deadLetter: boolean }
  | { state: "canceled"; id: string; at: number | null; error?: string }
  | { state: "revoked"; id: string; at: number | null }
  | { state: "expired"; id: string; at: number | null }
  | { state: "unknown"; id: string };

export interface StateHost {
  storage: Storage;
  isRevokedId(id: string): Promise<boolean>;
}

/** The time a UUIDv7 id was made (its first 48 bits), or null for any other id. */
export function uuidv7Time(id: string): number | null {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.exec(id);
  return m ? parseInt(m[1]! + m[2]!, 16) : null;
}

export async function taskState(h: StateHost, id: string, now: number): Promise<TaskState> {
  const storage = h.storage;
  const loc = await storage.locate(id);
  if (loc) {
    const m = tryReadMessage(loc.payload); // unreadable: its columns only
    const base = { id, name: loc.name, queue: loc.lane, priority: loc.priority, attempt: m?.attempt ?? 1, retries: m?.retries ?? 0 };
    if (loc.where === "ready") return { state: "queued", ...base, enqueuedAt: m?.at ?? uuidv7Time(id), revoked: await h.isRevokedId(id) };
    if (loc.where === "scheduled") return { state: "scheduled", ...base, eta: loc.eta!, revoked: await h.isRevokedId(id) };
    const [beat, progress] = await Promise.all([heartbeatOf(storage, id), storage.getData(KEYS.progress + id, true)]);
    const s: TaskState = {
      state: "running", ...base, leases: loc.leases, leasedUntil: loc.leasedUntil ?? null, since: beat?.since ?? null, consumer: beat?.consumer ?? null,
    };
    if (progress !== null) s.progress = decodeOr(progress);
    return s;
  }
  const raw = await storage.getResult(id, true, now);
  if (raw !== null) {
    let stored: StoredResult | null = null;
    try {
      stored = JSON.parse(raw) as StoredResult;
    } catch {
      /* not ours to judge: a value is stored */
    }
    if (!stored || stored.ok) return { state: "done", id, result: true, at: lastAt(await readTaskLog(storage, id), "complete") };
    const dl = await deadLetter(storage, id);
    return { state: "failed", id, error: stored.error, attempts: stored.attempts, at: dl?.failedAt ?? null, deadLetter: dl !== null };
  }
  const dl = await deadLetter(storage, id);
  if (dl) return { state: "failed", id, error: dl.error, attempts: dl.attempts, at: dl.failedAt, deadLetter: true };
  const marker = await storage.getData(KEYS.revokedDone + id, true);
  if (marker !== null) {
    const r = decodeOr(marker) as RevokedMarker | undefined;
    if (r && (r.until === null || r.until > now)) return { state: "revoked", id, at: r.at ?? null };
  }
  return fromLog(id, await readTaskLog(storage, id));
}

/** The state a task's log records say it ended in (no result, dead letter or marker is left). */
function fromLog(id: string, log: TaskLog): TaskState {
  const last: TaskEvent | undefined = log.events[log.events.length - 1];
  switch (last?.event) {
    case "complete":
      return { state: "done", id, result: false, at: last.at };
    case "expired":
      return { state: "expired", id, at: last.at };
    case "revoked":
      return { state: "revoked", id, at: last.at };
    case "canceled":
      return last.error !== undefined ? { state: "canceled", id, at: last.at, error: last.error } : { state: "canceled", id, at: last.at };
    case "error":
    case "locked": {
      const [name, ...rest] = (last.error ?? "Error: failed").split(": ");
      return { state: "failed", id, error: { name: name!, message: rest.join(": ") }, attempts: last.attempt, at: last.at, deadLetter: false };
    }
    default:
      return { state: "unknown", id };
  }
}

function lastAt(log: TaskLog, event: string): number | null {
  for (let i = log.events.length - 1; i >= 0; i--) if (log.events[i]!.event === event) return log.events[i]!.at;
  return null;
}

async function deadLetter(storage: Storage, id: string): Promise<DeadLetter | null> {
  const raw = await storage.getData(KEYS.failed + id, true);
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as DeadLetter;
  } catch {
    return null;
  }
}

function decodeOr(raw: string): unknown {
  try {
    return decode(raw);
  } catch {
    return raw;
  }
}

/**
 * Where a consumer's heartbeat (key-value `consumer:<id>`, kept by consumers that report statistics) lists
 * this task as running: since when, and which consumer. Null when no heartbeat lists it (or none is kept):
 * the state is still right, only these two are unknown.
 */
async function heartbeatOf(storage: Storage, id: string): Promise<{ since: number | null; consumer: string } | null> {
  let rows: { key: string; value: string }[];
  try {
    rows = await storage.listData("consumer:", 1000);
  } catch {
    return null;
  }
  for (const r of rows) {
    let beat: { id?: unknown; running?: unknown };
    try {
      beat = JSON.parse(r.value) as typeof beat;
    } catch {
      continue;
    }
    if (!beat || !Array.isArray(beat.running)) continue;
    for (const t of beat.running as { id?: unknown; since?: unknown }[]) {
      if (t && t.id === id) {
        return { since: typeof t.since === "number" ? t.since : null, consumer: typeof beat.id === "string" ? beat.id : r.key.slice("consumer:".length) };
      }
    }
  }
  return null;
}

/**
 * huey.taskLog(id): every attempt's lines and events, oldest first. For a task still queued or scheduled on
 * its first attempt (no record yet) the events start with when it was stored, read from its message.
 */
export async function taskLog(storage: Storage, id: string): Promise<TaskLog> {
  const log = await readTaskLog(storage, id);
  if (log.events.length === 0) {
    const loc = await storage.locate(id);
    if (loc) {
      const m = tryReadMessage(loc.payload);
      const at = m?.at ?? uuidv7Time(id);
      if (at !== null && (m?.attempt ?? 1) === 1) log.events.push({ at, event: "enqueued", attempt: 1 });
      if (loc.where === "scheduled") log.events.push({ at: at ?? loc.eta!, event: "scheduled", attempt: m?.attempt ?? 1, eta: loc.eta! });
    }
  }
  return log;
}

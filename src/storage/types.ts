/**
 * The Storage contract. Storage never sees a task, only opaque string payloads with a few
 * columns it needs to order and find them (id, task name, priority, eta). Every operation is one
 * atomic step on the backend; every method is async so network backends fit the same shape.
 *
 * One Storage instance serves one namespace, called `queue` here (the Huey `name`); several may share one
 * backend. Within it, each item belongs to a lane (the task option `queue`, "default" when absent): a
 * consumer leases from the lanes it serves, each up to its own capacity, and never from a paused lane.
 * Time is always an argument (`now`, epoch ms): storage never reads the clock for queue logic.
 */

export interface QueueItem {
  id: string;
  /** Task name, kept as a column so the consumer can check it without decoding the payload. */
  name: string;
  /** Higher runs first; equal priorities run in enqueue order. */
  priority: number;
  payload: string;
  /** The lane (the task option `queue`) within this storage's namespace. @default "default" */
  lane?: string;
}

/** The lane of an item that names none. */
export const DEFAULT_LANE = "default";

/** Lease order: highest priority first, then first stored (by seq). */
export function byLeaseOrder(a: { priority: number; seq: number }, b: { priority: number; seq: number }): number {
  return b.priority - a.priority || a.seq - b.seq;
}

/** Which lanes a lease serves, and how many more each may take now. */
export interface LeaseFilter {
  /** Pauses are checked at this time (epoch ms): a pause whose `until` is past it is over. */
  now: number;
  /**
   * Lane -> the most to take from it in this call (Infinity: no limit but `max`). Absent or null:
   * every lane that has ready items. Lanes are served fairly (round-robin, a share each, then
   * what is left), so a busy lane never starves another; priorities order items within a lane.
   */
  lanes?: Record<string, number> | null;
}

/** A paused lane: nothing of it is leased until `until` (epoch ms), or until resumed when null. */
export interface PausedLane {
  lane: string;
  until: number | null;
}

export interface ScheduledItem extends QueueItem {
  /** Epoch ms at which the item becomes ready. */
  eta: number;
}

/** A ready item taken under a lease. `token` proves ownership to ack, renew or release it. */
export interface LeasedItem extends QueueItem {
  token: string;
  /** How many times this item has been leased, this lease included. */
  leases: number;
  /** Where the store keeps the leased row, when it says (SQLite: its rowid); see LeaseRef.seq. */
  seq?: number;
}

/**
 * Where `locate` found a task: ready (queued, not leased), leased (running or about to run, until
 * `leasedUntil`, possibly past: a lease that ran out is "leased" until reclaimed), or scheduled
 * (waiting for `eta`).
 */
export interface LocatedItem extends QueueItem {
  where: "ready" | "leased" | "scheduled";
  lane: string;
  /** How many times it has been leased (0 until the first lease; scheduled items keep their count or 0). */
  leases: number;
  /** Scheduled only: when it becomes ready (epoch ms). */
  eta?: number;
  /** Leased only: when the current lease runs out (epoch ms). */
  leasedUntil?: number;
}

export interface LeaseRef {
  id: string;
  token: string;
  /**
   * Where the store keeps the leased row, passed back from LeasedItem.seq when the store gave it
   * (SQLite: its rowid, found without the (queue, id) index). Only a locator: the token still
   * fences, so a row of the same seq under another lease is never touched.
   */
  seq?: number;
}

export interface ResultItem {
  id: string;
  payload: string;
  /** Epoch ms after which the result may be dropped; null keeps it until read or flushed. */
  expiresAt?: number | null;
}

/**
 * Writes made on behalf of one leased task: applied only while its lease still holds (a fence).
 *
 * A consumer paused past its lease (SIGSTOP, a long GC, a laptop lid) must not overwrite what
 * the consumer that took the task over since has written: every write that comes from running
 * the task carries the lease's token, and the storage checks it in the same transaction.
 */
export interface FencedWrite {
  /** Acked (removed from the queue) only if this token still holds the item's lease. */
  lease: LeaseRef;
  results?: ResultItem[];
  enqueue?: QueueItem[];
  schedule?: ScheduledItem[];
  putData?: { key: string; value: string }[];
  deleteData?: string[];
  /**
   * Locks to free in the same transaction, each only if `owner` still holds it. Applied whether
   * or not the lease held (the owner check is its own fence).
   */
  releaseLocks?: { key: string; owner: string }[];
}

/**
 * Several writes applied in ONE transaction: the consumer's group commit.
 *
 * The top-level fields are unfenced: acks whose token no longer matches are skipped (not
 * errors), and the other writes are applied regardless. Writes that come from running a leased
 * task belong in `tasks`, where each is applied with its ack, and only if its lease still holds.
 *
 * Order: the fence of every task is checked first (against the store as it was before this
 * commit), then all acks apply, then the writes of the unfenced part and of the held tasks.
 * A duplicate id among the writes that would apply rejects the whole commit (nothing applied);
 * a lost task's writes are never applied, so they cannot be duplicates. Each id appears in at
 * most one entry of `tasks`.
 */
export interface CommitBatch {
  ack?: LeaseRef[];
  results?: ResultItem[];
  enqueue?: QueueItem[];
  schedule?: ScheduledItem[];
  /** Key-value entries to write (dead letters, progress). */
  putData?: { key: string; value: string }[];
  /** Key-value entries to remove (unique-task keys of finished tasks). */
  deleteData?: string[];
  /** Per-task writes, each applied atomically with its ack and only if its lease still holds. */
  tasks?: FencedWrite[];
}

/** What a commit did not apply. */
export interface CommitReport {
  /**
   * Ids in `tasks` whose lease was lost (token no longer matches, or the item is gone): nothing
   * of theirs was written (their `releaseLocks` excepted), in the order of `tasks`.
   */
  lost: string[];
}

/** A lease-style lock: held by `owner` until `until` (epoch ms) unless renewed. */
export interface LockInfo {
  key: string;
  owner: string;
  until: number;
  /** The fencing token of the current holder's acquisition (see `acquireLock`). */
  fence: number;
}

/**
 * What `enqueueDeduped` did. "stored": the item is stored under its id and the key names it.
 * "merged": the key's task `id` took the call (throttle: its window is still open; replace: the
 * item, whose id is `id`, replaced that pending task's payload, priority and eta). "conflict":
 * replace only, nothing written: the key's pending task is `holder` and not the item's id (build
 * the item again with that id), or, when `holder` is null, the item's id names a task that is
 * not pending (running or finished: build it again with a fresh id).
 */
export type DedupOutcome =
  | { kind: "stored" }
  | { kind: "merged"; id: string }
  | { kind: "conflict"; holder: string | null };

/** The key-value value of a deduplication key: `<window end, epoch ms>:<task id>`. */
export function dedupValue(until: number, id: string): string {
  return `${until}:${id}`;
}

export function parseDedupValue(v: string | null | undefined): { until: number; id: string } | null {
  if (v === null || v === undefined) return null;
  const i = v.indexOf(":");
  if (i < 0) return null;
  const until = Number(v.slice(0, i));
  return Number.isFinite(until) ? { until, id: v.slice(i + 1) } : null;
}

export interface Storage {
  /** "memory", "sqlite", ... */
  readonly kind: string;
  /** The queue name this instance serves. */
  readonly queue: string;

  /** Add ready items. All or none: a duplicate id rejects the whole call. */
  enqueue(items: QueueItem[]): Promise<void>;
  /** Add items that become ready at their `eta`. All or none. */
  schedule(items: ScheduledItem[]): Promise<void>;
  /**
   * Lease up to `max` ready items, highest priority first, FIFO within a priority. Each gets a
   * fresh token and is invisible to other leases until `leaseUntil` (epoch ms) passes.
   */
  lease(max: number, leaseUntil: number, filter?: LeaseFilter): Promise<LeasedItem[]>;
  /**
   * Optional: `lease`, and when it got any item also the data rows `listData(prefix, limit)` gives,
   * read in the lease's own transaction (`data` null when it got none). The consumer reads the
   * revocations this way: on SQLite a read of its own after the lease cost an idle consumer about a
   * tenth of a millisecond of its latency, inside the lease a few microseconds. A backend without it
   * is leased, then read.
   */
  leaseWithData?(max: number, leaseUntil: number, filter: LeaseFilter | undefined, prefix: string, limit: number): Promise<{ items: LeasedItem[]; data: { key: string; value: string }[] | null }>;
  /**
   * With a `filter`, `lease` skips the items of paused lanes (checked in the same step, so a pause
   * holds at once for every consumer of every process). Without one it serves every lane, paused
   * or not (tools and tests). Pausing again replaces the `until`.
   */
  pauseLane(lane: string, until: number | null): Promise<void>;
  /** End a pause; true when the lane was paused. Wakes idle consumers (topic "queue"). */
  resumeLane(lane: string): Promise<boolean>;
  /** Lanes paused at `now`, by name. */
  listPaused(now: number): Promise<PausedLane[]>;
  /**
   * Extend leases still held by these tokens; returns the ids whose lease is lost (not
   * extended: the token no longer matches or the item is gone), in the order given.
   */
  renew(leases: LeaseRef[], leaseUntil: number): Promise<string[]>;
  /**
   * Give leases back: the items are ready again at once. `unstarted`: none of them began to run, so
   * these leases do not count in their `leases` (maxLeases fails a task taken that many times without
   * finishing; a consumer that gives back its prefetched tasks at every stop failed them after a few
   * restarts). A task that ran and is given back (interrupted at a stop) still counts.
   */
  release(leases: LeaseRef[], unstarted?: boolean): Promise<number>;
  /** Make items whose lease ran out before `now` ready again; returns how many. */
  reclaimExpired(now: number): Promise<number>;
  /**
   * Apply acks, results, enqueues, schedules, key-value writes and fenced per-task writes in one
   * transaction (see CommitBatch); reports the tasks whose lease was lost.
   */
  commit(batch: CommitBatch): Promise<CommitReport>;
  /** Move up to `limit` scheduled items with `eta <= now` to the ready queue; returns how many. */
  promoteDue(now: number, limit: number): Promise<number>;
  /** The earliest eta in the schedule, or null when it is empty. */
  nextEta(): Promise<number | null>;

  putResult(item: ResultItem): Promise<void>;
  /** Read a result; `preserve: false` removes it. Expired results read as missing. */
  getResult(id: string, preserve: boolean, now: number): Promise<string | null>;
  deleteResult(id: string): Promise<boolean>;

  putData(key: string, value: string): Promise<void>;
  /** Store `value` only when `key` is absent; true when it was stored. */
  putIfEmpty(key: string, value: string): Promise<boolean>;
  getData(key: string, preserve: boolean): Promise<string | null>;
  deleteData(key: string): Promise<boolean>;
  /**
   * Delete `key` only while it still holds exactly `value` (compare-and-delete, one atomic step);
   * true when deleted. For sweeping entries without racing a writer that has just set them again:
   * maintenance drops ended deduplication windows with it (an unconditional delete could lose a
   * window a producer has just opened again).
   */
  deleteDataIf(key: string, value: string): Promise<boolean>;

  /** True while the task `id` is queued, leased or scheduled. */
  hasTask(id: string): Promise<boolean>;
  /**
   * Where the task `id` is (ready, leased or scheduled) with its columns and payload, or null when
   * it is none of these (finished, never stored, or flushed). One lookup by id (an index or a hash
   * read on every backend): it never scans the queue, so `huey.state(id)` costs the same however
   * long the queue is.
   */
  locate(id: string): Promise<LocatedItem | null>;
  /** How many key-value entries start with `prefix`. */
  countData(prefix: string): Promise<number>;
  /**
   * Key-value entries whose key starts with `prefix`, in key order; with `after`, only keys that
   * sort after it (a cursor: pass the last key of the previous page).
   */
  listData(prefix: string, limit: number, after?: string): Promise<{ key: string; value: string }[]>;
  /**
   * Add `by` to the counter `key` and return the new value. A counter past its `expiresAt`
   * (epoch ms) starts again from 0 and takes the new `expiresAt`: a fixed window for rate limits.
   */
  incr(key: string, by: number, expiresAt: number, now: number): Promise<number>;

  /**
   * Enqueue (or schedule, when the item has an `eta`) unless `key` names a task that is still
   * queued, scheduled or leased. Returns null when the item was stored, else the id of the task
   * holding the key. A key whose task is gone (finished without removing it) is taken over.
   */
  enqueueUnique(item: QueueItem | ScheduledItem, key: string): Promise<string | null>;

  /**
   * One deduplicated call, atomic. The key-value entry `key` holds `dedupValue(until, id)`.
   * - "throttle": when the entry names a window ending after `now`, "merged" with its task (run
   *   or not); else the item is stored and the entry set to (`until`, item id).
   * - "replace": when the entry names a pending task (queued or scheduled, never a leased one),
   *   and that is the item's id, its payload, priority and eta become the item's ("merged"); a
   *   pending task of another id, or an item id that names a task not pending, is a "conflict"
   *   (nothing written). Else the item is stored and the entry set to (`until`, item id).
   * A duplicate id of a stored item throws DuplicateIdError, as enqueue does.
   */
  enqueueDeduped(item: QueueItem | ScheduledItem, key: string, mode: "throttle" | "replace", until: number, now: number): Promise<DedupOutcome>;

  /**
   * Take `key` for `owner` until `until`. Returns the lock's fencing token, a number that grows
   * with every acquisition of this key (never reused, also after release, expiry, purgeExpired or
   * flush: each queue keeps a counter per key that nothing resets), or null when another owner
   * holds it past `now`. The owner may re-take its own lock (a new token). A refusal uses no token.
   *
   * Whatever a holder writes elsewhere under the lock can carry the token, so the receiver can
   * refuse a write whose token is older than one it has seen (a holder whose lease ran out).
   */
  acquireLock(key: string, owner: string, until: number, now: number): Promise<number | null>;
  /**
   * Extend locks this owner still holds (also one whose lease ran out that nobody took since).
   * Returns the keys NOT extended, in the order given: lost (expired and taken by another,
   * released or flushed, or purged after expiry) or never held.
   */
  renewLocks(keys: string[], owner: string, until: number): Promise<string[]>;
  /** Release `key` if `owner` holds it, or whoever holds it when `owner` is null. */
  releaseLock(key: string, owner: string | null): Promise<boolean>;
  /** Locks held at `now`. */
  listLocks(now: number): Promise<LockInfo[]>;

  /**
   * Drop results, counters and locks that expired by `now` (the consumer calls this now and
   * then: expired entries read as missing, but would otherwise stay). Returns how many.
   * At most `limit` entries of each kind go per call (default: all), so one call stays short
   * however many expired: call again while it returns `limit` or more.
   */
  purgeExpired(now: number, limit?: number): Promise<number>;

  /** Ready items (not leased); of one lane when `lane` is given (so for the counts and lists below). */
  pendingCount(lane?: string): Promise<number>;
  /** Items under a lease (running or about to run). */
  leasedCount(lane?: string): Promise<number>;
  scheduledCount(lane?: string): Promise<number>;
  resultCount(): Promise<number>;
  /** Ready and leased items in lease order (priority, then enqueue order). */
  listPending(limit: number, lane?: string): Promise<(QueueItem & { leased: boolean })[]>;
  listScheduled(limit: number, lane?: string): Promise<ScheduledItem[]>;
  /** Remove everything of this queue: items, schedule, results, data, locks, pauses (lock fence counters stay). */
  flush(): Promise<void>;

  /**
   * Resolve when another writer may have changed the store, or after `timeoutMs`. Used by the
   * idle poller (topic "queue") and by blocking result reads (topic "results"); must not burn
   * CPU while waiting. A spurious wake-up is allowed, a missed one is not (beyond the timeout).
   */
  waitForChange(timeoutMs: number, topic?: "queue" | "results"): Promise<void>;
  /**
   * Optional, and cheap enough for every maintenance tick: a one-line description of a fatal
   * problem under the running store, or null when there is none. SQLite reports its database
   * file replaced or deleted, or its -wal or -shm file deleted, while open: what this process
   * writes from then on is lost to every other one. The consumer exits non-zero with the line.
   */
  checkHealth?(): Promise<string | null>;
  /**
   * Optional: move this store's housekeeping writes off the calling thread, for a process that writes a
   * lot (the consumer calls it at start). SQLite runs its WAL checkpoint in a Worker of its own; its store
   * also calls this by itself once it has written OFFLOAD_AFTER_ROWS rows (src/storage/sqlite.ts).
   */
  offloadCheckpoints?(): void;
  close(): Promise<void>;
}

/** purgeExpired() without a limit. */
export const PURGE_ALL = Number.MAX_SAFE_INTEGER;

/** A purge limit checked: a whole number of 1 or more. */
export function purgeLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`purgeExpired limit must be a whole number of 1 or more, got ${limit}`);
  return limit;
}

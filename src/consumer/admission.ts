// Admission: whether a leased task runs now, and if not, the plan that says what happens to it instead.
// One function from (task, state, now) to a verdict; the only I/O is through the storage it is given
// (rate-limit counters, locks, consuming a once-revocation), so it is tested on memory storage.
import { serializeError } from "../errors";
import { planDefer, planLocked, planOutcome, planSkip, type Plan, type PlanOptions } from "../executor";
import { KEYS, readMessage } from "../message";
import { ackRef } from "../plan";
import type { LeaseRef, LeasedItem, Storage } from "../storage/types";

export interface Revocation {
  until: number | null;
  once: boolean;
}

/** What admission needs to know of a registered task. */
export interface AdmissionRules {
  rateLimit: { limit: number; per: number; key: ((...a: any[]) => string) | null } | null;
  lock: string | null;
  lockRetry: number | null;
  /** A per-key lock: the key function (`lock` is then the prefix). */
  lockKey?: ((...a: any[]) => string) | null;
  /** At most `limit` running at once, per task or per key. */
  concurrency?: { limit: number; key: ((...a: any[]) => string) | null } | null;
}

export interface AdmissionState {
  storage: Pick<Storage, "incr" | "acquireLock" | "releaseLock" | "deleteData">;
  /** The task's rules, or undefined when its name is not registered here. */
  rules(name: string): AdmissionRules | undefined;
  /** A task's options for the plans (retry delay and backoff of a locked run's retry). */
  lookup: PlanOptions["lookup"];
  /** Revocations read for this lease batch (null: none). Once-revocations are consumed through storage. */
  revocations: Map<string, Revocation> | null;
  /** Leases a task may take without an outcome before it fails for good. */
  maxLeases: number;
  /** How long a taken lock lasts unless renewed, ms. */
  lease: number;
  /** How long a task of an unknown name is put back for, ms. */
  unknownTaskDelay: number;
  keepFailed: boolean;
  /** Told of problems worth a log line (a key function that threw). */
  warn(message: string): void;
}

/** Run it (holding `lock`, with its fencing token when the backend gives one), or apply `plan` instead. */
export type Admission =
  | { run: true; lock?: { key: string; owner: string; fence: number | null }; slot?: { key: string; owner: string } }
  | { run: false; plan: Plan; unknown?: boolean };

const RUN: Admission = { run: true };

/**
 * Whether `admit` has anything to check for this task: false for the common case (a known task with no rate
 * limit or lock, nothing revoked, within maxLeases), which then runs with no admission I/O at all.
 */
export function needsAdmission(item: LeasedItem, s: AdmissionState): boolean {
  const rules = s.rules(item.name);
  return !rules || rules.rateLimit !== null || rules.lock !== null || (rules.concurrency ?? null) !== null || s.revocations !== null || item.leases > s.maxLeases;
}

/**
 * Decide on one leased task. Order: unknown name, too many leases, revoked, rate limit, lock. A lock is a
 * lease like the task's own (owner: the task's id and lease token), renewed with it and freed by expiry if we die.
 */
export async function admit(item: LeasedItem, s: AdmissionState, now: number): Promise<Admission> {
  const rules = s.rules(item.name);
  if (!rules) {
    // Not a retry of the task: no signal, nothing counted.
    return { run: false, unknown: true, plan: { ...planDefer(item, now + s.unknownTaskDelay, "retrying"), signals: [] } };
  }
  if (item.leases > s.maxLeases) {
    const error = {
      name: "WorkerDiedError",
      message: `task was taken ${item.leases - 1} times and never finished: its worker or consumer died each time (option maxLeases)`,
      code: "HUEY_WORKER_DIED",
    };
    return { run: false, plan: planFailed(item, error, now, s.keepFailed) };
  }
  const revoked = s.revocations && (await revokedBy(s, item, now));
  if (revoked) {
    const plan = planSkip(item, "revoked", { now, ttl: s.lookup?.(item.name)?.resultTtl ?? null });
    if (revoked.consume) (plan.batch.deleteData ??= []).push(revoked.key);
    return { run: false, plan };
  }
  if (rules.rateLimit) {
    const retryAt = await rateLimited(s, item, rules.rateLimit, now);
    if (retryAt !== null) return { run: false, plan: planDefer(item, retryAt, "rate-limited") };
  }
  // keys: the keys of a per-key lock and of a concurrency limit, from the arguments. A key function
  // that throws fails this run with its error, through the normal failure path (retries apply).
  let lockKey = rules.lock;
  let slotKey: string | null = null;
  try {
    if (lockKey !== null && rules.lockKey) lockKey = `${lockKey}:${keyOf(rules.lockKey, item, "lock")}`;
    if (rules.concurrency) {
      const k = rules.concurrency.key ? keyOf(rules.concurrency.key, item, "concurrency.key") : "";
      slotKey = `${SLOT_PREFIX}${item.name}:${k}`;
    }
  } catch (err) {
    return { run: false, plan: planKeyError(item, serializeError(err), now, s) };
  }
  // The owner names this lease of this task (one lease statement may give a batch one token), so a
  // later lease of the same id, by another consumer, is another owner.
  const owner = `${item.id}:${item.token}`;
  let slot: { key: string; owner: string } | undefined;
  if (slotKey !== null) {
    const key = await takeSlot(s, slotKey, rules.concurrency!.limit, owner, now);
    // All slots taken: wait in the schedule, neither failed nor holding a Worker slot.
    if (key === null) return { run: false, plan: planDefer(item, now + CONCURRENCY_WAIT, "locked") };
    slot = { key, owner };
  }
  if (lockKey !== null) {
    const got = await s.storage.acquireLock(lockKey, owner, now + s.lease, now);
    if (got === null) {
      if (slot) await s.storage.releaseLock(slot.key, owner);
      return { run: false, plan: planLocked(item, lockKey, rules.lockRetry, now, { lookup: s.lookup }) };
    }
    const lock = { key: lockKey, owner, fence: got };
    return slot ? { run: true, lock, slot } : { run: true, lock };
  }
  return slot ? { run: true, slot } : RUN;
}

// keys: the lock keys of concurrency slots begin with this.
const SLOT_PREFIX = "concurrency:";

// keys: how long a task waits before trying again for a slot of a full concurrency limit, ms.
export const CONCURRENCY_WAIT = 250;

/** A key function applied to the task's arguments; throws what it throws, or a TypeError for a non-string. */
function keyOf(fn: (...a: any[]) => unknown, item: LeasedItem, option: string): string {
  const k = fn(...readMessage(item.payload).args);
  if (typeof k === "string") return k;
  if (typeof k === "number" && Number.isFinite(k)) return String(k);
  throw new TypeError(`task "${item.name}": its ${option} function must return a string, got ${typeof k}`);
}

/**
 * One of `limit` slots, each a lock `<key>:<i>` (a lease, renewed and fenced like any lock, so a killed
 * consumer's slot frees itself when its lease runs out). Tried from a random slot, so that takers
 * spread over the slots. Null when every slot is held.
 */
async function takeSlot(s: AdmissionState, key: string, limit: number, owner: string, now: number): Promise<string | null> {
  const start = Math.floor(Math.random() * limit);
  for (let n = 0; n < limit; n++) {
    const k = `${key}:${(start + n) % limit}`;
    if ((await s.storage.acquireLock(k, owner, now + s.lease, now)) !== null) return k;
  }
  return null;
}

/** A key function threw: the run failed with that error (retried while it has retries). */
function planKeyError(item: LeasedItem, error: ReturnType<typeof serializeError>, now: number, s: AdmissionState): Plan {
  try {
    return planOutcome(item, { kind: "error", error }, now, { keepFailed: s.keepFailed, lookup: s.lookup });
  } catch (err) {
    return unreadablePlan(item, serializeError(err));
  }
}


/** A plan that fails the task for good with `error`, whatever retries it has left. */
export function planFailed(item: LeasedItem, error: { name: string; message: string; code?: string }, now: number, keepFailed: boolean): Plan {
  try {
    return planOutcome(item, { kind: "error", error }, now, { keepFailed, noRetry: true });
  } catch (err) {
    return unreadablePlan(item, serializeError(err));
  }
}

/** The payload itself cannot be read: fail it for good, keeping the error. */
export function unreadablePlan(item: LeaseRef & { name: string }, error: ReturnType<typeof serializeError>): Plan {
  return {
    batch: {
      ack: [ackRef(item)],
      results: [{ id: item.id, payload: JSON.stringify({ ok: false, name: item.name, error, attempts: 1 }) }],
    },
    signals: ["error"],
  };
}

/**
 * The revocation that applies, and whether it is used up. A by-id revocation always is (only one lease
 * of an id exists); a `once` revocation of a task is consumed through storage, so of several calls leased
 * together, in one consumer or many, exactly one is skipped.
 */
async function revokedBy(s: AdmissionState, item: LeasedItem, now: number): Promise<{ key: string; consume: boolean } | null> {
  const byId = s.revocations!.get(KEYS.revokedId + item.id);
  if (byId && (byId.until === null || byId.until > now)) return { key: KEYS.revokedId + item.id, consume: true };
  const key = KEYS.revokedTask + item.name;
  const r = s.revocations!.get(key);
  if (!r || (r.until !== null && r.until <= now)) return null;
  if (!r.once) return { key, consume: false };
  s.revocations!.delete(key); // later items of this batch run
  return (await s.storage.deleteData(key)) ? { key, consume: false } : null;
}

/** Fixed-window rate limit shared through storage: null to run now, else when to try again. */
async function rateLimited(s: AdmissionState, item: LeasedItem, rl: NonNullable<AdmissionRules["rateLimit"]>, now: number): Promise<number | null> {
  let key = "";
  if (rl.key) {
    try {
      key = String(rl.key(...readMessage(item.payload).args));
    } catch (err) {
      s.warn(`${item.name} ${item.id}: its rateLimit.key function threw (${String(err)}); using one limit for the task`);
    }
  }
  const windowStart = Math.floor(now / rl.per) * rl.per;
  const windowEnd = windowStart + rl.per;
  const count = await s.storage.incr(`${KEYS.rate}${item.name}:${key}:${windowStart}`, 1, windowEnd, now);
  return count > rl.limit ? windowEnd : null;
}

/** Current revocations, or null when there are none (the common case: one cheap range read). */
export async function readRevocations(storage: Pick<Storage, "listData">): Promise<Map<string, Revocation> | null> {
  return toRevocations(await storage.listData(REVOCATIONS.prefix, REVOCATIONS.limit));
}

/** Where revocations are kept: the data rows under this prefix, read up to `limit` at a time. */
export const REVOCATIONS = { prefix: "revoked:", limit: 10_000 } as const;

/** Revocations from their data rows (read by readRevocations, or by a lease: Storage.leaseWithData). */
export function toRevocations(rows: { key: string; value: string }[]): Map<string, Revocation> | null {
  if (rows.length === 0) return null;
  return new Map(rows.map((r) => [r.key, JSON.parse(r.value) as Revocation]));
}

/** Whether a revocation applies to a task now (for aborting running ones; consumes nothing). */
export function isRevokedNow(revocations: Map<string, Revocation>, id: string, name: string, now: number): boolean {
  for (const key of [KEYS.revokedId + id, KEYS.revokedTask + name]) {
    const r = revocations.get(key);
    if (r && (r.until === null || r.until > now)) return true;
  }
  return false;
}

/** The locks a running task holds (its lock and its concurrency slot), to renew or free. */
export function heldLocks(t: { lock?: { key: string; owner: string }; slot?: { key: string; owner: string } }): { key: string; owner: string }[] {
  const out: { key: string; owner: string }[] = [];
  if (t.lock) out.push({ key: t.lock.key, owner: t.lock.owner });
  if (t.slot) out.push(t.slot);
  return out;
}

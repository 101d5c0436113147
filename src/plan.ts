import { serializeError, TaskLockedError, type SerializedError } from "./errors";
import type { Outcome } from "./executor";
import { KEYS, readMessage, toQueueItem, type DeadLetter, type Message, type StoredResult } from "./message";
import { MAX_DATE_MS } from "./_time";
import { downstream, stageMessage, type ChordSpec, type StageTaskOptions } from "./pipeline";
import type { SignalName } from "./signals";
import type { CommitBatch, FencedWrite, LeaseRef } from "./storage/types";

/** A signal about a message the plan stores other than the task it is for. */
export interface AlsoSignal {
  signal: SignalName;
  /** The stored payload: the TaskInfo handlers get is `taskInfo(readMessage(payload))`. */
  payload: string;
}

/** The storage writes and signals an outcome leads to. Pure: time and randomness are arguments. */
export interface Plan {
  batch: CommitBatch;
  /** About the task itself: emitted in order once the batch is committed. */
  signals: SignalName[];
  /**
   * About the messages the batch stores: the task's retry (its own id, a new payload), the next
   * pipeline stage, the `.error()` stage. `"enqueued"`, or `"scheduled"` when stored with an eta,
   * as Huey emits when it enqueues or schedules them. Emitted after the commit, after `signals`.
   */
  also?: AlsoSignal[];
  /** Set for retries: when the task runs again. */
  retryAt?: number;
  /** A chord member finished: once committed, check whether the chord is complete. */
  chord?: ChordSpec;
}

export interface PlanOptions {
  /** Keep tasks that fail for good in the dead-letter store. */
  keepFailed: boolean;
  /** Fail without retrying, whatever retries are left. */
  noRetry?: boolean;
  /** Signals that precede the outcome's own, e.g. "timeout". */
  before?: SignalName[];
  /** The task stored progress: remove it now. */
  hadProgress?: boolean;
  /** In [0, 1): the jitter draw. @default Math.random */
  rand?: () => number;
  /**
   * The options of a registered task, for the `.error()` stage a final failure stores (its
   * priority, retries and retry delays). Without it, or for a task it does not know, the stage
   * gets the failed task's priority and no retries.
   */
  lookup?: (name: string) => StageTaskOptions | undefined;
}

/** The delay before retry number `attempt` (1 = first retry) of `m`. */
export function retryDelay(m: Message, rand: () => number): number {
  // Capped so that many retries with a backoff give a long delay, never Infinity (or NaN with jitter).
  const base = Math.min(m.retryDelay * Math.pow(m.backoff ?? 1, Math.max(0, m.attempt - 1)), MAX_DATE_MS);
  const capped = m.maxDelay !== undefined ? Math.min(base, m.maxDelay) : base;
  const jitter = m.jitter ? capped * m.jitter * (rand() * 2 - 1) : 0;
  return Math.max(0, Math.round(capped + jitter));
}

/**
 * Signals follow Huey's `_execute`: a failed run emits `error` (or `canceled`, `locked`) and then,
 * if it will run again, `retrying`; its retry, like any message the batch stores, is in `also`.
 */
export function planOutcome(lease: LeaseRef & { payload: string }, outcome: Outcome, now: number, o: PlanOptions): Plan {
  const ack = [ackRef(lease)];
  if (outcome.kind === "ok") return planSuccess(lease.id, ack, outcome, now, o.hadProgress === true, o.before);
  const before = o.before ?? [];
  const m = readMessage(lease.payload);
  switch (outcome.kind) {
    case "expired":
      return finished(m, ack, stopped(m, { name: "Expired", message: `pipeline stage ${m.name} expired before it ran` }), [...before, "expired"]);
    case "cancel":
      if (outcome.retry && !o.noRetry) return retry(m, ack, now, 0, [...before, "canceled"]);
      return finished(m, ack, stopped(m, outcome.error), [...before, "canceled"]);
    case "retry": {
      if (o.noRetry) return failure(lease.payload, m, ack, outcome.error, now, o, [...before, "error"]);
      const at = outcome.eta ?? now + (outcome.delay ?? retryDelay(m, o.rand ?? Math.random));
      return retry({ ...m, retries: m.retries + 1 }, ack, now, at - now, before);
    }
    case "error":
      return failure(lease.payload, m, ack, outcome.error, now, o, [...before, "error"]);
  }
}

/** A run that failed (an error, or a lock held): retried while retries last, else failed for good. */
function failure(payload: string, m: Message, ack: LeaseRef[], error: SerializedError, now: number, o: PlanOptions, signals: SignalName[]): Plan {
  if (!o.noRetry && m.retries > 0) return retry(m, ack, now, retryDelay(m, o.rand ?? Math.random), signals);
  const stored: StoredResult = { ok: false, name: m.name, error, attempts: m.attempt };
  const batch = stopped(m, error);
  // A failure is a result too: it expires as the task's successes do (else failures pile up forever).
  const ttl = o.lookup?.(m.name)?.resultTtl;
  batch.results!.unshift({ id: m.id, payload: JSON.stringify(stored), ...(ttl ? { expiresAt: now + ttl } : {}) });
  let also: AlsoSignal[] | undefined;
  if (m.onError) {
    const task = o.lookup?.(m.onError.name) ?? { priority: m.priority, retries: 0, retryDelay: 0 };
    const item = toQueueItem(stageMessage(m.onError, error, m, task, now), Number.MAX_SAFE_INTEGER);
    batch.enqueue = [item];
    also = [{ signal: "enqueued", payload: item.payload }];
  }
  if (o.keepFailed) {
    const dl: DeadLetter = { id: m.id, name: m.name, args: m.args, error, attempts: m.attempt, failedAt: now, payload };
    batch.putData = [{ key: KEYS.failed + m.id, value: JSON.stringify(dl) }];
  }
  const plan = finished(m, ack, batch, signals);
  if (also) plan.also = also;
  return plan;
}

/** The task is done for good: ack it and drop the keys it no longer needs. */
function finished(m: Message, ack: LeaseRef[], batch: CommitBatch, signals: SignalName[]): Plan {
  return { batch: { ...batch, ack, deleteData: finishedKeys(m) }, signals };
}

/**
 * A run that found its task's lock held (checked before it reaches a Worker). With `lockRetry`
 * it is put back for that long, using no retry. Otherwise it counts as a failed run, as in Huey
 * (where TaskLockedError is raised in the task): signal `locked`, then retried with the task's
 * retry delay and backoff while retries last, else failed for good with TaskLockedError. A
 * lock-out is expected rather than a bug (a periodic task still running), so it leaves no dead
 * letter and emits no `error`.
 */
export function planLocked(
  lease: LeaseRef & { payload: string; name: string; priority: number },
  key: string,
  lockRetry: number | null,
  now: number,
  o: Pick<PlanOptions, "rand" | "lookup"> = {},
): Plan {
  if (lockRetry !== null) return planDefer(lease, now + lockRetry, "locked");
  const ack = [ackRef(lease)];
  const error = serializeError(new TaskLockedError(key));
  return failure(lease.payload, readMessage(lease.payload), ack, error, now, { ...o, keepFailed: false }, ["locked"]);
}

/** The hot path: no payload decoding, and only the writes this task needs. */
function planSuccess(id: string, ack: LeaseRef[], outcome: Outcome & { kind: "ok" }, now: number, hadProgress: boolean, before: SignalName[] | undefined): Plan {
  const batch: CommitBatch = { ack };
  if (outcome.result !== null) batch.results = [{ id, payload: outcome.result, expiresAt: outcome.ttl ? now + outcome.ttl : null }];
  let also: AlsoSignal[] | undefined;
  if (outcome.next) {
    const next = outcome.next;
    if ("eta" in next) batch.schedule = [next];
    else batch.enqueue = [next];
    also = [{ signal: "eta" in next ? "scheduled" : "enqueued", payload: next.payload }];
  }
  if (outcome.unique || hadProgress) {
    batch.deleteData = [];
    if (outcome.unique) batch.deleteData.push(outcome.unique);
    if (hadProgress) batch.deleteData.push(KEYS.progress + id);
  }
  const plan: Plan = { batch, signals: before?.length ? [...before, "complete"] : ["complete"] };
  if (outcome.chord) plan.chord = outcome.chord;
  if (also) plan.also = also;
  return plan;
}

/**
 * A task that will not produce a value stops its pipeline: the later stages (and the chord
 * callback it feeds) get a failure result, so a caller blocked on them hears of it instead of
 * waiting forever.
 */
function stopped(m: Message, cause: { name: string; message: string }): CommitBatch {
  const error = { name: "PipelineStopped", message: `an earlier stage (${m.name} ${m.id}) did not complete: ${cause.name}: ${cause.message}`, code: "HUEY_PIPELINE_STOPPED" };
  return {
    results: downstream(m).map((s) => ({ id: s.id, payload: JSON.stringify({ ok: false, name: s.name, error, attempts: 0 } satisfies StoredResult) })),
  };
}

/** Keys a finished task no longer needs. */
function finishedKeys(m: Message): string[] {
  const keys = [KEYS.progress + m.id];
  if (m.unique) keys.push(m.unique);
  return keys;
}

/** Store the task's next attempt: `signals` (what happened to this one) then "retrying". */
function retry(m: Message, ack: LeaseRef[], now: number, delay: number, signals: SignalName[]): Plan {
  // A long backoff (retryDelay x retryBackoff^attempt) can pass what a Date holds: stop there.
  const eta = Math.min(now + delay, MAX_DATE_MS);
  // `at` keeps its place before args (readyAt); a message of an older build gets none.
  const next: Message = { ...m, retries: Math.max(0, m.retries - 1), attempt: m.attempt + 1 };
  if (m.at !== undefined) next.at = delay <= 0 ? now : eta;
  const item = toQueueItem(next, Number.MAX_SAFE_INTEGER);
  return {
    batch: delay <= 0 ? { ack, enqueue: [item] } : { ack, schedule: [{ ...item, eta }] },
    signals: [...signals, "retrying"],
    also: [{ signal: delay <= 0 ? "enqueued" : "scheduled", payload: item.payload }],
    retryAt: eta,
  };
}

/** The marker a revoked skip leaves under KEYS.revokedDone: when, and until when it counts (null: for good). */
export interface RevokedMarker {
  at: number;
  until: number | null;
}

/**
 * Writes for a task skipped before it ran (revoked): ack it, drop its keys. With `revoked`, also
 * leave a marker (KEYS.revokedDone + id) saying it was revoked, kept for `ttl` as a result would be
 * (null: until deleted), so `huey result` can tell "revoked" from "unknown id".
 */
export function planSkip(lease: LeaseRef & { payload: string }, signal: SignalName, revoked?: { now: number; ttl: number | null }): Plan {
  let batch: CommitBatch = {};
  try {
    const m = readMessage(lease.payload);
    batch = { ...stopped(m, { name: "Revoked", message: "the task was revoked" }), deleteData: finishedKeys(m) };
  } catch {
    /* unreadable payload: nothing else to remove */
  }
  if (revoked) {
    const marker: RevokedMarker = { at: revoked.now, until: revoked.ttl ? revoked.now + revoked.ttl : null };
    batch.putData = [{ key: KEYS.revokedDone + lease.id, value: JSON.stringify(marker) }];
  }
  return { batch: { ...batch, ack: [ackRef(lease)] }, signals: [signal] };
}

/** Writes for a task put back for later without running (rate limit, unknown name). */
export function planDefer(lease: LeaseRef & { payload: string; name: string; priority: number; lane?: string }, eta: number, signal: SignalName): Plan {
  return {
    batch: {
      ack: [ackRef(lease)],
      schedule: [{ id: lease.id, name: lease.name, priority: lease.priority, payload: lease.payload, eta, ...(lease.lane !== undefined && { lane: lease.lane }) }],
    },
    signals: [signal],
    retryAt: eta,
  };
}

/** The ack of a lease: its id and token, and the row's seq where the store gave one (LeaseRef.seq). */
export function ackRef(lease: LeaseRef): LeaseRef {
  return lease.seq === undefined ? { id: lease.id, token: lease.token } : { id: lease.id, token: lease.token, seq: lease.seq };
}

/**
 * A plan's writes as one fenced write (see Storage.commit): applied only while the lease its ack
 * names still holds. `releaseLocks` are freed in the same commit (each only if its owner holds it).
 */
export function fencedWrite(batch: CommitBatch, releaseLocks?: { key: string; owner: string }[]): FencedWrite {
  const lease = batch.ack?.length === 1 ? batch.ack[0] : undefined;
  if (!lease || batch.tasks?.length) {
    throw new TypeError("fencedWrite: the batch must ack exactly one lease and hold no tasks of its own");
  }
  const w: FencedWrite = { lease };
  if (batch.results?.length) w.results = batch.results;
  if (batch.enqueue?.length) w.enqueue = batch.enqueue;
  if (batch.schedule?.length) w.schedule = batch.schedule;
  if (batch.putData?.length) w.putData = batch.putData;
  if (batch.deleteData?.length) w.deleteData = batch.deleteData;
  if (releaseLocks?.length) w.releaseLocks = releaseLocks;
  return w;
}

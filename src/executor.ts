import { hasCode, serializeError, TaskLockedError, type SerializedError } from "./errors";
import { KEYS, readMessage, checkSize, taskInfo, toQueueItem, type DeadLetter, type Message, type StoredResult } from "./message";
import { encode } from "./serializer";
import { MAX_DATE_MS } from "./_time";
import { downstream, stageMessage, type ChordSpec, type StageTaskOptions } from "./pipeline";
import type { CommitBatch, FencedWrite, LeaseRef, QueueItem, ScheduledItem } from "./storage/types";
import type { SignalName, TaskInfo } from "./signals";
import type { TaskContext } from "./task";

/** What running a task once came to, before any effect on storage. */
export type Outcome =
  | {
      kind: "ok";
      result: string | null;
      ttl?: number | null;
      /** The next pipeline stage, built where the value is (the Worker). */
      next?: QueueItem | ScheduledItem;
      /** Set when this task finishes a chord member: the consumer checks whether the chord is done. */
      chord?: ChordSpec;
      /** The task's unique key, to remove now that it finished (saves decoding it on the hot path). */
      unique?: string;
    }
  | { kind: "retry"; delay?: number; eta?: number; error: SerializedError }
  | { kind: "error"; error: SerializedError }
  | { kind: "cancel"; retry: boolean; error: SerializedError }
  | { kind: "expired" };

/** What the executor needs of a registered task. */
export interface RunnableTask {
  fn: (...args: any[]) => unknown;
  /** Its options; a pipeline stage's message gets them when it is stored. */
  options: StageTaskOptions;
  storeResult: boolean;
  storeNone: boolean;
  resultTtl: number | null;
  context: boolean;
}

export interface Hooks {
  pre: ((task: TaskInfo) => unknown)[];
  post: ((task: TaskInfo, value: unknown, error: Error | undefined) => unknown)[];
}

export interface ExecuteOptions {
  lookup: (name: string) => RunnableTask | undefined;
  maxPayloadSize: number;
  hooks?: Hooks;
  now?: number;
  /** Aborted on timeout, revoke or shutdown; passed to context tasks. */
  signal?: AbortSignal;
  /** The fencing token of the lock the task runs under (its `lock` option), for context tasks. */
  lockFence?: number | null;
  onProgress?: (value: unknown) => void;
  /** Called once the message is decoded (workers use it to learn a task's id and info). */
  onStart?: (m: Message) => void;
}

const NEVER = new AbortController().signal;

/**
 * Run one message's task once and classify what happened. Never throws: a task error, a result
 * that will not serialise, RetryTask and CancelExecution all become Outcomes.
 */
export async function execute(payload: string, o: ExecuteOptions): Promise<Outcome> {
  let m: Message;
  try {
    m = readMessage(payload);
  } catch (err) {
    return { kind: "error", error: serializeError(err) };
  }
  if (m.expires !== undefined && (o.now ?? Date.now()) > m.expires) return { kind: "expired" };
  const task = o.lookup(m.name);
  if (!task) {
    return {
      kind: "error",
      error: { name: "UnknownTaskError", message: `no task named "${m.name}" is registered in this worker`, code: "HUEY_UNKNOWN_TASK" },
    };
  }
  o.onStart?.(m);
  const pre = o.hooks?.pre ?? [];
  const post = o.hooks?.post ?? [];
  // What hooks see; built only when there are hooks (this runs once per task).
  const info = pre.length || post.length ? taskInfo(m) : null;
  let value: unknown;
  let failure: unknown;
  let failed = false;
  try {
    for (const h of pre) await h(info!);
    if (task.context) {
      const ctx: TaskContext = {
        id: m.id,
        name: m.name,
        retries: m.retries,
        attempt: m.attempt,
        signal: o.signal ?? NEVER,
        lockFence: o.lockFence ?? null,
        progress: (v) => o.onProgress?.(v),
      };
      value = await task.fn(ctx, ...m.args);
    } else {
      value = await task.fn(...m.args);
    }
  } catch (err) {
    failed = true;
    failure = err;
  }
  for (const h of post) {
    try {
      await h(info!, failed ? undefined : value, failed ? asError(failure) : undefined);
    } catch (err) {
      if (!failed) {
        failed = true;
        failure = err;
      }
    }
  }
  if (failed) return classify(failure);
  try {
    const out: Outcome & { kind: "ok" } = { kind: "ok", result: null };
    // A value passed on (to the next stage, or to a chord's callback) is always kept, even
    // undefined: the caller's ResultGroup reads every stage, and completeChord every member.
    const passedOn = m.then !== undefined || m.chord !== undefined;
    if (passedOn || (task.storeResult && (task.storeNone || (value !== undefined && value !== null)))) {
      out.result = encode({ ok: true, value } satisfies StoredResult, `the result of ${m.name}()`);
      checkSize(out.result, `the result of task ${m.name}`, o.maxPayloadSize);
      out.ttl = task.resultTtl;
    }
    if (m.then) out.next = nextStage(m, value, o);
    else if (m.chord) out.chord = m.chord;
    if (m.unique) out.unique = m.unique;
    return out;
  } catch (err) {
    return { kind: "error", error: serializeError(err) };
  }
}

function nextStage(m: Message, value: unknown, o: ExecuteOptions): QueueItem | ScheduledItem {
  const spec = m.then!;
  const now = o.now ?? Date.now();
  const item = toQueueItem(stageMessage(spec, value, m, o.lookup(spec.name)?.options, now), o.maxPayloadSize);
  return spec.delay ? { ...item, eta: Math.min(now + spec.delay, MAX_DATE_MS) } : item;
}

function classify(err: unknown): Outcome {
  try {
    return classifyKnown(err);
  } catch {
    // Something that claims a steering code but whose fields throw when read: a plain failure.
    return { kind: "error", error: serializeError(err) };
  }
}

function classifyKnown(err: unknown): Outcome {
  if (hasCode(err, "HUEY_RETRY")) {
    const r = err as { delay?: unknown; eta?: unknown };
    // Only numbers: anything may carry the code, and RetryTask itself checked its range.
    const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
    return { kind: "retry", delay: num(r.delay), eta: num(r.eta), error: serializeError(err) };
  }
  if (hasCode(err, "HUEY_CANCEL")) {
    return { kind: "cancel", retry: (err as { retry?: boolean }).retry === true, error: serializeError(err) };
  }
  return { kind: "error", error: serializeError(err) };
}

/** What post-execute hooks get as the error: the thrown Error itself, else an Error describing it. */
function asError(e: unknown): Error {
  try {
    if (e instanceof Error) return e;
  } catch {
    /* a Proxy whose getPrototypeOf trap throws */
  }
  const d = serializeError(e);
  return new Error(d.message);
}

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
  const ack = [{ id: lease.id, token: lease.token }];
  const before = o.before ?? [];
  if (outcome.kind === "ok") return planSuccess(lease.id, ack, outcome, now, o.hadProgress === true, before);
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
  batch.results!.unshift({ id: m.id, payload: JSON.stringify(stored) });
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
  const ack = [{ id: lease.id, token: lease.token }];
  const error = serializeError(new TaskLockedError(key));
  return failure(lease.payload, readMessage(lease.payload), ack, error, now, { ...o, keepFailed: false }, ["locked"]);
}

/** The hot path: no payload decoding, and only the writes this task needs. */
function planSuccess(id: string, ack: LeaseRef[], outcome: Outcome & { kind: "ok" }, now: number, hadProgress: boolean, before: SignalName[]): Plan {
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
  const plan: Plan = { batch, signals: [...before, "complete"], chord: outcome.chord };
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
  const next: Message = { ...m, retries: Math.max(0, m.retries - 1), attempt: m.attempt + 1 };
  const item = toQueueItem(next, Number.MAX_SAFE_INTEGER);
  // A long backoff (retryDelay x retryBackoff^attempt) can pass what a Date holds: stop there.
  const eta = Math.min(now + delay, MAX_DATE_MS);
  return {
    batch: delay <= 0 ? { ack, enqueue: [item] } : { ack, schedule: [{ ...item, eta }] },
    signals: [...signals, "retrying"],
    also: [{ signal: delay <= 0 ? "enqueued" : "scheduled", payload: item.payload }],
    retryAt: eta,
  };
}

/** Writes for a task skipped before it ran (revoked): ack it, drop its keys. */
export function planSkip(lease: LeaseRef & { payload: string }, signal: SignalName): Plan {
  let batch: CommitBatch = {};
  try {
    const m = readMessage(lease.payload);
    batch = { ...stopped(m, { name: "Revoked", message: "the task was revoked" }), deleteData: finishedKeys(m) };
  } catch {
    /* unreadable payload: nothing else to remove */
  }
  return { batch: { ...batch, ack: [{ id: lease.id, token: lease.token }] }, signals: [signal] };
}

/** Writes for a task put back for later without running (rate limit, unknown name). */
export function planDefer(lease: LeaseRef & { payload: string; name: string; priority: number }, eta: number, signal: SignalName): Plan {
  return {
    batch: {
      ack: [{ id: lease.id, token: lease.token }],
      schedule: [{ id: lease.id, name: lease.name, priority: lease.priority, payload: lease.payload, eta }],
    },
    signals: [signal],
    retryAt: eta,
  };
}

/**
 * A plan's writes as one fenced write (see Storage.commit): applied only while the lease its ack
 * names still holds. `releaseLocks` are freed in the same commit (each only if its owner holds it).
 */
export function fencedWrite(batch: CommitBatch, releaseLocks?: { key: string; owner: string }[]): FencedWrite {
  const [lease, ...more] = batch.ack ?? [];
  if (!lease || more.length || batch.tasks?.length) {
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

import { hasCode, serializeError, type SerializedError } from "./errors";
import { readMessage, checkSize, taskInfo, toQueueItem, type Message, type StoredResult } from "./message";
import { encode } from "./serializer";
import { MAX_DATE_MS } from "./_time";
import { stageMessage, type ChordSpec, type StageTaskOptions } from "./pipeline";
import type { QueueItem, ScheduledItem } from "./storage/types";
import type { TaskInfo } from "./signals";
import type { TaskContext } from "./task";
import { logFn, type LogCollector } from "./task-log";

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
  /**
   * Aborted on timeout, revoke or shutdown; passed to context tasks. A function is called only when
   * a context task needs the signal (see LazyAbort in consumer/pool.ts).
   */
  signal?: AbortSignal | (() => AbortSignal);
  /** The fencing token of the lock the task runs under (its `lock` option), for context tasks. */
  lockFence?: number | null;
  onProgress?: (value: unknown) => void;
  /** Where a context task's ctx.log() lines go (bounded); without it they go nowhere. */
  log?: LogCollector;
  /** Called once the message is decoded (workers use it to learn a task's id and info). */
  onStart?: (m: Message) => void;
}

const NEVER = new AbortController().signal;
const NO_LOG = logFn(() => {});

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
        signal: typeof o.signal === "function" ? o.signal() : (o.signal ?? NEVER),
        lockFence: o.lockFence ?? null,
        progress: (v) => o.onProgress?.(v),
        log: o.log ? logFn((level, args) => o.log!.add(level, args)) : NO_LOG,
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
  const next = stageMessage(spec, value, m, o.lookup(spec.name)?.options, now);
  if (!spec.delay) return toQueueItem(next, o.maxPayloadSize);
  next.at = Math.min(now + spec.delay, MAX_DATE_MS);
  return { ...toQueueItem(next, o.maxPayloadSize), eta: next.at };
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

// Planning an outcome's writes lives in plan.ts; re-exported for the modules that import it from here.
export { fencedWrite, planDefer, planLocked, planOutcome, planSkip, retryDelay } from "./plan";
export type { AlsoSignal, Plan, PlanOptions } from "./plan";

import { hasCode, serializeError, type SerializedError } from "./errors";
import { readMessage, checkSize, toQueueItem, type Message, type StoredResult } from "./message";
import { encode } from "./serializer";
import type { CommitBatch, LeaseRef } from "./storage/types";
import type { SignalName } from "./signals";

/** What running a task once came to, before any effect on storage. */
export type Outcome =
  | { kind: "ok"; result: string | null }
  | { kind: "retry"; delay?: number; eta?: number; error: SerializedError }
  | { kind: "error"; error: SerializedError };

export interface RunnableTask {
  fn: (...args: any[]) => unknown;
  storeResult: boolean;
}

/**
 * Run one message's task once and classify what happened. Never throws: a task error, a result
 * that will not serialise and a RetryTask all become Outcomes.
 */
export async function execute(
  payload: string,
  lookup: (name: string) => RunnableTask | undefined,
  maxPayloadSize: number,
): Promise<Outcome> {
  let m: Message;
  try {
    m = readMessage(payload);
  } catch (err) {
    return { kind: "error", error: serializeError(err) };
  }
  const task = lookup(m.name);
  if (!task) {
    return { kind: "error", error: { name: "UnknownTaskError", message: `no task named "${m.name}" is registered in this worker`, code: "HUEY_UNKNOWN_TASK" } };
  }
  let value: unknown;
  try {
    value = await task.fn(...m.args);
  } catch (err) {
    if (hasCode(err, "HUEY_RETRY")) {
      const r = err as { delay?: number; eta?: number };
      return { kind: "retry", delay: r.delay, eta: r.eta, error: serializeError(err) };
    }
    return { kind: "error", error: serializeError(err) };
  }
  if (!task.storeResult) return { kind: "ok", result: null };
  try {
    const result = encode({ ok: true, value } satisfies StoredResult, `the result of ${m.name}()`);
    checkSize(result, `the result of task ${m.name}`, maxPayloadSize);
    return { kind: "ok", result };
  } catch (err) {
    return { kind: "error", error: serializeError(err) };
  }
}

/** The storage writes and the signal an outcome leads to. Pure: time is an argument. */
export interface Plan {
  batch: CommitBatch;
  signal: SignalName;
  /** Set for retries: when the task runs again. */
  retryAt?: number;
}

export function planOutcome(
  lease: LeaseRef & { payload: string },
  outcome: Outcome,
  now: number,
  opts: { storeErrors: boolean; noRetry?: boolean },
): Plan {
  const ack = [{ id: lease.id, token: lease.token }];
  if (outcome.kind === "ok") {
    return {
      batch: { ack, results: outcome.result === null ? [] : [{ id: lease.id, payload: outcome.result }] },
      signal: "complete",
    };
  }
  const m = readMessage(lease.payload);
  const forced = outcome.kind === "retry";
  if (!opts.noRetry && (forced || m.retries > 0)) {
    const eta = outcome.kind === "retry" && outcome.eta !== undefined ? outcome.eta : now + ((outcome.kind === "retry" ? outcome.delay : undefined) ?? m.retryDelay);
    const next: Message = { ...m, retries: forced ? m.retries : m.retries - 1, attempt: m.attempt + 1 };
    const item = toQueueItem(next, Number.MAX_SAFE_INTEGER);
    return {
      batch: eta <= now ? { ack, enqueue: [item] } : { ack, schedule: [{ ...item, eta }] },
      signal: "retrying",
      retryAt: eta,
    };
  }
  const stored: StoredResult = { ok: false, name: m.name, error: outcome.error, attempts: m.attempt };
  return {
    batch: { ack, results: opts.storeErrors ? [{ id: lease.id, payload: JSON.stringify(stored) }] : [] },
    signal: "error",
  };
}

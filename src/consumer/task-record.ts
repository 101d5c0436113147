// The record of one attempt (its ctx.log lines and its timeline), added to the plan of its outcome so that
// it is written in the task's fenced commit: a consumer that lost the lease writes none. A first-attempt
// success of a task that is not a context task and logged nothing keeps no record: the hot path writes one
// row per task, not three.
import type { SerializedError } from "../errors";
import { readMessage } from "../message";
import type { Plan } from "../plan";
import { LOG_TTL_FALLBACK, recordWrites, type TaskEvent } from "../task-log";
import type { RunInfo } from "./pool";

/** What the record needs of the in-flight task. */
export interface RecordedTask {
  id: string;
  payload: string;
  /** When the pool said it started (the engine's clock). */
  startedAt?: number;
  run?: RunInfo;
}

/** Signals whose event carries the run's error. */
const WITH_ERROR = new Set(["error", "timeout", "canceled", "locked"]);

/**
 * Add the attempt's record to `plan` (as key-value writes of its batch, which the committer fences).
 * Nothing for a put-back (rate limit, lock retry, unknown name: the attempt has not happened yet) or a
 * plain first-attempt success. `ttl`: the task's resultTtl (null: kept until read, so LOG_TTL_FALLBACK).
 */
export function addRecord(task: RecordedTask, plan: Plan, error: SerializedError | undefined, now: number, ttl: number | null | undefined): void {
  const signals = plan.signals;
  if (signals.length === 0) return;
  const retrying = signals.includes("retrying");
  if (!retrying && plan.batch.schedule?.some((s) => s.id === task.id)) return;
  let run = task.run;
  const plain = signals.length === 1 && signals[0] === "complete";
  if (plain && (!run || (!run.context && run.attempt <= 1 && !run.lines?.length && !run.dropped))) return;
  // No RunInfo and not a plain success: a task that never started (revoked, expired, too many leases).
  run ??= fromPayload(task.payload);
  const attempt = run.attempt;
  const events: TaskEvent[] = [];
  if (attempt === 1 && run.at !== undefined) events.push({ at: run.at, event: "enqueued", attempt });
  if (task.startedAt !== undefined) events.push({ at: task.startedAt, event: "started", attempt });
  for (const signal of signals) {
    const e: TaskEvent = { at: now, event: signal, attempt };
    if (signal === "retrying" && plan.retryAt !== undefined) e.eta = plan.retryAt;
    if (error && WITH_ERROR.has(signal)) e.error = `${error.name}: ${error.message}`;
    events.push(e);
  }
  const writes = recordWrites(task.id, attempt, events, run.lines ?? [], run.dropped ?? 0, now + (ttl ?? LOG_TTL_FALLBACK));
  plan.batch.putData = plan.batch.putData ? [...plan.batch.putData, ...writes] : writes;
}

function fromPayload(payload: string): RunInfo {
  try {
    const m = readMessage(payload);
    return m.at !== undefined ? { attempt: m.attempt, retries: m.retries, at: m.at, context: false } : { attempt: m.attempt, retries: m.retries, context: false };
  } catch {
    return { attempt: 1, retries: 0, context: false };
  }
}

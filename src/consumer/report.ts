// What the consumer says of a task once its outcome is written: the log line, the counts, and the signals.
import type { SerializedError } from "../errors";
import { itemInfo, taskInfo } from "../message";
import type { SignalName, Signals, TaskInfo } from "../signals";
import type { PendingOutcome } from "./committer";
import type { Engine, InFlight, Log } from "./engine";

/** Where a report goes: the engine's log, counts and signals. */
export interface ReportSink {
  log: Log;
  stats: Engine["stats"];
  signals: Signals;
  /** Immediate mode stores a retry in the ready queue: its "scheduled" is reported as "enqueued". */
  immediate: boolean;
  emit(signal: SignalName, info: TaskInfo, err?: Error): void;
  /** This consumer's id, in each task line. */
  consumerId?: string;
}

/** What signal handlers are given of an in-flight task: from its decoded message when it has one. */
export function infoOf(t: InFlight): TaskInfo {
  return t.message ? taskInfo(t.message) : itemInfo(t);
}

/**
 * What a task line says of the run besides its outcome, as text ("attempt 2/4, waited 35ms, worker 1,
 * consumer web-1:4242") and as JSON fields (attempt, attempts, waitMs, worker, consumer). Built only once
 * the line's level is known to be enabled, so a consumer logging above info builds none of it.
 */
export function runDetails(p: PendingOutcome<InFlight>, consumerId: string | undefined): { text: string; fields: Record<string, unknown> } {
  const { task } = p;
  const parts: string[] = [];
  const fields: Record<string, unknown> = {};
  const run = task.run;
  if (run) {
    const attempts = run.attempt + run.retries;
    parts.push(`attempt ${run.attempt}/${attempts}`);
    fields.attempt = run.attempt;
    fields.attempts = attempts;
    if (run.at !== undefined && task.startedAt !== undefined) {
      const wait = Math.max(0, task.startedAt - run.at);
      parts.push(`waited ${fmtMs(wait)}`);
      fields.waitMs = roundMs(wait);
    }
  }
  if (task.worker !== undefined) {
    parts.push(`worker ${task.worker}`);
    fields.worker = task.worker;
  }
  if (consumerId !== undefined) {
    parts.push(`consumer ${consumerId}`);
    fields.consumer = consumerId;
  }
  return { text: parts.length ? ` (${parts.join(", ")})` : "", fields };
}

export function reportOutcome(p: PendingOutcome<InFlight>, sink: ReportSink): void {
  const { log, stats, signals, immediate } = sink;
  const { task, plan } = p;
  const last = plan.signals[plan.signals.length - 1];
  // Strings and fields are built only inside a branch whose level is enabled.
  switch (last) {
    case "complete":
      stats.completed++;
      if (log.enabled("info")) {
        const d = runDetails(p, sink.consumerId);
        log.info(`${whatOf(task)} complete in ${fmtMs(p.ms)}${d.text}`, fieldsOf(task, d, p.ms));
      }
      break;
    case "retrying":
      stats.retried++;
      if (p.error && log.enabled("warn")) {
        const d = runDetails(p, sink.consumerId);
        const when = plan.retryAt !== undefined ? ` in ${Math.max(0, plan.retryAt - Date.now())}ms` : "";
        log.warn(`${whatOf(task)} failed${after(p.ms)} (${p.error.name}: ${p.error.message}), retrying${when}${d.text}`, fieldsOf(task, d, p.ms));
      }
      break;
    case "error":
      stats.failed++;
      if (log.enabled("error")) {
        const d = runDetails(p, sink.consumerId);
        const stack = log.enabled("debug") && p.error?.stack ? p.error.stack : undefined;
        log.error(`${whatOf(task)} failed${after(p.ms)}: ${p.error?.name}: ${p.error?.message}${d.text}`, fieldsOf(task, d, p.ms), stack);
      }
      break;
    case "rate-limited":
      if (log.enabled("debug")) {
        log.debug(`${whatOf(task)} is over its rate limit: delayed until ${new Date(plan.retryAt ?? 0).toISOString()}`, fieldsOf(task, { fields: {} }));
      }
      break;
    case undefined:
      break;
    default:
      if (log.enabled("info")) {
        const d = runDetails(p, sink.consumerId);
        log.info(`${whatOf(task)} ${last}${d.text}`, fieldsOf(task, d, p.ms));
      }
  }
  let info: TaskInfo | undefined;
  let err: Error | undefined;
  for (const sig of plan.signals) {
    if (!signals.has(sig)) continue;
    info ??= infoOf(task);
    if (p.error) err ??= errorOf(p.error);
    sink.emit(sig, info, err);
  }
  if (plan.also) for (const a of plan.also) {
    // Immediate mode moved the schedule to the ready queue (#queue): what it stored is enqueued.
    const signal = immediate && a.signal === "scheduled" ? "enqueued" : a.signal;
    if (signals.has(signal)) sink.emit(signal, itemInfo({ id: "", name: "", priority: 0, payload: a.payload }));
  }
}

function whatOf(task: InFlight): string {
  return `${task.name} ${task.id}`;
}

function fieldsOf(task: InFlight, d: { fields: Record<string, unknown> }, ms?: number): Record<string, unknown> {
  return { task: task.name, id: task.id, ...(ms !== undefined && { ms: roundMs(ms) }), ...d.fields };
}

function errorOf(e: SerializedError): Error {
  return Object.assign(new Error(e.message), e);
}

function after(ms: number | undefined): string {
  return ms === undefined ? "" : ` after ${fmtMs(ms)}`;
}

/** A duration for the JSON fields: ms to 0.01 ms. */
function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}

export function fmtMs(ms: number | undefined): string {
  if (ms === undefined) return "?";
  return ms < 10 ? `${ms.toFixed(2)}ms` : `${Math.round(ms)}ms`;
}

// What the consumer says of a task once its outcome is written: the log line, the counts, and the signals.
import type { SerializedError } from "../errors";
import { itemInfo } from "../message";
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
}

export function reportOutcome(p: PendingOutcome<InFlight>, sink: ReportSink): void {
  const { log, stats, signals, immediate } = sink;
  const { task, plan } = p;
  const last = plan.signals[plan.signals.length - 1];
  const what = `${task.name} ${task.id}`;
  const fields = { task: task.name, id: task.id };
  switch (last) {
    case "complete":
      stats.completed++;
      if (log.enabled("info")) log.info(`${what} complete in ${fmtMs(p.ms)}`, { ...fields, ms: p.ms });
      break;
    case "retrying":
      stats.retried++;
      if (p.error && log.enabled("warn")) {
        const when = plan.retryAt !== undefined ? ` in ${Math.max(0, plan.retryAt - Date.now())}ms` : "";
        log.warn(`${what} failed (${p.error.name}: ${p.error.message}), retrying${when}`, fields);
      }
      break;
    case "error":
      stats.failed++;
      if (log.enabled("error")) {
        const stack = log.enabled("debug") && p.error?.stack ? p.error.stack : undefined;
        log.error(`${what} failed: ${p.error?.name}: ${p.error?.message}`, fields, stack);
      }
      break;
    case "rate-limited":
      log.debug(`${what} is over its rate limit: delayed until ${new Date(plan.retryAt ?? 0).toISOString()}`, fields);
      break;
    case undefined:
      break;
    default:
      log.info(`${what} ${last}`, fields);
  }
  let info: TaskInfo | undefined;
  let err: Error | undefined;
  for (const sig of plan.signals) {
    if (!signals.has(sig)) continue;
    info ??= itemInfo(task);
    if (p.error) err ??= errorOf(p.error);
    sink.emit(sig, info, err);
  }
  if (plan.also) for (const a of plan.also) {
    // Immediate mode moved the schedule to the ready queue (#queue): what it stored is enqueued.
    const signal = immediate && a.signal === "scheduled" ? "enqueued" : a.signal;
    if (signals.has(signal)) sink.emit(signal, itemInfo({ id: "", name: "", priority: 0, payload: a.payload }));
  }
}

function errorOf(e: SerializedError): Error {
  return Object.assign(new Error(e.message), e);
}

export function fmtMs(ms: number | undefined): string {
  if (ms === undefined) return "?";
  return ms < 10 ? `${ms.toFixed(2)}ms` : `${Math.round(ms)}ms`;
}

// How `huey result` tells a task's state and prints its log: one line per state, the log as a timeline and
// lines. Task data (consumer ids, errors, log lines, progress) is escaped: nothing stored reaches the terminal raw.
import type { TaskLog } from "../task-log";
import type { TaskState } from "../task-state";
import { inert, jsonText, formatTime, relative } from "./_output";

/** The error kind `huey result` exits with for a task that has no result (README, "Errors with --json"). */
export function stateKind(s: TaskState): string {
  switch (s.state) {
    case "queued":
    case "scheduled":
      return s.revoked ? "revoked" : "not_finished";
    case "running":
      return "not_finished";
    case "revoked":
      return "revoked";
    case "failed":
      return "task_failed";
    default:
      return "not_found";
  }
}

/** One line saying where the task is, for the error `huey result` prints when there is no result. */
export function describeState(s: TaskState, now = Date.now()): string {
  const at = (ms: number | null) => (ms === null ? "" : ` at ${formatTime(ms)}`);
  switch (s.state) {
    case "queued":
      if (s.revoked) return `task ${s.id} was revoked: it will be skipped, not run (huey restore to undo)`;
      return `task ${s.id} has not finished: it is queued (${attempt(s)}, queue ${inert(s.queue)}${s.enqueuedAt === null ? "" : `, enqueued ${relative(s.enqueuedAt, now)}`}); --wait to wait for it`;
    case "scheduled":
      if (s.revoked) return `task ${s.id} was revoked: it will be skipped, not run (huey restore to undo)`;
      return `task ${s.id} has not finished: it is scheduled for ${formatTime(s.eta)} (${relative(s.eta, now)}; ${attempt(s)}); --wait to wait for it`;
    case "running": {
      const parts = [attempt(s)];
      if (s.since !== null) parts.push(`since ${formatTime(s.since)}`);
      if (s.consumer !== null) parts.push(`consumer ${inert(s.consumer)}`);
      if ("progress" in s) parts.push(`progress ${inert(jsonText(s.progress ?? null))}`);
      return `task ${s.id} has not finished: it is running (${parts.join(", ")}); --wait to wait for it`;
    }
    case "failed":
      return `task ${s.id} failed${at(s.at)}: ${inert(s.error.name)}: ${inert(s.error.message)}${s.attempts !== null ? ` (after ${s.attempts} attempt${s.attempts === 1 ? "" : "s"})` : ""}`;
    case "revoked":
      return `task ${s.id} was revoked: a consumer skipped it, so it has no result`;
    case "expired":
      return `task ${s.id} expired${at(s.at)}: it was not started before its expires, so it has no result`;
    case "canceled":
      return `task ${s.id} was canceled${at(s.at)}${s.error ? ` (${inert(s.error)})` : ""}, so it has no result`;
    case "done":
      return `task ${s.id} completed${at(s.at)} but no result is stored (results: false, read with preserve: false, or expired)`;
    case "unknown":
      return `no task with id ${s.id} is queued, scheduled or running, and no result is stored for it (check the id; results are not kept for tasks with results: false, or once read with preserve: false or expired)`;
  }
}

/** To the millisecond (log lines come close together), or the number when no Date holds it. */
function stamp(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

function attempt(s: { attempt: number; retries: number }): string {
  return `attempt ${s.attempt}/${s.attempt + s.retries}`;
}

/** The timeline and the lines of a task's log, for people. */
export function formatTaskLog(log: TaskLog): string {
  const out: string[] = ["timeline:"];
  if (log.events.length === 0) out.push("  (nothing recorded)");
  for (const e of log.events) {
    let line = `  ${stamp(e.at)}  ${e.event} (attempt ${e.attempt})`;
    if (e.eta !== undefined) line += ` next at ${formatTime(e.eta)}`;
    if (e.error !== undefined) line += `: ${inert(e.error)}`;
    out.push(line);
  }
  out.push("log:");
  if (log.lines.length === 0) out.push("  (no lines)");
  for (const l of log.lines) {
    const level = l.level && l.level !== "info" ? `${l.level.toUpperCase()} ` : "";
    out.push(`  ${stamp(l.at)}  [${l.attempt}] ${level}${inert(l.message)}`);
  }
  if (log.dropped > 0) out.push(`  (${log.dropped} more line${log.dropped === 1 ? "" : "s"} dropped: at most 100 are kept per run)`);
  return out.join("\n");
}

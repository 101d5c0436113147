// Prometheus text exposition format (version 0.0.4) of one consumer process: its own counters and
// histograms (cumulative since the process started, across reloads) and gauges read from storage.
import type { Storage } from "../storage/types";
import { readConsumers, readOldestReady } from "./read";
import { HISTOGRAM_BOUNDS_MS, OUTCOMES, type TaskAgg } from "./stats";

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** What the storage says, for the gauges; null when it could not be read (huey_storage_up 0). */
export interface StorageGauges {
  queued: { queue: string; count: number }[];
  scheduled: number;
  running: number;
  deadLetters: number;
  liveConsumers: number;
  /** The oldest ready task's wait, seconds; null when nothing is ready. */
  oldestWaitSeconds: number | null;
}

export interface MetricsInput {
  /** Cumulative per task name (this process). */
  totals: ReadonlyMap<string, TaskAgg>;
  /** This consumer's slots running a task now, and all its slots. */
  busySlots: number;
  slots: number;
  storage: StorageGauges | null;
}

/** A label value as the format wants it: backslash, double quote and line feed escaped. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** HELP text: backslash and line feed escaped. */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A sample value: integers as they are, others in full precision, and the special values by name. */
function num(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  if (Number.isNaN(v)) return "NaN";
  return String(v);
}

function labels(pairs: [string, string][]): string {
  return pairs.length ? `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}` : "";
}

class Writer {
  lines: string[] = [];
  family(name: string, type: "counter" | "gauge" | "histogram", help: string): void {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }
  sample(name: string, l: [string, string][], v: number): void {
    this.lines.push(`${name}${labels(l)} ${num(v)}`);
  }
}

/** Always listed per task (at 0 too), so a rate() over them never starts from a missing series. */
const ALWAYS = new Set(["complete", "error", "retrying"]);

function histogram(w: Writer, name: string, tasks: [string, TaskAgg][], pick: (a: TaskAgg) => { counts: Float64Array; sum: number }): void {
  for (const [task, a] of tasks) {
    const { counts, sum } = pick(a);
    let cum = 0;
    for (let i = 0; i < HISTOGRAM_BOUNDS_MS.length; i++) {
      cum += counts[i]!;
      w.sample(`${name}_bucket`, [["task", task], ["le", num(HISTOGRAM_BOUNDS_MS[i]! / 1000)]], cum);
    }
    cum += counts[HISTOGRAM_BOUNDS_MS.length]!;
    w.sample(`${name}_bucket`, [["task", task], ["le", "+Inf"]], cum);
    w.sample(`${name}_sum`, [["task", task]], sum / 1000);
    w.sample(`${name}_count`, [["task", task]], cum);
  }
}

/** The whole exposition, ending with a line feed. */
export function renderMetrics(m: MetricsInput): string {
  const w = new Writer();
  const tasks = [...m.totals].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  w.family("huey_tasks_total", "counter", "Task outcomes written by this consumer process since it started, by task name and outcome.");
  for (const [task, a] of tasks) {
    for (let i = 0; i < OUTCOMES.length; i++) {
      if (a.counts[i] || ALWAYS.has(OUTCOMES[i]!)) w.sample("huey_tasks_total", [["task", task], ["outcome", OUTCOMES[i]!]], a.counts[i]!);
    }
  }
  w.family("huey_task_run_seconds", "histogram", "How long tasks ran (those that ran: complete, error, retrying, canceled), in this consumer process.");
  histogram(w, "huey_task_run_seconds", tasks, (a) => ({ counts: a.run, sum: a.runSum }));
  w.family("huey_task_queue_wait_seconds", "histogram", "How long tasks waited between becoming ready (enqueued, or due) and starting, in this consumer process.");
  histogram(w, "huey_task_queue_wait_seconds", tasks, (a) => ({ counts: a.wait, sum: a.waitSum }));
  w.family("huey_consumer_busy_slots", "gauge", "This consumer's Worker slots running a task now.");
  w.sample("huey_consumer_busy_slots", [], m.busySlots);
  w.family("huey_consumer_slots", "gauge", "This consumer's Worker slots (workers x concurrency).");
  w.sample("huey_consumer_slots", [], m.slots);
  w.family("huey_storage_up", "gauge", "1 when the gauges below were read from storage for this scrape, 0 when it could not be read.");
  w.sample("huey_storage_up", [], m.storage ? 1 : 0);
  const s = m.storage;
  if (s) {
    w.family("huey_queued_tasks", "gauge", "Tasks ready to run and not taken yet, by queue.");
    for (const q of s.queued) w.sample("huey_queued_tasks", [["queue", q.queue]], q.count);
    w.family("huey_scheduled_tasks", "gauge", "Tasks waiting for their time (delay, eta, retry delay).");
    w.sample("huey_scheduled_tasks", [], s.scheduled);
    w.family("huey_running_tasks", "gauge", "Tasks taken by a consumer (running, or about to run), every consumer.");
    w.sample("huey_running_tasks", [], s.running);
    w.family("huey_dead_letters", "gauge", "Tasks that failed for good and are kept as dead letters.");
    w.sample("huey_dead_letters", [], s.deadLetters);
    w.family("huey_live_consumers", "gauge", "Consumers whose heartbeat is recent, every host.");
    w.sample("huey_live_consumers", [], s.liveConsumers);
    if (s.oldestWaitSeconds !== null) {
      w.family("huey_oldest_ready_task_wait_seconds", "gauge", "How long the oldest ready task has waited (among the first 1000 in lease order).");
      w.sample("huey_oldest_ready_task_wait_seconds", [], s.oldestWaitSeconds);
    }
  }
  return `${w.lines.join("\n")}\n`;
}

/** The storage gauges, read now; `lanes` are the queues to list (each at 0 too). */
export async function readStorageGauges(storage: Storage, lanes: readonly string[], deadLetterPrefix: string, now: number): Promise<StorageGauges> {
  const [counts, scheduled, running, deadLetters, consumers, oldest] = await Promise.all([
    Promise.all(lanes.map((q) => storage.pendingCount(q))),
    storage.scheduledCount(),
    storage.leasedCount(),
    storage.countData(deadLetterPrefix),
    readConsumers(storage, now),
    readOldestReady(storage, now),
  ]);
  return {
    queued: lanes.map((queue, i) => ({ queue, count: counts[i]! })),
    scheduled,
    running,
    deadLetters,
    liveConsumers: consumers.filter((c) => c.live).length,
    oldestWaitSeconds: oldest === null ? null : oldest.waitMs / 1000,
  };
}

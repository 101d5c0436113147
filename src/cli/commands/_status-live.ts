// What `huey status` shows of the consumers (from their heartbeats), the throughput of the last 1, 5
// and 60 minutes, queue depth per queue and the oldest ready task's wait; and `--check`'s flags.
import type { Storage } from "../../storage/types";
import { parseRate, type HealthLimits } from "../../observe/check";
import { lastMinutes, readConsumers, readOldestReady, readThroughput, type ConsumerInfo, type OldestReady } from "../../observe/read";
import { durationFlag } from "../args";
import { CliUsageError } from "../errors";
import { formatDuration, inert, style, table } from "../_output";

export interface LiveSnapshot {
  consumers: ConsumerInfo[];
  /** Tasks done / failed / retried over the last 1, 5 and 60 minutes, every consumer. */
  throughput: Record<"last1m" | "last5m" | "last60m", { done: number; failed: number; retried: number }>;
  /** The ready task that has waited longest (among the first 1000 in lease order; `exact` false when more). */
  oldestReady: OldestReady | null;
}

export async function liveSnapshot(storage: Storage, now: number, lane?: string): Promise<LiveSnapshot> {
  const [consumers, points, oldestReady] = await Promise.all([readConsumers(storage, now), readThroughput(storage, now, 60), readOldestReady(storage, now, lane)]);
  return {
    consumers,
    throughput: { last1m: lastMinutes(points, 1), last5m: lastMinutes(points, 5), last60m: lastMinutes(points, 60) },
    oldestReady,
  };
}

export function renderLive(s: LiveSnapshot, at: number): string[] {
  const parts: string[] = [];
  const live = s.consumers.filter((c) => c.live);
  const silent = s.consumers.filter((c) => !c.live);
  const row = (c: ConsumerInfo) => [
    inert(c.host),
    String(c.pid),
    inert(c.version),
    `${c.workers} x ${c.concurrency}`,
    `${c.busy}/${c.workers * c.concurrency}`,
    String(c.done),
    c.failed > 0 ? style.red(String(c.failed)) : "0",
    `${formatDuration(Math.max(0, at - c.lastSeen))} ago${c.stopped ? " (stopped)" : ""}`,
  ];
  const headers = ["HOST", "PID", "VERSION", "WORKERS", "BUSY", "DONE", "FAILED", "LAST SEEN"];
  if (live.length > 0) parts.push("", style.bold(`consumers ${style.green(`${live.length} live`)}`), indent(table(headers, live.map(row), { right: [1, 5, 6] })));
  else parts.push("", `${style.bold("consumers")} ${style.red("none live")}`);
  if (silent.length > 0) parts.push("", style.bold(`silent consumers ${style.dim("(stopped, or no heartbeat for 3 intervals; kept 1h)")}`), indent(table(headers, silent.map(row), { right: [1, 5, 6] })));
  const t = s.throughput;
  const cell = (x: { done: number; failed: number }) => `${x.done} done, ${x.failed > 0 ? style.red(`${x.failed} failed`) : "0 failed"}`;
  parts.push("", style.bold("throughput"), indent(table(["", ""], [["last 1m", cell(t.last1m)], ["last 5m", cell(t.last5m)], ["last 60m", cell(t.last60m)]]).split("\n").slice(1).join("\n")));
  const o = s.oldestReady;
  if (o) parts.push("", `${style.bold("oldest ready task")} ${inert(o.name)} ${style.dim(inert(o.id))} waiting ${o.exact ? "" : "at least "}${formatDuration(o.waitMs)}`);
  return parts;
}

function indent(s: string): string {
  return s
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}

/** --check's limits from --max-wait / --max-failed-rate; a usage error for bad values or without --check. */
export function checkLimits(a: { check?: boolean; watch?: boolean; "max-wait"?: string; "max-failed-rate"?: string }): HealthLimits | null {
  const wait = a["max-wait"];
  const rate = a["max-failed-rate"];
  if (!a.check) {
    if (wait !== undefined || rate !== undefined) throw new CliUsageError(`${wait !== undefined ? "--max-wait" : "--max-failed-rate"} needs --check`, "status");
    return null;
  }
  if (a.watch) throw new CliUsageError("give --check or --watch, not both", "status");
  const limits: HealthLimits = {};
  if (wait !== undefined) limits.maxWait = durationFlag(wait, "--max-wait", "status");
  if (rate !== undefined) {
    const r = parseRate(rate);
    if (r === null) throw new CliUsageError(`--max-failed-rate must be a number from 0 to 1 (0.05 is 5%), got "${rate}"`, "status");
    limits.maxFailedRate = r;
  }
  return limits;
}

import { defineCommand } from "citty";
import type { Huey } from "../../huey";
import { durationFlag } from "../args";
import { commonArgs, extraPositionals, fileArg, withHuey } from "../_context";
import { storageWhere } from "../../consumer/maintenance";
import { CliError, CliUsageError } from "../errors";
import { checkHealth, type HealthLimits } from "../../observe/check";
import { checkLimits, liveSnapshot, renderLive, type LiveSnapshot } from "./_status-live";
import { formatDuration, formatWhen, inert, jsonText, out, raw, style, table } from "../_output";

const args = {
  file: fileArg,
  watch: {
    type: "boolean",
    description: "refresh every INTERVAL (default 2s; --watch 5s or --watch=5s) until Ctrl-C; redraws in place on a terminal",
  },
  queue: { type: "string", description: "counts (queued, running, scheduled, oldest wait) of this named queue only", valueHint: "NAME" },
  check: {
    type: "boolean",
    description: "health check for scripts and probes: exit 0 when healthy, else 1 with one line saying why (no live consumer, or a limit below passed)",
  },
  "max-wait": { type: "string", description: "with --check: unhealthy when the oldest ready task has waited longer than this", valueHint: "5m" },
  "max-failed-rate": { type: "string", description: "with --check: unhealthy when failed/(done+failed) over the last 5 minutes is above R (0..1)", valueHint: "R" },
  ...commonArgs,
} as const;

export interface StatusSnapshot extends LiveSnapshot {
  queue: string;
  /** The named queue the counts are of (--queue), or null for every queue. */
  only: string | null;
  /** Ready tasks per named queue the tasks file uses (with --queue: that one). */
  queues: { queue: string; queued: number }[];
  storage: string;
  /** Where the data is: the absolute SQLite path, or the server URL (password hidden); null when unknown. */
  database: string | null;
  queued: number;
  running: number;
  scheduled: number;
  failed: number;
  results: number;
  locks: { key: string; owner: string; until: number }[];
  /** Named queues paused now; until null means until resumed. */
  paused: { queue: string; until: number | null }[];
  periodic: { name: string; schedule: string; nextRun: number | null }[];
  at: number;
}

export default defineCommand({
  meta: {
    name: "status",
    description:
      "Show the queue at a glance: queued, running (leased), scheduled, failed (dead letters) and stored results, locks held, periodic tasks with their next run.\n\n" +
      "Examples:\n" +
      "  huey status tasks.ts\n" +
      "  huey status tasks.ts --watch 1s\n" +
      "  huey status tasks.ts --queue emails\n" +
      "  huey status tasks.ts --check --max-wait 5m --max-failed-rate 0.05",
  },
  args,
  async run({ args: a, rawArgs }) {
    const extra = extraPositionals(rawArgs, args, "status", 0, a.watch ? 1 : 0);
    const inline = rawArgs.find((r) => r.startsWith("--watch="))?.slice("--watch=".length);
    const interval = a.watch ? durationFlag(inline ?? extra[0] ?? "2s", "--watch") : undefined;
    if (interval !== undefined && interval < 100) throw new CliUsageError("--watch interval must be 100ms or more", "status");
    const limits = checkLimits(a);
    const lane = a.queue;
    if (lane !== undefined && !/^[A-Za-z0-9_.:-]{1,100}$/.test(lane)) throw new CliUsageError(`--queue must be a queue name (letters, digits, _ . : -), got "${inert(lane)}"`, "status");
    if (limits) return check(a.file, a.instance, limits, a.json === true);
    await withHuey(a.file, a.instance, async (huey) => {
      if (interval === undefined) {
        const s = await snapshot(huey, lane);
        return a.json ? out(jsonText(s, 2)) : out(render(s));
      }
      await watch(huey, interval, a.json === true, lane);
    });
  },
});

/** --check: "healthy" (exit 0), or the reason as the error line (exit 1, --json code "unhealthy"). */
async function check(file: string, instance: string | undefined, limits: HealthLimits, json: boolean): Promise<void> {
  try {
    await withHuey(file, instance, async (huey) => {
      const v = await checkHealth(huey.storage, Date.now(), limits);
      if (!v.ok) throw new CliError(v.reason, undefined, "unhealthy");
      out(json ? jsonText({ healthy: true }) : "healthy");
    });
  } catch (err) {
    // No database yet: nothing ever ran, so no consumer is live either.
    if (err instanceof CliError && err.kind === "no_database") throw new CliError(`no live consumer: ${err.message}`, undefined, "unhealthy");
    throw err;
  }
}

export async function snapshot(huey: Huey, lane?: string): Promise<StatusSnapshot> {
  const st = huey.storage;
  const lanes = lane !== undefined ? [lane] : huey.queues();
  const [queued, running, scheduled, results, failed, locks, perLane] = await Promise.all([
    lane !== undefined ? st.pendingCount(lane) : huey.pendingCount(),
    st.leasedCount(lane),
    lane !== undefined ? st.scheduledCount(lane) : huey.scheduledCount(),
    huey.resultCount(),
    huey.failedCount(),
    huey.locks(),
    Promise.all(lanes.map((q) => st.pendingCount(q))),
  ]);
  const paused = await huey.paused();
  const at = Date.now();
  const live = await liveSnapshot(st, at, lane);
  return {
    queue: huey.name,
    storage: huey.storage.kind,
    database: storageWhere(huey.storage).replace(/^ at /, "") || null,
    queued,
    running,
    scheduled,
    failed,
    results,
    locks: locks.map((l) => ({ key: l.key, owner: l.owner, until: l.until })),
    paused,
    periodic: huey.periodicTasks(at),
    at,
    only: lane ?? null,
    queues: lanes.map((q, i) => ({ queue: q, queued: perLane[i]! })),
    ...live,
  };
}

function render(s: StatusSnapshot): string {
  const n = (v: number, colour?: (x: string) => string) => (v > 0 && colour ? colour(String(v)) : String(v));
  const failed = n(s.failed, style.red);
  const parts = [
    `${style.bold(`queue "${inert(s.queue)}"`)} ${style.dim(`(${s.storage})`)}${s.only !== null ? ` ${style.dim(`counts of queue "${inert(s.only)}"`)}` : ""}`,
    ...(s.database ? [`  ${style.dim("database")} ${inert(s.database)}`] : []),
    table(
      ["", ""],
      [
        ["queued", n(s.queued)],
        ["running", n(s.running, style.green)],
        ["scheduled", n(s.scheduled)],
        ["failed", failed],
        ["results", n(s.results)],
      ],
      { right: [1] },
    )
      .split("\n")
      .slice(1)
      .map((l) => `  ${l}`)
      .join("\n"),
  ];
  if (s.only === null && s.queues.length > 1) {
    parts.push("", style.bold("queues"), indent(table(["QUEUE", "QUEUED"], s.queues.map((q) => [inert(q.queue), String(q.queued)]), { right: [1] })));
  }
  parts.push(...renderLive(s, s.at));
  if (s.locks.length > 0) {
    parts.push("", style.bold("locks"), indent(table(["KEY", "OWNER", "EXPIRES IN"], s.locks.map((l) => [inert(l.key), inert(l.owner), formatDuration(Math.max(0, l.until - s.at))]))));
  } else {
    parts.push("", `${style.bold("locks")} ${style.dim("none held")}`);
  }
  if (s.paused.length > 0) {
    parts.push("", style.bold("paused queues"), indent(table(["QUEUE", "RESUMES IN"], s.paused.map((p) => [inert(p.queue), p.until === null ? "when resumed" : formatDuration(Math.max(0, p.until - s.at))]))));
  }
  if (s.periodic.length > 0) {
    parts.push(
      "",
      style.bold("periodic tasks"),
      indent(
        table(
          ["NAME", "SCHEDULE", "NEXT RUN"],
          s.periodic.map((p) => [style.cyan(inert(p.name)), inert(p.schedule), p.nextRun === null ? "never" : formatWhen(p.nextRun, s.at)]),
        ),
      ),
    );
  }
  return parts.join("\n");
}

function indent(s: string): string {
  return s
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}

/**
 * Refresh until SIGINT/SIGTERM (exit 0). On a terminal: clear and redraw in place. Piped: one
 * snapshot after the other (with --json, one JSON object per line).
 */
async function watch(huey: Huey, interval: number, json: boolean, lane?: string): Promise<void> {
  const tty = !!process.stdout.isTTY && !json;
  let stop = false;
  let wake: (() => void) | null = null;
  const onSignal = () => {
    stop = true;
    wake?.();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    while (!stop) {
      const s = await snapshot(huey, lane);
      if (json) raw("stdout", `${jsonText(s)}\n`);
      else if (tty) {
        const footer = style.dim(`every ${formatDuration(interval)}, ${new Date(s.at).toISOString()}; Ctrl-C to exit`);
        raw("stdout", "\x1b[H\x1b[2J"); // clear the screen, cursor home
        out(`${render(s)}\n\n${footer}`);
      } else out(`${style.dim(`--- ${new Date(s.at).toISOString()}`)}\n${render(s)}\n`);
      if (stop) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, interval);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = null;
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

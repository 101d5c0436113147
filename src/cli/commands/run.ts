import { defineCommand } from "citty";
import { dirname, resolve } from "node:path";
import { ConfigurationError } from "../../errors";
import type { LogLevel } from "../../consumer/options";
import type { Duration } from "../../_time";
import { CliUsageError } from "../errors";
import { durationFlag, wholeFlag } from "../args";
import { DEFAULT_METRICS_ADDR } from "../../observe/metrics-server";

export const runArgs = {
  file: { type: "positional", description: "the tasks file (exports a Huey instance)", required: true, valueHint: "tasks.ts" },
  workers: { type: "string", alias: "w", description: "Bun Workers that run tasks (default 1); 0 runs them on the consumer's own thread (fastest for short tasks; a timeout only fires the AbortSignal, a crashing task stops the consumer) [HUEY_WORKERS]", valueHint: "N" },
  concurrency: { type: "string", description: "tasks each Worker runs at once, for async I/O tasks (default 1) [HUEY_CONCURRENCY]", valueHint: "C" },
  prefetch: { type: "string", description: "tasks queued in each Worker ahead of the running ones (default 1024 shared by the Workers, at least 128 each; never more than about 2 ms of a Worker's measured task time; while tasks are short, the first Worker may hold the whole pool's) [HUEY_PREFETCH]", valueHint: "N" },
  grace: { type: "string", description: "on SIGINT/SIGTERM, time running tasks get to finish (default 30s) [HUEY_GRACE]", valueHint: "30s" },
  lease: { type: "string", description: "how long a taken task is hidden from other consumers; renewed while it runs (default 30s) [HUEY_LEASE]", valueHint: "30s" },
  timeout: { type: "string", description: "stop a task running longer than this, unless its own timeout option says otherwise (default none) [HUEY_TIMEOUT]", valueHint: "5m" },
  "max-tasks": { type: "string", description: "replace a Worker after it ran N tasks, to contain memory leaks (default never) [HUEY_MAX_TASKS]", valueHint: "N" },
  "no-periodic": { type: "boolean", alias: "n", description: "do not enqueue periodic tasks from this consumer [HUEY_NO_PERIODIC=1]" },
  "flush-locks": { type: "boolean", description: "free every lock before starting (locks a killed consumer left) [HUEY_FLUSH_LOCKS=1]" },
  queues: { type: "string", description: "serve only these named queues, each with an optional limit of tasks at once: emails=4,default (default: every queue) [HUEY_QUEUES]", valueHint: "Q[=N],..." },
  instance: { type: "string", description: "the Huey instance to run, when the file exports several (export or huey name) [HUEY_INSTANCE]", valueHint: "NAME" },
  logfile: { type: "string", description: "append log lines to this file instead of stderr (created mode 0600; SIGUSR1 reopens it, for logrotate) [HUEY_LOGFILE]", valueHint: "PATH" },
  "log-format": { type: "string", description: "log lines as text or json (default text) [HUEY_LOG_FORMAT]", valueHint: "text|json" },
  verbose: { type: "boolean", alias: "v", description: "log debug lines, with stacks of failed tasks [HUEY_VERBOSE=1]" },
  quiet: { type: "boolean", alias: "q", description: "log warnings and errors only, not one line per task [HUEY_QUIET=1]" },
  metrics: {
    type: "boolean",
    description: "serve Prometheus metrics at http://ADDR/metrics (--metrics, --metrics 0.0.0.0:9464 or --metrics=ADDR; default 127.0.0.1:9464; port 0 picks a free one) [HUEY_METRICS=ADDR]",
  },
  "metrics-token": { type: "string", description: "bearer token /metrics requires; needed for an address other than loopback [HUEY_METRICS_TOKEN]", valueHint: "TOKEN" },
  heartbeat: { type: "string", description: "how often this consumer writes its heartbeat and statistics for huey status (default 5s) [HUEY_HEARTBEAT]", valueHint: "5s" },
  dashboard: {
    type: "boolean",
    description: "also serve the web dashboard and JSON API from this process, on ADDR (--dashboard [ADDR] or --dashboard=ADDR; default 127.0.0.1:8080)",
  },
  "dashboard-token": { type: "string", description: "with --dashboard: require this token; needed unless ADDR is loopback [HUEY_DASHBOARD_TOKEN]", valueHint: "T" },
  "no-env-file": {
    type: "boolean",
    description: "do not load .env, .env.<NODE_ENV> and .env.local from the tasks file's folder (loaded by default, as bun does; set variables win) [HUEY_NO_ENV_FILE=1]",
  },
} as const;

/** A flag's value, else its environment variable's (named in errors), else undefined. */
function pick(flag: unknown, envName: string): { value: string | undefined; label: string | undefined } {
  if (flag !== undefined) return { value: flag as string, label: undefined };
  const v = process.env[envName];
  return v === undefined || v === "" ? { value: undefined, label: undefined } : { value: v, label: envName };
}

/** A boolean flag, else its environment variable: 1/true/yes or 0/false/no. */
function pickBool(flag: boolean | undefined, envName: string): boolean {
  if (flag !== undefined) return flag;
  const v = process.env[envName];
  if (v === undefined || v === "") return false;
  if (/^(1|true|yes)$/i.test(v)) return true;
  if (/^(0|false|no)$/i.test(v)) return false;
  throw new CliUsageError(`${envName} must be 1 or 0 (true/false), got "${v}"`, "run");
}

/** --metrics [ADDR] (or --metrics=ADDR, or HUEY_METRICS=ADDR) and its token; {} when off. */
function metricsOptions(flag: { given: boolean; addr: string | undefined }, tokenArg: unknown): { metrics?: string; metricsToken?: string } {
  const addr = flag.addr ?? (flag.given ? DEFAULT_METRICS_ADDR : pick(undefined, "HUEY_METRICS").value);
  const token = pick(tokenArg, "HUEY_METRICS_TOKEN").value;
  if (addr === undefined) {
    if (tokenArg !== undefined) throw new CliUsageError("--metrics-token needs --metrics", "run");
    return {};
  }
  return token === undefined ? { metrics: addr } : { metrics: addr, metricsToken: token };
}

export const runCommand = defineCommand({
  meta: {
    name: "run",
    description:
      "Run the consumer for a tasks file until SIGINT/SIGTERM (SIGHUP reloads the file, SIGUSR1 reopens --logfile).\nEach flag has the environment variable in [brackets]; a flag wins over it. Durations need a unit (5s, 500ms, 2m).\n\nExamples:\n  huey run tasks.ts -w 4\n  huey run tasks.ts -w 2 --concurrency 20 --logfile /var/log/huey.log",
  },
  args: runArgs,
  async run({ args, rawArgs }) {
    const dashFlag = optionalAddrFlag(rawArgs, "dashboard");
    const metricsFlag = optionalAddrFlag(rawArgs, "metrics");
    const dash = { addr: dashFlag.given ? (dashFlag.addr ?? DEFAULT_DASHBOARD_ADDR) : null };
    const { runConsumer } = await import("../../consumer/run");
    const api = (await import("../../index")) as unknown as Record<string, unknown>;
    const a = args as Record<string, unknown>;
    // citty reads --no-X as X=false and -n as no-X=true.
    // `--metrics ADDR tasks.ts`: citty took the address for FILE.
    const file = tasksFileArg(rawArgs, [dashFlag.index, metricsFlag.index]) ?? args.file;
    const off = (name: string) => (a[`no-${name}`] === true || a[name] === false ? true : undefined);
    // .env first (as bun loads it before the program), so it may set HUEY_* too; variables already set win.
    if (!pickBool(off("env-file"), "HUEY_NO_ENV_FILE")) {
      const { loadEnvFiles } = await import("../../consumer/env-files");
      loadEnvFiles(dirname(resolve(file)));
    }
    const verbose = pickBool(args.verbose, "HUEY_VERBOSE");
    const quiet = pickBool(args.quiet, "HUEY_QUIET");
    if (verbose && quiet) throw new CliUsageError("give -v/--verbose or -q/--quiet, not both", "run");
    const logLevel: LogLevel = verbose ? "debug" : quiet ? "warn" : "info";
    const fmt = pick(args["log-format"], "HUEY_LOG_FORMAT");
    const logFormat = fmt.value ?? "text";
    if (logFormat !== "text" && logFormat !== "json") {
      throw new CliUsageError(`${fmt.label ?? "--log-format"} must be "text" or "json", got "${logFormat}"`, "run");
    }
    const whole = (flag: string, env: string, min: number) => {
      const p = pick(a[flag], env);
      return wholeFlag(p.value, p.label ?? `--${flag}`, min, "run");
    };
    const duration = (flag: string, env: string) => {
      const p = pick(a[flag], env);
      return durationFlag(p.value, p.label ?? `--${flag}`, "run");
    };
    const tokenFlag = pick(args["dashboard-token"], "HUEY_DASHBOARD_TOKEN");
    if (tokenFlag.value !== undefined && dash.addr === null) throw new CliUsageError("--dashboard-token goes with --dashboard", "run");
    // Check the address and token before anything starts: a bad one is a usage error.
    const dashboardOptions = dash.addr === null ? null : { listen: dash.addr, token: tokenFlag.value, tokenFlag: tokenFlag.label ?? "--dashboard-token", listenFlag: "--dashboard" };
    if (dashboardOptions) {
      const { parseListen, resolveToken, ServerConfigError } = await import("../../server/auth");
      try {
        resolveToken(parseListen(dashboardOptions.listen, "--dashboard"), dashboardOptions.token, dashboardOptions.tokenFlag);
      } catch (err) {
        if (err instanceof ServerConfigError) throw new CliUsageError(err.message, "run");
        throw err;
      }
    }
    let consumer;
    try {
      consumer = await runConsumer(file, {
        workers: whole("workers", "HUEY_WORKERS", 0),
        concurrency: whole("concurrency", "HUEY_CONCURRENCY", 1),
        prefetch: whole("prefetch", "HUEY_PREFETCH", 0),
        grace: duration("grace", "HUEY_GRACE"),
        lease: duration("lease", "HUEY_LEASE"),
        timeout: duration("timeout", "HUEY_TIMEOUT"),
        flushLocks: pickBool(args["flush-locks"], "HUEY_FLUSH_LOCKS"),
        periodic: !pickBool(off("periodic"), "HUEY_NO_PERIODIC"),
        maxTasks: whole("max-tasks", "HUEY_MAX_TASKS", 1),
        logFile: pick(args.logfile, "HUEY_LOGFILE").value,
        instance: pick(args.instance, "HUEY_INSTANCE").value ?? null,
        ...(pick(args.queues, "HUEY_QUEUES").value !== undefined && { queues: pick(args.queues, "HUEY_QUEUES").value }),
        logLevel,
        logFormat,
        api,
        heartbeat: duration("heartbeat", "HUEY_HEARTBEAT"),
        ...metricsOptions(metricsFlag, a["metrics-token"]),
      });
    } catch (err) {
      // Option values given on the command line are usage errors.
      if (err instanceof ConfigurationError) throw new CliUsageError(err.message, "run");
      throw err;
    }
    if (dashboardOptions) {
      const { startDashboard } = await import("../../server/http");
      const { loadTasksFile } = await import("../../consumer/loader");
      // The module is loaded already: this is the consumer's own Huey (as first loaded; a SIGHUP reload
      // keeps the dashboard on it, reading the same storage).
      const { huey } = await loadTasksFile(file, pick(args.instance, "HUEY_INSTANCE").value ?? null);
      const log = consumer.consumer.log;
      let dashboard;
      try {
        dashboard = startDashboard(() => huey, { ...dashboardOptions, log: (line) => log.error(line) });
      } catch (err) {
        await consumer.stop();
        throw err;
      }
      log.info(`dashboard on ${dashboard.url}`);
      void consumer.stopped.then(() => dashboard.stop());
    }
    await consumer.stopped;
    // The storage broke under the consumer (file replaced, WAL deleted): a supervisor should restart it.
    if (consumer.fatal) process.exit(1);
  },
});

const DEFAULT_DASHBOARD_ADDR = "127.0.0.1:8080";
const LOOKS_LIKE_ADDR = /^(\[[0-9a-fA-F:.]+\]:\d+|[A-Za-z0-9.-]*:\d+|\d+)$/;

/**
 * A flag whose value is optional, which citty cannot say (`--dashboard`, `--dashboard ADDR`,
 * `--dashboard=ADDR`; the same for `--metrics`): whether it was given, its address if any, and the
 * index in rawArgs of an address given as the next argument (-1 when none), which citty took for the
 * tasks file when it came first (`huey run --dashboard 9000 tasks.ts`).
 */
export function optionalAddrFlag(rawArgs: string[], name: string): { given: boolean; addr: string | undefined; index: number } {
  const end = rawArgs.indexOf("--");
  const args = end < 0 ? rawArgs : rawArgs.slice(0, end);
  let given = false;
  let addr: string | undefined;
  let index = -1;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith(`--${name}=`)) {
      given = true;
      addr = a.slice(name.length + 3) || undefined;
    } else if (a === `--${name}`) {
      given = true;
      if (LOOKS_LIKE_ADDR.test(args[i + 1] ?? "")) {
        addr = args[i + 1]!;
        index = i + 1;
      }
    }
  }
  return { given, addr, index };
}

/** The tasks file: the first argument that is no flag and no flag's value (nor an optional flag's address). */
function tasksFileArg(rawArgs: string[], taken: number[]): string | undefined {
  if (taken.every((i) => i < 0)) return undefined;
  const end = rawArgs.indexOf("--");
  const args = end < 0 ? rawArgs : rawArgs.slice(0, end);
  return args.find((a, i) => !taken.includes(i) && !a.startsWith("-") && !isFlagValue(args, i));
}

/** True when args[i] is the value of the flag before it (a flag of runArgs that takes a value). */
function isFlagValue(args: string[], i: number): boolean {
  const prev = args[i - 1];
  if (prev === undefined || !prev.startsWith("-") || prev.includes("=")) return false;
  const name = prev.replace(/^--?/, "");
  const def = (runArgs as Record<string, { type: string; alias?: string }>)[name] ?? Object.values(runArgs).find((d) => (d as { alias?: string }).alias === name);
  return def !== undefined && def.type === "string";
}

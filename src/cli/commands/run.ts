import { defineCommand } from "citty";
import { dirname, resolve } from "node:path";
import { ConfigurationError } from "../../errors";
import type { LogLevel } from "../../consumer/options";
import type { Duration } from "../../_time";
import { CliUsageError } from "../errors";
import { durationFlag, wholeFlag } from "../args";

export const runArgs = {
  file: { type: "positional", description: "the tasks file (exports a Huey instance)", required: true, valueHint: "tasks.ts" },
  workers: { type: "string", alias: "w", description: "Bun Workers that run tasks (default 1) [HUEY_WORKERS]", valueHint: "N" },
  concurrency: { type: "string", description: "tasks each Worker runs at once, for async I/O tasks (default 1) [HUEY_CONCURRENCY]", valueHint: "C" },
  prefetch: { type: "string", description: "tasks queued in each Worker ahead of the running ones (default 128, fewer for slow tasks) [HUEY_PREFETCH]", valueHint: "N" },
  grace: { type: "string", description: "on SIGINT/SIGTERM, time running tasks get to finish (default 30s) [HUEY_GRACE]", valueHint: "30s" },
  lease: { type: "string", description: "how long a taken task is hidden from other consumers; renewed while it runs (default 30s) [HUEY_LEASE]", valueHint: "30s" },
  timeout: { type: "string", description: "stop a task running longer than this, unless its own timeout option says otherwise (default none) [HUEY_TIMEOUT]", valueHint: "5m" },
  "max-tasks": { type: "string", description: "replace a Worker after it ran N tasks, to contain memory leaks (default never) [HUEY_MAX_TASKS]", valueHint: "N" },
  "no-periodic": { type: "boolean", alias: "n", description: "do not enqueue periodic tasks from this consumer [HUEY_NO_PERIODIC=1]" },
  "flush-locks": { type: "boolean", description: "free every lock before starting (locks a killed consumer left) [HUEY_FLUSH_LOCKS=1]" },
  queues: { type: "string", description: "serve only these named queues, each with an optional limit of tasks at once: emails=4,default (default: every queue) [HUEY_QUEUES]", valueHint: "Q[=N],..." },
  instance: { type: "string", description: "the Huey instance to run, when the file exports several (export or huey name) [HUEY_INSTANCE]", valueHint: "NAME" },
  logfile: { type: "string", description: "append log lines to this file instead of stderr [HUEY_LOGFILE]", valueHint: "PATH" },
  "log-format": { type: "string", description: "log lines as text or json (default text) [HUEY_LOG_FORMAT]", valueHint: "text|json" },
  verbose: { type: "boolean", alias: "v", description: "log debug lines, with stacks of failed tasks [HUEY_VERBOSE=1]" },
  quiet: { type: "boolean", alias: "q", description: "log warnings and errors only, not one line per task [HUEY_QUIET=1]" },
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

export const runCommand = defineCommand({
  meta: {
    name: "run",
    description:
      "Run the consumer for a tasks file until SIGINT/SIGTERM (SIGHUP reloads the file).\nEach flag has the environment variable in [brackets]; a flag wins over it. Durations need a unit (5s, 500ms, 2m).\n\nExamples:\n  huey run tasks.ts -w 4\n  huey run tasks.ts -w 2 --concurrency 20 --logfile /var/log/huey.log",
  },
  args: runArgs,
  async run({ args, rawArgs }) {
    const dash = dashboardFlag(rawArgs);
    if (dash.file !== undefined) (args as { file: string }).file = dash.file;
    const { runConsumer } = await import("../../consumer/run");
    const api = (await import("../../index")) as unknown as Record<string, unknown>;
    const a = args as Record<string, unknown>;
    // citty reads --no-X as X=false and -n as no-X=true.
    const off = (name: string) => (a[`no-${name}`] === true || a[name] === false ? true : undefined);
    // .env first (as bun loads it before the program), so it may set HUEY_* too; variables already set win.
    if (!pickBool(off("env-file"), "HUEY_NO_ENV_FILE")) {
      const { loadEnvFiles } = await import("../../consumer/env-files");
      loadEnvFiles(dirname(resolve(args.file)));
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
      consumer = await runConsumer(args.file, {
        workers: whole("workers", "HUEY_WORKERS", 1),
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
      const { huey } = await loadTasksFile(args.file, pick(args.instance, "HUEY_INSTANCE").value ?? null);
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

/**
 * `--dashboard`, `--dashboard ADDR` or `--dashboard=ADDR`: the address (default 127.0.0.1:8080, null
 * without the flag), and the tasks file when citty took ADDR for it (`huey run --dashboard 9000 tasks.ts`).
 */
export function dashboardFlag(rawArgs: string[]): { addr: string | null; file: string | undefined } {
  const looksLikeAddress = (s: string | undefined) => s !== undefined && /^(\[[0-9a-fA-F:.]+\]:\d+|[A-Za-z0-9.-]*:\d+|\d+)$/.test(s);
  const end = rawArgs.indexOf("--");
  const args = end < 0 ? rawArgs : rawArgs.slice(0, end);
  let addr: string | null = null;
  let skip = -1;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith("--dashboard=")) addr = a.slice("--dashboard=".length) || "127.0.0.1:8080";
    else if (a === "--dashboard") {
      if (looksLikeAddress(args[i + 1])) {
        addr = args[i + 1]!;
        skip = i + 1;
      } else addr = "127.0.0.1:8080";
    }
  }
  if (skip < 0) return { addr, file: undefined };
  const file = args.find((a, i) => i !== skip && !a.startsWith("-") && !isFlagValue(args, i));
  return { addr, file };
}

/** True when args[i] is the value of the flag before it (a flag of runArgs that takes a value). */
function isFlagValue(args: string[], i: number): boolean {
  const prev = args[i - 1];
  if (prev === undefined || !prev.startsWith("-") || prev.includes("=")) return false;
  const name = prev.replace(/^--?/, "");
  const def = (runArgs as Record<string, { type: string; alias?: string }>)[name] ?? Object.values(runArgs).find((d) => (d as { alias?: string }).alias === name);
  return def !== undefined && def.type === "string";
}

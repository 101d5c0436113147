import { defineCommand } from "citty";
import { ConfigurationError } from "../../errors";
import type { LogLevel } from "../../consumer/options";
import type { Duration } from "../../_time";
import { CliUsageError } from "../errors";
import { wholeFlag } from "../args";

export const runArgs = {
  file: { type: "positional", description: "the tasks file (exports a Huey instance)", required: true, valueHint: "tasks.ts" },
  workers: { type: "string", alias: "w", description: "Bun Workers that run tasks (default 1)", valueHint: "N" },
  concurrency: { type: "string", description: "tasks each Worker runs at once, for async I/O tasks (default 1)", valueHint: "C" },
  prefetch: { type: "string", description: "tasks queued in each Worker ahead of the running ones (default 128, fewer for slow tasks)", valueHint: "N" },
  grace: { type: "string", description: "on SIGINT/SIGTERM, time running tasks get to finish (default 30s)", valueHint: "30s" },
  lease: { type: "string", description: "how long a taken task is hidden from other consumers; renewed while it runs (default 30s)", valueHint: "30s" },
  timeout: { type: "string", description: "stop a task running longer than this, unless its own timeout option says otherwise (default none)", valueHint: "5m" },
  "max-tasks": { type: "string", description: "replace a Worker after it ran N tasks, to contain memory leaks (default never)", valueHint: "N" },
  "no-periodic": { type: "boolean", alias: "n", description: "do not enqueue periodic tasks from this consumer" },
  "flush-locks": { type: "boolean", description: "free every lock before starting (locks a killed consumer left)" },
  instance: { type: "string", description: "the Huey instance to run, when the file exports several (export or huey name)", valueHint: "NAME" },
  logfile: { type: "string", description: "append log lines to this file instead of stderr", valueHint: "PATH" },
  "log-format": { type: "string", description: "log lines as text or json (default text)", valueHint: "text|json" },
  verbose: { type: "boolean", alias: "v", description: "log debug lines, with stacks of failed tasks" },
  quiet: { type: "boolean", alias: "q", description: "log warnings and errors only, not one line per task" },
} as const;

export const runCommand = defineCommand({
  meta: {
    name: "run",
    description:
      "Run the consumer for a tasks file until SIGINT/SIGTERM (SIGHUP reloads the file).\n\nExamples:\n  huey run tasks.ts -w 4\n  huey run tasks.ts -w 2 --concurrency 20 --logfile /var/log/huey.log",
  },
  args: runArgs,
  async run({ args }) {
    const { runConsumer } = await import("../../consumer/run");
    const api = (await import("../../index")) as unknown as Record<string, unknown>;
    if (args.verbose && args.quiet) throw new CliUsageError("give -v/--verbose or -q/--quiet, not both", "run");
    const logLevel: LogLevel = args.verbose ? "debug" : args.quiet ? "warn" : "info";
    const logFormat = args["log-format"] ?? "text";
    if (logFormat !== "text" && logFormat !== "json") {
      throw new CliUsageError(`--log-format must be "text" or "json", got "${logFormat}"`, "run");
    }
    let consumer;
    try {
      consumer = await runConsumer(args.file, {
        workers: wholeFlag(args.workers, "--workers", 1, "run"),
        concurrency: wholeFlag(args.concurrency, "--concurrency", 1, "run"),
        prefetch: wholeFlag(args.prefetch, "--prefetch", 0, "run"),
        // Durations from flags are checked by resolveConsumerOptions (toMs), with the flag's option name.
        grace: args.grace as Duration | undefined,
        lease: args.lease as Duration | undefined,
        timeout: args.timeout as Duration | undefined,
        flushLocks: args["flush-locks"] === true,
        // citty reads --no-periodic as periodic=false and -n as no-periodic=true.
        periodic: !(args["no-periodic"] === true || (args as Record<string, unknown>).periodic === false),
        maxTasks: wholeFlag(args["max-tasks"], "--max-tasks", 1, "run"),
        logFile: args.logfile,
        instance: args.instance ?? null,
        logLevel,
        logFormat,
        api,
      });
    } catch (err) {
      // Option values given on the command line are usage errors.
      if (err instanceof ConfigurationError) throw new CliUsageError(err.message, "run");
      throw err;
    }
    await consumer.stopped;
    // The storage broke under the consumer (file replaced, WAL deleted): a supervisor should restart it.
    if (consumer.fatal) process.exit(1);
  },
});

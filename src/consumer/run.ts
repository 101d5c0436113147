// runConsumer: what `huey run FILE` does around a Consumer. OS signals (graceful, then forced), SIGHUP
// reload, the log sink (reopened on SIGUSR1), and the exit status a supervisor reads.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Huey } from "../huey";
import { escapeControl } from "../_text";
import { VERSION } from "../_version";
import { Consumer } from "./consumer";
import { loadTasksFile, registerModulePlugin } from "./loader";
import { LogFile, Logger } from "./logger";
import { resolveConsumerOptions, type ConsumerOptions } from "./options";
import { serveMetrics } from "../observe/serve";

export interface RunConsumerOptions extends ConsumerOptions {
  /** Which Huey instance of the file, when it exports several. */
  instance?: string | null;
  /** Free every lock before starting (locks left by a consumer that was killed). @default false */
  flushLocks?: boolean;
  /** Append log lines to this file instead of stderr. */
  logFile?: string;
  /** The library as the tasks file imports it ("bun-huey"); the CLI passes its own copy. */
  api?: Record<string, unknown>;
  /** Serve Prometheus metrics at http://ADDR/metrics (HOST:PORT; port 0 picks one, logged at startup). */
  metrics?: string;
  /** The bearer token /metrics requires; needed when `metrics` is not a loopback address. */
  metricsToken?: string;
}

/** A consumer run by runConsumer: it may be replaced by a reload (SIGHUP). */
export interface RunningConsumer {
  /** The consumer running now. */
  readonly consumer: Consumer;
  /** Resolves when the consumer stopped for good (not for a reload). */
  readonly stopped: Promise<void>;
  /** Set when it stopped because its storage broke (file replaced) or a reload left nothing running: exit non-zero. */
  readonly fatal: string | null;
  /** Load the tasks file anew; if it loads, stop gracefully and start again with it (what SIGHUP does). */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Load a tasks file and run its consumer until SIGINT/SIGTERM. A second signal exits at once (130); leases
 * of tasks still running then expire and they run again. SIGHUP reloads: the file is imported anew, and only
 * if that works do running tasks finish and new Workers start; a file that no longer loads is logged and the
 * loaded version keeps running.
 */
export async function runConsumer(file: string, options: RunConsumerOptions = {}): Promise<RunningConsumer> {
  if (options.api) registerModulePlugin(options.api);
  const { api: _api, metrics: _metrics, metricsToken: _token, ...consumerOptions } = options;
  const o = resolveConsumerOptions(consumerOptions);
  const logFile = options.logFile ? new LogFile(options.logFile) : null;
  const logger = new Logger(o.logLevel, o.logFormat, logFile ? (s) => logFile.write(s) : undefined);
  const instance = options.instance ?? null;
  const other = installedVersion(dirname(resolve(file)));
  if (other !== null && other !== VERSION) {
    logger.warn(
      `this huey is bun-huey ${VERSION}, but the tasks file's folder has node_modules/bun-huey ${escapeControl(other)}: ` +
        `the consumer runs the tasks with ${VERSION}; a producer run with bun uses ${escapeControl(other)}. Use the same version for both`,
    );
  }
  let generation = 0;

  /** Counters of /metrics, cumulative for the process: a reload's consumer takes them over. */
  let totals: Consumer["heartbeat"]["stats"]["totals"] | null = null;
  /** The consumer /metrics reports on (the one started last). */
  let latest: Consumer | undefined;

  async function startWith(huey: Huey, path: string): Promise<Consumer> {
    const c = new Consumer(huey, { file: path, instance }, consumerOptions, logger);
    if (totals) c.heartbeat.stats.totals = totals;
    else totals = c.heartbeat.stats.totals;
    if (options.flushLocks && generation === 0) {
      const n = await huey.flushLocks();
      logger.info(`--flush-locks: freed ${n} lock(s)`);
    }
    await c.start();
    latest = c;
    c.stopped.then(() => {
      if (c.fatal && c === current) {
        stopping = true;
        finish();
      }
    });
    return c;
  }

  const first = await loadTasksFile(file, instance, generation);
  let loaded = first;
  // Bound before the consumer starts, so a bad address or a port in use fails before any task runs.
  const metrics = options.metrics === undefined ? null : serveMetrics(options.metrics, options.metricsToken, () => latest, logger);
  let current: Consumer;
  try {
    current = await startWith(first.huey, first.path);
  } catch (err) {
    metrics?.stop();
    throw err;
  }
  let finish!: () => void;
  const stopped = new Promise<void>((r) => (finish = r)).finally(() => metrics?.stop());
  let stopping = false;
  let reloading: Promise<void> | null = null;
  /** Set when a reload left no consumer running (see reload). */
  let reloadFatal: string | null = null;

  const running: RunningConsumer = {
    get consumer() {
      return current;
    },
    get fatal() {
      return reloadFatal ?? current.fatal;
    },
    stopped,
    reload() {
      if (stopping) return Promise.resolve();
      reloading ??= (async () => {
        logger.info("SIGHUP: reloading: loading the tasks file anew");
        let next;
        try {
          next = await loadTasksFile(file, instance, generation + 1);
        } catch (err) {
          logger.error(`reload failed, still running the version loaded before: ${err instanceof Error ? err.message : String(err)}`);
          return;
        }
        generation++;
        logger.info("reload: the tasks file loads; finishing running tasks, then starting new Workers");
        await current.stop();
        try {
          current = await startWith(next.huey, next.path);
          loaded = next;
        } catch (err) {
          logger.error(`reload failed, going back to the version loaded before: ${err instanceof Error ? err.message : String(err)}`);
          try {
            current = await startWith(loaded.huey, loaded.path);
          } catch (again) {
            // Its Workers load the same file from disk, which can fail just as the new ones did. Without
            // this the process was left with no consumer (busy, running nothing) and exited 0 on SIGTERM:
            // stop for good and exit non-zero, so a supervisor restarts it.
            reloadFatal = `could not start the consumer again after a failed reload: ${again instanceof Error ? again.message : String(again)}`;
            logger.error(`stopping: ${reloadFatal}`);
            logger.flush();
            stopping = true;
            finish();
          }
        }
      })().finally(() => (reloading = null));
      return reloading;
    },
    async stop() {
      stopping = true;
      await reloading?.catch(() => {});
      await current.stop();
      finish();
    },
  };

  if (o.handleSignals) {
    let signals = 0;
    // The handlers stay until the process exits: a second signal during a fast stop still exits 130.
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        logger.warn(`${sig} again: exiting now; tasks still running go back to the queue when their leases expire`);
        logger.flush();
        process.exit(130);
      }
      logger.info(`${sig} received: finishing running tasks (send it again to exit at once)`);
      void running.stop();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    process.on("SIGHUP", () => void running.reload().catch(() => {}));
    // logrotate: it moves the file away, then sends SIGUSR1 (postrotate); lines from now on go to a new file.
    process.on("SIGUSR1", () => {
      if (!logFile) return logger.warn("SIGUSR1: there is no --logfile to reopen; logging to stderr goes on");
      logger.flush(); // lines of this turn still belong to the old file
      try {
        logFile.reopen();
        logger.info(`SIGUSR1: reopened the log file ${escapeControl(logFile.path)}`);
      } catch (err) {
        logger.error(`SIGUSR1: could not reopen the log file, still writing to the old one: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
  }
  return running;
}

/** The version of `<dir>/node_modules/bun-huey`, or null when there is none (or it cannot be read). */
export function installedVersion(dir: string): string | null {
  try {
    const pkg = JSON.parse(readFileSync(join(dir, "node_modules", "bun-huey", "package.json"), "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : null;
  } catch {
    return null;
  }
}

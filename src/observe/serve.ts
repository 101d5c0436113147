// `huey run --metrics`: the consumer process's /metrics, read from the consumer running now (a reload
// replaces it; the counters carry over) and from storage.
import type { Consumer } from "../consumer/consumer";
import type { Log } from "../consumer/engine";
import { KEYS } from "../message";
import { renderMetrics, readStorageGauges, type StorageGauges } from "./metrics";
import { startMetricsServer, type MetricsServer } from "./metrics-server";

/** Start the server (throws a ConfigurationError for a bad address or a missing token) and log its URL. */
export function serveMetrics(addr: string, token: string | undefined, consumer: () => Consumer | undefined, log: Log): MetricsServer {
  const server = startMetricsServer(addr, token, () => collect(consumer()));
  log.info(`metrics on ${server.url}${token === undefined ? "" : " (bearer token required)"}`);
  return server;
}

/** One scrape's text. A storage that cannot be read leaves the gauges out (huey_storage_up 0). */
export async function collect(c: Consumer | undefined): Promise<string> {
  if (!c) return renderMetrics({ totals: new Map(), busySlots: 0, slots: 0, storage: null });
  const o = c.options;
  const lanes = [...new Set([...c.huey.queues(), ...Object.keys(o.queues ?? {})])].sort();
  let storage: StorageGauges | null = null;
  try {
    storage = await readStorageGauges(c.huey.storage, lanes, KEYS.failed, Date.now());
  } catch {
    storage = null;
  }
  return renderMetrics({ totals: c.heartbeat.stats.totals, busySlots: c.pool.runningCount(), slots: o.workers * o.concurrency, storage });
}

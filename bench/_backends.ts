// Where the bench's tasks live. Each backend makes a fresh, empty store per measurement, tells
// the consumer process how to reach it (environment for bench/tasks.ts), and gives the bench
// process a Huey on it. Raw baselines exist per backend (SQLite: bench/_raw.ts).
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { SqliteHuey, type Huey } from "../src/index";

export interface FreshStore {
  /** Environment for the consumer process, read by bench/tasks.ts. */
  env: Record<string, string>;
  /** A Huey on this store for the bench process (register tasks on it with defineTasks). */
  huey: Huey;
  /** True when no task is queued or leased: cheap, called every few ms while draining. */
  drained(): boolean;
  close(): Promise<void>;
}

export interface Backend {
  name: string;
  /** null when available; otherwise why not. */
  unavailable: string | null;
  fresh(dir: string, label: string): FreshStore;
}

const sqlite: Backend = {
  name: "sqlite",
  unavailable: null,
  fresh(dir, label) {
    const filename = join(dir, `${label}.db`);
    const huey = new SqliteHuey({ name: "bench", filename });
    void huey.storage; // create and migrate the file now, not inside a timed section
    // A second connection for the drained() check: one indexed probe, O(1) whatever the queue size.
    const probe = new Database(filename, { readonly: true });
    probe.run("PRAGMA busy_timeout = 5000");
    const any = probe.prepare("SELECT 1 FROM queue WHERE queue = 'bench' LIMIT 1");
    return {
      env: { HUEY_BENCH_BACKEND: "sqlite", HUEY_BENCH_DB: filename },
      huey,
      drained: () => any.get() === null,
      async close() {
        probe.close(false);
        await huey.close();
      },
    };
  },
};

function notYet(name: string, what: string): Backend {
  return {
    name,
    unavailable: `the ${name} backend is not available yet (${what} is being written); run with --backend sqlite`,
    fresh() {
      throw new Error(`backend ${name} is not available yet`);
    },
  };
}

/**
 * The hook for more backends: replace a notYet() entry with a Backend whose fresh() makes an
 * empty store (a new schema or database number), teach bench/tasks.ts to build the matching Huey
 * from HUEY_BENCH_BACKEND, and add its raw-client baselines next to bench/_raw.ts.
 */
export const BACKENDS: Record<string, Backend> = {
  sqlite,
  postgres: notYet("postgres", "PostgresHuey on Bun.SQL"),
  redis: notYet("redis", "RedisHuey on Bun's Redis client"),
};

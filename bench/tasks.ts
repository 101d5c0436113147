// The benchmark's tasks file. The consumer runs it (`huey run tasks.ts`, with HUEY_BENCH_BACKEND
// and its settings set: see bench/_backends.ts); the bench process imports `defineTasks` to
// register the same task on its own Huey.
//
// Drain completion without polling: with HUEY_BENCH_EXPECT=N the consumer's main thread counts
// `complete` signals (emitted once a result is written) and prints one line
// "huey-bench: complete N" on stdout when the N-th arrives (the consumer's own cost: one
// handler call per task), so the bench knows the drain is over
// without reading the database while it is timed.
import { PostgresHuey, RedisHuey, SqliteHuey, type Huey } from "bun-huey";

/** Register the bench's tasks on `huey`. The task is a no-op that returns a value, so a result is stored. */
export function defineTasks(huey: Huey) {
  return {
    noop: huey.task("noop", (i: number) => i),
  };
}

function fromEnv(): Huey {
  const env = process.env;
  switch (env.HUEY_BENCH_BACKEND ?? "sqlite") {
    case "postgres":
      return new PostgresHuey({ name: "bench", url: env.HUEY_BENCH_PG_URL!, schema: env.HUEY_BENCH_PG_SCHEMA });
    case "redis":
      return new RedisHuey({ name: "bench", url: env.HUEY_BENCH_REDIS_URL!, prefix: env.HUEY_BENCH_REDIS_PREFIX });
    default:
      return new SqliteHuey({ name: "bench", filename: env.HUEY_BENCH_DB ?? "bench.db" });
  }
}

// Opened lazily: importing this module creates no file and no connection.
export const huey = fromEnv();
export const { noop } = defineTasks(huey);

// HUEY_BENCH_EXPECT: one count or several (cumulative, comma-separated, one line printed at each).
const expect = (process.env.HUEY_BENCH_EXPECT ?? "").split(",").map(Number).filter((n) => n > 0);
if (expect.length > 0) {
  let done = 0;
  let next = 0;
  huey.signal("complete", () => {
    if (++done === expect[next]) {
      next++;
      process.stdout.write(`huey-bench: complete ${done}\n`);
    }
  });
}

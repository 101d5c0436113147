// The benchmark's tasks file. The consumer runs it (`huey run tasks.ts`, with HUEY_BENCH_BACKEND
// and its settings set: see bench/_backends.ts); the bench process imports `defineTasks` to
// register the same task on its own Huey.
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

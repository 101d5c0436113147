// The benchmark's tasks file. The consumer runs it (`huey run tasks.ts`, with HUEY_BENCH_DB set);
// the bench process imports `defineTasks` to register the same task on its own Huey.
import { SqliteHuey, type Huey } from "bun-huey";

/** Register the bench's tasks on `huey`. The task is a no-op that returns a value, so a result is stored. */
export function defineTasks(huey: Huey) {
  return {
    noop: huey.task("noop", (i: number) => i),
  };
}

// Opened lazily: importing this module creates no file.
export const huey = new SqliteHuey({ name: "bench", filename: process.env.HUEY_BENCH_DB ?? "bench.db" });
export const { noop } = defineTasks(huey);

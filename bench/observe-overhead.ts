// `bun bench/observe-overhead.ts`: what recording statistics (src/observe) costs a drain. The same no-op
// drain runs with recording on and off, interleaved (on, off, on, off, ...), on fresh SQLite files, and the
// medians are compared. "Off" sets HUEY_INTERNAL_NO_STATS=1, an internal switch read only by the consumer for
// this bench (the heartbeat still beats; only the per-outcome recording is skipped).
//
//   bun bench/observe-overhead.ts                    100,000 tasks, 3 rounds, -w 1
//   bun bench/observe-overhead.ts --count 20000 --rounds 5 --workers 2
//
// Each drain: a consumer on a fresh database with its queue paused, N tasks enqueued, then timed from
// resume until the consumer prints that the N-th result is written (bench/tasks.ts, HUEY_BENCH_EXPECT).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { SqliteHuey } from "../src/index";
import { Child, cleanupAll, installCleanupHandlers, trackTempDir } from "./_proc";
import { defineTasks } from "./tasks";

const ROOT = resolve(import.meta.dir, "..");
const { values: opt } = parseArgs({
  options: {
    count: { type: "string", default: "100000" },
    rounds: { type: "string", default: "3" },
    workers: { type: "string", default: "1" },
  },
  strict: true,
});
const N = Number(opt.count);
const ROUNDS = Number(opt.rounds);
const progress = (s: string) => process.stderr.write(`observe-overhead: ${s}\n`);

installCleanupHandlers();
const dir = trackTempDir(mkdtempSync(join(tmpdir(), "huey-bench-observe-")));

async function drain(label: string, recording: boolean): Promise<number> {
  const db = join(dir, `${label}.db`);
  const huey = new SqliteHuey({ name: "bench", filename: db });
  const { noop } = defineTasks(huey);
  await huey.pause("default");
  const child = new Child(["bun", join(ROOT, "src", "cli.ts"), "run", join(ROOT, "bench", "tasks.ts"), "-q", "-w", opt.workers!, "--no-env-file"], {
    cwd: dir,
    env: { ...process.env, HUEY_BENCH_DB: db, HUEY_BENCH_EXPECT: String(N), NO_COLOR: "1", ...(recording ? {} : { HUEY_INTERNAL_NO_STATS: "1" }) },
  });
  const args = Array.from({ length: N }, (_, i) => [i] as [number]);
  for (let i = 0; i < N; i += 10_000) await noop.map(args.slice(i, i + 10_000));
  // Ready: its first heartbeat is written at start, after the Workers loaded the file.
  while ((await huey.storage.countData("consumer:")) === 0) {
    if (child.proc.exitCode !== null) throw new Error(`consumer exited: ${child.output}`);
    await Bun.sleep(20);
  }
  const t0 = performance.now();
  await huey.resume("default");
  await child.waitForOutput(new RegExp(`huey-bench: complete ${N}\\b`), 600_000);
  const ms = performance.now() - t0;
  await child.stop();
  await huey.close();
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
try {
  const on: number[] = [];
  const off: number[] = [];
  await drain("warmup", true); // page cache, JIT of the bench process
  for (let r = 0; r < ROUNDS; r++) {
    for (const recording of r % 2 === 0 ? [true, false] : [false, true]) {
      const ms = await drain(`r${r}-${recording ? "on" : "off"}`, recording);
      (recording ? on : off).push(ms);
      progress(`round ${r + 1}: recording ${recording ? "on " : "off"} ${N} tasks in ${ms.toFixed(0)}ms (${Math.round(N / (ms / 1000))}/s)`);
    }
  }
  const a = median(on);
  const b = median(off);
  console.log(`drain of ${N} no-op tasks, -w ${opt.workers}, ${ROUNDS} rounds interleaved (medians):`);
  console.log(`  recording on : ${a.toFixed(0)}ms (${Math.round(N / (a / 1000))}/s)   runs: ${on.map((x) => x.toFixed(0)).join(", ")}`);
  console.log(`  recording off: ${b.toFixed(0)}ms (${Math.round(N / (b / 1000))}/s)   runs: ${off.map((x) => x.toFixed(0)).join(", ")}`);
  console.log(`  overhead: ${(((a - b) / b) * 100).toFixed(1)}%`);
} finally {
  cleanupAll();
}

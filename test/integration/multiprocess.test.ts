// Several consumer processes (`bun src/cli.ts run`) on one SQLite file.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import * as api from "../../src/index";
import { registerModulePlugin } from "../../src/consumer/loader";
import { ROOT, tempDir, waitFor } from "../harness";
import { spawnCli, type Spawned } from "../services";

registerModulePlugin(api as unknown as Record<string, unknown>);
const { defineTasks, openRuns } = await import("../fixtures/int-fixture");

setDefaultTimeout(60_000);

const FIXTURE = join(ROOT, "test", "fixtures", "int-fixture.ts");

const procs: Spawned[] = [];
const cleanups: (() => Promise<unknown> | unknown)[] = [];

afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill("SIGKILL");
    await p.proc.exited;
  }
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** `bun src/cli.ts run int-fixture.ts ...args` with HUEY_DB set: a Worker sees the env a process starts with. */
function spawnConsumer(db: string, args: string[]): Spawned {
  const s = spawnCli(["run", FIXTURE, ...args], { HUEY_DB: db });
  procs.push(s);
  return s;
}

/** SIGTERM: the consumer finishes and exits 0. */
async function stopConsumer(s: Spawned): Promise<void> {
  s.proc.kill("SIGTERM");
  const code = await s.proc.exited;
  expect({ code, log: code === 0 ? "" : s.log() }).toEqual({ code: 0, log: "" });
}

describe("several consumer processes on one file", () => {
  test("3 processes x 2 Workers: 3,000 tasks each run exactly once, every result stored", async () => {
    const db = join(tempDir("huey-mp-"), "queue.db");
    const tasks = defineTasks(db);
    cleanups.push(() => tasks.huey.close());
    openRuns(db).close(); // create the counter table before three processes race to
    const N = 3_000;
    const t0 = performance.now();
    // A lease far longer than the run: any task run twice would be a bug, not an expired lease.
    const consumers = [0, 1, 2].map(() => spawnConsumer(db, ["-w", "2", "-q", "--lease", "60s"]));
    const results = [...(await tasks.huey.enqueueMany<number>(Array.from({ length: N }, (_, i) => [tasks.record, [i]] as const)))];
    const runs = openRuns(db);
    cleanups.push(() => runs.close());
    const count = () => (runs.query("SELECT count(*) AS c, coalesce(sum(n), 0) AS s FROM int_runs WHERE key LIKE 'rec:%'").get() as { c: number; s: number });
    await waitFor(() => count().c === N && tasks.huey.resultCount().then((c) => c === N), `${N} tasks run and stored`, 40_000);
    const ms = performance.now() - t0;
    expect(count()).toEqual({ c: N, s: N });
    expect(runs.query("SELECT key, n FROM int_runs WHERE key LIKE 'rec:%' AND n <> 1").all()).toEqual([]);
    const perProcess = runs.query("SELECT key, n FROM int_runs WHERE key LIKE 'pid:%'").all() as { key: string; n: number }[];
    expect(perProcess.reduce((a, p) => a + p.n, 0)).toBe(N);
    const pids = new Set(consumers.map((c) => `pid:${c.proc.pid}`));
    for (const p of perProcess) expect(pids.has(p.key)).toBe(true);
    const values = await Promise.all(results.map((r) => r.get()));
    expect(values).toEqual(results.map((_, i) => i));
    expect(await tasks.huey.pendingCount()).toBe(0);
    expect(await tasks.huey.storage.leasedCount()).toBe(0);
    console.log(
      `multiprocess: ${N} tasks on 3 processes x 2 Workers in ${Math.round(ms)}ms (including start-up); ` +
        `tasks per process: ${perProcess.map((p) => p.n).join(", ")}`,
    );
    for (const c of consumers) await stopConsumer(c);
    // -q: no line per task, and nothing went wrong.
    for (const c of consumers) expect(c.log()).not.toMatch(/ERROR|WARN/);
  });

  test("an idle consumer in another process picks up a new task at once (cross-process wake-up)", async () => {
    const db = join(tempDir("huey-wake-"), "queue.db");
    const tasks = defineTasks(db);
    cleanups.push(() => tasks.huey.close());
    const consumer = spawnConsumer(db, ["-w", "1"]);
    await waitFor(() => consumer.log().includes("consumer started"), "the consumer process started", 20_000);
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const r = await tasks.add(i, 1);
      expect(await r.get({ blocking: true, timeout: 5_000 })).toBe(i + 1);
      latencies.push(performance.now() - t0);
    }
    console.log(`cross-process wake-up: enqueue to result read ${latencies.map((l) => `${l.toFixed(1)}ms`).join(", ")}`);
    // How fast is the bench's to say (bun run bench, latency); here, that each call came back.
    expect(latencies.length).toBe(5);
    await stopConsumer(consumer);
  });
});

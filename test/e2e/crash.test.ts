// kill -9 of the consumer in the middle of a drain loses no task: leases expire and the next
// consumer runs what was left (at-least-once).
import { afterEach, beforeAll, expect, test, setDefaultTimeout } from "bun:test";
import { SqliteHuey, SqliteStorage } from "../../src/index";
import { waitFor } from "../harness";
import { hueyBinary, killAll, openRuns, produce, spawnHuey, taskDir } from "./binary";

// Spawns Workers and processes on a 2-core machine: a minute per test, not bun's 5 s default
// (setDefaultTimeout applies to the file that calls it; bunfig.toml has no such setting).
setDefaultTimeout(60_000);

const TASKS = 2_000;
/** Each task sleeps this long: the drain takes a few seconds, so a kill lands in the middle of it. */
const TASK_MS = 2;

beforeAll(async () => {
  await hueyBinary();
}, 120_000);

afterEach(killAll);

test("kill -9 mid-drain, then restart: every task ran at least once and every result is stored", async () => {
  const { dir, env } = taskDir();
  const { ids } = await produce<{ ids: string[] }>(env, "work", String(TASKS), String(TASK_MS));
  expect(new Set(ids).size).toBe(TASKS);
  const runs = openRuns(env.HUEY_RUNS_DB);
  const ranCount = () => runs.query<{ n: number }, []>("SELECT count(*) AS n FROM runs").get()!.n;
  const args = ["run", "tasks.ts", "-w", "2", "--lease", "2s"];

  const first = await spawnHuey(args, { cwd: dir, env });
  await first.waitForStderr("consumer started", "the first consumer to start");
  await waitFor(() => ranCount() >= 200, "200 tasks to run", 60_000);
  first.proc.kill("SIGKILL");
  await first.exit();
  expect(first.proc.signalCode).toBe("SIGKILL");

  const storage = new SqliteStorage({ filename: env.HUEY_DB, queue: "e2e" });
  const ranBefore = ranCount();
  const storedBefore = await storage.resultCount();
  // The kill really landed mid-drain: work was left, some of it still leased by the dead consumer.
  expect(ranBefore).toBeLessThan(TASKS);
  expect(storedBefore).toBeLessThan(TASKS);
  expect((await storage.pendingCount()) + (await storage.leasedCount())).toBe(TASKS - storedBefore);

  const second = await spawnHuey(args, { cwd: dir, env });
  await second.waitForStderr("consumer started", "the second consumer to start");
  await waitFor(async () => (await storage.resultCount()) === TASKS, `all ${TASKS} results to be stored`, 120_000);
  expect({ pending: await storage.pendingCount(), leased: await storage.leasedCount(), scheduled: await storage.scheduledCount() }).toEqual(
    { pending: 0, leased: 0, scheduled: 0 },
  );
  await storage.close();

  // Every task ran at least once (a task whose outcome was not committed before the kill ran twice).
  const counts = runs.query<{ key: string; n: number }, []>("SELECT key, n FROM runs").all();
  runs.close();
  expect(counts.length).toBe(TASKS);
  expect(counts.filter((c) => c.n < 1)).toEqual([]);
  expect(new Set(counts.map((c) => c.key))).toEqual(new Set(Array.from({ length: TASKS }, (_, i) => `k${i}`)));

  // And every result reads back with its value.
  const huey = new SqliteHuey({ name: "e2e", filename: env.HUEY_DB });
  const values = await Promise.all(ids.map((id) => huey.result(id).get()));
  await huey.close();
  expect(values).toEqual(Array.from({ length: TASKS }, (_, i) => `done k${i}`));

  second.proc.kill("SIGTERM");
  expect(await second.exit()).toBe(0);
}, 180_000);

test("a task running longer than its lease is renewed: another consumer never takes it", async () => {
  const { dir, env } = taskDir();
  const args = ["run", "tasks.ts", "-w", "1", "--lease", "1s"];
  const a = await spawnHuey(args, { cwd: dir, env });
  const b = await spawnHuey(args, { cwd: dir, env });
  await a.waitForStderr("consumer started", "consumer a to start");
  await b.waitForStderr("consumer started", "consumer b to start");
  const producer = new SqliteHuey({ name: "e2e", filename: env.HUEY_DB });
  const work = producer.task("work", async (_key: string, _ms: number) => "");
  try {
    // 3.5 leases long: without renewal the idle consumer would reclaim and run it again.
    const r = await work("long", 3_500);
    await r.get({ blocking: true, timeout: 30_000 });
    const runs = openRuns(env.HUEY_RUNS_DB);
    expect(runs.query<{ n: number }, [string]>("SELECT n FROM runs WHERE key = ?").get("long")!.n).toBe(1);
    expect(a.stderr + b.stderr).not.toContain("are ready again");
  } finally {
    await producer.close();
  }
});

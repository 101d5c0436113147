// The compiled binary runs a tasks file from a folder with no node_modules; producers are other
// processes that import the same fixture from the repository.
import { afterEach, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { SqliteStorage } from "../../src/index";
import { waitFor } from "../harness";
import { hueyBinary, killAll, logged, openRuns, produce, spawnHuey, taskDir, type Child } from "./binary";

// Spawns Workers and processes on a 2-core machine: a minute per test, not bun's 5 s default
// (setDefaultTimeout applies to the file that calls it; bunfig.toml has no such setting).
setDefaultTimeout(60_000);

beforeAll(async () => {
  await hueyBinary();
}, 120_000);

afterEach(killAll);

/** Start `huey run tasks.ts ...args` and wait until its Workers have loaded the file. */
async function startConsumer(dir: string, env: Record<string, string>, args: string[]): Promise<Child> {
  const c = await spawnHuey(["run", "tasks.ts", ...args], { cwd: dir, env });
  await c.waitForStderr("consumer started", "the consumer to start");
  return c;
}

/** SIGTERM and expect a clean exit. */
async function stop(c: Child): Promise<void> {
  c.proc.kill("SIGTERM");
  expect(await c.exit()).toBe(0);
}

function openStorage(file: string): SqliteStorage {
  return new SqliteStorage({ filename: file, queue: "e2e" });
}

describe("huey run, from the binary", () => {
  test("a producer process enqueues; results come back through blocking gets with the right values", async () => {
    const { dir, env } = taskDir();
    const consumer = await startConsumer(dir, env, ["-w", "2"]);
    expect(consumer.stderr).toContain("2 worker(s)");
    const out = await produce(env, "happy");
    expect(out).toEqual({
      values: Array.from({ length: 20 }, (_, i) => i + i * 10),
      batchValues: [1000, 1001, 1002],
      echo: { first: "text", second: { nested: [1, null, true] }, date: "2030-01-02T03:04:05.678Z", fourthIsUndefined: true },
    });
    await stop(consumer);
    expect(consumer.stderr).not.toMatch(/ (WARN|ERROR) /);
  }, 60_000);

  test("blocking gets in a producer wake within milliseconds of each result, not at their 1s re-check", async () => {
    const { dir, env } = taskDir();
    const consumer = await startConsumer(dir, env, ["-w", "2"]);
    // Typically 5-60 ms a round here; a lost wake-up costs a full second (Result.get's MAX_WAIT_MS).
    // The race is timing-dependent: up to 100 rounds, stopping at the first slow one
    // (wakeup.test.ts reproduces it exactly).
    const { times } = await produce<{ times: number[] }>(env, "latency", "100");
    expect({ slowRounds: times.filter((t) => t >= 750), rounds: times.length }).toEqual({ slowRounds: [], rounds: 100 });
    await stop(consumer);
  }, 60_000);

  test("higher-priority tasks run first (one Worker, no prefetch, all queued before the start)", async () => {
    const { dir, env } = taskDir();
    // Enqueued low, then mid, then high: first-in-first-out would run them in the opposite order.
    expect(await produce(env, "priority")).toEqual({ enqueued: 12 });
    const runs = openRuns(env.HUEY_RUNS_DB);
    const consumer = await startConsumer(dir, env, ["-w", "1", "--prefetch", "0"]);
    await waitFor(() => logged(runs).length === 12, "all 12 tasks to run");
    const ran = logged(runs);
    runs.close();
    expect(ran.map((w) => w.split(":")[0])).toEqual([
      ...Array<string>(4).fill("high"),
      ...Array<string>(4).fill("mid"),
      ...Array<string>(4).fill("low"),
    ]);
    expect(new Set(ran).size).toBe(12);
    await stop(consumer);
  }, 60_000);

  test("a task name the consumer does not know: it warns naming the task, keeps running, and keeps the task", async () => {
    const { dir, env } = taskDir();
    const consumer = await startConsumer(dir, env, ["-w", "1"]);
    // The producer's tasks file (extra-fixture) has one task more than the consumer's.
    const { id, addId } = await produce(env, "mystery");
    await consumer.waitForStderr("mystery_task", "a warning naming the unknown task");
    const warning = consumer.stderr.split("\n").find((l) => l.includes("mystery_task"))!;
    expect(warning).toContain("WARN");
    expect(warning).toContain(id);
    const storage = openStorage(env.HUEY_DB);
    try {
      // Put back on the schedule for later, not dropped and not failed.
      await waitFor(async () => (await storage.scheduledCount()) === 1, "the unknown task to be scheduled again");
      expect(await storage.getResult(id, true, Date.now())).toBeNull();
      // The consumer still runs the tasks it knows.
      await waitFor(async () => (await storage.getResult(addId, true, Date.now())) !== null, "add(2, 3) to finish");
      expect(consumer.running).toBe(true);
      expect(await storage.scheduledCount()).toBe(1);
      expect((await storage.listScheduled(10)).map((s) => s.name)).toEqual(["mystery_task"]);
    } finally {
      await storage.close();
    }
    await stop(consumer);
    const storageAfter = openStorage(env.HUEY_DB);
    expect(await storageAfter.scheduledCount()).toBe(1);
    await storageAfter.close();
  }, 60_000);
});

describe("calls the queue cannot store are rejected in the producer", () => {
  test.each([
    ["function-arg", "SerializationError", "HUEY_SERIALIZATION", /echo\(\) .*\[1\]\.callback: a function cannot be stored/],
    ["map-arg", "SerializationError", "HUEY_SERIALIZATION", /echo\(\) .*\[1\]\[1\]: a Map cannot be stored/],
    ["too-large", "PayloadTooLargeError", "HUEY_PAYLOAD_TOO_LARGE", /payload of task echo is 2\.0 MiB, over the 1\.0 MiB limit/],
  ])("%s: %s", async (command, name, code, message) => {
    const { env } = taskDir();
    const out = await produce<{ error: { name: string; code: string; message: string } }>(env, command);
    expect(out.error).toMatchObject({ name, code });
    expect(out.error.message).toMatch(message);
    // Nothing was stored.
    expect(await produce(env, "counts")).toEqual({ pending: 0, scheduled: 0, results: 0 });
  }, 30_000);
});

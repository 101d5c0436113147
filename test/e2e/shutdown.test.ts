// SIGTERM/SIGINT to the compiled consumer: finish running tasks within the grace period, return
// the rest to the queue, exit 0; a second signal exits at once.
import { afterEach, beforeAll, expect, test, setDefaultTimeout } from "bun:test";
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

/** Enqueue sleepy(tag, ms), start a consumer with `args`, wait until the task is running. */
async function runningSleepy(tag: string, ms: number, args: string[]) {
  const { dir, env } = taskDir();
  const runs = openRuns(env.HUEY_RUNS_DB);
  const { id } = await produce<{ id: string }>(env, "sleepy", tag, String(ms));
  const consumer: Child = await spawnHuey(["run", "tasks.ts", "-w", "1", ...args], { cwd: dir, env });
  await consumer.waitForStderr("consumer started", "the consumer to start");
  await waitFor(() => logged(runs).includes(`start:${tag}`), `sleepy ${tag} to start`);
  const storage = new SqliteStorage({ filename: env.HUEY_DB, queue: "e2e" });
  return { consumer, runs, storage, id };
}

test("SIGTERM while a task runs: the task finishes, its result is stored, exit 0", async () => {
  const { consumer, runs, storage, id } = await runningSleepy("a", 1_500, []);
  consumer.proc.kill("SIGTERM");
  expect(await consumer.exit()).toBe(0);
  expect(logged(runs)).toEqual(["start:a", "end:a"]);
  expect(await storage.getResult(id, true, Date.now())).not.toBeNull();
  expect({ pending: await storage.pendingCount(), leased: await storage.leasedCount() }).toEqual({ pending: 0, leased: 0 });
  expect(consumer.stderr).toContain("SIGTERM received");
  runs.close();
  await storage.close();
}, 60_000);

test("SIGTERM with --grace 200ms and a task sleeping 30s: exit 0 at once, the task is back in the queue", async () => {
  const { consumer, runs, storage, id } = await runningSleepy("b", 30_000, ["--grace", "200ms"]);
  consumer.proc.kill("SIGTERM");
  expect(await consumer.exit(45_000)).toBe(0);
  // The grace period, not the task, decided when we stopped: the 30 s task never ended.
  expect(logged(runs)).toEqual(["start:b"]);
  expect(await storage.getResult(id, true, Date.now())).toBeNull();
  expect({ pending: await storage.pendingCount(), leased: await storage.leasedCount() }).toEqual({ pending: 1, leased: 0 });
  expect(consumer.stderr).toContain("returning 1 running task(s) to the queue");
  runs.close();
  await storage.close();
}, 60_000);

test("a second SIGINT exits at once with a non-zero code", async () => {
  const { consumer, runs, storage } = await runningSleepy("c", 30_000, []);
  consumer.proc.kill("SIGINT");
  await consumer.waitForStderr("SIGINT received", "the first SIGINT to be handled");
  consumer.proc.kill("SIGINT");
  const code = await consumer.exit(45_000);
  expect(code).not.toBe(0);
  expect(code).toBe(130);
  expect(consumer.stderr).toContain("SIGINT again");
  // Not finished, not returned: the task stays leased until its lease expires, then runs again.
  expect(logged(runs)).toEqual(["start:c"]);
  expect({ pending: await storage.pendingCount(), leased: await storage.leasedCount() }).toEqual({ pending: 0, leased: 1 });
  runs.close();
  await storage.close();
}, 60_000);

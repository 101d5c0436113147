// Pipelines, chords and locks with real consumers and Workers on a temporary SQLite file.
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import * as api from "../../src/index";
import { Consumer } from "../../src/consumer/consumer";
import { loadTasksFile, registerModulePlugin } from "../../src/consumer/loader";
import { Logger } from "../../src/consumer/logger";
import { FIXTURES, ROOT, tempDb, waitFor } from "../harness";

// Spawns Workers and processes on a 2-core machine: a minute per test, not bun's 5 s default
// (setDefaultTimeout applies to the file that calls it; bunfig.toml has no such setting).
setDefaultTimeout(60_000);

type Fixture = typeof import("../fixtures/pipe-fixture");
const file = join(FIXTURES, "pipe-fixture.ts");
let fx: Fixture;
let consumer: Consumer;
const signals: string[] = [];
/** Every signal with its task's name and attempt, for the tests that check sequences. */
const seen: string[] = [];

beforeAll(async () => {
  process.env.HUEY_DB = tempDb("pipe.db");
  process.env.HUEY_LOG_DB = tempDb("pipe-log.db");
  registerModulePlugin(api as unknown as Record<string, unknown>);
  const { huey } = await loadTasksFile(file, null);
  fx = (await import(file)) as Fixture;
  // First: Signals.emit runs a signal's first handler at once and later ones a microtask later,
  // so only the first handler is sure to see one plan's signals in order.
  huey.signal([], (s, t) => void seen.push(`${s}:${t.name}:${t.attempt}`));
  huey.signal(["locked"], (s, t) => void signals.push(`${s}:${t.name}`));
  consumer = new Consumer(huey, { file, instance: null }, { workers: 2, handleSignals: false }, new Logger("warn", "text", () => {}));
  await consumer.start();
});

afterAll(async () => {
  await consumer?.stop(1_000);
});

describe("pipelines", () => {
  test("each stage's result is the next stage's first argument", async () => {
    const group = await fx.huey.enqueue(fx.fetchNumber.s(123).then(fx.transformNumber, 5).then(fx.storeResult));
    expect(await group.get({ blocking: true, timeout: 10_000 })).toEqual([123, 615, "stored:615"]);
  });

  test("a stage that fails for good runs its error task and fails the later stages", async () => {
    const group = await fx.huey.enqueue(
      fx.fetchNumber.s(7).then(fx.flaky, { tries: 0 }).error(fx.onError).then(fx.storeResult),
    );
    expect(await group.at(0)!.get({ blocking: true, timeout: 10_000 })).toBe(7);
    const failed: any = await group.at(1)!.get({ blocking: true, timeout: 10_000 }).catch((e: any) => e);
    expect(failed.error.message).toBe("stage failed for 7");
    expect(failed.attempts).toBe(2); // its own retry ran first
    const later: any = await group.at(2)!.get({ blocking: true, timeout: 10_000 }).catch((e: any) => e);
    expect(later.error).toMatchObject({ name: "PipelineStopped", code: "HUEY_PIPELINE_STOPPED" });
    const log = new Database(process.env.HUEY_LOG_DB!);
    await waitFor(() => {
      try {
        return (log.query("SELECT count(*) AS n FROM errors").get() as { n: number }).n > 0;
      } catch {
        return false; // the error task creates the table when it first runs
      }
    }, "error task ran");
    expect(log.query("SELECT message FROM errors").all()).toEqual([{ message: "stage failed for 7" }]);
  });

  test("a signature's delay holds its stage back", async () => {
    const t0 = Date.now();
    const group = await fx.huey.enqueue(fx.fetchNumber.s(1).then(fx.transformNumber, 2).with({ delay: 300 }));
    expect(await group.get({ blocking: true, timeout: 10_000 })).toEqual([1, 2]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
  });

  test("group runs in parallel; chord calls back with every result in order", async () => {
    const g = await fx.huey.group([fx.fetchNumber.s(1), fx.fetchNumber.s(2).then(fx.transformNumber, 10)]);
    expect(await g.get({ blocking: true, timeout: 10_000 })).toEqual([1, 20]);
    const c = await fx.huey.chord([fx.fetchNumber.s(1), fx.fetchNumber.s(2).then(fx.transformNumber, 10), fx.fetchNumber.s(3)], fx.sum, 100);
    expect(await c.get({ blocking: true, timeout: 10_000 })).toBe(124);
  });

  test("a later stage's enqueued signal is emitted by the consumer that stored it, after the stage before completed", async () => {
    const group = await fx.huey.enqueue(fx.fetchNumber.s(4).then(fx.storeResult));
    expect(await group.get({ blocking: true, timeout: 10_000 })).toEqual([4, "stored:4"]);
    await waitFor(() => seen.includes("complete:store-result:1"), "the last stage's complete signal");
    const mine = seen.filter((s) => /^(enqueued|complete):(fetch-number|store-result)/.test(s));
    // Signals of one task's plan come in order; the stage's enqueued follows its predecessor's complete.
    const i = mine.lastIndexOf("complete:fetch-number:1");
    expect(mine.slice(i, i + 2)).toEqual(["complete:fetch-number:1", "enqueued:store-result:1"]);
  });

  test(".then() with something that is not a task is refused at once", () => {
    expect(() => fx.fetchNumber.s(1).then((() => 1) as never)).toThrow(/\.then\(\) needs a task made by huey\.task\(\)/);
  });
});

describe("locks", () => {
  test("a second run while the lock is held is not run: TaskLockedError, signal locked", async () => {
    const a = await fx.lockedOnce(400);
    await waitFor(async () => fx.huey.isLocked("demo:once"), "lock taken");
    const b = await fx.lockedOnce(1);
    const err = await b.get({ blocking: true, timeout: 10_000 }).catch((e: any) => e);
    expect(err.error).toMatchObject({ name: "TaskLockedError", code: "HUEY_LOCKED" });
    expect(await a.get({ blocking: true, timeout: 10_000 })).toBe(400);
    expect(signals).toContain("locked:locked-once");
    await waitFor(async () => !(await fx.huey.isLocked("demo:once")), "lock freed after the run");
  });

  test("a task with retries that finds its lock held is retried, not failed (as in Huey): locked, retrying, scheduled", async () => {
    await fx.huey.storage.acquireLock("demo:retried", "someone-else", Date.now() + 60_000, Date.now());
    const r = await fx.lockedRetried(9);
    await waitFor(() => seen.includes("scheduled:locked-retried:2"), "the first locked run's retry");
    expect(await fx.huey.storage.releaseLock("demo:retried", "someone-else")).toBe(true);
    expect(await r.get({ blocking: true, timeout: 20_000 })).toBe(9);
    await waitFor(() => seen.some((s) => s.startsWith("complete:locked-retried:")), "its complete signal");
    // What the consumer emitted about it (the enqueued of the call comes from this test's enqueue).
    const mine = seen.filter((s) => /^(locked|retrying|scheduled|error|complete):locked-retried:/.test(s));
    expect(mine.slice(0, 3)).toEqual(["locked:locked-retried:1", "retrying:locked-retried:1", "scheduled:locked-retried:2"]);
    expect(mine.at(-1)).toMatch(/^complete:locked-retried:\d$/);
    expect(mine.filter((s) => s.startsWith("error:"))).toEqual([]);
  });

  test("withLock inside a task; flushLocks frees a stale lock", async () => {
    expect(await (await fx.withLockTask("k1")).get({ blocking: true, timeout: 10_000 })).toBe("held");
    await fx.huey.storage.acquireLock("k2", "someone-dead", Date.now() + 60_000, Date.now());
    const err = await (await fx.withLockTask("k2")).get({ blocking: true, timeout: 10_000 }).catch((e: any) => e);
    expect(err.error.code).toBe("HUEY_LOCKED");
    expect(await fx.huey.flushLocks("k2")).toBe(1);
    expect(await (await fx.withLockTask("k2")).get({ blocking: true, timeout: 10_000 })).toBe("held");
  });

  test("huey.lockTask() locks a registered task", async () => {
    expect(fx.viaLockTask.options.lock).toBe("demo:lock-task");
    const a = await fx.viaLockTask(300);
    await waitFor(async () => fx.huey.isLocked("demo:lock-task"), "lock taken");
    const b = await fx.viaLockTask(1);
    const err: any = await b.get({ blocking: true, timeout: 10_000 }).catch((e: any) => e);
    expect(err.error.code).toBe("HUEY_LOCKED");
    expect(await a.get({ blocking: true, timeout: 10_000 })).toBe(300);
  });

  test("a consumer killed with -9 while holding a lock: the lock frees itself when its lease runs out", async () => {
    await consumer.stop(1_000); // only the spawned consumer below may take the task
    const env = { ...process.env, HUEY_DB: process.env.HUEY_DB!, HUEY_LOG_DB: process.env.HUEY_LOG_DB! };
    const p = Bun.spawn(["bun", join(ROOT, "src/cli.ts"), "run", file, "-q", "--lease", "2s"], { env, stdout: "ignore", stderr: "pipe" });
    try {
      await fx.lockedOnce(60_000);
      await waitFor(async () => fx.huey.isLocked("demo:once"), "the spawned consumer holds the lock");
      p.kill("SIGKILL");
      await p.exited;
      expect(await fx.huey.isLocked("demo:once")).toBe(true); // still held: its owner may only be slow
      await waitFor(async () => !(await fx.huey.isLocked("demo:once")), "lease to run out", 15_000);
    } finally {
      p.kill("SIGKILL");
      await fx.huey.flush(); // the 60 s task would come back for the next test's consumers
    }
  });

  test("huey run --flush-locks frees locks left behind before it starts", async () => {
    await fx.huey.storage.acquireLock("left-behind", "a-dead-consumer", Date.now() + 3_600_000, Date.now());
    expect(await fx.huey.isLocked("left-behind")).toBe(true);
    const env = { ...process.env, HUEY_DB: process.env.HUEY_DB!, HUEY_LOG_DB: process.env.HUEY_LOG_DB! };
    const p = Bun.spawn(["bun", join(ROOT, "src/cli.ts"), "run", file, "--flush-locks"], { env, stdout: "ignore", stderr: "pipe" });
    try {
      await waitFor(async () => !(await fx.huey.isLocked("left-behind")), "--flush-locks");
    } finally {
      p.kill("SIGTERM");
      await p.exited;
    }
  });

  test("an empty lock key is refused at definition time, naming the task", () => {
    expect(() => fx.huey.task("bad-lock", { lock: "" }, () => 1)).toThrow(/task "bad-lock": lock: a lock key must be a non-empty string/);
  });

  test("across 3 consumer processes x 4 Workers, two holders never overlap", async () => {
    const n = 40;
    const results = await fx.exclusive.map(Array.from({ length: n }, (_, i) => [i] as [number]));
    const env = { ...process.env, HUEY_DB: process.env.HUEY_DB!, HUEY_LOG_DB: process.env.HUEY_LOG_DB! };
    const procs = [0, 1, 2].map(() =>
      Bun.spawn(["bun", join(ROOT, "src/cli.ts"), "run", file, "-w", "4", "-q", "--prefetch", "0", "--grace", "2s"], { env, stdout: "ignore", stderr: "pipe" }),
    );
    try {
      expect((await results.get({ blocking: true, timeout: 50_000 })).length).toBe(n);
    } finally {
      for (const p of procs) p.kill("SIGTERM");
      await Promise.all(procs.map((p) => p.exited));
    }
    const spans = new Database(process.env.HUEY_LOG_DB!).query("SELECT n, start, end FROM spans ORDER BY start").all() as {
      n: number; start: number; end: number;
    }[];
    expect(new Set(spans.map((s) => s.n)).size).toBe(n);
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.start).toBeGreaterThanOrEqual(spans[i - 1]!.end);
  });

  test("a consumer killed with -9 mid-pipeline: the next consumer resumes it from storage", async () => {
    // The in-process consumer was stopped above: only the spawned ones run tasks here.
    const env = { ...process.env, HUEY_DB: process.env.HUEY_DB!, HUEY_LOG_DB: process.env.HUEY_LOG_DB! };
    const args = ["bun", join(ROOT, "src/cli.ts"), "run", file, "-q", "--lease", "1s", "--grace", "1s"];
    const group = await fx.huey.enqueue(fx.fetchNumber.s(3).then(fx.slowDouble, 2_000).then(fx.storeResult));
    const first = Bun.spawn(args, { env, stdout: "ignore", stderr: "pipe" });
    let second: ReturnType<typeof Bun.spawn> | null = null;
    try {
      await waitFor(async () => (await group.at(0)!.ready()) && (await fx.huey.storage.leasedCount()) > 0, "stage 2 running");
      first.kill("SIGKILL");
      await first.exited;
      expect(await group.at(1)!.ready()).toBe(false);
      second = Bun.spawn(args, { env, stdout: "ignore", stderr: "pipe" });
      expect(await group.get({ blocking: true, timeout: 30_000 })).toEqual([3, 6, "stored:6"]);
    } finally {
      first.kill("SIGKILL");
      second?.kill("SIGTERM");
      await second?.exited;
    }
  });

  test("a chord whose last member finished in a consumer that died before the callback: the next consumer enqueues it", async () => {
    await fx.huey.flush();
    const callback = await fx.huey.chord([fx.fetchNumber.s(1), fx.fetchNumber.s(2)], fx.sum, 10);
    // Play the consumer that died: run both members and store their results, but no callback.
    const leased = await fx.huey.storage.lease(10, Date.now() + 60_000);
    expect(leased.map((l) => l.name)).toEqual(["fetch-number", "fetch-number"]);
    await fx.huey.storage.commit({
      ack: leased.map(({ id, token }) => ({ id, token })),
      results: leased.map((l) => ({ id: l.id, payload: JSON.stringify({ ok: true, value: JSON.parse(l.payload).args[0] }) })),
    });
    expect(await callback.ready()).toBe(false);
    const env = { ...process.env, HUEY_DB: process.env.HUEY_DB!, HUEY_LOG_DB: process.env.HUEY_LOG_DB! };
    const p = Bun.spawn(["bun", join(ROOT, "src/cli.ts"), "run", file, "-q", "--grace", "1s"], { env, stdout: "ignore", stderr: "pipe" });
    try {
      expect(await callback.get({ blocking: true, timeout: 30_000 })).toBe(13);
      await waitFor(async () => (await fx.huey.storage.listData("chord", 10)).length === 0, "chord records removed");
    } finally {
      p.kill("SIGTERM");
      await p.exited;
    }
  });
});

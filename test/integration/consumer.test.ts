// The consumer with real Bun Workers on a temporary SQLite file, in this process.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import * as api from "../../src/index";
import { Consumer } from "../../src/consumer/consumer";
import { registerModulePlugin } from "../../src/consumer/loader";
import { Logger } from "../../src/consumer/logger";
import type { ConsumerOptions } from "../../src/consumer/options";
import type { Huey } from "../../src/huey";
import type { SignalName } from "../../src/signals";
import { tempDir, waitFor } from "../harness";

// The fixture imports "bun-huey": register the module before the first import of it.
registerModulePlugin(api as unknown as Record<string, unknown>);
const { defineTasks, writeTasksWrapper, openRuns } = await import("../fixtures/int-fixture");

const TIMEOUT = { blocking: true, timeout: 15_000 } as const;
const FINAL: SignalName[] = ["complete", "error", "interrupted"];
setDefaultTimeout(30_000);

/** Every signal by task id, in arrival order. */
function recordSignals(huey: Huey) {
  const byId = new Map<string, SignalName[]>();
  const errors = new Map<string, Error>();
  huey.signal([], (signal, task, error) => {
    let list = byId.get(task.id);
    if (!list) byId.set(task.id, (list = []));
    list.push(signal);
    if (error) errors.set(task.id, error);
  });
  return {
    byId,
    errors,
    of: (id: string) => byId.get(id) ?? [],
    /**
     * Wait until task `id` has had a final signal (complete, error, interrupted) and as many signals
     * as `expected` holds, then assert the whole sequence (on timeout too, for a readable diff).
     */
    expect: async (id: string, expected: SignalName[]) => {
      const list = () => byId.get(id) ?? [];
      await waitFor(() => list().some((s) => FINAL.includes(s)) && list().length >= expected.length, `signals of ${id}`, 5_000).catch(
        () => {},
      );
      expect(list()).toEqual(expected);
    },
  };
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A fresh file, its tasks, a Consumer (not started) whose Workers load the same tasks, and a log. */
function setup(options: ConsumerOptions = {}) {
  const dir = tempDir("huey-int-");
  const db = join(dir, "queue.db");
  const tasks = defineTasks(db);
  const file = writeTasksWrapper(db, dir);
  const lines: string[] = [];
  const logger = new Logger("info", "text", (s) => lines.push(s));
  const consumer = new Consumer(
    tasks.huey,
    { file, instance: null },
    { workers: 2, handleSignals: false, grace: "5s", ...options },
    logger,
  );
  const signals = recordSignals(tasks.huey);
  cleanups.push(async () => {
    await consumer.stop(0);
    await tasks.huey.close();
  });
  return { ...tasks, db, file, consumer, signals, log: () => lines.join("") };
}

describe("consumer with 2 Workers on SQLite", () => {
  test("500 tasks: every result arrives with its value; each task signals [enqueued, executing, complete]", async () => {
    const { huey, add, consumer, signals } = setup();
    await consumer.start();
    const group = await huey.enqueueMany<number>(Array.from({ length: 500 }, (_, i) => [add, [i, 1000 * i]] as const));
    const results = [...group];
    expect(results).toHaveLength(500);
    const values = await Promise.all(results.map((r) => r.get(TIMEOUT)));
    expect(values).toEqual(results.map((_, i) => i + 1000 * i));
    for (const r of results) await signals.expect(r.id, ["enqueued", "executing", "complete"]);
    expect(consumer.stats).toMatchObject({ completed: 500, failed: 0, retried: 0, workerRestarts: 0 });
  });

  test("a failing task with retries 1: [enqueued, executing, error, retrying, enqueued, executing, error]; get() throws the remote error", async () => {
    const { fails, consumer, signals } = setup();
    await consumer.start();
    const r = await fails("card declined");
    const err = await r.get(TIMEOUT).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(api.TaskFailedError);
    const failed = err as api.TaskFailedError;
    expect(failed.code).toBe("HUEY_TASK_FAILED");
    expect(failed.taskId).toBe(r.id);
    expect(failed.attempts).toBe(2);
    expect(failed.error.name).toBe("CodedError");
    expect(failed.error.message).toBe("card declined");
    expect(failed.error.code).toBe("E_CUSTOM");
    expect(failed.error.stack).toContain("card declined");
    expect(failed.error.stack).toContain("int-fixture");
    expect(failed.message).toContain("CodedError: card declined");
    await signals.expect(r.id, ["enqueued", "executing", "error", "retrying", "enqueued", "executing", "error"]);
    // The error signal carries the remote error, matched by code across the thread boundary.
    expect(signals.errors.get(r.id)).toMatchObject({ name: "CodedError", message: "card declined", code: "E_CUSTOM" });
  });

  test("RetryTask thrown by a task with retries 0 is retried", async () => {
    const { retryOnce, consumer, signals } = setup();
    await consumer.start();
    const r = await retryOnce("k");
    expect(await r.get(TIMEOUT)).toBe(2);
    await signals.expect(r.id, ["enqueued", "executing", "retrying", "enqueued", "executing", "complete"]);
  });

  test("a signal handler that throws is logged and changes nothing", async () => {
    const { huey, add, consumer, signals, log } = setup();
    huey.signal("complete", () => {
      throw new Error("handler boom");
    });
    await consumer.start();
    const r1 = await add(2, 3);
    expect(await r1.get(TIMEOUT)).toBe(5);
    await signals.expect(r1.id, ["enqueued", "executing", "complete"]);
    // The consumer keeps going.
    const r2 = await add(4, 5);
    expect(await r2.get(TIMEOUT)).toBe(9);
    await signals.expect(r2.id, ["enqueued", "executing", "complete"]);
    // One log entry per throw, each with its stack (where "handler boom" is named again): count the entries.
    const thrown = () => log().match(/a "complete" signal handler threw: handler boom/g)?.length ?? 0;
    await waitFor(() => thrown() >= 2, "two logged handler errors");
    expect(thrown()).toBe(2);
    expect(consumer.stats).toMatchObject({ completed: 2, failed: 0, retried: 0 });
  });
});

describe("Workers that die", () => {
  test("process.exit(1) in a task with retries: the Worker is replaced and the task is retried", async () => {
    const { exitOnce, add, consumer, signals, db } = setup();
    await consumer.start();
    const r = await exitOnce("exit-once");
    const others = await Promise.all(Array.from({ length: 20 }, (_, i) => add(i, i)));
    expect(await r.get(TIMEOUT)).toBe(2);
    expect(await Promise.all(others.map((o) => o.get(TIMEOUT)))).toEqual(others.map((_, i) => 2 * i));
    expect(consumer.stats.workerRestarts).toBe(1);
    await signals.expect(r.id, ["enqueued", "executing", "error", "retrying", "enqueued", "executing", "complete"]);
    // The error and retrying signals carried the Worker's death.
    expect(signals.errors.get(r.id)).toMatchObject({ code: "HUEY_WORKER_DIED" });
    expect(consumer.stats.retried).toBe(1);
    const runs = openRuns(db);
    expect(runs.query("SELECT n FROM int_runs WHERE key = 'exit-once'").get()).toEqual({ n: 2 });
    runs.close();
  });

  test("process.exit(1) in a task without retries: it fails with WorkerDiedError (HUEY_WORKER_DIED), others keep running", async () => {
    const { exitAlways, add, consumer, signals } = setup();
    await consumer.start();
    const r = await exitAlways();
    const others = await Promise.all(Array.from({ length: 20 }, (_, i) => add(i, 1)));
    const err = (await r.get(TIMEOUT).then(
      () => null,
      (e: unknown) => e,
    )) as api.TaskFailedError;
    expect(err).toBeInstanceOf(api.TaskFailedError);
    expect(err.error.code).toBe("HUEY_WORKER_DIED");
    expect(err.error.name).toBe("WorkerDiedError");
    expect(await Promise.all(others.map((o) => o.get(TIMEOUT)))).toEqual(others.map((_, i) => i + 1));
    // One death, one replacement: the task is not run again on a fresh Worker.
    expect(consumer.stats.workerRestarts).toBe(1);
    await signals.expect(r.id, ["enqueued", "executing", "error"]);
    await waitFor(() => consumer.stats.workerRestarts === 1 && consumer.stats.failed === 1, "stats settle");
  });

  test("an error thrown outside the task kills the Worker: replaced, and the task retried", async () => {
    const { throwOutside, add, consumer, signals } = setup();
    await consumer.start();
    const r = await throwOutside("outside");
    const other = await add(1, 1);
    expect(await r.get(TIMEOUT)).toBe(2);
    expect(await other.get(TIMEOUT)).toBe(2);
    expect(consumer.stats.workerRestarts).toBe(1);
    await signals.expect(r.id, ["enqueued", "executing", "error", "retrying", "enqueued", "executing", "complete"]);
  });
});

describe("scheduling", () => {
  test('schedule(args, { delay: "300ms" }) runs at or after its eta, not before', async () => {
    const { huey, now, consumer, signals } = setup();
    await consumer.start();
    const r = await now.schedule([], { delay: "300ms" });
    const item = (await huey.storage.listScheduled(10)).find((s) => s.id === r.id);
    expect(item).toBeDefined();
    const ranAt = await r.get(TIMEOUT);
    expect(ranAt).toBeGreaterThanOrEqual(item!.eta);
    await signals.expect(r.id, ["scheduled", "executing", "complete"]);
  });

  test("a task name this consumer does not know stays in the queue's schedule; the other tasks run", async () => {
    const { db, add, huey, consumer } = setup({ unknownTaskDelay: "60s" });
    // A second Huey on the same file that knows one more task.
    const other = defineTasks(db, { extra: true });
    cleanups.push(() => other.huey.close());
    const unknown = await other.extra!();
    await consumer.start();
    const known = await Promise.all([add(1, 2), add(3, 4)]);
    expect(await Promise.all(known.map((k) => k.get(TIMEOUT)))).toEqual([3, 7]);
    await waitFor(async () => (await huey.scheduledCount()) === 1, "the unknown task in the schedule");
    expect(await huey.pendingCount()).toBe(0);
    const [item] = await huey.storage.listScheduled(10);
    expect(item).toMatchObject({ id: unknown.id, name: "int.extra" });
    expect(await unknown.get()).toBeUndefined();
  });

  test("a task enqueued inside another task runs too; its enqueued signal reaches the consumer's thread", async () => {
    const { parent, huey, consumer, signals } = setup();
    await consumer.start();
    const r = await parent(21);
    const childId = await r.get(TIMEOUT);
    expect(typeof childId).toBe("string");
    expect(await huey.result<number>(childId!).get(TIMEOUT)).toBe(42);
    // The child's enqueued comes from the parent's Worker, its executing from the main thread: no
    // order between the two threads, so only executing before complete (one thread) is asserted.
    await waitFor(() => signals.of(childId!).length === 3, "the child's three signals");
    expect([...signals.of(childId!)].sort()).toEqual(["complete", "enqueued", "executing"]);
    expect(signals.of(childId!).filter((s) => s !== "enqueued")).toEqual(["executing", "complete"]);
    await signals.expect(r.id, ["enqueued", "executing", "complete"]);
  });
});

describe("placement", () => {
  test("-w 4 after warm-up: fast tasks queued with a slow one run on the idle Workers, not behind it", async () => {
    const { huey, add, gated, consumer } = setup({ workers: 4 });
    await consumer.start();
    // Warm-up: every Worker learns that tasks are short, so each may prefetch many.
    const warm = await huey.enqueueMany<number>(Array.from({ length: 400 }, (_, i) => [add, [i, 0]] as const));
    await Promise.all([...warm].map((r) => r.get(TIMEOUT)));
    // Queued together, the slow one first. It runs until the fast ones are done: if they waited behind
    // it in its Worker, this would never finish.
    const [slow, ...fast] = [...(await huey.enqueueMany([[gated, ["gate"]], [add, [1, 1]], [add, [2, 2]], [add, [3, 3]]]))];
    expect(await Promise.all(fast.map((r) => r.get(TIMEOUT)))).toEqual([2, 4, 6]);
    await huey.put("gate", true);
    expect(await slow!.get(TIMEOUT)).toBe("opened");
  });
});

describe("graceful stop", () => {
  test("tasks given back unstarted at a stop do not count towards maxLeases; the one that ran does", async () => {
    // -w 1 after warm-up: the Worker prefetches the tasks queued behind the gated one. At the stop they
    // go back unstarted; the gated one is interrupted after the grace. Each stop used to count a lease of
    // every prefetched task, so a few restarts failed tasks that never ran (maxLeases).
    const { huey, add, gated, consumer, signals } = setup({ workers: 1, timeoutGrace: "100ms" });
    await consumer.start();
    const warm = await huey.enqueueMany<number>(Array.from({ length: 100 }, (_, i) => [add, [i, 0]] as const));
    await Promise.all([...warm].map((r) => r.get(TIMEOUT)));
    const [slow, ...waiting] = [...(await huey.enqueueMany([[gated, ["never"]], [add, [1, 1]], [add, [2, 2]], [add, [3, 3]]]))];
    await waitFor(() => signals.of(slow!.id).includes("executing"), "the gated task to start");
    await waitFor(async () => (await huey.storage.leasedCount()) === 4, "all four leased");
    await consumer.stop(100);
    const leases = new Map((await huey.storage.lease(10, Date.now() + 60_000)).map((l) => [l.id, l.leases]));
    expect(leases.get(slow!.id)).toBe(2);
    expect(waiting.map((r) => leases.get(r.id))).toEqual([1, 1, 1]);
  });

  test("stop() while a task runs lets it finish", async () => {
    const { sleep, consumer, signals } = setup();
    await consumer.start();
    const r = await sleep(300);
    await waitFor(() => signals.of(r.id).includes("executing"), "the task started");
    await consumer.stop(5_000);
    expect(signals.of(r.id)).toEqual(["enqueued", "executing", "complete"]);
    expect(await r.get()).toBe(300);
    expect(consumer.stats).toMatchObject({ completed: 1, interrupted: 0 });
  });

  test("stop(100) while a task sleeps 10s returns it to the queue and emits interrupted", async () => {
    // The task ignores its AbortSignal: after grace, it gets timeoutGrace more, then its Worker goes.
    const { huey, sleep, consumer, signals } = setup({ timeoutGrace: "100ms" });
    await consumer.start();
    const r = await sleep(10_000);
    await waitFor(() => signals.of(r.id).includes("executing"), "the task started");
    // stop() returns although the task would run 10s more (past this test's timeout): it did not wait for it.
    await consumer.stop(100);
    expect(signals.of(r.id)).toEqual(["enqueued", "executing", "interrupted"]);
    expect(consumer.stats.interrupted).toBe(1);
    expect(await huey.pendingCount()).toBe(1);
    expect(await r.get()).toBeUndefined();
  });

  test("stop(grace) does not wait longer than grace + timeoutGrace for a task that ignores its AbortSignal", async () => {
    const { sleep, consumer, signals } = setup({ timeoutGrace: "100ms" });
    await consumer.start();
    const r = await sleep(3_600_000);
    await waitFor(() => signals.of(r.id).includes("executing"), "the task started");
    // The task would run for an hour: stop() returning at all (before this test's timeout) shows it
    // gave up after grace + timeoutGrace. The Worker still runs the task, so it will never run its
    // onShutdown hooks: there is nothing else worth waiting for.
    await consumer.stop(100);
    expect(signals.of(r.id)).toEqual(["enqueued", "executing", "interrupted"]);
  });
});

test("an idle consumer commits a task's result before it leases again", async () => {
  // Once a task's outcome reaches the consumer's thread, its commit goes before the next lease, so the
  // result is not held behind a lease that finds nothing. The order of calls on the consumer's thread.
  const { huey, add, consumer } = setup({ workers: 1 });
  await consumer.start();
  expect(await (await add(0, 0)).get({ blocking: true, timeout: 15_000 })).toBe(0); // the Worker is up
  const calls: string[] = [];
  const spy = (target: unknown, name: string, as = name) => {
    const o = target as Record<string, (...a: unknown[]) => unknown>;
    const orig = o[name]!.bind(o);
    o[name] = (...a: unknown[]) => {
      calls.push(as);
      return orig(...a);
    };
  };
  spy(huey.storage, "lease");
  spy(huey.storage, "leaseWithData", "lease"); // how the consumer leases on SQLite
  spy(huey.storage, "commit");
  spy(consumer.engine, "done");
  for (let i = 1; i <= 5; i++) {
    calls.length = 0;
    const r = await add(i, 1);
    expect(await r.get({ blocking: true, timeout: 15_000 })).toBe(i + 1);
    // Once the Worker's outcome is in (done), the next write is its commit: no lease comes first.
    // (A lease before the outcome, on a chore's timer, is allowed.)
    const at = calls.indexOf("done");
    expect(calls.slice(at, calls.indexOf("commit", at) + 1)).toEqual(["done", "commit"]);
  }
});

// Task controls with a real consumer and real Workers on a temporary SQLite file.
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { join } from "node:path";
import * as api from "../../src/index";
import { Consumer } from "../../src/consumer/consumer";
import { loadTasksFile, registerModulePlugin } from "../../src/consumer/loader";
import { Logger } from "../../src/consumer/logger";
import type { SignalName } from "../../src/signals";
import { FIXTURES, tempDb, waitFor } from "../harness";

// Spawns Workers and processes on a 2-core machine: a minute per test, not bun's 5 s default
// (setDefaultTimeout applies to the file that calls it; bunfig.toml has no such setting).
setDefaultTimeout(60_000);

type Fixture = typeof import("../fixtures/ctl-fixture");
let fx: Fixture;
let consumer: Consumer;
const events: [SignalName, string, string][] = [];
const logs: string[] = [];

function signalsOf(id: string): SignalName[] {
  return events.filter((e) => e[1] === id).map((e) => e[0]);
}

beforeAll(async () => {
  process.env.HUEY_DB = tempDb("ctl.db");
  registerModulePlugin(api as unknown as Record<string, unknown>);
  const file = join(FIXTURES, "ctl-fixture.ts");
  const { huey } = await loadTasksFile(file, null);
  fx = (await import(file)) as Fixture;
  huey.signal([], (signal, task) => void events.push([signal, task.id, task.name]));
  consumer = new Consumer(
    huey,
    { file, instance: null },
    { workers: 2, handleSignals: false, timeoutGrace: 300, logLevel: "debug" },
    new Logger("debug", "text", (s) => void logs.push(s)),
  );
  await consumer.start();
});

afterAll(async () => {
  await consumer?.stop(1_000);
});

describe("task controls", () => {
  test("retries with exponential backoff, then a dead letter with the error", async () => {
    const t0 = Date.now();
    const r = await fx.boom();
    const err = await r.get({ blocking: true, timeout: 10_000 }).catch((e: any) => e);
    expect(err.code).toBe("HUEY_TASK_FAILED");
    expect(err.error).toMatchObject({ name: "Error", message: "boom!", code: "E_BOOM" });
    expect(err.attempts).toBe(3);
    // delays 20ms then 40ms
    expect(Date.now() - t0).toBeGreaterThanOrEqual(60);
    await waitFor(() => signalsOf(r.id).filter((s) => s === "error").length === 3, "the third error signal");
    const retry = ["executing", "error", "retrying", "scheduled"] as const;
    expect(signalsOf(r.id)).toEqual(["enqueued", ...retry, ...retry, "executing", "error"]);
    const dead = await fx.huey.failed();
    const dl = dead.find((d) => d.id === r.id)!;
    expect(dl).toMatchObject({ name: "boom", args: [], attempts: 3, error: { message: "boom!", code: "E_BOOM" } });
    // retryFailed enqueues it again with its retries restored
    const again = await fx.huey.retryFailed(r.id);
    expect(again.id).toBe(r.id);
    expect((await fx.huey.failed()).some((d) => d.id === r.id)).toBe(false);
    await waitFor(async () => (await fx.huey.failed()).some((d) => d.id === r.id), "failed again");
    expect(await fx.huey.purgeFailed(r.id)).toBe(1);
  });

  test("a synchronous loop past its timeout: Worker replaced, TaskTimeoutError, signal timeout", async () => {
    const restarts = consumer.stats.workerRestarts;
    const r = await fx.spin();
    const err = await r.get({ blocking: true, timeout: 10_000 }).catch((e: any) => e);
    expect(err.error).toMatchObject({ name: "TaskTimeoutError", code: "HUEY_TASK_TIMEOUT" });
    expect(consumer.stats.workerRestarts).toBe(restarts + 1);
    await waitFor(() => signalsOf(r.id).includes("error"), "error signal");
    expect(signalsOf(r.id)).toEqual(["enqueued", "executing", "timeout", "error"]);
    // the new Worker runs tasks
    expect(await (await fx.ok(7)).get({ blocking: true, timeout: 10_000 })).toBe(7);
  });

  test("a task that honours its AbortSignal stops at its timeout without a Worker restart", async () => {
    const restarts = consumer.stats.workerRestarts;
    const r = await fx.polite();
    const err = await r.get({ blocking: true, timeout: 10_000 }).catch((e: any) => e);
    expect(err.error.name).toBe("TaskTimeoutError");
    expect(consumer.stats.workerRestarts).toBe(restarts);
  });

  test("context: id, attempt, retries, signal and progress", async () => {
    const r = await fx.withCtx(5);
    expect(await r.get({ blocking: true, timeout: 10_000 })).toEqual({ id: r.id, attempt: 1, retries: 3, aborted: false });
  });

  test("progress of a running task is readable; revoking it fires its AbortSignal (signal revoked)", async () => {
    const r = await fx.longRunning();
    await waitFor(async () => (await r.progress()) === 0.5, "progress 0.5");
    await r.revoke();
    await waitFor(() => signalsOf(r.id).includes("revoked"), "revoked signal");
    expect(signalsOf(r.id)).toEqual(["enqueued", "executing", "revoked"]);
    expect(await r.progress()).toBeUndefined(); // dropped with the task
  });

  test("CancelExecution from a task or a pre-execute hook: signal canceled, no result, no retry", async () => {
    const a = await fx.canceled();
    const b = await fx.vetoed();
    await waitFor(() => signalsOf(a.id).includes("canceled") && signalsOf(b.id).includes("canceled"), "canceled signals");
    expect(signalsOf(a.id)).toEqual(["enqueued", "executing", "canceled"]);
    expect(signalsOf(b.id)).toEqual(["enqueued", "executing", "canceled"]);
    expect(await a.get()).toBeUndefined();
    expect(await b.get()).toBeUndefined();
  });

  test("revoked before running: skipped with signal revoked; a task revoke with once skips one run", async () => {
    const r = await fx.ok.schedule(["x"], { id: "will-be-revoked", delay: 100 });
    await fx.huey.revokeById("will-be-revoked");
    await waitFor(() => signalsOf(r.id).includes("revoked"), "revoked signal");
    expect(signalsOf(r.id)).toEqual(["scheduled", "revoked"]);
    expect(await fx.huey.isRevokedId("will-be-revoked")).toBe(false); // used up
    // an unknown id, or a finished task, is an error at the call
    await expect(fx.huey.revokeById("no-such-task")).rejects.toThrow(/no task with id no-such-task is queued, scheduled or running/);
    const done = await fx.ok(1);
    await done.get({ blocking: true, timeout: 10_000 });
    await expect(done.revoke()).rejects.toThrow(/has already finished/);

    await fx.thread.revoke({ once: true });
    expect(await fx.thread.isRevoked()).toBe(true);
    const skipped = await fx.thread();
    await waitFor(() => signalsOf(skipped.id).includes("revoked"), "task-level revoke");
    expect(await fx.thread.isRevoked()).toBe(false);
    const ran = await fx.thread();
    expect(typeof (await ran.get({ blocking: true, timeout: 10_000 }))).toBe("number");
  });

  test("expires: a task not started in time is skipped with signal expired", async () => {
    const r = await fx.ok.schedule(["late"], { eta: Date.now() + 50, expires: new Date(Date.now() + 10) });
    await waitFor(() => signalsOf(r.id).includes("expired"), "expired signal");
    expect(signalsOf(r.id)).toEqual(["scheduled", "expired"]);
    expect(await r.get()).toBeUndefined();
  });

  test("rate limit: at most 2 per second window, the rest delayed and then run, none lost", async () => {
    // Counted by admission window, not by start time (a run starts after its admission, maybe in the
    // next window): admissions are at or after t0, at most 2 per window, so the 3rd to 5th run start
    // at or after the start of t0's window + 1 s, and the 5th at or after + 2 s.
    const t0 = Date.now();
    const window0 = Math.floor(t0 / 1000) * 1000;
    const group = await fx.limited.map([[], [], [], [], []]);
    const times = (await group.get({ blocking: true, timeout: 15_000 })) as number[];
    expect(times.length).toBe(5);
    expect(times.filter((t) => t >= window0 + 1000).length).toBeGreaterThanOrEqual(3);
    expect(times.filter((t) => t >= window0 + 2000).length).toBeGreaterThanOrEqual(1);
    expect(events.filter((e) => e[0] === "rate-limited" && e[2] === "limited").length).toBeGreaterThanOrEqual(1);
  });

  test("unique: enqueuing an equal task while one is queued or running returns the same Result", async () => {
    const a = await fx.uniq("k1");
    const b = await fx.uniq("k1");
    const c = await fx.uniq("k2");
    expect(b.id).toBe(a.id);
    expect(c.id).not.toBe(a.id);
    expect(await a.get({ blocking: true, timeout: 10_000 })).toBe("k1");
    // finished: a new one may be enqueued
    await waitFor(async () => (await fx.uniq("k1")).id !== a.id, "unique key released");
  });

  test("result TTL, preserve: false, ResultGroup.asCompleted", async () => {
    const group = await fx.slowOk.map([[120], [10], [60]]);
    const order: number[] = [];
    for await (const [, v] of group.asCompleted({ timeout: 10_000 })) order.push(v as number);
    expect(order.sort((x, y) => x - y)).toEqual([10, 60, 120]);
    const r = group.at(1)!;
    expect(await r.get({ preserve: false })).toBe(10);
    expect(await r.get()).toBeUndefined();
  });

  test("key-value data is shared with the store", async () => {
    await fx.huey.put("answer", { n: 42, at: new Date(0) });
    expect(await fx.huey.get("answer", { peek: true })).toEqual({ n: 42, at: new Date(0) });
    expect(await fx.huey.putIfEmpty("answer", 1)).toBe(false);
    expect(await fx.huey.get("answer")).toEqual({ n: 42, at: new Date(0) });
    expect(await fx.huey.get("answer")).toBeUndefined();
  });

  test("a periodic task with a seconds-level cron runs on its ticks; periodicTasks() lists its next run", async () => {
    await waitFor(async () => ((await fx.huey.get<number>("ticks", { peek: true })) ?? 0) >= 2, "two ticks", 10_000);
    const [p] = fx.huey.periodicTasks().filter((t) => t.name === "every-second");
    expect(p!.nextRun! % 1000).toBe(0);
    expect(p!.nextRun!).toBeGreaterThan(Date.now() - 1000);
  });

  test("introspection lists pending and scheduled tasks with their arguments", async () => {
    const r = await fx.ok.schedule([{ hello: "world" }], { delay: "1h", priority: 3 });
    const scheduled = await fx.huey.scheduled();
    const mine = scheduled.find((s) => s.id === r.id)!;
    expect(mine).toMatchObject({ name: "ok", args: [{ hello: "world" }], priority: 3 });
    expect(mine.eta).toBeGreaterThan(Date.now() + 3_500_000);
    await r.revoke();
    expect(await r.isRevoked()).toBe(true);
    expect(await r.restore()).toBe(true);
  });
});

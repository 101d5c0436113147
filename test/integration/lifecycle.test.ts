// Worker lifecycle: startup/shutdown/post-execute hooks, --max-tasks recycling, the consumer's
// default timeout, and reschedule. Real Workers on a temporary SQLite file.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { join } from "node:path";
import * as api from "../../src/index";
import { Consumer } from "../../src/consumer/consumer";
import { loadTasksFile, registerModulePlugin } from "../../src/consumer/loader";
import { Logger } from "../../src/consumer/logger";
import { FIXTURES, tempDb, waitFor } from "../harness";

// Spawns Workers on a 2-core machine: a minute per test, not bun's 5 s default.
setDefaultTimeout(60_000);

type Fixture = typeof import("../fixtures/life-fixture");
const file = join(FIXTURES, "life-fixture.ts");
let fx: Fixture;
let consumer: Consumer;

const keys = async (prefix: string) => (await fx.huey.storage.listData(`kv:${prefix}`, 100)).map((r) => r.key);

beforeAll(async () => {
  process.env.HUEY_DB = tempDb("life.db");
  registerModulePlugin(api as unknown as Record<string, unknown>);
  const { huey } = await loadTasksFile(file, null);
  fx = (await import(file)) as Fixture;
  // Two dead letters before the consumer starts: one past the default 7-day retention.
  const deadLetter = (id: string, failedAt: number) =>
    huey.storage.putData(`failed:${id}`, JSON.stringify({ id, name: "fails", args: [], error: { name: "Error", message: "old" }, attempts: 1, failedAt, payload: "{}" }));
  await deadLetter("eight-days-old", Date.now() - 8 * 86_400_000);
  await deadLetter("one-day-old", Date.now() - 86_400_000);
  // A result past its TTL that nobody reads: the consumer drops it.
  await huey.storage.putResult({ id: "expired-result", payload: "1", expiresAt: Date.now() - 1 });
  consumer = new Consumer(
    huey,
    { file, instance: null },
    { workers: 2, maxTasks: 3, timeout: 300, timeoutGrace: 200, handleSignals: false },
    new Logger("warn", "text", () => {}),
  );
  await consumer.start();
});

afterAll(async () => {
  await consumer?.stop(1_000);
});

test("dead letters older than failedRetention (7 days) are dropped; younger ones are kept", async () => {
  await waitFor(async () => (await fx.huey.failed()).every((d) => d.id !== "eight-days-old"), "the old dead letter to go");
  expect((await fx.huey.failed()).map((d) => d.id)).toContain("one-day-old");
});

test("results past their TTL are dropped by the consumer, not only hidden", async () => {
  const db = (fx.huey.storage as unknown as { database: Database }).database;
  const hasRow = () => db.query("SELECT 1 FROM results WHERE id = 'expired-result'").get() !== null;
  await waitFor(() => !hasRow(), "the expired result's row to go");
});

test("onStartup runs in each Worker before it takes tasks", async () => {
  await waitFor(async () => (await keys("startup:")).length >= 2, "two startup hooks");
});

test("postExecute sees each task's value or error", async () => {
  const ok = await fx.echo(42);
  const bad = await fx.fails();
  await bad.get({ blocking: true, timeout: 10_000 }).catch(() => {});
  // Two Workers: either task may finish first.
  await waitFor(async () => (await fx.huey.get(`post:${bad.id}`, { peek: true })) !== undefined, "post hook of the failure");
  await waitFor(async () => (await fx.huey.get(`post:${ok.id}`, { peek: true })) !== undefined, "post hook of the success");
  expect(await fx.huey.get(`post:${ok.id}`, { peek: true })).toEqual({ value: 42 });
  expect(await fx.huey.get(`post:${bad.id}`, { peek: true })).toBe("error: as planned");
});

test("--max-tasks: a Worker is replaced after 3 tasks; nothing is lost", async () => {
  const recycled = consumer.stats.recycled;
  const threads: number[] = [];
  for (let i = 0; i < 9; i++) threads.push((await (await fx.thread()).get({ blocking: true, timeout: 10_000 })) as number);
  expect(consumer.stats.recycled).toBeGreaterThanOrEqual(recycled + 2);
  expect(new Set(threads).size).toBeGreaterThanOrEqual(3);
  // each Worker thread ran at most 3 tasks
  const perThread = new Map<number, number>();
  for (const t of threads) perThread.set(t, (perThread.get(t) ?? 0) + 1);
  expect(Math.max(...perThread.values())).toBeLessThanOrEqual(3);
});

test("the consumer's default timeout applies to tasks without their own", async () => {
  const r = await fx.sleepy(10_000);
  const err = (await r.get({ blocking: true, timeout: 10_000 }).catch((e: unknown) => e)) as { error: { name: string } };
  expect(err.error.name).toBe("TaskTimeoutError");
  expect(await (await fx.sleepy(5)).get({ blocking: true, timeout: 10_000 })).toBe(5);
});

test("reschedule: the original is revoked and a copy runs later with the same arguments", async () => {
  const r = await fx.echo.schedule(["later"], { delay: "1h" });
  const t0 = Date.now();
  const copy = await r.reschedule({ delay: 200 });
  expect(copy.id).not.toBe(r.id);
  expect(await copy.get({ blocking: true, timeout: 10_000 })).toBe("later");
  expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
  expect(await r.isRevoked()).toBe(true);
});

test("onShutdown runs in each Worker as the consumer stops", async () => {
  await consumer.stop(1_000);
  const live = await keys("startup:");
  const down = await keys("shutdown:");
  // every Worker alive at the stop ran its hook (recycled ones ran theirs when they were retired)
  expect(down.length).toBeGreaterThanOrEqual(2);
  expect(down.length).toBeLessThanOrEqual(live.length);
});

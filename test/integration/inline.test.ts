// `workers: 0` (huey run -w 0): tasks on the consumer's own thread, through the same engine and group
// commit as with Workers, on a temporary SQLite file.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import * as api from "../../src/index";
import { Consumer } from "../../src/consumer/consumer";
import { registerModulePlugin } from "../../src/consumer/loader";
import { Logger } from "../../src/consumer/logger";
import { tempDir, waitFor } from "../harness";

registerModulePlugin(api as unknown as Record<string, unknown>);
const { defineTasks, writeTasksWrapper } = await import("../fixtures/int-fixture");

setDefaultTimeout(30_000);
const TIMEOUT = { blocking: true, timeout: 15_000 } as const;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup() {
  const dir = tempDir("huey-inline-");
  const db = join(dir, "queue.db");
  const tasks = defineTasks(db);
  const lines: string[] = [];
  const consumer = new Consumer(tasks.huey, { file: writeTasksWrapper(db, dir), instance: null }, { workers: 0, handleSignals: false, grace: "5s" }, new Logger("info", "text", (s) => lines.push(s)));
  cleanups.push(async () => {
    await consumer.stop(0);
    await tasks.huey.close();
  });
  return { ...tasks, db, consumer, log: () => lines.join("") };
}

describe("a consumer with workers: 0", () => {
  test("runs 1,000 tasks on its own thread: every result stored, signals as with Workers, no Worker started", async () => {
    const { huey, add, consumer, log } = setup();
    const seen = new Map<string, string[]>();
    huey.signal([], (signal, task) => void (seen.get(task.id) ?? seen.set(task.id, []).get(task.id)!).push(signal));
    await consumer.start();
    consumer.log.flush();
    expect(log()).toContain("tasks on this thread (-w 0)");
    const group = await huey.enqueueMany<number>(Array.from({ length: 1000 }, (_, i) => [add, [i, 1]] as const));
    const values = await Promise.all([...group].map((r) => r.get(TIMEOUT)));
    expect(values).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    await waitFor(() => [...group].every((r) => seen.get(r.id)?.includes("complete")), "every complete signal");
    expect(new Set([...group].map((r) => seen.get(r.id)!.join(",")))).toEqual(new Set(["enqueued,executing,complete"]));
    expect(consumer.stats).toMatchObject({ completed: 1000, failed: 0, workerRestarts: 0 });
  });

  test("retries, a task that enqueues another, and the onStartup / onShutdown hooks run on the consumer's thread", async () => {
    const { huey, fails, parent, consumer } = setup();
    const hooks: string[] = [];
    huey.onStartup(() => void hooks.push("startup"));
    huey.onShutdown(() => void hooks.push("shutdown"));
    await consumer.start();
    expect(hooks).toEqual(["startup"]);
    const f = await fails("no");
    const err = await f.get(TIMEOUT).catch((e: unknown) => e as { error: { code: string } });
    expect(err).toMatchObject({ error: { code: "E_CUSTOM" } });
    expect(consumer.stats).toMatchObject({ retried: 1, failed: 1 });
    const childId = await (await parent(21)).get(TIMEOUT);
    expect(await huey.result<number>(childId as string).get(TIMEOUT)).toBe(42);
    await consumer.stop();
    expect(hooks).toEqual(["startup", "shutdown"]);
  });
});

test("-w 0, a backlog: the loop turns the event loop after each full lease, so commits go between leases", async () => {
  // Tasks that finish within the lease's own turn (no-op tasks here) leave room at once: without a turn
  // of the event loop after a full lease, the loop leased again and again before the commit the
  // finished tasks had scheduled (a 1 ms group-commit timer, or setImmediate) could run: about half
  // of the gaps between two leases held no commit. A full lease of 512 takes several ms here, so the
  // timer is due by the turn that follows it.
  const { huey, add, consumer } = setup();
  const calls: string[] = [];
  // The consumer leases through leaseWithData on SQLite (the revocations read in the same step).
  for (const name of ["leaseWithData", "commit"] as const) {
    const o = huey.storage as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const orig = o[name]!.bind(o);
    o[name] = (...a: unknown[]) => {
      calls.push(name === "leaseWithData" ? "lease" : name);
      return orig(...a);
    };
  }
  const group = await huey.enqueueMany<number>(Array.from({ length: 6000 }, (_, i) => [add, [i, 1]] as const));
  await consumer.start();
  const values = await Promise.all([...group].map((r) => r.get(TIMEOUT)));
  expect(values).toEqual(Array.from({ length: 6000 }, (_, i) => i + 1));
  // 6,000 tasks take ten or more leases of at most 512. Of the nine gaps between the first ten, the
  // first may come before any task finished; the later ones hold a commit.
  const leaseAt = calls.flatMap((c, i) => (c === "lease" ? [i] : []));
  expect(leaseAt.length).toBeGreaterThanOrEqual(10);
  const gaps = leaseAt.slice(1, 10).map((at, k) => calls.slice(leaseAt[k]! + 1, at).filter((c) => c === "commit").length);
  // A lease now and then finds the last timer not yet due, so not every one (7 or 8 of the 8 here,
  // 3 or 4 without the turn).
  expect(gaps.slice(1).filter((n) => n > 0).length).toBeGreaterThanOrEqual(6);
});

test("-w 0, woken by another connection's enqueue: the lease comes before the read of the schedule, which still follows", async () => {
  // A wake-up may mean a task scheduled sooner than the loop's next look at the schedule, so it reads
  // the schedule again; before, it did so ahead of the lease, a read in the way of the new task (about a
  // tenth of a millisecond of a cold consumer's latency). Now the lease goes first.
  const { db, consumer, huey } = setup();
  const other = defineTasks(db);
  cleanups.push(() => other.huey.close());
  const calls: string[] = [];
  const o = huey.storage as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  for (const name of ["leaseWithData", "nextEta"] as const) {
    const orig = o[name]!.bind(o);
    o[name] = async (...a: unknown[]) => {
      const out = await orig(...a);
      calls.push(name === "leaseWithData" ? `lease:${(out as { items: unknown[] }).items.length}` : name);
      return out;
    };
  }
  await consumer.start();
  await waitFor(() => calls.includes("lease:0"), "the consumer's first (empty) lease");
  const r = await other.add(20, 1);
  expect(await r.get(TIMEOUT)).toBe(21);
  await waitFor(() => calls.lastIndexOf("nextEta") > calls.indexOf("lease:1"), "a read of the schedule after the lease");
  const took = calls.indexOf("lease:1");
  const before = calls.lastIndexOf("lease:0", took);
  expect(calls.slice(before + 1, took)).toEqual([]);
  // And a task the other connection schedules is still promoted and run.
  const s = await other.add.schedule([1, 1], { delay: "20ms" });
  expect(await s.get(TIMEOUT)).toBe(2);
});

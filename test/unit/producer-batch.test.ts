// Producer-side group commit: the plain calls of one turn of the event loop share one storage call.
import { describe, expect, test } from "bun:test";
import { Huey, MemoryHuey } from "../../src/huey";
import { MemoryStorage } from "../../src/storage/memory";

let n = 0;
/** A Huey on memory storage whose enqueue/schedule/commit calls are counted. */
function counted() {
  const storage = new MemoryStorage(`batch-${++n}`);
  const calls = { enqueue: 0, schedule: 0, commit: 0 };
  for (const m of ["enqueue", "schedule", "commit"] as const) {
    const orig = storage[m].bind(storage) as (...a: unknown[]) => Promise<unknown>;
    (storage as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => {
      calls[m]++;
      return orig(...a);
    };
  }
  const huey = new Huey({ name: `batch-${n}`, storage });
  return { huey, storage, calls };
}

describe("producer-side group commit", () => {
  test("100 calls made in one turn are stored by one storage call, and each resolves once its task is stored", async () => {
    const { huey, storage, calls } = counted();
    const add = huey.task("add", (a: number, b: number) => a + b);
    const stored: boolean[] = [];
    await Promise.all(Array.from({ length: 100 }, (_, i) => add(i, 1).then(async (r) => stored.push(await storage.hasTask(r.id)))));
    expect(calls).toEqual({ enqueue: 1, schedule: 0, commit: 0 });
    expect(stored).toHaveLength(100);
    expect(stored.every(Boolean)).toBe(true);
    expect(await storage.pendingCount()).toBe(100);
  });

  test("ready and delayed calls of one turn go in one commit; calls awaited one by one are stored one by one", async () => {
    const { huey, storage, calls } = counted();
    const add = huey.task("add", (a: number, b: number) => a + b);
    await Promise.all([add(1, 2), add.schedule([3, 4], { delay: "1h" }), add(5, 6)]);
    expect(calls).toEqual({ enqueue: 0, schedule: 0, commit: 1 });
    expect([await storage.pendingCount(), await storage.scheduledCount()]).toEqual([2, 1]);
    for (let i = 0; i < 3; i++) await add(i, i);
    expect(calls).toEqual({ enqueue: 3, schedule: 0, commit: 1 });
  });

  test("a duplicate id fails only its own call: the others of the turn are stored", async () => {
    const { huey, storage } = counted();
    const add = huey.task("add", (a: number, b: number) => a + b);
    await add.schedule([0, 0], { id: "taken" });
    const results = await Promise.allSettled([add(1, 1), add.schedule([2, 2], { id: "taken" }), add(3, 3)]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: "HUEY_DUPLICATE_ID" });
    expect(await storage.pendingCount()).toBe(3); // "taken" and the two others
    expect(await storage.hasTask("taken")).toBe(true);
  });

  test("a storage failure rejects every call of the turn with it, and stores none", async () => {
    const { huey, storage } = counted();
    const add = huey.task("add", (a: number, b: number) => a + b);
    storage.enqueue = async () => {
      throw new Error("disk full");
    };
    const results = await Promise.allSettled([add(1, 1), add(2, 2)]);
    expect(results.map((r) => (r.status === "rejected" ? String(r.reason) : "stored"))).toEqual(["Error: disk full", "Error: disk full"]);
    expect(await storage.pendingCount()).toBe(0);
  });

  test("immediate mode still runs each call at once", async () => {
    const huey = new MemoryHuey({ name: "batch-immediate", immediate: true });
    const add = huey.task("add", (a: number, b: number) => a + b);
    const [a, b] = await Promise.all([add(1, 2), add(3, 4)]);
    expect([await a!.get(), await b!.get()]).toEqual([3, 7]);
  });
});

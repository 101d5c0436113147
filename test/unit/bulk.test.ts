// Bulk enqueue with timing (map / enqueueMany with schedule settings) and promotion in batches,
// on memory storage with time as an argument where the code takes it.
import { describe, expect, test } from "bun:test";
import { Maintenance, PROMOTE_BATCH } from "../../src/consumer/maintenance";
import { ConfigurationError } from "../../src/errors";
import { MemoryHuey } from "../../src/huey";
import { readMessage } from "../../src/message";
import { MemoryStorage } from "../../src/storage/memory";

let n = 0;
const fresh = () => new MemoryHuey({ name: `bulk-${++n}` });

describe("map() and enqueueMany() with per-call settings", () => {
  test("map with a delay stores every call in the schedule at one eta, with the call's priority", async () => {
    const huey = fresh();
    const add = huey.task("add", (a: number, b: number) => a + b);
    const before = Date.now();
    const group = await add.map([[1, 2], [3, 4], [5, 6]], { delay: "1h", priority: 7 });
    const after = Date.now();
    expect(await huey.pendingCount()).toBe(0);
    const later = await huey.scheduled();
    expect(later.map((s) => s.id).toSorted()).toEqual([...group].map((r) => r.id).toSorted());
    for (const s of later) {
      expect(s.eta).toBeGreaterThanOrEqual(before + 3_600_000);
      expect(s.eta).toBeLessThanOrEqual(after + 3_600_000);
      expect(s.priority).toBe(7);
    }
    expect(new Set(later.map((s) => s.eta)).size).toBe(1);
  });

  test("map with an eta, and with retries and expires, carries them in each message", async () => {
    const huey = fresh();
    const t = huey.task("t", (x: number) => x);
    const eta = Date.now() + 60_000;
    await t.map([[1], [2]], { eta: new Date(eta), retries: 3, expires: "2h" });
    const rows = await huey.storage.listScheduled(10);
    expect(rows.map((r) => r.eta)).toEqual([eta, eta]);
    for (const r of rows) {
      const m = readMessage(r.payload);
      expect(m.retries).toBe(3);
      expect(m.expires).toBeGreaterThan(eta);
    }
  });

  test("enqueueMany: ready and delayed calls of several tasks are stored together, each with its own settings", async () => {
    const huey = fresh();
    const a = huey.task("a", (x: number) => x);
    const b = huey.task("b", (x: string) => x);
    const eta = Date.now() + 5_000;
    const signals: string[] = [];
    huey.signal(["enqueued", "scheduled"], (s, info) => void signals.push(`${s}:${info.name}`));
    const group = await huey.enqueueMany([
      [a, [1]],
      [b, ["x"], { eta }],
      [a, [2], { priority: 9, id: "mine" }],
      [b, ["y"], undefined],
    ]);
    expect([...group].map((r) => r.id)[2]).toBe("mine");
    expect((await huey.pending()).map((p) => p.name).toSorted()).toEqual(["a", "a", "b"]);
    expect((await huey.scheduled()).map((s) => [s.name, s.eta])).toEqual([["b", eta]]);
    expect((await huey.pending()).find((p) => p.id === "mine")?.priority).toBe(9);
    expect(signals.toSorted()).toEqual(["enqueued:a", "enqueued:a", "enqueued:b", "scheduled:b"]);
  });

  test("bad settings fail before anything is stored, naming the call", async () => {
    const huey = fresh();
    const t = huey.task("t", (x: number) => x);
    await expect(t.map([[1], [2]], { id: "same" } as never)).rejects.toThrow(/"id" would name every call/);
    await expect(t.map([[1]], { delay: "soon" as never })).rejects.toThrow(ConfigurationError);
    await expect(huey.enqueueMany([[t, [1]], [t, [2], { delay: 5, eta: 10 }]])).rejects.toThrow(/call 2 of 2 \(t\).*"delay" or "eta", not both/);
    await expect(huey.enqueueMany([[t, [1]], [t, 2 as never]])).rejects.toThrow(/must be an array/);
    await expect(huey.enqueueMany([[t, [1], "1h" as never]])).rejects.toThrow(/settings of a t call must be an object/);
    expect(await huey.pendingCount()).toBe(0);
    expect(await huey.scheduledCount()).toBe(0);
  });

  test("a duplicate id among the calls stores none of them", async () => {
    const huey = fresh();
    const t = huey.task("t", (x: number) => x);
    await expect(huey.enqueueMany([[t, [1], { id: "d" }], [t, [2], { delay: "1m", id: "d" }], [t, [3]]])).rejects.toThrow();
    expect({ ready: await huey.pendingCount(), later: await huey.scheduledCount() }).toEqual({ ready: 0, later: 0 });
  });

  test("immediate mode runs the ready calls and keeps the delayed ones in the schedule", async () => {
    const huey = new MemoryHuey({ name: `bulk-${++n}`, immediate: true });
    const t = huey.task("t", (x: number) => x * 2);
    const now = await t.map([[1], [2]]);
    expect(await now.get()).toEqual([2, 4]);
    const later = await t.map([[3]], { delay: "1h" });
    expect(await later.at(0)!.get()).toBeUndefined();
    expect(await huey.scheduledCount()).toBe(1);
  });
});

describe("promotion in batches", () => {
  test("one batch per turn: more due means promote again at once; the last batch sets the next eta", async () => {
    const storage = new MemoryStorage(`promote-${++n}`);
    const now = 1_000_000;
    const due = PROMOTE_BATCH * 2 + 500;
    await storage.schedule(Array.from({ length: due }, (_, i) => ({ id: `d${i}`, name: "t", priority: 0, payload: "{}", eta: now - 10 })));
    await storage.schedule([{ id: "later", name: "t", priority: 0, payload: "{}", eta: now + 400 }]);
    const m = new Maintenance({ storage } as never);
    await m.promote(now);
    expect(await storage.pendingCount()).toBe(PROMOTE_BATCH);
    expect(m.nextPromote).toBe(now);
    await m.promote(now);
    expect(await storage.pendingCount()).toBe(PROMOTE_BATCH * 2);
    expect(m.nextPromote).toBe(now);
    await m.promote(now);
    expect(await storage.pendingCount()).toBe(due);
    expect(m.nextPromote).toBe(now + 400);
  });
});

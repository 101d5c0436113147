// Where the WorkerPool puts tasks: the lead Worker and each Worker's limit, on plain objects with time
// as an argument (no Workers, no threads).
import { describe, expect, test } from "bun:test";
import { isShort, isStuck, leadOf, slotLimit, type SlotLoad } from "../../src/consumer/worker-pool";

const slot = (over: Partial<SlotLoad> = {}): SlotLoad => ({
  ready: true, gone: false, retiring: false, avgMs: 0.002, tasksRun: 1000, lastDone: 0, held: { size: 0 }, started: { size: 0 }, ...over,
});
const o = { concurrency: 1, prefetch: 256 };

describe("the lead Worker", () => {
  test("is the first Worker in order whose tasks are short", () => {
    const slots = [slot({ tasksRun: 3 }), slot({ avgMs: 5 }), slot(), slot()];
    expect(leadOf(slots, 0)).toBe(slots[2]!);
  });

  test("none while no Worker has run 16 tasks, or while each takes more than 2 ms / 8", () => {
    expect(leadOf([slot({ tasksRun: 15 }), slot({ tasksRun: 0 })], 0)).toBeNull();
    expect(leadOf([slot({ avgMs: 0.26 }), slot({ avgMs: 1 })], 0)).toBeNull();
    expect(isShort(slot({ avgMs: 0.25 }), 0)).toBe(true);
  });

  test("one stuck on a task (nothing finished for 4 ms while running) is passed over", () => {
    const stuck = slot({ started: { size: 1 }, lastDone: 0 });
    expect(isStuck(stuck, 4)).toBe(false);
    expect(isStuck(stuck, 4.1)).toBe(true);
    const next = slot();
    expect(leadOf([stuck, next], 4.1)).toBe(next);
    expect(leadOf([stuck, next], 1)).toBe(stuck);
  });

  test("a Worker not ready, gone or retiring is never the lead", () => {
    const s = slot();
    for (const bad of [{ ready: false }, { gone: true }, { retiring: true }]) expect(leadOf([slot(bad), s], 0)).toBe(s);
  });
});

describe("a Worker's limit", () => {
  test("no-op tasks: the lead holds the prefetch of the whole pool, the others their own", () => {
    const s = slot({ avgMs: 0.002 }); // 2 ms of work: 1,000 tasks a Worker, 4,000 for the lead of four
    expect(slotLimit(s, false, 4, o)).toBe(1 + 256);
    expect(slotLimit(s, true, 4, o)).toBe(1 + 1024);
    expect(slotLimit(s, true, 1, o)).toBe(1 + 256);
  });

  test("short tasks that are not trivial: within 2 ms of work a Worker, the lead 2 ms times the Workers", () => {
    const s = slot({ avgMs: 0.2 });
    expect(slotLimit(s, false, 4, o)).toBe(1 + 10);
    expect(slotLimit(s, true, 4, o)).toBe(1 + 40);
    expect(slotLimit(s, true, 4, { concurrency: 2, prefetch: 256 })).toBe(2 + 80);
  });

  test("0 for a Worker not ready, gone or retiring", () => {
    for (const bad of [{ ready: false }, { gone: true }, { retiring: true }]) expect(slotLimit(slot(bad), true, 4, o)).toBe(0);
  });
});

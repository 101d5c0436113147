// Where the WorkerPool puts tasks: the lead Worker and each Worker's limit, on plain objects with time
// as an argument (no Workers, no threads).
import { describe, expect, test } from "bun:test";
import { isShort, isStuck, leadOf, leadTakesAll, pickSlot, slotLimit, type SlotLoad } from "../../src/consumer/worker-pool";

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
  test("no-op tasks: the lead holds the prefetch of the whole pool, the others none", () => {
    const s = slot({ avgMs: 0.002 }); // 2 ms of work: 1,000 tasks a Worker, 4,000 for the lead of four
    const other = slot({ avgMs: 0.002 });
    expect(slotLimit(s, s, 4, o)).toBe(1 + 1024);
    expect(slotLimit(other, s, 4, o)).toBe(0);
    expect(slotLimit(s, s, 1, o)).toBe(1 + 256);
    // No lead (none has run 16 tasks yet, or the lead is stuck): each its own.
    expect(slotLimit(s, null, 4, o)).toBe(1 + 256);
    expect(slotLimit(other, null, 4, o)).toBe(1 + 256);
  });

  test("short tasks that are not trivial: within 2 ms of work a Worker, the lead 2 ms times the Workers", () => {
    const s = slot({ avgMs: 0.2 });
    const other = slot({ avgMs: 0.2 });
    expect(slotLimit(other, s, 4, o)).toBe(1 + 10);
    expect(slotLimit(s, s, 4, o)).toBe(1 + 40);
    expect(slotLimit(s, s, 4, { concurrency: 2, prefetch: 256 })).toBe(2 + 80);
  });

  test("the lead takes all while what it may hold takes it no longer than its budget of 2 ms a Worker", () => {
    // 256 tasks of 7.8 us are 2 ms: the lead of 4 may hold 1,024 of them, 8 ms, its budget.
    expect(leadTakesAll(slot({ avgMs: 0.0078 }), 4, o)).toBe(true);
    expect(leadTakesAll(slot({ avgMs: 0.0079 }), 4, o)).toBe(false);
    expect(slotLimit(slot(), slot({ avgMs: 0.0079 }), 4, o)).toBe(1 + 256);
    // A larger --prefetch: the budget binds sooner.
    expect(leadTakesAll(slot({ avgMs: 0.002 }), 4, { concurrency: 1, prefetch: 1000 })).toBe(true);
    expect(leadTakesAll(slot({ avgMs: 0.002 }), 4, { concurrency: 1, prefetch: 1001 })).toBe(false);
    // --prefetch 0: a Worker holds only what it runs, so the others must take the rest.
    expect(leadTakesAll(slot({ avgMs: 0.002 }), 4, { concurrency: 1, prefetch: 0 })).toBe(false);
    expect(slotLimit(slot(), slot(), 4, { concurrency: 1, prefetch: 0 })).toBe(1);
    // Async tasks: the budget counts per unit of concurrency.
    expect(leadTakesAll(slot({ avgMs: 0.0156 }), 4, { concurrency: 2, prefetch: 256 })).toBe(true);
  });

  test("0 for a Worker not ready, gone or retiring", () => {
    for (const bad of [{ ready: false }, { gone: true }, { retiring: true }]) {
      const s = slot(bad);
      expect(slotLimit(s, s, 4, o)).toBe(0);
      expect(slotLimit(s, null, 4, o)).toBe(0);
    }
  });
});

describe("where a task goes", () => {
  const limitOf = (lead: SlotLoad | null, workers: number) => (s: SlotLoad) => slotLimit(s, lead, workers, o);

  test("the lead while it has room, though its last report is older than isStuck allows", () => {
    // The lead was judged when its lease began; placing that lease takes the main thread ~4 ms, and the
    // lead's reports wait behind it. Judged again per task, the rest of the lease went to the next Worker.
    const slots = [slot({ started: { size: 1 }, lastDone: 0 }), slot(), slot()];
    const lead = leadOf(slots, 1)!;
    expect(lead).toBe(slots[0]!);
    expect(isShort(slots[0]!, 5)).toBe(false);
    expect(pickSlot(slots, lead, 5, limitOf(lead, 3))).toEqual({ slot: slots[0]!, inOrder: true });
    // Without that judgement (no lease under way), the next short Worker.
    expect(pickSlot(slots, null, 5, limitOf(null, 3))).toEqual({ slot: slots[1]!, inOrder: true });
  });

  test("a full lead of short tasks that are not trivial: the next Worker whose tasks are short", () => {
    const slots = [slot({ avgMs: 0.2, held: { size: 1 + 30 } }), slot({ avgMs: 0.2, tasksRun: 2 }), slot({ avgMs: 0.2 })];
    const lead = slots[0]!;
    expect(pickSlot(slots, lead, 0, limitOf(lead, 3))).toEqual({ slot: slots[2]!, inOrder: true });
  });

  test("a lead of no-op tasks gets them all: full (the limits moved since room()), it is the least overfull", () => {
    const slots = [slot({ held: { size: 1 + 768 } }), slot(), slot()];
    const lead = slots[0]!;
    expect(pickSlot(slots, lead, 0, limitOf(lead, 3))).toEqual({ slot: lead, inOrder: false });
    const roomy = slot({ held: { size: 100 } });
    expect(pickSlot([roomy, slots[1]!, slots[2]!], roomy, 0, limitOf(roomy, 3))).toEqual({ slot: roomy, inOrder: true });
  });

  test("no short Worker: the least loaded with room", () => {
    const slots = [slot({ avgMs: 1, held: { size: 2 } }), slot({ avgMs: 1, held: { size: 1 } }), slot({ avgMs: 1, held: { size: 3 } })];
    expect(pickSlot(slots, null, 0, limitOf(null, 3))).toEqual({ slot: slots[1]!, inOrder: false });
  });

  test("none with room (the limits moved since room() was read): the least overfull; none taking tasks: null", () => {
    // The lead of 4 held 1,000 no-op tasks; then it no longer leads (its limit falls to 257), and the
    // others are full: the rest of the lease still goes to a Worker, not back to storage.
    const slots = [slot({ held: { size: 1000 } }), slot({ held: { size: 257 } }), slot({ held: { size: 300 } })];
    expect(pickSlot(slots, null, 0, limitOf(null, 3))).toEqual({ slot: slots[1]!, inOrder: false });
    expect(pickSlot(slots, null, 0, () => 0)).toEqual({ slot: null, inOrder: false });
    expect(pickSlot([slot({ gone: true }), slot({ ready: false })], null, 0, limitOf(null, 2))).toEqual({ slot: null, inOrder: false });
  });
});

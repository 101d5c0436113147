import { describe, expect, test } from "bun:test";
import { parseSchedule } from "../../src/cron";
import { claimKey, duePeriodicTicks, MAX_CATCH_UP, PeriodicScheduler, type PeriodicDef } from "../../src/periodic";
import { MemoryStorage } from "../../src/storage/memory";
import { Maintenance, type MaintenanceHost } from "../../src/consumer/maintenance";

const T0 = Date.parse("2024-01-01T00:00:00Z");
const S = 1000;

function def(name: string, cron: string, catchUp = false): PeriodicDef {
  return { name, schedule: parseSchedule(cron, name, "UTC"), catchUp };
}

const every5s = def("every5s", "*/5 * * * * *");
const every5sCatchUp = def("every5s-catchup", "*/5 * * * * *", true);
const hourly = def("hourly", "0 * * * *");

/** (name, seconds after T0) pairs: easy to read in a failed assertion. */
const pairs = (ticks: { def: PeriodicDef; tickMs: number }[]) => ticks.map((t) => [t.def.name, (t.tickMs - T0) / S]);

describe("duePeriodicTicks", () => {
  test.each<[string, PeriodicDef[], number, number, [string, number][]]>([
    ["the tick since the last check", [every5s], T0 + 5 * S, T0 + 10 * S + 3, [["every5s", 10]]],
    ["nothing due between ticks", [every5s], T0 + 10 * S, T0 + 14 * S + 999, []],
    ["the lower bound is exclusive, the upper inclusive", [every5s], T0 + 10 * S, T0 + 15 * S, [["every5s", 15]]],
    ["downtime without catchUp: only the newest tick", [every5s], T0, T0 + 3600 * S + 2 * S, [["every5s", 3600]]],
    ["downtime with catchUp: every missed tick", [every5sCatchUp], T0, T0 + 30 * S, [5, 10, 15, 20, 25, 30].map((s) => ["every5s-catchup", s] as [string, number])],
    ["several tasks, ordered by time", [hourly, every5s, every5sCatchUp], T0 + 3590 * S, T0 + 3600 * S,
      [["every5s-catchup", 3595], ["hourly", 3600], ["every5s", 3600], ["every5s-catchup", 3600]]],
  ])("%s", (_, defs, last, now, expected) => {
    expect(pairs(duePeriodicTicks(defs, last, now))).toEqual(expected);
  });

  test(`catchUp stops at the newest ${MAX_CATCH_UP} ticks`, () => {
    const due = duePeriodicTicks([every5sCatchUp], T0, T0 + 86_400 * S);
    expect(due).toHaveLength(MAX_CATCH_UP);
    expect(due[0]!.tickMs).toBe(T0 + 86_400 * S - (MAX_CATCH_UP - 1) * 5 * S);
    expect(due.at(-1)!.tickMs).toBe(T0 + 86_400 * S);
    expect(duePeriodicTicks([every5sCatchUp], T0, T0 + 60 * S, { maxCatchUp: 3 }).map((t) => (t.tickMs - T0) / S)).toEqual([50, 55, 60]);
  });
});

describe("PeriodicScheduler", () => {
  function setup(defs: PeriodicDef[], options: { storage?: MemoryStorage; fail?: (tickMs: number) => boolean } = {}) {
    const storage = options.storage ?? new MemoryStorage("q");
    const enqueued: [string, number][] = [];
    const scheduler = new PeriodicScheduler({
      storage,
      defs,
      enqueue: async (d, tickMs) => {
        if (options.fail?.(tickMs)) throw new Error("queue is down");
        enqueued.push([d.name, (tickMs - T0) / S]);
      },
      now: () => {
        throw new Error("tests pass the time in");
      },
    });
    return { storage, scheduler, enqueued };
  }

  test("the first tick fires a tick in the current second only; then each tick since the previous", async () => {
    const { scheduler, enqueued } = setup([every5s]);
    await scheduler.tick(T0 + 30 * S + 400); // started at :30.4, :30 is a tick
    await scheduler.tick(T0 + 34 * S);
    await scheduler.tick(T0 + 35 * S + 2);
    await scheduler.tick(T0 + 40 * S);
    expect(enqueued).toEqual([["every5s", 30], ["every5s", 35], ["every5s", 40]]);

    const late = setup([every5s]);
    await late.scheduler.tick(T0 + 31 * S); // started at :31: :30 was before our time
    await late.scheduler.tick(T0 + 35 * S);
    expect(late.enqueued).toEqual([["every5s", 35]]);
  });

  test("a stall without catchUp fires only the newest missed tick", async () => {
    const { scheduler, enqueued } = setup([every5s]);
    await scheduler.tick(T0 + 1);
    await scheduler.tick(T0 + 3601 * S);
    expect(enqueued).toEqual([["every5s", 0], ["every5s", 3600]]);
  });

  test("3 schedulers on one store enqueue each tick exactly once", async () => {
    const storage = new MemoryStorage("q");
    const defs = [every5s, every5sCatchUp, hourly];
    const consumers = [setup(defs, { storage }), setup(defs, { storage }), setup(defs, { storage })];
    // Each wakes at slightly different times around each second for a little over an hour, concurrently.
    for (let s = 0; s <= 3605; s++) {
      await Promise.all(consumers.map((c, i) => c.scheduler.tick(T0 + s * S + [3, 250, 999][i]!)));
    }
    const all = consumers.flatMap((c) => c.enqueued).sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
    const expected: [string, number][] = [];
    for (let s = 0; s <= 3605; s += 5) expected.push(["every5s", s], ["every5s-catchup", s]);
    expected.push(["hourly", 0], ["hourly", 3600]);
    expected.sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
    expect(all).toEqual(expected);
    // The work is shared, not all done by one consumer.
    expect(consumers.filter((c) => c.enqueued.length > 0).length).toBeGreaterThan(1);
  });

  test("old claims are deleted: the kv table stays bounded", async () => {
    const storage = new MemoryStorage("q");
    const every1s = def("every1s", "* * * * * *");
    const consumers = [0, 1, 2].map(() => {
      const enqueued: number[] = [];
      const scheduler = new PeriodicScheduler({
        storage,
        defs: [every1s],
        enqueue: async (_, t) => void enqueued.push(t),
        maxCatchUp: 5,
        claimHistory: 10,
      });
      return { scheduler, enqueued };
    });
    for (let s = 0; s < 500; s++) {
      await Promise.all(consumers.map((c, i) => c.scheduler.tick(T0 + s * S + i * 100)));
    }
    const claims = await storage.listData("periodic:", 10_000);
    // claimHistory, plus what each consumer adds between two prunes (it prunes every 10th win).
    expect(claims.length).toBeLessThanOrEqual(10 + 3 * 10);
    expect(claims.map((c) => c.key)).toContain(claimKey("every1s", T0 + 499 * S));
    const oldest = Math.min(...claims.map((c) => Number(c.key.split(":")[2])));
    expect(oldest).toBeGreaterThan(T0 + 450 * S);
    expect(consumers.flatMap((c) => c.enqueued)).toHaveLength(500);
  });

  test("a restarted consumer catches up from the newest claim, up to maxCatchUp; without catchUp it does not", async () => {
    const storage = new MemoryStorage("q");
    const first = setup([every5s, every5sCatchUp], { storage });
    for (let s = 0; s <= 20; s++) await first.scheduler.tick(T0 + s * S + 10);
    expect(first.enqueued).toEqual([0, 5, 10, 15, 20].flatMap((s) => [["every5s", s], ["every5s-catchup", s]]));

    // Down from :21 to :60.5.
    const second = setup([every5s, every5sCatchUp], { storage });
    await second.scheduler.tick(T0 + 60 * S + 500);
    expect(second.enqueued).toEqual([
      ["every5s", 60],
      ...[25, 30, 35, 40, 45, 50, 55, 60].map((s): [string, number] => ["every5s-catchup", s]),
    ]);
  });

  test("a failed enqueue releases the claim and is tried again at the next tick", async () => {
    let down = true;
    const { scheduler, storage, enqueued } = setup([every5sCatchUp], { fail: () => down });
    await scheduler.tick(T0 + 1);
    await scheduler.tick(T0 + 5 * S);
    const report = await scheduler.tick(T0 + 10 * S);
    expect(report.failed.map((f) => [f.def.name, f.tickMs, (f.error as Error).message])).toEqual([
      ["every5s-catchup", T0, "queue is down"],
    ]);
    expect(await storage.getData(claimKey("every5s-catchup", T0), true)).toBeNull();
    down = false;
    const retry = await scheduler.tick(T0 + 10 * S + 5);
    expect(pairs(retry.enqueued)).toEqual([["every5s-catchup", 0], ["every5s-catchup", 5], ["every5s-catchup", 10]]);
    expect(enqueued).toEqual([["every5s-catchup", 0], ["every5s-catchup", 5], ["every5s-catchup", 10]]);
  });

  test("a tick another consumer claimed is reported, not enqueued", async () => {
    const { scheduler, storage, enqueued } = setup([every5s]);
    await storage.putIfEmpty(claimKey("every5s", T0 + 5 * S), "someone-else");
    await scheduler.tick(T0 + 1);
    const report = await scheduler.tick(T0 + 5 * S + 1);
    expect(pairs(report.claimedElsewhere)).toEqual([["every5s", 5]]);
    expect(report.enqueued).toEqual([]);
    expect(enqueued).toEqual([["every5s", 0]]);
    expect(await storage.getData(claimKey("every5s", T0), true)).toBe(scheduler.owner);
  });

  test("a clock that moves back does not repeat ticks", async () => {
    const { scheduler, enqueued } = setup([every5s]);
    await scheduler.tick(T0 + 10 * S);
    await scheduler.tick(T0 + 5 * S);
    await scheduler.tick(T0 + 10 * S);
    await scheduler.tick(T0 + 15 * S);
    expect(enqueued).toEqual([["every5s", 10], ["every5s", 15]]);
  });

  test("msUntilNextTick and nextRunAfter are aligned to the wall clock", () => {
    const { scheduler } = setup([every5s, hourly]);
    expect(scheduler.msUntilNextTick(T0 + 2345)).toBe(2655);
    expect(scheduler.msUntilNextTick(T0 + 5 * S)).toBe(5 * S);
    expect(scheduler.nextRunAfter(T0 + 2345)).toEqual([
      { name: "every5s", schedule: '"*/5 * * * * *" in UTC', nextRun: T0 + 5 * S },
      { name: "hourly", schedule: '"0 * * * *" in UTC', nextRun: T0 + 3600 * S },
    ]);
    expect(setup([]).scheduler.msUntilNextTick(T0)).toBeNull();
  });
});

test("the consumer logs an enqueued periodic tick at debug level, not info (one line per tick would flood the log)", async () => {
  const lines: [string, string][] = [];
  const rec = (level: string) => (msg: string) => void lines.push([level, msg]);
  const log = { debug: rec("debug"), info: rec("info"), warn: rec("warn"), error: rec("error") };
  const host = { storage: new MemoryStorage("periodic-log"), log } as unknown as MaintenanceHost;
  const m = new Maintenance(host);
  const enqueued: number[] = [];
  m.usePeriodic([every5s], async (_def, tickMs) => void enqueued.push(tickMs));
  await m.tickPeriodic(T0);
  await m.tickPeriodic(T0 + 5 * S);
  expect(enqueued).toEqual([T0, T0 + 5 * S]);
  expect(lines).toEqual([
    ["debug", "periodic every5s: tick 2024-01-01T00:00:00.000Z enqueued"],
    ["debug", "periodic every5s: tick 2024-01-01T00:00:05.000Z enqueued"],
  ]);
});

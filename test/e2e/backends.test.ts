// One suite, every backend, end to end: consumer processes of the compiled binary (`huey run
// backend-fixture.ts`, real Workers) on SQLite, PostgreSQL and Redis must behave the same. PostgreSQL and Redis are skipped
// with the reason printed when unreachable, or fail when HUEY_TEST_SERVICES=require. Each run uses
// its own file / schema / key prefix and removes it afterwards.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import * as api from "../../src/index";
import { registerModulePlugin } from "../../src/consumer/loader";
import { waitFor } from "../harness";
import { freshConfig, gate, probe, spawnConsumer, useBinary, type Spawned } from "../services";
import { hueyBinary } from "./binary";
import type { BackendName } from "../fixtures/backend-fixture";

registerModulePlugin(api as unknown as Record<string, unknown>);
const { defineTasks, makeHuey } = await import("../fixtures/backend-fixture");
useBinary(await hueyBinary());

setDefaultTimeout(60_000);
const GET = { blocking: true, timeout: 20_000 } as const;
const BACKENDS: BackendName[] = ["sqlite", "postgres", "redis"];

for (const backend of BACKENDS) {
  if (!gate(`the ${backend} consumer integration tests`, await probe(backend))) continue;

  describe(`consumers on ${backend}`, () => {
    const { config, cleanup } = freshConfig(backend, "bk");
    const fx = defineTasks(makeHuey(config));
    const run = Math.random().toString(36).slice(2, 8);
    const consumers: Spawned[] = [];
    let secondStartedAt = 0;

    async function start(args: string[]): Promise<Spawned> {
      const c = spawnConsumer(config, args);
      consumers.push(c);
      await waitFor(() => c.log().includes("consumer started") || !c.alive(), `a consumer on ${backend} to start`, 30_000);
      if (!c.alive()) throw new Error(`the consumer exited early:\n${c.log()}`);
      return c;
    }

    beforeAll(async () => {
      await fx.huey.flush();
    });

    afterAll(async () => {
      try {
        for (const c of consumers) {
          const code = await c.stop();
          if (code !== 0) console.error(`consumer on ${backend} exited ${code}:\n${c.log()}`);
        }
        await fx.huey.close();
      } finally {
        await cleanup();
      }
    });

    test("priorities: a consumer that finds 9 tasks waiting runs higher priorities first, FIFO within one", async () => {
      const calls = [];
      for (let i = 0; i < 3; i++) calls.push([fx.low, [run]] as const, [fx.mid, [run]] as const, [fx.high, [run]] as const);
      const group = [...(await fx.huey.enqueueMany<number>(calls))];
      // One Worker running one task at a time: the run order is the lease order.
      await start(["-w", "1"]);
      const places = await Promise.all(group.map((r) => r.get(GET)));
      const byTask = (k: number) => places.filter((_, i) => i % 3 === k);
      expect({ high: byTask(2), mid: byTask(1), low: byTask(0) }).toEqual({ high: [1, 2, 3], mid: [4, 5, 6], low: [7, 8, 9] });
      // A second consumer process (2 Workers) joins for the rest of the suite.
      await start(["-w", "2"]);
      secondStartedAt = Date.now();
    });

    test("results round trip; a missing result reads as undefined; preserve: false removes it", async () => {
      const value = { a: [1, "x", null, true], n: -2.5, when: new Date(86_400_000), nested: { s: "é😀" } };
      const r = await fx.echo(value);
      expect(await r.get(GET)).toEqual(value);
      expect(await fx.huey.result("no-such-id").get()).toBeUndefined();
      const sum = await fx.add(2, 3);
      expect(await sum.get({ ...GET, preserve: false })).toBe(5);
      expect(await sum.get()).toBeUndefined();
      const many = [...(await fx.huey.enqueueMany<number>(Array.from({ length: 200 }, (_, i) => [fx.add, [i, i]] as const)))];
      expect(await Promise.all(many.map((x) => x.get(GET)))).toEqual(many.map((_, i) => 2 * i));
    });

    test("failures: the remote error comes back with its name, message and code after the retries", async () => {
      const r = await fx.fails("card declined");
      const err = (await r.get(GET).then(() => null, (e: unknown) => e)) as api.TaskFailedError;
      expect(err?.code).toBe("HUEY_TASK_FAILED");
      expect({ attempts: err.attempts, name: err.error.name, message: err.error.message, code: err.error.code }).toEqual({
        attempts: 2, name: "CodedError", message: "card declined", code: "E_CUSTOM",
      });
      expect(err.taskId).toBe(r.id);
    });

    test("retries: a task that fails twice succeeds on its third run; RetryTask runs it again", async () => {
      expect(await (await fx.flaky(run)).get(GET)).toBe(3);
      expect(await (await fx.retryOnce(run)).get(GET)).toBe(2);
    });

    test("a delayed task waits in the schedule, then runs after its delay", async () => {
      const t0 = Date.now();
      const r = await fx.stamp.schedule([], { delay: 400 });
      expect((await fx.huey.scheduled()).map((s) => s.id)).toContain(r.id);
      const ranAt = (await r.get(GET))!;
      expect(ranAt - t0).toBeGreaterThanOrEqual(400);
    });

    test("locks: 12 runs of a locked task on 3 Workers in 2 processes never overlap", async () => {
      const group = [...(await fx.huey.enqueueMany<number>(Array.from({ length: 12 }, () => [fx.exclusive, [run]] as const)))];
      const seen = await Promise.all(group.map((r) => r.get(GET)));
      expect(seen).toEqual(group.map(() => 1)); // each saw itself as the only holder
      expect(await fx.read(`overlap:${run}`)).toBe(0);
      expect(await fx.read(`active:${run}`)).toBe(0);
      expect(await fx.huey.locks()).toEqual([]);
    });

    test("unique tasks: a second call while the first is queued or running returns the first's result", async () => {
      const key = `u-${run}`;
      const first = await fx.uniq(key, 300);
      const second = await fx.uniq(key, 300);
      expect(second.id).toBe(first.id);
      expect(await first.get(GET)).toBe(key);
      const third = await fx.uniq(key, 0);
      expect(third.id).not.toBe(first.id);
      expect(await third.get(GET)).toBe(key);
    });

    test("rate limit: 2 per 500ms across both consumers", async () => {
      // Fixed windows aligned to 500 ms, counted when a run is admitted (it starts later, perhaps in
      // the next window): admissions are at or after t0, at most 2 per window, so the 3rd to 5th run
      // start at or after the start of t0's window + 500 ms, the 5th at or after + 1 s.
      const t0 = Date.now();
      const window0 = Math.floor(t0 / 500) * 500;
      const group = [...(await fx.huey.enqueueMany<number>(Array.from({ length: 5 }, (_, i) => [fx.limited, [i]] as const)))];
      const times = await Promise.all(group.map(async (r) => (await r.get(GET))!));
      expect(times.filter((t) => t >= window0 + 500).length).toBeGreaterThanOrEqual(3);
      expect(times.filter((t) => t >= window0 + 1000).length).toBeGreaterThanOrEqual(1);
    });

    test("periodic: each tick is claimed and run once while two consumers run it", async () => {
      expect(secondStartedAt).toBeGreaterThan(0);
      const ticks = async () => {
        const rows = await fx.huey.storage.listData("bk:tick:", 10_000);
        const byTick = new Map<number, string[]>();
        for (const { key, value } of rows) {
          const tick = Number(/:(\d+):[^:]+$/.exec(key)![1]);
          byTick.set(tick, [...(byTick.get(tick) ?? []), value]);
        }
        return byTick;
      };
      // Three ticks that both consumers were running for.
      await waitFor(async () => [...(await ticks()).keys()].filter((t) => t > secondStartedAt + 200).length >= 3, "3 ticks", 15_000);
      const all = await ticks();
      const twice = [...all].filter(([, pids]) => pids.length !== 1);
      expect(twice).toEqual([]);
      expect(all.size).toBeGreaterThanOrEqual(3);
    });

    test("both consumers are still running and logged nothing unexpected", () => {
      for (const c of consumers) {
        expect(c.alive()).toBe(true);
        const unexpected = c.log().split("\n").filter((l) => /ERROR/.test(l) && !/bk\.fails|bk\.flaky/.test(l));
        expect(unexpected).toEqual([]);
      }
    });
  });
}

// Several nodes, one server: 3 consumer processes (`bun src/cli.ts run backend-fixture.ts`) on one
// PostgreSQL schema, then on one Redis key prefix. Every task records its id in a counter kept
// outside bun-huey (INSERT ... ON CONFLICT on PostgreSQL, HINCRBY on Redis): every task ran, none
// ran twice (the lease is far longer than the run, so a second run would be a bug), and every
// result is stored. 5,000 tasks (~5 s for both backends here; the suite stays under 3 minutes); HUEY_SOAK=1 runs 100,000, and
// HUEY_MULTINODE_TASKS=N any number.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import * as api from "../../src/index";
import { registerModulePlugin } from "../../src/consumer/loader";
import { waitFor } from "../harness";
import { freshConfig, gate, probe, spawnConsumer, type Spawned } from "../services";
import type { BackendName } from "../fixtures/backend-fixture";

registerModulePlugin(api as unknown as Record<string, unknown>);
const { defineTasks, makeHuey, runCounter } = await import("../fixtures/backend-fixture");

const SOAK = process.env.HUEY_SOAK === "1";
const N = Number(process.env.HUEY_MULTINODE_TASKS ?? (SOAK ? 100_000 : 5_000));
setDefaultTimeout(SOAK ? 600_000 : 90_000);

for (const backend of ["postgres", "redis"] as BackendName[]) {
  if (!gate(`the ${backend} multinode test`, await probe(backend))) continue;

  describe(`3 consumer processes on one ${backend}`, () => {
    const { config, cleanup } = freshConfig(backend, "mn");
    const fx = defineTasks(makeHuey(config), config);
    const counter = runCounter(config, fx.huey);
    const consumers: Spawned[] = [];

    afterAll(async () => {
      try {
        for (const c of consumers) if (c.alive()) c.proc.kill("SIGKILL");
        await Promise.all(consumers.map((c) => c.proc.exited));
        await counter.close();
        await fx.huey.close();
      } finally {
        await cleanup();
      }
    });

    test(`${N.toLocaleString("en-US")} tasks: each ran exactly once, every result stored`, async () => {
      await fx.huey.pendingCount(); // create and migrate the store (PostgreSQL: its schema)
      await counter.prepare(); // create the counter table before three processes race to
      const t0 = performance.now();
      for (let i = 0; i < 3; i++) consumers.push(spawnConsumer(config, ["-q", "-w", "2", "--concurrency", "4", "--lease", "120s", "-n"]));
      const ids: string[] = [];
      const CHUNK = 1_000;
      for (let i = 0; i < N; i += CHUNK) {
        const calls = Array.from({ length: Math.min(CHUNK, N - i) }, (_, j) => [fx.mark, [`t${i + j}`]] as const);
        const group = await fx.huey.enqueueMany<string>(calls);
        for (const r of group) ids.push(r.id);
      }
      const enqueued = performance.now() - t0;
      await waitFor(
        async () => {
          for (const c of consumers) if (!c.alive()) throw new Error(`a consumer exited early:\n${c.log()}`);
          return (await fx.huey.resultCount()) === N;
        },
        `${N} results stored`,
        Math.max(60_000, N * 3), // at least ~333/s
      );
      const ms = performance.now() - t0;
      const counts = await counter.counts();
      const missing = Array.from({ length: N }, (_, i) => `t${i}`).filter((id) => !counts.has(id));
      const twice = [...counts].filter(([, n]) => n !== 1);
      // A task that failed (its dead letter says why) would show here as missing: print what the consumers said.
      const failed = (await fx.huey.failed({ limit: 5 })).map((d) => `${d.name}(${JSON.stringify(d.args)}): ${d.error.name}: ${d.error.message}`);
      if (missing.length || twice.length) for (const c of consumers) console.error(`consumer log:\n${c.log().slice(-4000)}`);
      expect({ ran: counts.size, missing: missing.slice(0, 5), twice: twice.slice(0, 5), failed }).toEqual({ ran: N, missing: [], twice: [], failed: [] });
      expect(await fx.huey.pendingCount()).toBe(0);
      expect(await fx.huey.storage.leasedCount()).toBe(0);
      // Spot-check values.
      for (const i of [0, N >> 1, N - 1]) expect(await fx.huey.result(ids[i]!).get()).toBe(`t${i}`);
      console.log(
        `multinode ${backend}: ${N} tasks on 3 processes x 2 Workers x concurrency 4 in ${Math.round(ms)}ms ` +
          `(enqueue ${Math.round(enqueued)}ms, spawn included): ${Math.round(N / (ms / 1000))}/s`,
      );
      for (const c of consumers) expect(await c.stop()).toBe(0);
      for (const c of consumers) expect(c.log()).not.toMatch(/ERROR|WARN/);
    });
  });
}

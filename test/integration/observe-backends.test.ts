// Heartbeats and statistics on the server backends (everything goes through the Storage interface, so
// each backend must carry it): a consumer process on PostgreSQL, then on Redis, is listed live with its
// pid, its throughput sums what ran, `huey status --check` passes while it runs and fails once it stopped.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import * as api from "../../src/index";
import { registerModulePlugin } from "../../src/consumer/loader";
import { lastMinutes, readConsumers, readTaskStats, readThroughput } from "../../src/observe/read";
import { waitFor } from "../harness";
import { BACKEND_FIXTURE, configToEnv, freshConfig, gate, probe, spawnCli, spawnConsumer, type Spawned } from "../services";
import type { BackendName } from "../fixtures/backend-fixture";

registerModulePlugin(api as unknown as Record<string, unknown>);
const { defineTasks, makeHuey } = await import("../fixtures/backend-fixture");

setDefaultTimeout(60_000);

async function cli(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stderr: string }> {
  const c = spawnCli(args, env);
  const code = await c.proc.exited;
  return { code, stderr: c.log() };
}

for (const backend of ["postgres", "redis"] as BackendName[]) {
  if (!gate(`the ${backend} heartbeat test`, await probe(backend))) continue;

  describe(`heartbeats and statistics on ${backend}`, () => {
    const { config, cleanup } = freshConfig(backend, "obs");
    const fx = defineTasks(makeHuey(config), config);
    let consumer: Spawned | null = null;

    afterAll(async () => {
      try {
        if (consumer?.alive()) consumer.proc.kill("SIGKILL");
        await consumer?.proc.exited;
        await fx.huey.close();
      } finally {
        await cleanup();
      }
    });

    test("a live consumer with its pid; 20 tasks in its throughput; --check passes, then fails after the stop", async () => {
      const env = configToEnv(config);
      await fx.huey.pendingCount(); // create the store
      const before = await cli(env, "status", BACKEND_FIXTURE, "--check");
      expect(before.code).toBe(1);
      expect(before.stderr).toContain("no live consumer");

      consumer = spawnConsumer(config, ["-q", "--heartbeat", "300ms", "-n"]);
      const storage = fx.huey.storage;
      const pid = consumer.proc.pid;
      await waitFor(async () => {
        if (!consumer!.alive()) throw new Error(`the consumer exited:\n${consumer!.log()}`);
        return (await readConsumers(storage, Date.now())).some((c) => c.pid === pid && c.live);
      }, "the consumer's heartbeat");
      expect((await cli(env, "status", BACKEND_FIXTURE, "--check")).code).toBe(0);

      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => fx.add(i, 1)));
      for (const r of results) await r.get({ blocking: true, timeout: 30_000 });
      const [me] = (await waitFor(async () => {
        const list = (await readConsumers(storage, Date.now())).filter((c) => c.pid === pid && c.done === 20);
        return list.length ? list : null;
      }, "the heartbeat to count 20 done"))!;
      expect(me).toMatchObject({ backend, live: true, failed: 0, workers: 1, concurrency: 1 });
      expect(lastMinutes(await readThroughput(storage, Date.now(), 5), 5).done).toBe(20);
      const stats = await readTaskStats(storage, Date.now(), 5);
      expect(stats.find((t) => t.name === "bk.add")).toMatchObject({ counts: expect.objectContaining({ complete: 20 }), run: expect.objectContaining({ count: 20 }) });

      expect(await consumer.stop()).toBe(0);
      expect((await readConsumers(storage, Date.now())).find((c) => c.pid === pid)).toMatchObject({ live: false, stopped: true, done: 20 });
      const after = await cli(env, "status", BACKEND_FIXTURE, "--check");
      expect(after.code).toBe(1);
      expect(after.stderr).toContain("no live consumer");
    });
  });
}

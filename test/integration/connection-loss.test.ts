// Connection loss: a consumer process draining tasks on PostgreSQL (then Redis) whose server is
// restarted mid-drain keeps running, reconnects, and every task completes. And a server that
// cannot be reached at start is one clear error line and exit 1 from `huey run`.
//
// Restarts the local servers (see test/services.ts); both are left running afterwards, on failure
// too. Skipped (with the reason) when a server is unreachable, unless HUEY_TEST_SERVICES=require.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import * as api from "../../src/index";
import { registerModulePlugin } from "../../src/consumer/loader";
import { waitFor } from "../harness";
import {
  ensurePostgres, ensureRedis, freshConfig, gate, probe, restartPostgres, restartRedis, spawnCli, spawnConsumer, type Spawned,
} from "../services";
import type { BackendName } from "../fixtures/backend-fixture";

registerModulePlugin(api as unknown as Record<string, unknown>);
const { defineTasks, makeHuey } = await import("../fixtures/backend-fixture");

setDefaultTimeout(90_000);

afterAll(async () => {
  await ensurePostgres();
  await ensureRedis();
});

const N = 1_500;
/** How long the server stays down: long enough for refused reconnects, not just a dropped socket. */
const DOWN_MS = 2_500;

/** A call that may fail while the server is down: null then. */
async function tolerant<T>(fn: () => Promise<T>): Promise<T | null> {
  try {
    return await fn();
  } catch {
    return null;
  }
}

for (const backend of ["postgres", "redis"] as BackendName[]) {
  if (!gate(`the ${backend} connection-loss tests`, await probe(backend))) continue;

  describe(`connection loss on ${backend}`, () => {
    test(`the server restarts mid-drain: the consumer keeps running, reconnects, and all ${N} tasks complete`, async () => {
      const { config, cleanup } = freshConfig(backend, "loss");
      const fx = defineTasks(makeHuey(config));
      let consumer: Spawned | null = null;
      try {
        // A short lease: on Redis, writes acknowledged just before the restart may be lost with
        // the snapshot, and their tasks then run again once their leases expire.
        consumer = spawnConsumer(config, ["-q", "-w", "2", "--concurrency", "2", "--lease", "3s", "-n"]);
        const group = [...(await fx.huey.enqueueMany<number>(Array.from({ length: N }, (_, i) => [fx.sleep, [2, i]] as const)))];
        await waitFor(async () => ((await tolerant(() => fx.huey.resultCount())) ?? 0) >= N / 5, "a fifth of the tasks done", 30_000);
        const before = await fx.huey.resultCount();
        const t0 = performance.now();
        if (backend === "postgres") await restartPostgres(DOWN_MS);
        else await restartRedis(DOWN_MS);
        const restartMs = performance.now() - t0;
        expect(consumer.alive()).toBe(true);
        await waitFor(async () => (await tolerant(() => fx.huey.resultCount())) === N, `all ${N} results stored`, 60_000);
        const ms = performance.now() - t0;
        expect(consumer.alive()).toBe(true);
        const values = await Promise.all(group.map((r) => r.get()));
        expect(values).toEqual(group.map((_, i) => i));
        expect(await fx.huey.pendingCount()).toBe(0);
        expect(await fx.huey.storage.leasedCount()).toBe(0);
        console.log(
          `${backend}: restarted after ${before}/${N} results (down ${Math.round(restartMs)}ms); ` +
            `all done ${Math.round(ms)}ms after the restart began; consumer log:\n` +
            consumer.log().split("\n").filter(Boolean).slice(0, 6).map((l) => `  ${l.slice(0, 220)}`).join("\n"),
        );
        expect(await consumer.stop()).toBe(0);
      } finally {
        if (consumer?.alive()) consumer.proc.kill("SIGKILL");
        if (backend === "postgres") await ensurePostgres();
        else await ensureRedis();
        await tolerant(() => fx.huey.close());
        await tolerant(cleanup);
      }
    });
  });
}

describe("a server that cannot be reached at start", () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ["postgres, refused port", { HUEY_BACKEND: "postgres", HUEY_PG_URL: "postgres://huey:s3cret@127.0.0.1:1/test" }, /cannot connect to PostgreSQL at postgres:\/\/huey:\*\*\*@127\.0\.0\.1:1\/test/],
    ["postgres, malformed url", { HUEY_BACKEND: "postgres", HUEY_PG_URL: "postgres://huey:s3cret@host:notaport/db" }, /not a valid PostgreSQL URL/],
    ["redis, refused port", { HUEY_BACKEND: "redis", HUEY_REDIS_URL: "redis://huey:s3cret@127.0.0.1:1" }, /cannot connect to Redis at redis:\/\/huey:\*\*\*@127\.0\.0\.1:1/],
    ["redis, not a redis url", { HUEY_BACKEND: "redis", HUEY_REDIS_URL: "http://127.0.0.1:6379" }, /is not a Redis URL/],
  ];
  for (const [what, env, message] of cases) {
    test(`${what}: huey run prints one clear line and exits 1`, async () => {
      const c = spawnCli(["run", "test/fixtures/backend-fixture.ts", "-q"], env);
      const code = await Promise.race([c.proc.exited, Bun.sleep(30_000).then(() => "still running" as const)]);
      if (code === "still running") c.proc.kill("SIGKILL");
      await Bun.sleep(20); // let stderr drain
      const lines = c.log().trim().split("\n").filter(Boolean);
      expect({ code, lines: lines.length }).toEqual({ code: 1, lines: 1 });
      expect(lines[0]).toMatch(message);
      expect(c.log()).not.toContain("s3cret");
      expect(c.log()).not.toMatch(/^\s+at /m); // no stack trace
    });
  }
});

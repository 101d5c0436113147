// Enqueue inside the application's own PostgreSQL transaction: huey.enqueueInTransaction(tx, ...)
// queues the task only if the application's write commits.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { SQL } from "bun";
import * as api from "../../src/index";
import { registerModulePlugin } from "../../src/consumer/loader";
import { waitFor } from "../harness";
import { freshConfig, gate, PG_URL, probePostgres, spawnConsumer, type Spawned } from "../services";

registerModulePlugin(api as unknown as Record<string, unknown>);
const { defineTasks, makeHuey } = await import("../fixtures/backend-fixture");

setDefaultTimeout(30_000);

if (gate("the PostgreSQL transaction tests", await probePostgres())) {
  describe("huey.enqueueInTransaction (PostgreSQL)", () => {
    const { config, cleanup } = freshConfig("postgres", "tx");
    const fx = defineTasks(makeHuey(config));
    const app = new SQL({ url: PG_URL, max: 2 });
    const orders = `${config.pgSchema}_orders`;
    let consumer: Spawned | null = null;

    afterAll(async () => {
      try {
        if (consumer) await consumer.stop();
        await app`DROP TABLE IF EXISTS ${app(orders)}`;
        await app.close({ timeout: 1 });
        await fx.huey.close();
      } finally {
        await cleanup();
      }
    });

    test("a rolled-back transaction leaves neither the app's row nor the task", async () => {
      await fx.huey.pendingCount(); // migrate outside the app's transaction
      await app`CREATE TABLE ${app(orders)} (id int PRIMARY KEY)`;
      let ids: string[] = [];
      const err = await app
        .begin(async (tx) => {
          await tx`INSERT INTO ${tx(orders)} VALUES (1)`;
          const group = await (fx.huey as api.PostgresHuey).enqueueInTransaction(tx, [[fx.add, [1, 2]], [fx.add, [3, 4]]]);
          ids = [...group].map((r) => r.id);
          // Not visible outside the transaction before it commits.
          expect(await fx.huey.pendingCount()).toBe(0);
          throw new Error("the app changed its mind");
        })
        .then(() => null, (e: Error) => e.message);
      expect(err).toBe("the app changed its mind");
      expect(ids).toHaveLength(2);
      expect(await fx.huey.pendingCount()).toBe(0);
      for (const id of ids) expect(await fx.huey.storage.hasTask(id)).toBe(false);
      expect((await app`SELECT count(*)::int AS n FROM ${app(orders)}`)[0].n).toBe(0);
    });

    // That the wake-up is a NOTIFY, not a poll, is tested on the storage (postgres.test.ts, wakesDuring).
    test("a committed transaction queues the task; a running consumer runs it", async () => {
      consumer = spawnConsumer(config, ["-w", "1", "-n"]);
      await waitFor(() => consumer!.log().includes("consumer started"), "the consumer to start");
      const group = await app.begin(async (tx) => {
        await tx`INSERT INTO ${tx(orders)} VALUES (2)`;
        return (fx.huey as api.PostgresHuey).enqueueInTransaction<number>(tx, [[fx.add, [20, 22]]]);
      });
      const r = group.at(0)!;
      expect(await r.get({ blocking: true, timeout: 10_000 })).toBe(42);
      expect((await app`SELECT count(*)::int AS n FROM ${app(orders)}`)[0].n).toBe(1);
    });

    test("refused where it cannot hold: other backends, unique tasks, not a transaction", async () => {
      const memory = new api.MemoryHuey({ name: "m" });
      const t = memory.task("t", () => 1);
      // Only a PostgresHuey has the method: other backends fail to type-check, and have nothing to call.
      expect("enqueueInTransaction" in memory).toBe(false);
      void t;
      await expect(app.begin((tx) => (fx.huey as api.PostgresHuey).enqueueInTransaction(tx, [[fx.uniq, ["k", 0]]]))).rejects.toThrow(/is unique/);
      await expect((fx.huey as api.PostgresHuey).enqueueInTransaction(null as never, [[fx.add, [1, 1]]])).rejects.toThrow(/tx must be/);
    });
  });
}

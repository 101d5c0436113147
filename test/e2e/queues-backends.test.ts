// Named queues on the compiled binary against PostgreSQL and Redis: a consumer with --queues runs only
// its queue, and a paused queue holds its tasks while another drains, until resumed. Skipped with the
// reason printed when a server is unreachable (fails with HUEY_TEST_SERVICES=require).
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { PostgresHuey, RedisHuey } from "../../src/index";
import { waitFor } from "../harness";
import { configToEnv, freshConfig, gate, probe } from "../services";
import type { BackendName } from "../fixtures/backend-fixture";
import { killAll, runHuey, spawnHuey, taskDir } from "./binary";

setDefaultTimeout(120_000);
afterEach(killAll);

for (const backend of ["postgres", "redis"] as BackendName[]) {
  if (!gate(`the named-queue e2e test on ${backend}`, await probe(backend))) continue;

  describe(`named queues on ${backend}`, () => {
    test("a consumer with --queues runs only its queue, and a paused queue holds until resumed", async () => {
      const { config, cleanup } = freshConfig(backend, "lanes");
      const { dir, env: files } = taskDir("queues-fixture.ts");
      const env = { ...files, ...configToEnv(config) };
      const runs = new Database(files.HUEY_RUNS_DB, { create: true });
      runs.run("PRAGMA busy_timeout = 10000");
      runs.run("PRAGMA journal_mode = WAL");
      runs.run("CREATE TABLE IF NOT EXISTS ran (queue TEXT NOT NULL, i INTEGER NOT NULL, tag TEXT NOT NULL)");
      const huey =
        backend === "postgres"
          ? new PostgresHuey({ name: "queues", url: config.pgUrl!, schema: config.pgSchema, max: 2 })
          : new RedisHuey({ name: "queues", url: config.redisUrl!, prefix: config.redisPrefix });
      const email = huey.task("email", { queue: "emails" }, (_i: number) => {});
      const report = huey.task("report", { queue: "reports" }, (_i: number) => {});
      const count = (queue: string) => (runs.query("SELECT count(*) AS n FROM ran WHERE queue = ?").get(queue) as { n: number }).n;
      const byTag = (tag: string) => runs.query("SELECT DISTINCT queue FROM ran WHERE tag = ?").all(tag).map((r) => (r as { queue: string }).queue);
      try {
        const tasks = join(dir, "tasks.ts");
        const paused = await runHuey(["pause", tasks, "emails"], { cwd: dir, env });
        expect(paused.code).toBe(0);
        expect(paused.stdout).toContain("paused queue emails");
        await huey.enqueueMany([...Array.from({ length: 20 }, (_, i) => [email, [i]] as const), ...Array.from({ length: 20 }, (_, i) => [report, [i]] as const)]);
        await spawnHuey(["run", tasks, "-q", "--queues", "emails=2"], { cwd: dir, env: { ...env, HUEY_TAG: "E" } });
        await spawnHuey(["run", tasks, "-q", "--queues", "reports"], { cwd: dir, env: { ...env, HUEY_TAG: "R" } });
        await waitFor(() => count("reports") === 20, "the reports drained");
        expect(count("emails")).toBe(0);
        expect(await huey.storage.pendingCount("emails")).toBe(20);
        const resumed = await runHuey(["resume", tasks, "emails"], { cwd: dir, env });
        expect(resumed.code).toBe(0);
        await waitFor(() => count("emails") === 20, "the emails drained after resume");
        expect({ E: byTag("E"), R: byTag("R") }).toEqual({ E: ["emails"], R: ["reports"] });
      } finally {
        runs.close();
        await huey.close();
        await killAll();
        await cleanup();
      }
    });
  });
}

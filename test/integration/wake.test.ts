// Wake-ups reach Worker threads: a task that blocks on another task's result from inside a Worker
// is woken by the child's commit (made by the consumer's main thread), not by a fallback timer.
// Real Bun Workers, an in-process Consumer; SQLite, PostgreSQL and Redis.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { dirname } from "node:path";
import * as api from "../../src/index";
import { Consumer } from "../../src/consumer/consumer";
import { registerModulePlugin } from "../../src/consumer/loader";
import { Logger } from "../../src/consumer/logger";
import type { ConsumerOptions } from "../../src/consumer/options";
import type { BackendName } from "../fixtures/backend-fixture";
import { tempDir } from "../harness";
import { freshConfig, gate, probe } from "../services";

// The fixtures import "bun-huey": register the module before the first import of them.
registerModulePlugin(api as unknown as Record<string, unknown>);
const { defineTasks, writeTasksWrapper } = await import("../fixtures/wake-fixture");
type WaitCounts = import("../fixtures/wake-fixture").WaitCounts;

setDefaultTimeout(60_000);
const ROUNDS = 20;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * A Consumer on a fresh store; runs `ROUNDS` parents one after another, each enqueuing a child
 * from its Worker and blocking on the child's result. Returns how the parents' waits ended.
 */
async function parentsAwaitingChildren(backend: BackendName, options: ConsumerOptions): Promise<WaitCounts> {
  const { config, cleanup } = freshConfig(backend, "wake");
  cleanups.push(cleanup);
  const dir = config.db ? dirname(config.db) : tempDir("huey-wake-");
  const tasks = defineTasks(config);
  const consumer = new Consumer(
    tasks.huey,
    { file: writeTasksWrapper(config, dir), instance: null },
    { handleSignals: false, grace: "5s", ...options },
    new Logger("warn", "text", () => {}),
  );
  cleanups.push(async () => {
    await consumer.stop(0);
    await tasks.huey.close();
  });
  await consumer.start();
  const total: WaitCounts = { changed: 0, poll: 0, timeout: 0 };
  for (let i = 0; i < ROUNDS; i++) {
    const r = await tasks.parent(i);
    const out = (await r.get({ blocking: true, timeout: 30_000 })) as { value: number; waits: WaitCounts };
    expect(out.value).toBe(2 * i);
    for (const k of ["changed", "poll", "timeout"] as const) total[k] += out.waits[k];
  }
  return total;
}

for (const backend of ["sqlite", "postgres", "redis"] as BackendName[]) {
  if (backend !== "sqlite" && !gate(`the ${backend} Worker wake-up tests`, await probe(backend))) continue;

  describe(`a get() inside a Worker wakes on the child's commit (${backend})`, () => {
    for (const [what, options] of [
      // prefetch 0: with prefetch a child can be handed to the busy Worker of its own parent
      // (the one with the most room by task times) and queue behind it there until the
      // parent's get() times out; a consumer issue of its own, not what this test is about.
      ["2 Workers", { workers: 2, prefetch: 0 }],
      ["1 Worker running parent and child (concurrency 2)", { workers: 1, concurrency: 2 }],
    ] as const) {
      test(`${what}: ${ROUNDS} parents in sequence, every wait woken by a change`, async () => {
        const waits = await parentsAwaitingChildren(backend, options);
        console.log(`${backend}, ${what}: waits of the parents' gets ${JSON.stringify(waits)}`);
        // No wait ran to its own timer. On SQLite the Workers' safety poll is lengthened to a
        // minute (see the fixture), so it cannot have rescued a lost wake-up either; on
        // PostgreSQL a "poll" is a wait cut short while the LISTEN was not yet acknowledged.
        expect(waits.timeout).toBe(0);
        if (backend === "sqlite") expect(waits.poll).toBe(0);
      });
    }
  });
}

// An idle consumer with a Worker: once a task's outcome reaches the consumer's thread, its result is
// committed before the consumer's next lease, so the result is not held behind a lease that finds
// nothing. The order of calls on the consumer's own thread, on a temporary SQLite file.
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import * as api from "../../src/index";
import { Consumer } from "../../src/consumer/consumer";
import { registerModulePlugin } from "../../src/consumer/loader";
import { Logger } from "../../src/consumer/logger";
import { tempDir } from "../harness";

registerModulePlugin(api as unknown as Record<string, unknown>);
const { defineTasks, writeTasksWrapper } = await import("../fixtures/int-fixture");

setDefaultTimeout(30_000);
const TIMEOUT = { blocking: true, timeout: 15_000 } as const;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test("an idle consumer commits a task's result before it leases again", async () => {
  const dir = tempDir("huey-commit-first-");
  const db = join(dir, "queue.db");
  const { huey, add } = defineTasks(db);
  const consumer = new Consumer(huey, { file: writeTasksWrapper(db, dir), instance: null }, { workers: 1, handleSignals: false, grace: "5s" }, new Logger("error", "text", () => {}));
  cleanups.push(async () => {
    await consumer.stop(0);
    await huey.close();
  });
  await consumer.start();
  expect(await (await add(0, 0)).get(TIMEOUT)).toBe(0); // the Worker is up
  const storage = huey.storage as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const calls: string[] = [];
  for (const name of ["lease", "commit"]) {
    const orig = storage[name]!.bind(storage);
    storage[name] = (...a: unknown[]) => {
      calls.push(name);
      return orig(...a);
    };
  }
  const engine = consumer.engine as unknown as Record<string, (...a: unknown[]) => unknown>;
  const done = engine.done!.bind(engine);
  engine.done = (...a: unknown[]) => {
    calls.push("done");
    return done(...a);
  };
  for (let i = 1; i <= 5; i++) {
    calls.length = 0;
    const r = await add(i, 1);
    expect(await r.get(TIMEOUT)).toBe(i + 1);
    // Once the Worker's outcome is in (done), the next write is its commit: no lease comes first.
    // (A lease before the outcome, on a chore's timer, is allowed.)
    const at = calls.indexOf("done");
    expect(calls.slice(at, calls.indexOf("commit", at) + 1)).toEqual(["done", "commit"]);
  }
});

// Tasks that throw something hard to describe (a Proxy whose traps throw, an Error whose message
// getter throws) or fail outside their own promise (an unhandled rejection, a throw from a timer):
// each runs exactly once and fails with a stored error that says what was thrown, and the Worker
// that ran it stays up.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import * as api from "../../src/index";
import { Consumer } from "../../src/consumer/consumer";
import { registerModulePlugin } from "../../src/consumer/loader";
import { Logger } from "../../src/consumer/logger";
import { FIXTURES, tempDir, waitFor } from "../harness";
import { spawnCli } from "../services";

registerModulePlugin(api as unknown as Record<string, unknown>);
const { defineHostile, writeHostileWrapper } = await import("../fixtures/hostile-fixture");

setDefaultTimeout(60_000);
const TIMEOUT = { blocking: true, timeout: 20_000 } as const;

type Which = "throwsProxy" | "throwsBadMessage" | "rejectsUnhandled" | "throwsOutside";
const CASES: [string, Which, RegExp, RegExp][] = [
  ["a Proxy whose every trap throws", "throwsProxy", /^NonError$/, /^a Proxy object was thrown instead of an Error; reading it threw: Error: the proxy refuses$/],
  ["an Error whose message getter throws", "throwsBadMessage", /^Error$/, /^\(reading its message threw: Error: message getter exploded\)$/],
  ["an unhandled rejection", "rejectsUnhandled", /^TypeError$/, /^nobody handled this rejection$/],
  ["an error thrown from a timer", "throwsOutside", /^RangeError$/, /^thrown from a timer$/],
];

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function failure(r: api.Result<unknown>): Promise<api.TaskFailedError> {
  const err = await r.get(TIMEOUT).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(api.TaskFailedError);
  return err as api.TaskFailedError;
}

describe("hostile throws: run once, fail with what was thrown, the Worker stays", () => {
  // `huey run` in its own process: `bun test` makes any uncaught error in a Worker fatal,
  // whatever handlers the Worker has (seen on Bun 1.4.5), so the stray-error cases need a
  // process of their own.
  test("`huey run` with one Worker: each of the four runs once, and the Worker is never replaced", async () => {
    const dir = tempDir("huey-hostile-");
    const db = join(dir, "queue.db");
    const c = spawnCli(["run", join(FIXTURES, "hostile-fixture.ts"), "-w", "1"], { HUEY_DB: db });
    const t = defineHostile(db);
    cleanups.push(async () => {
      expect(await c.stop()).toBe(0);
      await t.huey.close();
    });
    for (const [what, which, name, message] of CASES) {
      const r = await t[which](which);
      const err = await failure(r);
      expect([what, err.error.name, err.error.message]).toEqual([what, expect.stringMatching(name), expect.stringMatching(message)]);
      expect(err.attempts).toBe(1);
      // The next task runs (on the same Worker), and the hostile one did not run again.
      expect(await (await t.add(2, 3)).get(TIMEOUT)).toBe(5);
      expect([what, t.runs(which)]).toEqual([what, 1]);
    }
    const dead = await t.huey.failed({ limit: 10 });
    expect(dead.map((d) => d.attempts)).toEqual([1, 1, 1, 1]);
    // A stray error while no task runs (its timer fires after the task's outcome): logged, and
    // the Worker goes on.
    expect(await (await t.straysLater("later")).get(TIMEOUT)).toBe("returned");
    await waitFor(() => c.log().includes("an uncaught exception in a worker while no task was running: Error: thrown after the task finished"), "the stray error logged");
    expect(await (await t.add(1, 1)).get(TIMEOUT)).toBe(2);
    expect(t.runs("later")).toBe(1);
    expect(c.log()).not.toContain("starting a new one");
    expect(c.alive()).toBe(true);
  });

  // In this process: the two whose trouble is describing what was thrown (no stray error).
  test.each(CASES.slice(0, 2))("in-process Consumer: %s", async (_, which, name, message) => {
    const dir = tempDir("huey-hostile-");
    const db = join(dir, "queue.db");
    const t = defineHostile(db);
    const consumer = new Consumer(t.huey, { file: writeHostileWrapper(db, dir), instance: null }, { workers: 1, handleSignals: false, grace: "5s" }, new Logger("info", "text", () => {}));
    cleanups.push(async () => {
      await consumer.stop(0);
      await t.huey.close();
    });
    await consumer.start();
    const r = await t[which](which);
    const err = await failure(r);
    expect(err.error.name).toMatch(name);
    expect(err.error.message).toMatch(message);
    expect(await (await t.add(2, 3)).get(TIMEOUT)).toBe(5);
    expect(t.runs(which)).toBe(1);
    expect(consumer.stats.workerRestarts).toBe(0);
    const dead = await t.huey.failed({ limit: 10 });
    expect(dead.map((d) => [d.id, d.attempts, d.error.message])).toEqual([[r.id, 1, expect.stringMatching(message)]]);
  });
});

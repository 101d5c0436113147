// Several Huey instances (queues) in one SQLite file: task ids are unique per queue, not per file.
import { afterEach, expect, test } from "bun:test";
import { SqliteHuey } from "../../src/storage/sqlite-huey";
import { PeriodicScheduler } from "../../src/periodic";
import { enqueueTick } from "../../src/consumer/consumer";
import { internalsOf } from "../../src/_internals";
import { tempDb } from "../harness";

const T = Date.parse("2024-01-01T00:00:05Z");
const hueys: SqliteHuey[] = [];
afterEach(async () => {
  for (const h of hueys.splice(0)) await h.close();
});

/** A scheduler wired as the consumer wires it: a tick's task id is "<name>:<tickMs>" (enqueueTick). */
function schedulerOf(h: SqliteHuey): PeriodicScheduler {
  return new PeriodicScheduler({
    storage: h.storage,
    defs: [...internalsOf(h).registry.periodic],
    enqueue: enqueueTick(h),
    now: () => {
      throw new Error("tests pass the time in");
    },
  });
}

test("two instances in one file with a periodic task of the same name: each gets its tick enqueued", async () => {
  const filename = tempDb("two-queues.db");
  for (const name of ["app-a", "app-b"]) {
    const h = new SqliteHuey({ name, filename });
    h.periodicTask("nightly", "*/5 * * * * *", () => name);
    hueys.push(h);
  }
  for (const h of hueys) expect((await schedulerOf(h).tick(T)).enqueued.map((t) => t.tickMs)).toEqual([T]);
  for (const h of hueys) {
    expect(await h.storage.hasTask(`nightly:${T}`)).toBe(true);
    expect((await h.storage.listPending(10)).length + (await h.storage.listScheduled(10)).length).toBe(1);
  }
});

// Deduplication windows with a real consumer process on a SQLite file: a debounced task runs once,
// with the last call's arguments, under the first call's id.
import { expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { SqliteHuey } from "../../src/storage/sqlite-huey";
import { FIXTURES, ROOT, tempDb, waitFor } from "../harness";

setDefaultTimeout(60_000);

test("debounce: 3 calls before the consumer starts run once, with the last call's arguments; a call after the run is a new task", async () => {
  const db = tempDb("dedup.db");
  const huey = new SqliteHuey({ name: "dedup", filename: db });
  const reindex = huey.task("reindex", { unique: { ttl: 300, mode: "debounce", key: (doc: string) => doc } }, (doc: string, rev: number) => ({ doc, rev }));
  // The consumer is not running yet: nothing can start between the calls.
  const a = await reindex("d1", 1);
  const b = await reindex("d1", 2);
  const c = await reindex("d1", 3);
  const other = await reindex("d2", 1);
  expect([a.merged, b.merged, c.merged, other.merged]).toEqual([false, true, true, false]);
  expect([b.id, c.id]).toEqual([a.id, a.id]);
  expect(await huey.scheduledCount()).toBe(2);
  const proc = Bun.spawn(["bun", join(ROOT, "src/cli.ts"), "run", join(FIXTURES, "dedup-fixture.ts"), "-w", "2", "-n", "--grace", "1s"], {
    env: { ...process.env, HUEY_DB: db }, stdout: "ignore", stderr: "pipe",
  });
  let log = "";
  void (async () => {
    for await (const chunk of proc.stderr) log += new TextDecoder().decode(chunk);
  })();
  try {
    expect(await a.get({ blocking: true, timeout: 30_000 })).toEqual({ doc: "d1", rev: 3 });
    expect(await other.get({ blocking: true, timeout: 30_000 })).toEqual({ doc: "d2", rev: 1 });
    // It ran: the next call opens a new window, a new task, which runs too.
    const d = await reindex("d1", 4);
    expect([d.merged, d.id === a.id]).toEqual([false, false]);
    expect(await d.get({ blocking: true, timeout: 30_000 })).toEqual({ doc: "d1", rev: 4 });
    await waitFor(async () => (await huey.pendingCount()) + (await huey.scheduledCount()) + (await huey.storage.leasedCount()) === 0, "queue empty");
    // One result per run: d1 (calls 1-3), d2 and d1 again (call 4); not one per call.
    expect(await huey.resultCount()).toBe(3);
  } catch (err) {
    console.error(log);
    throw err;
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
    await huey.close();
  }
});

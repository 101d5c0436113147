// Deduplication windows on the compiled binary: a consumer process on a SQLite file runs what the
// windows kept, with the arguments they kept (test/fixtures/dedup-fixture.ts).
import { afterEach, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { SqliteHuey } from "../../src/index";
import { hueyBinary, killAll, spawnHuey, taskDir } from "./binary";

setDefaultTimeout(120_000);
beforeAll(async () => {
  await hueyBinary();
}, 120_000);
afterEach(killAll);

const WAIT = { blocking: true, timeout: 60_000 } as const;

test("throttle, debounce and replace: each key runs once per window, debounce and replace with the last call's arguments", async () => {
  const { dir, env } = taskDir("dedup-fixture.ts");
  const huey = new SqliteHuey({ name: "dedup", filename: env.HUEY_DB });
  const d = { key: (k: string) => k };
  const ping = huey.task("ping", { unique: { ttl: "1h", mode: "throttle", ...d } }, (user: string, n: number) => ({ user, n }));
  const notify = huey.task("notify", { unique: { ttl: "1h", mode: "replace", ...d } }, (user: string, msg: string) => ({ user, msg }));
  const reindex = huey.task("reindex", { unique: { ttl: 300, mode: "debounce", ...d } }, (doc: string, rev: number) => ({ doc, rev }));
  try {
    // Before any consumer runs: nothing can start between the calls.
    const p = [await ping("ann", 1), await ping("ann", 2)];
    const n = [await notify.schedule(["ann", "first"], { delay: "1h" }), await notify("ann", "last")];
    const r = [await reindex("d1", 1), await reindex("d1", 2)];
    for (const [a, b] of [p, n, r]) expect([a!.merged, b!.merged, b!.id]).toEqual([false, true, a!.id]);
    const c = await spawnHuey(["run", "tasks.ts", "-w", "2"], { cwd: dir, env });
    await c.waitForStderr("consumer started", "the consumer to start");
    expect(await p[0]!.get(WAIT)).toEqual({ user: "ann", n: 1 });
    expect(await n[0]!.get(WAIT)).toEqual({ user: "ann", msg: "last" }); // replaced: ready now, not in 1h
    expect(await r[0]!.get(WAIT)).toEqual({ doc: "d1", rev: 2 });
    // After the runs: throttle still merges within its window; replace and debounce store new tasks.
    const p3 = await ping("ann", 3);
    expect([p3.merged, p3.id]).toEqual([true, p[0]!.id]);
    const n3 = await notify("ann", "again");
    expect(n3.merged).toBe(false);
    expect(await n3.get(WAIT)).toEqual({ user: "ann", msg: "again" });
    const r3 = await reindex("d1", 3);
    expect(r3.merged).toBe(false);
    expect(await r3.get(WAIT)).toEqual({ doc: "d1", rev: 3 });
    // One result per run: ping once, notify twice, reindex twice.
    expect(await huey.resultCount()).toBe(5);
  } finally {
    await huey.close();
  }
});

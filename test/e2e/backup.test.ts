// `huey backup` under load, on the binary: a consumer (-w 2) drains tasks while this test enqueues
// a few thousand (and more until the backup ends) and reads their results; a backup taken mid-way holds every result this test had
// read before the backup started (those commits came before it), and the copy is 0600.
import { afterEach, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { SqliteHuey, SqliteStorage } from "../../src/index";
import type { Result } from "../../src/result";
import { decode } from "../../src/serializer";
import { waitFor } from "../harness";
import { killAll, runHuey, spawnHuey, taskDir } from "./binary";

afterEach(killAll);

const TOTAL = 3_000;
const BATCH = 100;

test("a backup taken while a consumer drains and a producer enqueues holds every result read before it", async () => {
  const { dir, env } = taskDir();
  const consumer = await spawnHuey(["run", "tasks.ts", "-w", "2"], { cwd: dir, env });
  await consumer.waitForStderr("consumer started", "the consumer to start");

  const producer = new SqliteHuey({ name: "e2e", filename: env.HUEY_DB });
  const add = producer.task("add", (a: number, b: number) => a + b);
  const pending = new Map<string, { result: Result<number>; expected: number }>();
  const acked = new Map<string, number>(); // id -> the value read
  let enqueued = 0;
  let reading = true;

  let backupDone = false;
  const enqueue = async (upTo: number, untilBackupDone = false) => {
    while (enqueued < upTo || (untilBackupDone && !backupDone)) {
      const rows = Array.from({ length: BATCH }, (_, k) => [add, [enqueued + k, 1]] as const);
      let k = 0;
      for (const result of await producer.enqueueMany<number>(rows)) pending.set(result.id, { result, expected: enqueued + k++ + 1 });
      enqueued += BATCH;
    }
  };
  // Reads results as they appear (preserving them, so they stay in the database).
  const reader = (async () => {
    while (reading) {
      for (const [id, { result, expected }] of pending) {
        const value = await result.get(); // undefined while unfinished
        if (value === undefined) continue;
        expect(value).toBe(expected);
        acked.set(id, value);
        pending.delete(id);
      }
      await producer.storage.waitForChange(200, "results");
    }
  })();

  try {
    await enqueue(TOTAL / 2);
    await waitFor(() => acked.size >= TOTAL / 4, `a quarter of the results read (${acked.size})`, 120_000);

    // Mid-way: the rest is enqueued while the backup runs, and the consumer keeps draining.
    const before = new Map(acked);
    const out = join(dir, "copy.db");
    const rest = enqueue(TOTAL);
    const backup = await runHuey(["backup", "tasks.ts", out], { cwd: dir, env });
    backupDone = true;
    await rest;
    expect(backup.stderr).toBe("");
    expect(backup.code).toBe(0);
    expect(backup.stdout).toContain(`to ${out}`);
    expect(statSync(out).mode & 0o777).toBe(0o600);

    // The load went on: everything enqueued finishes in the source.
    await waitFor(() => acked.size === enqueued, `all ${enqueued} results read (${acked.size})`, 180_000);

    const copy = new SqliteStorage({ filename: out, queue: "e2e" });
    try {
      expect(copy.database.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
      const missing: string[] = [];
      const wrong: string[] = [];
      for (const [id, value] of before) {
        const raw = await copy.getResult(id, true, Date.now());
        if (raw === null) missing.push(id);
        else if (decode<{ ok: boolean; value: unknown }>(raw).value !== value) wrong.push(id);
      }
      expect({ missing: missing.length, wrong: wrong.length }).toEqual({ missing: 0, wrong: 0 });
      expect(before.size).toBeGreaterThanOrEqual(TOTAL / 4);
      const inCopy = (copy.database.query("SELECT count(*) AS n FROM results").get() as { n: number }).n;
      console.log(`backup: ${before.size} results read before it, ${inCopy} in the copy, ${enqueued} tasks in all`);
    } finally {
      await copy.close();
    }
  } finally {
    reading = false;
    await reader;
    await producer.close();
  }

  consumer.proc.kill("SIGTERM");
  expect(await consumer.exit(60_000)).toBe(0);
}, 300_000);

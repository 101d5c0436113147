// Regression (issue "Nothing overwritten", item 1): a consumer paused past its lease (SIGSTOP)
// resumed and its group commit overwrote the results of the consumer that had taken its tasks
// over, turned their successes into failures with dead letters, and queued retries again.
//
// Deterministic stand-in for the pause: time is an argument, so consumer A leases with a lease
// that has run out by the time consumer B (a second storage instance on the same SQLite file,
// its own connection) reclaims, leases, runs and commits. A then commits what it would have
// written for the same tasks. Only B's writes may be on disk afterwards.
import { afterEach, expect, test } from "bun:test";
import { fencedWrite, planOutcome } from "../../src/executor";
import { KEYS, toQueueItem, type Message } from "../../src/message";
import { SqliteStorage } from "../../src/storage/sqlite";
import type { LeasedItem } from "../../src/storage/types";
import { tempDb } from "../harness";

const T0 = 1_700_000_000_000;
const N = 24;
const opened: SqliteStorage[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

function open(filename: string): SqliteStorage {
  const s = new SqliteStorage({ filename, queue: "fence" });
  opened.push(s);
  return s;
}

function message(i: number): Message {
  // A third of them may retry (with and without delay), the rest fail for good when they fail.
  const retries = i % 3 === 0 ? 2 : 0;
  return { v: 1, id: `t${String(i).padStart(2, "0")}`, name: "job", args: [i], priority: 0, retries, retryDelay: i % 2 ? 0 : 5_000, attempt: 1 };
}

const ok = (by: string, i: number) => ({ kind: "ok" as const, result: JSON.stringify({ ok: true, value: `${by}-${i}` }) });
const boom = { kind: "error" as const, error: { name: "Error", message: "A's run failed" } };

test("a consumer paused past its lease cannot overwrite what the consumer that took its tasks over wrote", async () => {
  const file = tempDb();
  const a = open(file);
  const b = open(file);
  await a.enqueue(Array.from({ length: N }, (_, i) => toQueueItem(message(i), 1 << 20)));

  // A leases everything, then "stops" (it makes no call) past its lease.
  const held: LeasedItem[] = await a.lease(N, T0 + 1_000);
  expect(held).toHaveLength(N);

  // B notices the lease ran out, takes the tasks over and runs them all to success.
  expect(await b.reclaimExpired(T0 + 2_000)).toBe(N);
  const taken = await b.lease(N, T0 + 60_000);
  expect(taken).toHaveLength(N);
  const bReport = await b.commit({
    tasks: taken.map((l, i) => fencedWrite(planOutcome(l, ok("B", i), T0 + 3_000, { keepFailed: true }).batch)),
  });
  expect(bReport).toEqual({ lost: [] });

  // A resumes: its renew learns nothing is held any more...
  expect((await a.renew(held, T0 + 4_000)).sort()).toEqual(held.map((l) => l.id).sort());
  // ...and its group commit, made of what it would write for its runs (failures with dead
  // letters and retries, and successes with other values), is refused task by task.
  const stale = held.map((l, i) =>
    fencedWrite(planOutcome(l, i % 2 ? boom : ok("A", i), T0 + 4_000, { keepFailed: true }).batch),
  );
  expect(stale.some((w) => w.putData?.length)).toBe(true); // dead letters were in it
  expect(stale.some((w) => w.enqueue?.length || w.schedule?.length)).toBe(true); // and retries
  const aReport = await a.commit({ tasks: stale });
  expect(aReport.lost.sort()).toEqual(held.map((l) => l.id).sort());

  // On disk, read through a third connection: B's results, no dead letters, nothing queued again.
  const c = open(file);
  for (let i = 0; i < N; i++) {
    expect(await c.getResult(message(i).id, true, T0 + 5_000)).toBe(ok("B", i).result);
  }
  expect(await c.countData(KEYS.failed)).toBe(0);
  expect([await c.pendingCount(), await c.leasedCount(), await c.scheduledCount()]).toEqual([0, 0, 0]);
});

test("a consumer whose lease was taken over while the newer holder still runs leaves that lease alone", async () => {
  const file = tempDb();
  const a = open(file);
  const b = open(file);
  await a.enqueue([toQueueItem(message(0), 1 << 20)]);
  const [stale] = await a.lease(1, T0 + 1_000);
  await b.reclaimExpired(T0 + 2_000);
  const [fresh] = await b.lease(1, T0 + 60_000);
  // A's failure (a retry under the same id) arrives while B still runs the task.
  const report = await a.commit({ tasks: [fencedWrite(planOutcome(stale!, boom, T0 + 3_000, { keepFailed: true }).batch)] });
  expect(report).toEqual({ lost: [stale!.id] });
  expect(await b.renew([fresh!], T0 + 61_000)).toEqual([]);
  expect([await b.pendingCount(), await b.leasedCount(), await b.scheduledCount()]).toEqual([0, 1, 0]);
  expect(await b.commit({ tasks: [fencedWrite(planOutcome(fresh!, ok("B", 0), T0 + 4_000, { keepFailed: true }).batch)] })).toEqual({ lost: [] });
  expect(await b.getResult(fresh!.id, true, T0 + 5_000)).toBe(ok("B", 0).result);
  expect(await b.leasedCount()).toBe(0);
});

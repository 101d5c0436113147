// The cross-connection wake-up that producers' blocking Result.get() relies on (run.test.ts,
// "blocking gets ... wake within milliseconds"), reduced to two SqliteStorage connections on one
// file so the interleaving that loses a wake-up is exact, not left to chance.
// It belongs with the SQLite storage tests; it lives here because the e2e test found it.
import { expect, test, setDefaultTimeout } from "bun:test";
import { SqliteStorage } from "../../src/index";
import { tempDb } from "../harness";
import { wakeStats } from "../../src/storage/_waiters";

// Spawns Workers and processes on a 2-core machine: a minute per test, not bun's 5 s default
// (setDefaultTimeout applies to the file that calls it; bunfig.toml has no such setting).
setDefaultTimeout(60_000);

function item(id: string) {
  return { id, name: "t", priority: 0, payload: JSON.stringify({ v: 1, id, name: "t", args: [], priority: 0, retries: 0, retryDelay: 0, attempt: 1 }) };
}

test("a waiter for results wakes when its result is committed, even if another read on its connection came in between", async () => {
  const file = tempDb();
  const producer = new SqliteStorage({ filename: file, queue: "q" });
  const consumer = new SqliteStorage({ filename: file, queue: "q" });
  try {
    await producer.enqueue([item("a"), item("b")]);
    const leases = await consumer.lease(2, Date.now() + 60_000);
    const a = leases.find((l) => l.id === "a")!;

    // Result.get() of task a: not there yet, so wait for a change of the results.
    expect(await producer.getResult("a", true, Date.now())).toBeNull();
    // How the wait ends is counted by reason: it must be the change, not a safety poll or its timer
    // (its timer is longer than this test may take).
    const before = { changed: 0, poll: 0, timeout: 0, ...wakeStats.results };
    const waiting = producer.waitForChange(120_000, "results");

    // The consumer stores a's result; before the file event reaches the producer, a second
    // Result.get() on the same connection (task b, still running) reads.
    void consumer.commit({ ack: [{ id: a.id, token: a.token }], results: [{ id: "a", payload: '{"ok":true,"value":1}' }] });
    expect(await producer.getResult("b", true, Date.now())).toBeNull();

    // a's waiter must still be woken by the change (it sleeps on when the other read's "seen"
    // data_version swallows the change).
    await waiting;
    const after = wakeStats.results!;
    expect({ changed: after.changed - before.changed, poll: after.poll - before.poll, timeout: after.timeout - before.timeout }).toEqual({ changed: 1, poll: 0, timeout: 0 });
  } finally {
    await producer.close();
    await consumer.close();
  }
}, 30_000);

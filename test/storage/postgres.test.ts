// PostgreSQL backend: the contract suite plus what only a server can show (connection errors,
// migrations under concurrency, SKIP LOCKED leases, NOTIFY wake-ups). Needs a server at
// HUEY_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test); without one the tests
// are skipped, or fail when HUEY_TEST_SERVICES=require.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { PostgresStorage } from "../../src/storage/postgres";
import { clientOptions } from "../../src/storage/_postgres-connection";
import { POSTGRES_MIGRATIONS } from "../../src/storage/sql/postgres/migrations";
import { servicesRequired, waitFor, wakesDuring } from "../harness";
import { PG_URL, probePostgres } from "../services";
import { describeStorageContract, item } from "./contract";

const URL = PG_URL;
const T0 = 1_700_000_000_000;


const unreachable = await probePostgres().catch((err) => String(err));
if (unreachable) {
  if (servicesRequired()) {
    test("PostgreSQL is reachable (HUEY_TEST_SERVICES=require)", () => {
      throw new Error(`${unreachable}; set HUEY_TEST_POSTGRES_URL or start the server`);
    });
  } else {
    console.warn(`skipping PostgreSQL storage tests: ${unreachable} (set HUEY_TEST_SERVICES=require to fail instead)`);
  }
}

/** A fresh schema name per test run (and per test that needs its own), dropped in afterAll. */
const schemas: string[] = [];
function freshSchema(): string {
  const name = `huey_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  schemas.push(name);
  return name;
}
const schema = freshSchema();

/**
 * Until its LISTEN is acknowledged a storage cuts waits short (100 ms); wait until a quiet wait
 * runs its full length, so a wake-up seen afterwards must have come from NOTIFY.
 */
async function untilListening(s: PostgresStorage): Promise<void> {
  await waitFor(async () => {
    const t0 = performance.now();
    await s.waitForChange(300);
    return performance.now() - t0 >= 290;
  }, "the storage to LISTEN");
}

const opened: PostgresStorage[] = [];
function open(options: Partial<ConstructorParameters<typeof PostgresStorage>[0]> = {}): PostgresStorage {
  const s = new PostgresStorage({ url: URL, queue: "q", schema, ...options });
  opened.push(s);
  return s;
}

// Each storage holds up to `max` connections and the server allows few (100 by default).
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

afterAll(async () => {
  if (unreachable) return;
  const admin = new SQL({ url: URL, max: 1 });
  for (const name of schemas) await admin`DROP SCHEMA IF EXISTS ${admin(name)} CASCADE`;
  await admin.close();
});

describe.skipIf(!!unreachable)("postgres", () => {
  describeStorageContract("postgres", (queue) => new PostgresStorage({ url: URL, queue, schema }), { shared: true });

  describe("postgres storage", () => {
    test("its connections open with jit off (a lease on an analyzed table was compiled anew each time)", async () => {
      const sql = new SQL(clientOptions(URL, 2, 5_000));
      try {
        const rows = await Promise.all([sql`SHOW jit`, sql`SHOW jit`]);
        expect(rows.map((r) => (r[0] as { jit: string }).jit)).toEqual(["off", "off"]);
      } finally {
        await sql.close();
      }
    });

    test("migrations are recorded once, however many instances open the schema at once", async () => {
      const own = freshSchema();
      const all = Array.from({ length: 6 }, () => open({ schema: own }));
      expect(await Promise.all(all.map((s) => s.pendingCount()))).toEqual([0, 0, 0, 0, 0, 0]);
      await open({ schema: own }).pendingCount();
      const admin = new SQL({ url: URL, max: 1 });
      const rows = await admin`SELECT version FROM ${admin(`${own}.schema_version`)} ORDER BY version`;
      await admin.close();
      expect(rows.map((r: { version: number }) => r.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
    });

    test("a schema of version 2 (ids unique per schema, no lock fences) upgrades and keeps its rows", async () => {
      const own = freshSchema();
      const admin = new SQL({ url: URL, max: 1 });
      await admin.begin(async (tx) => {
        await tx.unsafe(`CREATE SCHEMA "${own}"; SET LOCAL search_path TO "${own}";
          CREATE TABLE schema_version (version integer PRIMARY KEY, applied_at bigint NOT NULL);`);
        for (const m of POSTGRES_MIGRATIONS.filter((m) => m.version <= 2)) {
          await tx.unsafe(m.sql);
          await tx`INSERT INTO schema_version VALUES (${m.version}, 0)`;
        }
        await tx`INSERT INTO queue (queue, id, name, priority, payload, leased_until, token, leases)
                 VALUES ('a', 'r1', 't', 0, 'p-r1', NULL, NULL, 0), ('a', 'l1', 't', 0, 'p-l1', ${T0 + 1000}, 'tok', 1),
                        ('b', 'x', 't', 0, 'p-x', NULL, NULL, 0)`;
        await tx`INSERT INTO schedule (queue, id, name, priority, eta, payload)
                 VALUES ('a', 's1', 't', 0, ${T0 + 10}, 'p-s1'), ('a', 's2', 't', 0, ${T0 + 10}, 'p-s2'), ('a', 's0', 't', 0, ${T0}, 'p-s0')`;
        await tx`INSERT INTO results (queue, id, payload) VALUES ('a', 'r0', 'done')`;
        await tx`INSERT INTO kv (queue, key, value) VALUES ('a', 'k', 'v')`;
        await tx`INSERT INTO locks (queue, key, owner, until) VALUES ('a', 'L', 'o', ${T0 + 1000})`;
      });
      await admin.close();
      const a = open({ schema: own, queue: "a" });
      const b = open({ schema: own, queue: "b" });
      expect((await a.listPending(10)).map((x) => [x.id, x.leased])).toEqual([["r1", false], ["l1", true]]);
      await a.commit({ ack: [{ id: "l1", token: "tok" }] });
      expect(await a.leasedCount()).toBe(0);
      expect((await a.listScheduled(10)).map((x) => x.id)).toEqual(["s0", "s1", "s2"]);
      expect([await a.getResult("r0", true, T0), await a.getData("k", true)]).toEqual(["done", "v"]);
      expect(await a.listLocks(T0)).toEqual([{ key: "L", owner: "o", until: T0 + 1000, fence: 0 }]);
      expect(await a.acquireLock("L", "p", T0 + 2000, T0 + 1000)).toBe(1);
      // Ids are now unique per queue.
      await a.enqueue([item("x")]);
      await b.enqueue([item("r1")]);
      await b.schedule([{ ...item("s1"), eta: T0 }]);
      await expect(a.enqueue([item("x")])).rejects.toMatchObject({ code: "HUEY_DUPLICATE_ID" });
      expect([await a.pendingCount(), await b.pendingCount(), await b.scheduledCount()]).toEqual([2, 2, 1]);
      expect([await a.promoteDue(T0, 10), await b.promoteDue(T0, 10)]).toEqual([1, 1]);
    });

    test("a schema of version 4 (before lanes) upgrades: its tasks are in the lane \"default\" and nothing is lost", async () => {
      const own = freshSchema();
      const admin = new SQL({ url: URL, max: 1 });
      await admin.begin(async (tx) => {
        await tx.unsafe(`CREATE SCHEMA "${own}"; SET LOCAL search_path TO "${own}";
          CREATE TABLE schema_version (version integer PRIMARY KEY, applied_at bigint NOT NULL);`);
        for (const m of POSTGRES_MIGRATIONS.filter((m) => m.version <= 4)) {
          await tx.unsafe(m.sql);
          await tx`INSERT INTO schema_version VALUES (${m.version}, 0)`;
        }
        await tx`INSERT INTO queue (queue, id, name, priority, payload, leased_until, token, leases)
                 VALUES ('a', 'r1', 't', 0, 'p-r1', NULL, NULL, 0), ('a', 'l1', 't', 0, 'p-l1', ${T0 + 1000}, 'tok', 1)`;
        await tx`INSERT INTO schedule (queue, id, name, priority, eta, payload) VALUES ('a', 's1', 't', 0, ${T0}, 'p-s1')`;
      });
      await admin.close();
      const a = open({ schema: own, queue: "a" });
      expect((await a.listPending(10)).map((x) => [x.id, x.lane, x.leased])).toEqual([["r1", "default", false], ["l1", "default", true]]);
      expect((await a.listScheduled(10)).map((x) => [x.id, x.lane])).toEqual([["s1", "default"]]);
      expect(await a.lease(10, T0 + 1000, { now: T0, lanes: { other: 5 } })).toEqual([]);
      expect((await a.lease(10, T0 + 1000, { now: T0, lanes: { default: 5 } })).map((x) => [x.id, x.lane])).toEqual([["r1", "default"]]);
      expect(await a.promoteDue(T0, 10)).toBe(1);
      expect(await a.pendingCount("default")).toBe(1);
      await a.commit({ ack: [{ id: "l1", token: "tok" }] });
      expect(await a.leasedCount("default")).toBe(1);
    });

    test("a lease of one lane can use the per-lane partial index", async () => {
      const s = open();
      await s.pendingCount();
      const admin = new SQL({ url: URL, max: 1 });
      const plan = await admin.begin(async (tx) => {
        await tx`SET LOCAL enable_seqscan = off`;
        return tx.unsafe(
          `EXPLAIN SELECT seq FROM "${schema}".queue WHERE queue = 'q' AND lane = 'x' AND leased_until IS NULL ORDER BY priority DESC, seq LIMIT 10`,
        );
      });
      await admin.close();
      expect(plan.map((r: Record<string, string>) => r["QUERY PLAN"]).join("\n")).toContain("queue_lane_ready");
    });

    test("a schema from a newer bun-huey is refused", async () => {
      const own = freshSchema();
      await open({ schema: own }).pendingCount();
      const admin = new SQL({ url: URL, max: 1 });
      await admin`INSERT INTO ${admin(`${own}.schema_version`)} VALUES (999, 0)`;
      await admin.close();
      await expect(open({ schema: own }).pendingCount()).rejects.toThrow(/newer than this bun-huey knows/);
    });

    test("times come back as numbers, not int8 strings", async () => {
      const s = open({ queue: `times_${Date.now()}` });
      await s.schedule([{ ...item("a"), eta: T0 + 1 }]);
      const fence = await s.acquireLock("L", "A", T0 + 2, T0);
      expect(fence).toBeNumber();
      expect(await s.nextEta()).toBe(T0 + 1);
      expect((await s.listScheduled(1))[0]!.eta).toBe(T0 + 1);
      expect(await s.listLocks(T0)).toEqual([{ key: "L", owner: "A", until: T0 + 2, fence: fence! }]);
      expect(await s.incr("c", 1, T0 + 9, T0)).toBe(1);
      await s.flush();
    });

    test("two instances racing for one lock: one wins each round, and no fence is handed out twice", async () => {
      const queue = `fence_race_${Date.now()}`;
      const [a, b] = [open({ queue, max: 2 }), open({ queue, max: 2 })];
      const fences: number[] = [];
      for (let round = 0; round < 20; round++) {
        const got = await Promise.all([a.acquireLock("L", "A", T0 + 1000, T0), b.acquireLock("L", "B", T0 + 1000, T0)]);
        const won = got.filter((f) => f !== null);
        expect(won).toHaveLength(1);
        fences.push(won[0]!);
        expect(await a.releaseLock("L", null)).toBe(true);
      }
      for (let i = 1; i < fences.length; i++) expect(fences[i]!).toBeGreaterThan(fences[i - 1]!);
      await a.flush();
    });

    test("two instances leasing concurrently never get the same item", async () => {
      const queue = `race_${Date.now()}`;
      const [a, b] = [open({ queue, max: 4 }), open({ queue, max: 4 })];
      await a.enqueue(Array.from({ length: 500 }, (_, i) => item(`i${i}`, i % 3)));
      const seen: string[] = [];
      // Four loops per instance, each taking 1 to 7 items per call, until the queue is empty.
      const drain = async (s: PostgresStorage, batch: number) => {
        for (;;) {
          const got = await s.lease(batch, T0 + 60_000);
          if (!got.length && (await s.pendingCount()) === 0) return;
          for (const l of got) seen.push(l.id);
        }
      };
      await Promise.all([a, b].flatMap((s) => [1, 3, 5, 7].map((n) => drain(s, n))));
      expect(seen.length).toBe(500);
      expect(new Set(seen).size).toBe(500);
      await a.flush();
    });

    test("the ready-set lease can use the partial index", async () => {
      const s = open();
      await s.pendingCount();
      const admin = new SQL({ url: URL, max: 1 });
      const plan = await admin.begin(async (tx) => {
        await tx`SET LOCAL enable_seqscan = off`;
        return tx.unsafe(
          `EXPLAIN SELECT seq FROM "${schema}".queue WHERE queue = 'q' AND leased_until IS NULL ORDER BY priority DESC, seq LIMIT 10`,
        );
      });
      await admin.close();
      expect(plan.map((r: Record<string, string>) => r["QUERY PLAN"]).join("\n")).toContain("queue_ready");
    });

    test("listPending merges the ready and the leased rows into the order of one sorted query over the queue", async () => {
      const queue = `lp_${Date.now()}`;
      const s = open({ queue });
      let seed = 42;
      const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
      const lanes = ["default", "emails", "reports"];
      for (let round = 0; round < 4; round++) {
        await s.enqueue(Array.from({ length: 50 }, (_, i) => ({ ...item(`r${round}-${i}`, rnd(3) - 1), lane: lanes[rnd(3)] })));
        await s.lease(7 + rnd(10), T0 + 60_000);
      }
      const admin = new SQL({ url: URL, max: 1 });
      const reference = async (limit: number, lane?: string) =>
        (
          await admin.unsafe(
            `SELECT id, leased_until IS NOT NULL AS leased FROM "${schema}".queue WHERE queue = $1 ${lane ? "AND lane = $2" : ""} ORDER BY priority DESC, seq LIMIT ${limit}`,
            lane ? [queue, lane] : [queue],
          )
        ).map((r: { id: string; leased: boolean }) => [r.id, r.leased]);
      for (const limit of [1, 5, 40, 500]) {
        expect((await s.listPending(limit)).map((r) => [r.id, r.leased])).toEqual(await reference(limit));
        for (const lane of lanes) expect((await s.listPending(limit, lane)).map((r) => [r.id, r.leased])).toEqual(await reference(limit, lane));
      }
      expect((await s.listPending(500)).filter((r) => r.leased).length).toBeGreaterThan(20);
      await admin.close();
    });

    test("a waiter in another instance wakes on release, promote and result", async () => {
      const queue = `wake_${Date.now()}`;
      const [a, b] = [open({ queue }), open({ queue })];
      await untilListening(a);
      await b.enqueue([item("x")]);
      const [l] = await b.lease(1, T0 + 1000);
      for (const act of [
        () => b.release([{ id: l!.id, token: l!.token }]),
        () => b.schedule([{ ...item("s"), eta: T0 }]).then(() => b.promoteDue(T0, 10)),
      ]) {
        await a.lease(100, T0 + 1000); // read: now a only wakes for news
        // Waits longer than the test may take: only the notification can end them.
        const wakes = await wakesDuring(async () => {
          const woke = a.waitForChange(120_000);
          await act();
          await woke;
        });
        expect({ changed: wakes.changed, timeout: wakes.timeout }).toEqual({ changed: 1, timeout: 0 });
      }
      expect(await a.getResult("r", true, T0)).toBeNull();
      const wakes = await wakesDuring(async () => {
        const woke = a.waitForChange(120_000, "results");
        await b.putResult({ id: "r", payload: "1" });
        await woke;
      });
      expect({ changed: wakes.changed, timeout: wakes.timeout }).toEqual({ changed: 1, timeout: 0 });
      await a.flush();
    });

    test("a waiter sees every item of a burst of concurrent enqueues without waiting out its timeout", async () => {
      const queue = `burst_${Date.now()}`;
      const [a, b] = [open({ queue }), open({ queue, max: 8 })];
      await untilListening(a);
      const wakes = await wakesDuring(async () => {
        const burst = Promise.all(Array.from({ length: 40 }, (_, i) => b.enqueue([item(`x${i}`)])));
        let leased = 0;
        while (leased < 40) {
          leased += (await a.lease(100, T0 + 60_000)).length;
          if (leased < 40) await a.waitForChange(120_000);
        }
        await burst;
      });
      expect(wakes.timeout).toBe(0);
      await a.flush();
    });

    test("a notification between the caller's read and its wait is not slept through", async () => {
      const queue = `race_wake_${Date.now()}`;
      const [a, b] = [open({ queue }), open({ queue })];
      await untilListening(a);
      expect(await a.lease(1, T0)).toEqual([]);
      await b.enqueue([item("x")]);
      // Let the notification arrive before the wait starts.
      await Bun.sleep(50); // sets the scene; not a synchronisation
      // Slept through, the wait would end on its timer (longer than the test may take).
      const wakes = await wakesDuring(() => a.waitForChange(120_000));
      expect(wakes.timeout).toBe(0);
      await a.flush();
    });

    test("a dropped LISTEN connection is re-established and waiters are woken", async () => {
      const queue = `drop_${Date.now()}`;
      const [a, b] = [open({ queue }), open({ queue })];
      await b.pendingCount();
      const admin = new SQL({ url: URL, max: 1 });
      const listeners = async () =>
        (await admin`SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN %'`).map((r: { pid: number }) => r.pid);
      const before = new Set(await listeners());
      await untilListening(a); // opens a's LISTEN connection: the one listener that is new
      const mine = (await listeners()).filter((pid: number) => !before.has(pid));
      const killed = await admin`SELECT pg_terminate_backend(pid) FROM unnest(${mine}::int[]) AS pid`;
      await admin.close();
      expect(killed.length).toBeGreaterThan(0);
      // Bun reconnects (250 ms backoff) and re-subscribes. Notifications sent meanwhile are lost,
      // so the re-subscription itself wakes waiters...
      const resubscribed = await wakesDuring(() => a.waitForChange(120_000));
      expect(resubscribed.timeout).toBe(0);
      // ...and later notifications arrive on the new connection.
      expect(await a.lease(1, T0)).toEqual([]);
      const wakes = await wakesDuring(async () => {
        const woke = a.waitForChange(120_000);
        await b.enqueue([item("x")]);
        await woke;
      });
      expect(wakes.timeout).toBe(0);
      await a.flush();
    });

    test("close() ends every connection, so a process that waited can exit", async () => {
      const proc = Bun.spawn(["bun", "-e", `
        const { PostgresStorage } = await import(${JSON.stringify(require.resolve("../../src/storage/postgres"))});
        const s = new PostgresStorage({ url: ${JSON.stringify(URL)}, queue: "exit", schema: ${JSON.stringify(schema)} });
        await s.waitForChange(10);
        await s.enqueue([{ id: crypto.randomUUID(), name: "t", priority: 0, payload: "{}" }]);
        await s.flush();
        await s.close();`], { stderr: "pipe" });
      const code = await Promise.race([proc.exited, Bun.sleep(15_000).then(() => "still running")]);
      if (code === "still running") proc.kill();
      expect(code).toBe(0);
    });
  });
});

describe("postgres storage without a server", () => {
  test("the constructor is synchronous and does not connect", () => {
    expect(() => new PostgresStorage({ url: "postgres://nobody@127.0.0.1:1/none", queue: "q" })).not.toThrow();
  });

  test("a refused connection rejects with a StorageError naming the url without its password", async () => {
    const s = new PostgresStorage({ url: "postgres://huey:s3cret@127.0.0.1:1/test", queue: "q" });
    const err = await s.enqueue([item("a")]).then(() => null, (e: unknown) => e as Error & { code: string });
    expect(err?.code).toBe("HUEY_STORAGE");
    expect(err?.message).toContain("cannot connect to PostgreSQL at postgres://huey:***@127.0.0.1:1/test");
    expect(err?.message).toContain("check that the server is running");
    expect(err?.message).not.toContain("s3cret");
    await s.close();
  });

  test("a malformed url rejects with a StorageError, not a TypeError", async () => {
    const s = new PostgresStorage({ url: "postgres://huey:s3cret@host:notaport/db", queue: "q" });
    const err = await s.pendingCount().then(() => null, (e: unknown) => e as Error & { code: string });
    expect(err?.code).toBe("HUEY_STORAGE");
    expect(err?.message).toMatch(/not a valid PostgreSQL URL/);
    expect(err?.message).not.toContain("s3cret");
  });

  test("an unsafe schema name is refused at once", () => {
    expect(() => new PostgresStorage({ url: URL, queue: "q", schema: 'x"; DROP TABLE y; --' })).toThrow(/not a valid name/);
  });

  test("waitForChange without a server sleeps briefly instead of rejecting or hanging", async () => {
    const s = new PostgresStorage({ url: "postgres://huey@127.0.0.1:1/test", queue: "q" });
    // Waiting its 60 s would outlast this test's own timeout.
    await s.waitForChange(60_000);
    await s.close();
  });
});

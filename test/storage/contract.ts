// The storage contract: every backend runs this same suite. Time is passed in; nothing sleeps.
import { afterEach, describe, expect, test } from "bun:test";
import type { QueueItem, Storage } from "../../src/storage/types";

export interface ContractOptions {
  /** Two instances made by `create` with the same queue name share data (not true of memory). */
  shared: boolean;
}

const T0 = 1_700_000_000_000;

export function item(id: string, priority = 0, name = "t"): QueueItem {
  return { id, name, priority, payload: JSON.stringify({ id }) };
}

export function describeStorageContract(
  backend: string,
  create: (queue: string) => Storage | Promise<Storage>,
  options: ContractOptions,
): void {
  describe(`storage contract: ${backend}`, () => {
    const opened: Storage[] = [];
    let n = 0;
    const queueName = () => `q${process.pid}_${Date.now().toString(36)}_${n++}`;
    async function make(queue = queueName()): Promise<Storage> {
      const s = await create(queue);
      opened.push(s);
      await s.flush();
      return s;
    }
    afterEach(async () => {
      for (const s of opened.splice(0)) {
        await s.flush().catch(() => {});
        await s.close();
      }
    });

    test("leases by priority, then in enqueue order", async () => {
      const s = await make();
      await s.enqueue([item("a", 0), item("b", 5), item("c", 0), item("d", 5), item("e", -1)]);
      const got = await s.lease(10, T0 + 1000);
      expect(got.map((x) => x.id)).toEqual(["b", "d", "a", "c", "e"]);
      expect(got[0]).toMatchObject({ id: "b", name: "t", priority: 5, payload: '{"id":"b"}', leases: 1 });
      expect(typeof got[0]!.token).toBe("string");
    });

    test("a leased item is invisible to other leases until acked, released or expired", async () => {
      const s = await make();
      await s.enqueue([item("a"), item("b")]);
      const [first] = await s.lease(1, T0 + 1000);
      expect(first!.id).toBe("a");
      expect((await s.lease(10, T0 + 1000)).map((x) => x.id)).toEqual(["b"]);
      expect(await s.lease(10, T0 + 1000)).toEqual([]);
      expect(await s.pendingCount()).toBe(0);
      expect(await s.leasedCount()).toBe(2);
    });

    test("ack needs the current token; a stale token changes nothing", async () => {
      const s = await make();
      await s.enqueue([item("a")]);
      const [l] = await s.lease(1, T0 + 1000);
      await s.commit({ ack: [{ id: "a", token: "not-the-token" }] });
      expect(await s.leasedCount()).toBe(1);
      await s.commit({ ack: [{ id: "a", token: l!.token }] });
      expect(await s.leasedCount()).toBe(0);
      expect(await s.pendingCount()).toBe(0);
    });

    test("expired leases are reclaimed and leased again with a new token and a higher count", async () => {
      const s = await make();
      await s.enqueue([item("a")]);
      const [l1] = await s.lease(1, T0 + 1000);
      expect(await s.reclaimExpired(T0 + 999)).toBe(0);
      expect(await s.reclaimExpired(T0 + 1001)).toBe(1);
      const [l2] = await s.lease(1, T0 + 5000);
      expect(l2!.id).toBe("a");
      expect(l2!.leases).toBe(2);
      expect(l2!.token).not.toBe(l1!.token);
      // the first holder's ack is now stale
      await s.commit({ ack: [{ id: "a", token: l1!.token }] });
      expect(await s.leasedCount()).toBe(1);
    });

    test("renew extends only leases still held", async () => {
      const s = await make();
      await s.enqueue([item("a"), item("b")]);
      const ls = await s.lease(2, T0 + 1000);
      expect(await s.renew([{ id: ls[0]!.id, token: ls[0]!.token }, { id: ls[1]!.id, token: "stale" }], T0 + 9000)).toBe(1);
      expect(await s.reclaimExpired(T0 + 2000)).toBe(1);
      expect((await s.lease(5, T0 + 3000)).map((x) => x.id)).toEqual([ls[1]!.id]);
    });

    test("release makes items ready at once, keeping their place", async () => {
      const s = await make();
      await s.enqueue([item("a"), item("b"), item("c")]);
      const ls = await s.lease(2, T0 + 1000);
      expect(await s.release(ls.map(({ id, token }) => ({ id, token })))).toBe(2);
      expect((await s.lease(3, T0 + 1000)).map((x) => x.id)).toEqual(["a", "b", "c"]);
    });

    test("commit applies acks, results, enqueues and schedules together", async () => {
      const s = await make();
      await s.enqueue([item("a")]);
      const [l] = await s.lease(1, T0 + 1000);
      await s.commit({
        ack: [{ id: "a", token: l!.token }],
        results: [{ id: "a", payload: '"done"' }],
        enqueue: [item("next")],
        schedule: [{ ...item("later"), eta: T0 + 60_000 }],
      });
      expect(await s.getResult("a", true, T0)).toBe('"done"');
      expect(await s.pendingCount()).toBe(1);
      expect(await s.scheduledCount()).toBe(1);
      expect(await s.leasedCount()).toBe(0);
    });

    test("a commit with a duplicate id applies nothing", async () => {
      const s = await make();
      await s.enqueue([item("a"), item("b")]);
      const [l] = await s.lease(1, T0 + 1000);
      await expect(
        s.commit({ ack: [{ id: "a", token: l!.token }], results: [{ id: "a", payload: "1" }], enqueue: [item("c"), item("b")] }),
      ).rejects.toThrow();
      expect(await s.getResult("a", true, T0)).toBeNull();
      expect(await s.leasedCount()).toBe(1);
      expect(await s.pendingCount()).toBe(1);
      await expect(s.enqueue([item("x"), item("x")])).rejects.toThrow();
      // every backend says so with one code, which the consumer relies on
      await expect(s.enqueue([item("b")])).rejects.toMatchObject({ code: "HUEY_DUPLICATE_ID" });
      expect(await s.pendingCount()).toBe(1);
    });

    test("scheduled items become ready at their eta, earliest first", async () => {
      const s = await make();
      await s.schedule([
        { ...item("late", 0), eta: T0 + 3000 },
        { ...item("early", 0), eta: T0 + 1000 },
        { ...item("mid", 9), eta: T0 + 2000 },
      ]);
      expect(await s.nextEta()).toBe(T0 + 1000);
      expect(await s.promoteDue(T0 + 999, 100)).toBe(0);
      expect(await s.promoteDue(T0 + 2000, 100)).toBe(2);
      expect(await s.scheduledCount()).toBe(1);
      expect(await s.nextEta()).toBe(T0 + 3000);
      expect((await s.lease(10, T0 + 5000)).map((x) => x.id)).toEqual(["mid", "early"]);
      expect((await s.listScheduled(10)).map((x) => [x.id, x.eta])).toEqual([["late", T0 + 3000]]);
      expect(await s.promoteDue(T0 + 9000, 100)).toBe(1);
      expect(await s.nextEta()).toBeNull();
    });

    test("promoteDue moves at most `limit` items", async () => {
      const s = await make();
      await s.schedule([1, 2, 3, 4, 5].map((i) => ({ ...item(`s${i}`), eta: T0 + i })));
      expect(await s.promoteDue(T0 + 10, 2)).toBe(2);
      expect(await s.promoteDue(T0 + 10, 2)).toBe(2);
      expect(await s.promoteDue(T0 + 10, 2)).toBe(1);
      expect((await s.lease(10, T0 + 100)).map((x) => x.id)).toEqual(["s1", "s2", "s3", "s4", "s5"]);
    });

    test("results: preserve, pop, expiry, delete", async () => {
      const s = await make();
      await s.putResult({ id: "r1", payload: "1" });
      await s.putResult({ id: "r2", payload: "2", expiresAt: T0 + 100 });
      expect(await s.resultCount()).toBe(2);
      expect(await s.getResult("r1", true, T0)).toBe("1");
      expect(await s.getResult("r1", false, T0)).toBe("1");
      expect(await s.getResult("r1", true, T0)).toBeNull();
      expect(await s.getResult("r2", true, T0 + 99)).toBe("2");
      expect(await s.getResult("r2", true, T0 + 100)).toBeNull();
      await s.putResult({ id: "r3", payload: "3" });
      expect(await s.deleteResult("r3")).toBe(true);
      expect(await s.deleteResult("r3")).toBe(false);
    });

    test("key-value data: put, putIfEmpty, peek, pop, delete", async () => {
      const s = await make();
      expect(await s.putIfEmpty("k", "1")).toBe(true);
      expect(await s.putIfEmpty("k", "2")).toBe(false);
      expect(await s.getData("k", true)).toBe("1");
      await s.putData("k", "3");
      expect(await s.getData("k", false)).toBe("3");
      expect(await s.getData("k", true)).toBeNull();
      await s.putData("j", "x");
      expect(await s.deleteData("j")).toBe(true);
      expect(await s.deleteData("j")).toBe(false);
    });

    test("commit writes and removes key-value entries with the rest", async () => {
      const s = await make();
      await s.putData("old", "1");
      await s.commit({ putData: [{ key: "new", value: "2" }], deleteData: ["old"] });
      expect([await s.getData("old", true), await s.getData("new", true)]).toEqual([null, "2"]);
    });

    test("listData lists by prefix in key order", async () => {
      const s = await make();
      for (const k of ["b:2", "a:1", "b:1", "b", "c:1"]) await s.putData(k, k.toUpperCase());
      expect(await s.listData("b:", 10)).toEqual([
        { key: "b:1", value: "B:1" },
        { key: "b:2", value: "B:2" },
      ]);
      expect((await s.listData("", 2)).map((x) => x.key)).toEqual(["a:1", "b"]);
    });

    test("listData and countData find keys whose rest starts with any code point: emoji, U+FFFF, U+10FFFF", async () => {
      const s = await make();
      // In code point order (UTF-8 byte order): ASCII < U+E000 < U+FFFF < U+1F600 < U+10FFFF.
      const rests = ["a", "\u{E000}x", "\uffff", "\uffff\u{1F600}", "\u{1F600}", "\u{1F600}\u{1F601}", "\u{10FFFF}", "\u{10FFFF}\u{10FFFF}z"];
      const keys = rests.map((r) => `failed:${r}`);
      for (const k of [...keys].reverse()) await s.putData(k, k);
      // Neighbours that must stay out: the prefix's last character and the one after it.
      await s.putData("failed", "no");
      await s.putData("failee", "no");
      await s.putData("failed;", "no");
      expect((await s.listData("failed:", 100)).map((x) => x.key)).toEqual(keys);
      expect(await s.countData("failed:")).toBe(keys.length);
      // A prefix that itself ends in U+FFFF, an emoji, or U+10FFFF.
      expect((await s.listData("failed:\uffff", 100)).map((x) => x.key)).toEqual(["failed:\uffff", "failed:\uffff\u{1F600}"]);
      expect(await s.countData("failed:\u{1F600}")).toBe(2);
      expect((await s.listData("failed:\u{10FFFF}", 100)).map((x) => x.key)).toEqual(["failed:\u{10FFFF}", "failed:\u{10FFFF}\u{10FFFF}z"]);
      expect(await s.countData("failed:\u{10FFFF}")).toBe(2);
      expect((await s.listData("failed:", 3)).map((x) => x.key)).toEqual(keys.slice(0, 3));
    });

    test("hasTask: true while queued, leased or scheduled; countData counts by prefix", async () => {
      const s = await make();
      await s.enqueue([item("a")]);
      await s.schedule([{ ...item("b"), eta: T0 }]);
      expect([await s.hasTask("a"), await s.hasTask("b"), await s.hasTask("zz")]).toEqual([true, true, false]);
      const [l] = await s.lease(1, T0 + 1000);
      expect(await s.hasTask("a")).toBe(true);
      await s.commit({ ack: [{ id: "a", token: l!.token }] });
      expect(await s.hasTask("a")).toBe(false);
      for (const k of ["f:1", "f:2", "g:1"]) await s.putData(k, "x");
      expect([await s.countData("f:"), await s.countData(""), await s.countData("h:")]).toEqual([2, 3, 0]);
    });

    test("purgeExpired drops expired results, counters and locks, and nothing else", async () => {
      const s = await make();
      await s.putResult({ id: "old", payload: "1", expiresAt: T0 + 10 });
      await s.putResult({ id: "young", payload: "2", expiresAt: T0 + 5000 });
      await s.putResult({ id: "forever", payload: "3" });
      await s.incr("c-old", 1, T0 + 10, T0);
      await s.incr("c-young", 1, T0 + 5000, T0);
      await s.acquireLock("l-old", "a", T0 + 10, T0);
      await s.acquireLock("l-young", "a", T0 + 5000, T0);
      expect(await s.purgeExpired(T0 + 100)).toBe(3);
      expect(await s.purgeExpired(T0 + 100)).toBe(0);
      expect(await s.resultCount()).toBe(2);
      expect(await s.getResult("young", true, T0 + 100)).toBe("2");
      expect(await s.incr("c-young", 1, T0 + 9000, T0 + 100)).toBe(2); // its window survived
      expect((await s.listLocks(T0)).map((l) => l.key)).toEqual(["l-young"]);
    });

    test("incr counts within a window and starts again after it", async () => {
      const s = await make();
      expect(await s.incr("c", 1, T0 + 1000, T0)).toBe(1);
      expect(await s.incr("c", 2, T0 + 5000, T0 + 10)).toBe(3);
      expect(await s.incr("c", 1, T0 + 5000, T0 + 999)).toBe(4);
      expect(await s.incr("c", 1, T0 + 3000, T0 + 1000)).toBe(1);
      expect(await s.incr("c", 1, T0 + 9000, T0 + 2999)).toBe(2);
    });

    test("enqueueUnique stores once while the holder is queued, scheduled or leased", async () => {
      const s = await make();
      expect(await s.enqueueUnique(item("a"), "u:k")).toBeNull();
      expect(await s.enqueueUnique(item("b"), "u:k")).toBe("a");
      const [l] = await s.lease(1, T0 + 1000);
      expect(await s.enqueueUnique(item("c"), "u:k")).toBe("a");
      // finished: the key is removed with the ack
      await s.commit({ ack: [{ id: "a", token: l!.token }], deleteData: ["u:k"] });
      expect(await s.enqueueUnique({ ...item("d"), eta: T0 + 5000 }, "u:k")).toBeNull();
      expect(await s.scheduledCount()).toBe(1);
      expect(await s.enqueueUnique(item("e"), "u:k")).toBe("d");
      expect(await s.pendingCount()).toBe(0);
    });

    test("enqueueUnique takes over a key whose task is gone", async () => {
      const s = await make();
      await s.putData("u:k", "long-gone-task");
      expect(await s.enqueueUnique(item("a"), "u:k")).toBeNull();
      expect(await s.getData("u:k", true)).toBe("a");
    });

    test("locks: one owner at a time, free once expired, renewable, releasable", async () => {
      const s = await make();
      expect(await s.acquireLock("L", "A", T0 + 1000, T0)).toBe(true);
      expect(await s.acquireLock("L", "B", T0 + 1000, T0 + 10)).toBe(false);
      expect(await s.acquireLock("L", "A", T0 + 2000, T0 + 10)).toBe(true);
      expect(await s.renewLocks(["L", "M"], "A", T0 + 3000)).toBe(1);
      expect(await s.renewLocks(["L"], "B", T0 + 9000)).toBe(0);
      expect(await s.listLocks(T0)).toEqual([{ key: "L", owner: "A", until: T0 + 3000 }]);
      expect(await s.acquireLock("L", "B", T0 + 9000, T0 + 2999)).toBe(false);
      expect(await s.acquireLock("L", "B", T0 + 9000, T0 + 3000)).toBe(true);
      expect(await s.releaseLock("L", "A")).toBe(false);
      expect(await s.releaseLock("L", "B")).toBe(true);
      expect(await s.listLocks(T0)).toEqual([]);
      await s.acquireLock("L", "C", T0 + 9000, T0);
      expect(await s.releaseLock("L", null)).toBe(true);
      expect(await s.listLocks(T0 + 5000)).toEqual([]);
    });

    test("listPending shows ready and leased items in lease order", async () => {
      const s = await make();
      await s.enqueue([item("a", 1), item("b", 2), item("c", 0)]);
      await s.lease(1, T0 + 1000);
      const list = await s.listPending(10);
      expect(list.map((x) => [x.id, x.leased])).toEqual([["b", true], ["a", false], ["c", false]]);
      expect((await s.listPending(1)).length).toBe(1);
    });

    test("flush empties this queue only", async () => {
      const s = await make();
      await s.enqueue([item("a")]);
      await s.schedule([{ ...item("b"), eta: T0 }]);
      await s.putResult({ id: "r", payload: "1" });
      await s.putData("k", "v");
      await s.flush();
      expect([await s.pendingCount(), await s.scheduledCount(), await s.resultCount(), await s.getData("k", true)]).toEqual([
        0, 0, 0, null,
      ]);
    });

    test("waitForChange ends at its timeout when nothing changes", async () => {
      const s = await make();
      const t0 = performance.now();
      await s.waitForChange(30);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    });

    test("waitForChange wakes when this instance enqueues", async () => {
      const s = await make();
      const woke = s.waitForChange(60_000).then(() => "woke");
      await s.enqueue([item("a")]);
      expect(await woke).toBe("woke");
    });

    if (options.shared) {
      test("two instances on one queue share items; each item is leased once", async () => {
        const q = queueName();
        const a = await make(q);
        const b = await create(q);
        opened.push(b);
        await a.enqueue(Array.from({ length: 50 }, (_, i) => item(`i${i}`)));
        const seen = new Set<string>();
        for (let round = 0; round < 10; round++) {
          for (const s of [a, b]) for (const l of await s.lease(4, T0 + 1000)) {
            expect(seen.has(l.id)).toBe(false);
            seen.add(l.id);
          }
        }
        expect(seen.size).toBe(50);
      });

      test("queues with different names do not see each other", async () => {
        const a = await make();
        const b = await make();
        await a.enqueue([item("a")]);
        expect(await b.pendingCount()).toBe(0);
        expect(await b.lease(10, T0 + 1000)).toEqual([]);
        await b.flush();
        expect(await a.pendingCount()).toBe(1);
      });

      test("waitForChange wakes when another instance enqueues", async () => {
        const q = queueName();
        const a = await make(q);
        const b = await create(q);
        opened.push(b);
        expect(await a.lease(1, T0)).toEqual([]);
        const t0 = performance.now();
        const woke = a.waitForChange(10_000).then(() => performance.now() - t0);
        await b.enqueue([item("a")]);
        // well under the timeout: a wake-up, not the timer
        expect(await woke).toBeLessThan(5_000);
      });
    }
  });
}

// The storage contract: every backend runs this same suite. Time is passed in; nothing sleeps.
import { afterEach, describe, expect, test } from "bun:test";
import type { QueueItem, Storage } from "../../src/storage/types";
import { wakesDuring } from "../harness";

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
      expect(await s.renew([{ id: ls[0]!.id, token: ls[0]!.token }, { id: ls[1]!.id, token: "stale" }], T0 + 9000)).toEqual([
        ls[1]!.id,
      ]);
      expect(await s.reclaimExpired(T0 + 2000)).toBe(1);
      expect((await s.lease(5, T0 + 3000)).map((x) => x.id)).toEqual([ls[1]!.id]);
    });

    test("renew reports the ids whose lease is lost: taken over, or the item gone", async () => {
      const s = await make();
      await s.enqueue([item("a"), item("b"), item("c")]);
      const ls = await s.lease(3, T0 + 1000);
      const [a, b, c] = ls.map(({ id, token }) => ({ id, token }));
      await s.commit({ ack: [a!] });
      await s.release([b!]);
      await s.lease(1, T0 + 1000); // b again, under a new token
      expect(await s.renew([a!, b!, c!, { id: "never", token: "x" }], T0 + 9000)).toEqual(["a", "b", "never"]);
      expect(await s.renew([], T0 + 9000)).toEqual([]);
      expect(await s.reclaimExpired(T0 + 2000)).toBe(1); // b: c was renewed
    });

    test("a lost lease's fenced write leaves the newer holder's writes alone and is reported", async () => {
      const s = await make();
      await s.enqueue([item("a"), item("b")]);
      // Consumer A leases both, then stalls past its lease; B reclaims and takes them over.
      const stale = (await s.lease(2, T0 + 1000)).map(({ id, token }) => ({ id, token }));
      expect(await s.reclaimExpired(T0 + 2000)).toBe(2);
      const fresh = (await s.lease(2, T0 + 9000)).map(({ id, token }) => ({ id, token }));
      await s.putData("unique:a", "a");
      // B finishes a (b is still running under B's lease).
      expect(
        await s.commit({
          tasks: [{ lease: fresh[0]!, results: [{ id: "a", payload: "B-ok" }], enqueue: [item("a-next")], putData: [{ key: "out:a", value: "B" }] }],
        }),
      ).toEqual({ lost: [] });
      // A wakes up and commits failures and retries for both: none of it may land.
      const failed = (id: string) => ({
        lease: stale.find((l) => l.id === id)!,
        results: [{ id, payload: "A-failed" }],
        enqueue: [item(id)], // a retry under the same id: b exists (leased by B) and must not count as a duplicate
        schedule: [{ ...item(`${id}-later`), eta: T0 + 60_000 }],
        putData: [{ key: `failed:${id}`, value: "A" }],
        deleteData: [`out:${id}`, "unique:a"],
      });
      expect(await s.commit({ tasks: [failed("a"), failed("b")] })).toEqual({ lost: ["a", "b"] });
      expect(await s.getResult("a", true, T0)).toBe("B-ok");
      expect(await s.getResult("b", true, T0)).toBeNull();
      expect(await s.listData("failed:", 10)).toEqual([]);
      expect(await s.getData("out:a", true)).toBe("B");
      expect(await s.getData("unique:a", true)).toBe("a");
      expect((await s.listPending(10)).map((x) => [x.id, x.leased])).toEqual([["b", true], ["a-next", false]]);
      expect(await s.scheduledCount()).toBe(0);
      // B's lease on b still holds: A's stale write did not ack it.
      expect(await s.renew([fresh[1]!], T0 + 9500)).toEqual([]);
      expect(await s.commit({ tasks: [{ lease: fresh[1]!, results: [{ id: "b", payload: "B-ok" }] }] })).toEqual({ lost: [] });
      expect(await s.getResult("b", true, T0)).toBe("B-ok");
      expect(await s.leasedCount()).toBe(0);
    });

    test("one commit naming an id twice, under its lost lease and under the lease that took it again: only the new lease's writes land", async () => {
      // Both write result "a" (the stale write must not win), or only the stale one writes data (one statement could take both).
      for (const [withSeq, staleResult] of [[true, true], [false, true], [true, false], [false, false]]) {
        const s = await make();
        await s.enqueue([item("a"), item("b")]);
        const ref = (l: { id: string; token: string; seq?: number }) => (withSeq && l.seq !== undefined ? { id: l.id, token: l.token, seq: l.seq } : { id: l.id, token: l.token });
        const stale = (await s.lease(2, T0 + 1000)).map(ref);
        expect(await s.reclaimExpired(T0 + 2000)).toBe(2);
        const fresh = (await s.lease(1, T0 + 9000)).map(ref);
        expect(fresh.map((l) => l.id)).toEqual(["a"]);
        const report = await s.commit({
          tasks: [
            { lease: stale[0]!, ...(staleResult ? { results: [{ id: "a", payload: "stale" }] } : {}), putData: [{ key: "by", value: "stale" }] },
            { lease: fresh[0]!, results: [{ id: "a", payload: "fresh" }] },
          ],
        });
        expect(report).toEqual({ lost: ["a"] });
        expect(await s.getResult("a", true, T0)).toBe("fresh");
        expect(await s.getData("by", true)).toBeNull();
        expect([await s.pendingCount(), await s.leasedCount()]).toEqual([1, 0]);
      }
    });

    test("a mixed batch applies the tasks whose lease holds and reports only the lost", async () => {
      const s = await make();
      await s.enqueue([item("a"), item("b"), item("c"), item("d")]);
      const ls = (await s.lease(3, T0 + 1000)).map(({ id, token }) => ({ id, token }));
      await s.release([ls[1]!]);
      await s.lease(1, T0 + 1000); // b: someone else's now
      const report = await s.commit({
        putData: [{ key: "unfenced", value: "1" }],
        tasks: ls.map((lease) => ({
          lease,
          results: [{ id: lease.id, payload: `r-${lease.id}` }],
          enqueue: [item(`${lease.id}-next`)],
          putData: [{ key: `k:${lease.id}`, value: "1" }],
        })),
      });
      expect(report).toEqual({ lost: ["b"] });
      expect([await s.getResult("a", true, T0), await s.getResult("b", true, T0), await s.getResult("c", true, T0)]).toEqual([
        "r-a",
        null,
        "r-c",
      ]);
      expect((await s.listData("k:", 10)).map((x) => x.key)).toEqual(["k:a", "k:c"]);
      expect(await s.getData("unfenced", true)).toBe("1");
      expect((await s.listPending(10)).map((x) => x.id)).toEqual(["b", "d", "a-next", "c-next"]);
      expect(await s.leasedCount()).toBe(1);
    });

    test("acks that pass back the lease's seq (where the store gives one) are fenced by the token all the same", async () => {
      const s = await make();
      // More than one statement's worth of leases under one token, and some under a second token.
      const ids = Array.from({ length: 300 }, (_, i) => `t${String(i).padStart(3, "0")}`);
      await s.enqueue(ids.map((id) => item(id)));
      const refs = (await s.lease(280, T0 + 1000)).map(({ id, token, seq }) => (seq === undefined ? { id, token } : { id, token, seq }));
      refs.push(...(await s.lease(20, T0 + 1000)).map(({ id, token, seq }) => ({ id, token, seq })));
      // t200 and t290 go back and are leased again by someone else: the old token's rows remain.
      await s.release([refs.find((r) => r.id === "t200")!, refs.find((r) => r.id === "t290")!]);
      const retaken = await s.lease(2, T0 + 1000);
      expect(retaken.map((x) => x.id).sort()).toEqual(["t200", "t290"]);
      // A ref without its seq in the same commit goes the other way, and is fenced too.
      const mixed = refs.map((r, i) => (i % 7 === 0 ? { id: r.id, token: r.token } : r));
      const report = await s.commit({ tasks: mixed.map((lease) => ({ lease, results: [{ id: lease.id, payload: `r-${lease.id}` }] })) });
      expect(report.lost.sort()).toEqual(["t200", "t290"]);
      expect(await s.getResult("t000", true, T0)).toBe("r-t000");
      expect(await s.getResult("t299", true, T0)).toBe("r-t299");
      expect(await s.getResult("t200", true, T0)).toBeNull();
      expect(await s.leasedCount()).toBe(2);
      // The new holder's lease is untouched, and its own ack (seq and all) holds.
      const again = retaken.map(({ id, token, seq }) => ({ lease: seq === undefined ? { id, token } : { id, token, seq }, results: [{ id, payload: "new" }] }));
      expect(await s.commit({ tasks: again })).toEqual({ lost: [] });
      expect(await s.getResult("t290", true, T0)).toBe("new");
      expect(await s.leasedCount()).toBe(0);
      expect(await s.pendingCount()).toBe(0);
    });

    test("fenced writes: a held task may reuse its id; a lost one's write to a shared key never wins", async () => {
      const s = await make();
      await s.enqueue([item("a"), item("b")]);
      const ls = (await s.lease(2, T0 + 1000)).map(({ id, token }) => ({ id, token }));
      await s.release([ls[1]!]);
      await s.lease(1, T0 + 1000);
      const report = await s.commit({
        results: [{ id: "shared", payload: "unfenced" }],
        tasks: [
          // a retry without delay: acked, then enqueued again under the same id
          { lease: ls[0]!, enqueue: [item("a")], results: [{ id: "shared", payload: "held" }], putData: [{ key: "k", value: "held" }] },
          { lease: ls[1]!, results: [{ id: "shared", payload: "lost" }], putData: [{ key: "k", value: "lost" }], deleteData: ["k"] },
        ],
      });
      expect(report).toEqual({ lost: ["b"] });
      expect(await s.getResult("shared", true, T0)).toBe("held");
      expect(await s.getData("k", true)).toBe("held");
      expect((await s.listPending(10)).map((x) => [x.id, x.leased])).toEqual([["b", true], ["a", false]]);
    });

    test("a duplicate id among the writes of a held task rejects the whole commit", async () => {
      const s = await make();
      await s.enqueue([item("a"), item("b"), item("taken")]);
      const ls = (await s.lease(2, T0 + 1000)).map(({ id, token }) => ({ id, token }));
      await expect(
        s.commit({
          tasks: [
            { lease: ls[0]!, results: [{ id: "a", payload: "1" }] },
            { lease: ls[1]!, enqueue: [item("taken")] },
          ],
        }),
      ).rejects.toMatchObject({ code: "HUEY_DUPLICATE_ID" });
      expect(await s.getResult("a", true, T0)).toBeNull();
      expect(await s.leasedCount()).toBe(2);
    });

    test("a fenced write's releaseLocks frees only locks its owner holds, whether or not the lease held", async () => {
      const s = await make();
      await s.enqueue([item("a"), item("b")]);
      const ls = (await s.lease(2, T0 + 1000)).map(({ id, token }) => ({ id, token }));
      await s.release([ls[1]!]);
      await s.lease(1, T0 + 1000);
      expect(await s.acquireLock("L", "a", T0 + 5000, T0)).not.toBeNull();
      expect(await s.acquireLock("M", "someone-else", T0 + 5000, T0)).not.toBeNull();
      expect(await s.acquireLock("N", "b", T0 + 5000, T0)).not.toBeNull();
      const report = await s.commit({
        tasks: [
          { lease: ls[0]!, releaseLocks: [{ key: "L", owner: "a" }, { key: "M", owner: "a" }, { key: "absent", owner: "a" }] },
          { lease: ls[1]!, releaseLocks: [{ key: "N", owner: "b" }] },
        ],
      });
      expect(report).toEqual({ lost: ["b"] });
      expect((await s.listLocks(T0)).map((l) => [l.key, l.owner])).toEqual([["M", "someone-else"]]);
    });

    test("commit reports no lost tasks when it has none", async () => {
      const s = await make();
      expect(await s.commit({})).toEqual({ lost: [] });
      expect(await s.commit({ putData: [{ key: "k", value: "v" }] })).toEqual({ lost: [] });
    });

    test("a release of unstarted leases does not count them; a plain release and an expired lease do", async () => {
      const s = await make();
      await s.enqueue([item("a")]);
      for (let i = 0; i < 3; i++) {
        const [l] = await s.lease(1, T0 + 1000);
        expect(l!.leases).toBe(1);
        expect(await s.release([{ id: l!.id, token: l!.token }], true)).toBe(1);
      }
      // Given back after it ran (interrupted at a stop): counted.
      const [ran] = await s.lease(1, T0 + 1000);
      expect(await s.release([{ id: ran!.id, token: ran!.token }])).toBe(1);
      const [l] = await s.lease(1, T0 + 1000);
      expect(l!.leases).toBe(2);
      // The consumer died: counted too.
      expect(await s.reclaimExpired(T0 + 2000)).toBe(1);
      expect((await s.lease(1, T0 + 3000))[0]!.leases).toBe(3);
      // A release whose token no longer holds changes nothing.
      expect(await s.release([{ id: l!.id, token: l!.token }], true)).toBe(0);
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

    test("deleteDataIf deletes only while the value is unchanged; listData pages on from a cursor in code point order", async (): Promise<void> => {
      const s = await make();
      await s.putData("dedup:a", "1:x");
      expect(await s.deleteDataIf("dedup:a", "1:y")).toBe(false);
      expect(await s.getData("dedup:a", true)).toBe("1:x");
      expect(await s.deleteDataIf("dedup:a", "1:x")).toBe(true);
      expect(await s.deleteDataIf("dedup:a", "1:x")).toBe(false);
      const keys = ["dedup:a", "dedup:b", "dedup:\uffff", "dedup:\u{1F600}", "dedup:\u{1F600}z"];
      for (const k of [...keys].reverse()) await s.putData(k, k);
      await s.putData("dedup;", "out");
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await s.listData("dedup:", 2, after);
        seen.push(...page.map((r) => r.key));
        if (page.length < 2) break;
        after = page[page.length - 1]!.key;
      }
      expect(seen).toEqual(keys);
      expect((await s.listData("dedup:", 10, "dedup:\uffff")).map((r) => r.key)).toEqual(["dedup:\u{1F600}", "dedup:\u{1F600}z"]);
      expect((await s.listData("", 10, "dedup:\u{1F600}z")).map((r) => r.key)).toEqual(["dedup;"]);
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

    test("locate: where a task is (ready, leased, scheduled) with its columns, by id, and null when it is none", async () => {
      const s = await make();
      await s.enqueue([item("a", 3, "ta"), item("a:b", 1)]);
      await s.schedule([{ ...item("b", 2, "tb"), eta: T0 + 5000 }]);
      expect(await s.locate("a")).toEqual({ id: "a", name: "ta", priority: 3, payload: '{"id":"a"}', lane: "default", leases: 0, where: "ready" });
      expect(await s.locate("b")).toEqual({ id: "b", name: "tb", priority: 2, payload: '{"id":"b"}', lane: "default", leases: 0, where: "scheduled", eta: T0 + 5000 });
      expect(await s.locate("zz")).toBeNull();
      // An id that is a prefix of another is found alone.
      expect((await s.locate("a:b"))?.id).toBe("a:b");
      const [l] = await s.lease(1, T0 + 1000);
      expect(l!.id).toBe("a");
      expect(await s.locate("a")).toEqual({ id: "a", name: "ta", priority: 3, payload: '{"id":"a"}', lane: "default", leases: 1, where: "leased", leasedUntil: T0 + 1000 });
      // A lease that ran out is still "leased" until reclaimed; then ready, its lease count kept.
      await s.reclaimExpired(T0 + 2000);
      expect(await s.locate("a")).toMatchObject({ where: "ready", leases: 1 });
      const [l2] = await s.lease(1, T0 + 3000);
      expect(await s.locate("a")).toMatchObject({ where: "leased", leases: 2, leasedUntil: T0 + 3000 });
      await s.commit({ ack: [{ id: "a", token: l2!.token }] });
      expect(await s.locate("a")).toBeNull();
      await s.promoteDue(T0 + 5000, 10);
      expect(await s.locate("b")).toMatchObject({ where: "ready", id: "b", name: "tb", priority: 2 });
    });

    test("locate: the lane of an item in a named queue", async () => {
      const s = await make();
      await s.enqueue([{ ...item("m"), lane: "mail" }]);
      await s.schedule([{ ...item("n"), eta: T0, lane: "mail" }]);
      expect(await s.locate("m")).toMatchObject({ where: "ready", lane: "mail" });
      expect(await s.locate("n")).toMatchObject({ where: "scheduled", lane: "mail" });
    });

    test("purgeExpired drops expired results, counters and locks, and nothing else", async () => {
      const s = await make();
      await s.putResult({ id: "old", payload: "1", expiresAt: T0 + 10 });
      await s.putResult({ id: "young", payload: "2", expiresAt: T0 + 5000 });
      await s.putResult({ id: "forever", payload: "3" });
      await s.incr("c-old", 1, T0 + 10, T0);
      await s.incr("c-young", 1, T0 + 5000, T0);
      expect(await s.acquireLock("l-old", "a", T0 + 10, T0)).toBeNumber();
      expect(await s.acquireLock("l-young", "a", T0 + 5000, T0)).toBeNumber();
      expect(await s.purgeExpired(T0 + 100)).toBe(3);
      expect(await s.purgeExpired(T0 + 100)).toBe(0);
      expect(await s.resultCount()).toBe(2);
      expect(await s.getResult("young", true, T0 + 100)).toBe("2");
      expect(await s.incr("c-young", 1, T0 + 9000, T0 + 100)).toBe(2); // its window survived
      expect((await s.listLocks(T0)).map((l) => l.key)).toEqual(["l-young"]);
    });

    test("purgeExpired with a limit drops at most that many of each kind per call", async () => {
      const s = await make();
      for (let i = 0; i < 5; i++) await s.putResult({ id: `r${i}`, payload: "x", expiresAt: T0 + 10 });
      await s.putResult({ id: "young", payload: "y", expiresAt: T0 + 5000 });
      for (let i = 0; i < 3; i++) await s.incr(`c${i}`, 1, T0 + 10, T0);
      for (let i = 0; i < 3; i++) expect(await s.acquireLock(`l${i}`, "a", T0 + 10, T0)).toBeNumber();
      const calls: number[] = [];
      for (let n = -1; n !== 0; ) calls.push((n = await s.purgeExpired(T0 + 100, 2)));
      expect(calls).toEqual([6, 4, 1, 0]);
      expect(await s.resultCount()).toBe(1);
      expect(await s.getResult("young", true, T0 + 100)).toBe("y");
      expect(await s.listLocks(T0)).toEqual([]);
      await expect(s.purgeExpired(T0, 0)).rejects.toThrow(/limit/);
    });

    test("purgeExpired in batches drains thousands of expired results and keeps the rest", async () => {
      const s = await make();
      const results = Array.from({ length: 2_500 }, (_, i) => ({ id: `old-${i}`, payload: "x", expiresAt: T0 + 10 }));
      await s.commit({ results: [...results, { id: "keep", payload: "k", expiresAt: T0 + 5000 }, { id: "forever", payload: "f" }] });
      const calls: number[] = [];
      for (let n = -1; n !== 0; ) calls.push((n = await s.purgeExpired(T0 + 100, 1_000)));
      expect(calls).toEqual([1_000, 1_000, 500, 0]);
      expect(await s.resultCount()).toBe(2);
      // An expired result read before the purge reached it reads as missing, as without batches.
      await s.putResult({ id: "stale", payload: "s", expiresAt: T0 + 10 });
      expect(await s.getResult("stale", true, T0 + 100)).toBeNull();
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

    // dedup: deduplication windows (enqueueDeduped).
    test("enqueueDeduped throttle: the first call in a window is stored; later ones merge into it, run or not, until the window ends", async () => {
      const s = await make();
      expect(await s.enqueueDeduped(item("a"), "d:k", "throttle", T0 + 1000, T0)).toEqual({ kind: "stored" });
      expect(await s.enqueueDeduped(item("b"), "d:k", "throttle", T0 + 1500, T0 + 500)).toEqual({ kind: "merged", id: "a" });
      // a runs and finishes: the window still holds
      const [l] = await s.lease(1, T0 + 5000);
      await s.commit({ ack: [{ id: "a", token: l!.token }] });
      expect(await s.enqueueDeduped(item("c"), "d:k", "throttle", T0 + 1999, T0 + 999)).toEqual({ kind: "merged", id: "a" });
      expect([await s.pendingCount(), await s.hasTask("b"), await s.hasTask("c")]).toEqual([0, false, false]);
      // the window ends at T0 + 1000 exactly: a new one opens with the next call
      expect(await s.enqueueDeduped({ ...item("d"), eta: T0 + 3000 }, "d:k", "throttle", T0 + 2000, T0 + 1000)).toEqual({ kind: "stored" });
      expect(await s.scheduledCount()).toBe(1);
      expect(await s.enqueueDeduped(item("e"), "d:k", "throttle", T0 + 2100, T0 + 1100)).toEqual({ kind: "merged", id: "d" });
      // another key is its own window
      expect(await s.enqueueDeduped(item("f"), "d:other", "throttle", T0 + 2100, T0 + 1100)).toEqual({ kind: "stored" });
    });

    test("enqueueDeduped replace swaps a pending task's payload and eta under its id, never a leased one's", async () => {
      const s = await make();
      const v = (id: string, args: string) => ({ ...item(id), payload: JSON.stringify({ id, args }) });
      expect(await s.enqueueDeduped({ ...v("a", "1"), eta: T0 + 5000 }, "d:k", "replace", T0 + 100, T0)).toEqual({ kind: "stored" });
      // a call built with another id is told the holder, and writes nothing
      expect(await s.enqueueDeduped(v("x", "2"), "d:k", "replace", T0 + 100, T0)).toEqual({ kind: "conflict", holder: "a" });
      expect(await s.hasTask("x")).toBe(false);
      // scheduled -> scheduled later, new payload
      expect(await s.enqueueDeduped({ ...v("a", "2"), eta: T0 + 9000 }, "d:k", "replace", T0 + 100, T0)).toEqual({ kind: "merged", id: "a" });
      expect(await s.listScheduled(10)).toMatchObject([{ ...v("a", "2"), eta: T0 + 9000 }]);
      // scheduled -> ready now
      expect(await s.enqueueDeduped({ ...v("a", "3"), priority: 4 }, "d:k", "replace", T0 + 100, T0)).toEqual({ kind: "merged", id: "a" });
      expect([await s.scheduledCount(), await s.pendingCount()]).toEqual([0, 1]);
      // ready -> ready, new payload
      expect(await s.enqueueDeduped(v("a", "4"), "d:k", "replace", T0 + 100, T0)).toEqual({ kind: "merged", id: "a" });
      const [l] = await s.lease(5, T0 + 1000);
      expect([l!.id, l!.payload, l!.leases]).toEqual(["a", v("a", "4").payload, 1]);
      // leased: not pending, so the caller must use a fresh id; the leased row is untouched
      expect(await s.enqueueDeduped(v("a", "5"), "d:k", "replace", T0 + 100, T0)).toEqual({ kind: "conflict", holder: null });
      expect(await s.enqueueDeduped(v("b", "5"), "d:k", "replace", T0 + 100, T0)).toEqual({ kind: "stored" });
      expect(await s.leasedCount()).toBe(1);
      const pending = await s.listPending(10);
      expect(pending.map((p) => [p.id, p.payload, p.leased])).toEqual([["a", v("a", "4").payload, true], ["b", v("b", "5").payload, false]]);
      // the old lease still acks a
      expect(await s.commit({ ack: [{ id: "a", token: l!.token }] })).toEqual({ lost: [] });
      expect(await s.hasTask("a")).toBe(false);
    });

    test("enqueueDeduped: concurrent calls of one key store exactly one task, on one or two instances", async () => {
      const q = queueName();
      const a = await make(q);
      const b = options.shared ? await make(q) : a;
      const calls = Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).enqueueDeduped(item(`t${i}`), "d:k", "throttle", T0 + 1000, T0));
      const out = await Promise.all(calls);
      const stored = out.filter((o) => o.kind === "stored");
      expect(stored.length).toBe(1);
      const winner = `t${out.findIndex((o) => o.kind === "stored")}`;
      expect(out.filter((o) => o.kind === "merged").map((o) => (o as { id: string }).id)).toEqual(Array(7).fill(winner));
      expect(await a.pendingCount()).toBe(1);
      // replace: fresh ids at once, one stored, the others told the holder
      const r = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).enqueueDeduped(item(`r${i}`), "d:r", "replace", T0 + 1000, T0)));
      expect(r.filter((o) => o.kind === "stored").length).toBe(1);
      const holder = `r${r.findIndex((o) => o.kind === "stored")}`;
      expect(r.filter((o) => o.kind !== "stored")).toEqual(Array(7).fill({ kind: "conflict", holder }));
      expect(await a.pendingCount()).toBe(2);
    });

    test("locks: one owner at a time, free once expired, renewable, releasable", async () => {
      const s = await make();
      const a1 = await s.acquireLock("L", "A", T0 + 1000, T0);
      expect(a1).toBeNumber();
      expect(await s.acquireLock("L", "B", T0 + 1000, T0 + 10)).toBeNull();
      const a2 = await s.acquireLock("L", "A", T0 + 2000, T0 + 10);
      expect(a2).toBeGreaterThan(a1!);
      expect(await s.renewLocks(["L", "M"], "A", T0 + 3000)).toEqual(["M"]);
      expect(await s.renewLocks(["L"], "B", T0 + 9000)).toEqual(["L"]);
      expect(await s.listLocks(T0)).toEqual([{ key: "L", owner: "A", until: T0 + 3000, fence: a2! }]);
      expect(await s.acquireLock("L", "B", T0 + 9000, T0 + 2999)).toBeNull();
      expect(await s.acquireLock("L", "B", T0 + 9000, T0 + 3000)).toBeNumber();
      expect(await s.releaseLock("L", "A")).toBe(false);
      expect(await s.releaseLock("L", "B")).toBe(true);
      expect(await s.listLocks(T0)).toEqual([]);
      await s.acquireLock("L", "C", T0 + 9000, T0);
      expect(await s.releaseLock("L", null)).toBe(true);
      expect(await s.listLocks(T0 + 5000)).toEqual([]);
    });

    test("lock fences grow with every acquisition of a key, across release, expiry, purge and flush", async () => {
      const s = await make();
      const fences: number[] = [];
      const take = async (owner: string, until: number, now: number) => {
        const f = await s.acquireLock("F", owner, until, now);
        expect(f).toBeNumber();
        fences.push(f!);
        return f!;
      };
      await take("A", T0 + 1000, T0);
      expect(await s.acquireLock("F", "B", T0 + 1000, T0 + 1)).toBeNull(); // a refusal uses no fence
      await take("A", T0 + 1000, T0 + 1); // the owner re-takes its lock: a new fence
      expect(await s.releaseLock("F", "A")).toBe(true);
      await take("B", T0 + 2000, T0 + 2); // after release
      await take("C", T0 + 5000, T0 + 2000); // after expiry (B's lease ran out, not released)
      expect(await s.purgeExpired(T0 + 6000)).toBe(1);
      expect(await s.listLocks(T0)).toEqual([]);
      await take("D", T0 + 9000, T0 + 6000); // after purgeExpired dropped the row
      expect(await s.releaseLock("F", null)).toBe(true);
      await take("E", T0 + 9000, T0 + 6000); // after a forced release (flushLocks)
      await s.flush();
      await take("E", T0 + 9000, T0 + 6000); // after flush
      for (let i = 1; i < fences.length; i++) expect(fences[i]!).toBeGreaterThan(fences[i - 1]!);
      expect(await s.listLocks(T0 + 6000)).toEqual([{ key: "F", owner: "E", until: T0 + 9000, fence: fences.at(-1)! }]);
      // Another key's fences are its own: taking it does not move F's.
      expect(await s.acquireLock("G", "A", T0 + 9000, T0 + 6000)).toBeNumber();
      await s.releaseLock("F", null);
      expect(await s.acquireLock("F", "A", T0 + 9000, T0 + 6000)).toBe(fences.at(-1)! + 1);
    });

    test("renewLocks extends the locks still held and returns the keys it lost", async () => {
      const s = await make();
      for (const k of ["kept", "released", "taken", "expired"]) expect(await s.acquireLock(k, "A", T0 + 1000, T0)).toBeNumber();
      await s.releaseLock("released", "A");
      expect(await s.acquireLock("taken", "B", T0 + 5000, T0 + 1000)).toBeNumber(); // expired, then taken
      // "expired" ran out but nobody took it: still ours to renew.
      expect(await s.renewLocks(["kept", "released", "taken", "expired", "never"], "A", T0 + 9000)).toEqual([
        "released", "taken", "never",
      ]);
      expect(await s.renewLocks([], "A", T0 + 9000)).toEqual([]);
      const held = (await s.listLocks(T0 + 2000)).map(({ key, owner, until }) => [key, owner, until]);
      expect(held).toEqual([["expired", "A", T0 + 9000], ["kept", "A", T0 + 9000], ["taken", "B", T0 + 5000]]);
    });

    // keys: concurrency slots are locks "<prefix>:<i>"; what they need of acquireLock is that takers at once get one each.
    test("concurrency slots: of 8 takers at once for 3 slots, exactly 3 get one, each a different slot", async () => {
      const s = await make();
      const takers = Array.from({ length: 8 }, (_, i) => `owner-${i}`);
      const take = async (owner: string) => {
        for (let slot = 0; slot < 3; slot++) {
          if ((await s.acquireLock(`concurrency:t::${slot}`, owner, T0 + 1000, T0)) !== null) return slot;
        }
        return null;
      };
      const got = await Promise.all(takers.map(take));
      expect(got.filter((g) => g !== null).sort()).toEqual([0, 1, 2]);
      const held = await s.listLocks(T0);
      expect(held.map((l) => l.key).sort()).toEqual(["concurrency:t::0", "concurrency:t::1", "concurrency:t::2"]);
      expect(new Set(held.map((l) => l.owner)).size).toBe(3);
      // Slot 0's holder renews; the other two holders died: their slots free themselves when their leases end.
      const zero = held.find((l) => l.key === "concurrency:t::0")!;
      expect(await s.renewLocks([zero.key], zero.owner, T0 + 9000)).toEqual([]);
      const again = async (owner: string) => {
        for (let slot = 0; slot < 3; slot++) {
          if ((await s.acquireLock(`concurrency:t::${slot}`, owner, T0 + 9000, T0 + 1000)) !== null) return slot;
        }
        return null;
      };
      expect((await Promise.all(["n1", "n2", "n3", "n4"].map(again))).filter((g) => g !== null).sort()).toEqual([1, 2]);
    });

    test("ids are unique per queue: two queues on one backend keep tasks, results, keys and locks of one id apart", async () => {
      // Memory and Redis keep each queue apart by construction (own maps, own keys); SQL backends
      // key every table by (queue, id).
      const a = await make();
      const b = await make();
      for (const s of [a, b]) {
        await s.enqueue([item("x")]);
        await s.schedule([{ ...item("y"), eta: T0 }]);
        await s.putResult({ id: "x", payload: s.queue });
        expect(await s.enqueueUnique(item("u"), "u:k")).toBeNull();
        expect(await s.acquireLock("L", "owner", T0 + 1000, T0)).toBeNumber();
      }
      for (const s of [a, b]) {
        expect([await s.pendingCount(), await s.scheduledCount(), await s.hasTask("x"), await s.hasTask("y")]).toEqual([2, 1, true, true]);
        expect(await s.getResult("x", true, T0)).toBe(s.queue);
      }
      const [la] = await a.lease(1, T0 + 1000);
      const [lb] = await b.lease(1, T0 + 1000);
      expect([la!.id, lb!.id]).toEqual(["x", "x"]);
      // Acking x in a leaves b's x leased; enqueueing x again in a does not collide with b's.
      await a.commit({ ack: [{ id: "x", token: la!.token }], results: [{ id: "x", payload: "a-done" }], enqueue: [item("x")] });
      expect([await a.leasedCount(), await b.leasedCount()]).toEqual([0, 1]);
      expect([await a.getResult("x", false, T0), await b.getResult("x", true, T0)]).toEqual(["a-done", b.queue]);
      expect(await b.renew([{ id: "x", token: lb!.token }], T0 + 5000)).toEqual([]);
      expect(await b.release([{ id: "x", token: lb!.token }])).toBe(1);
      await b.commit({ ack: [{ id: "x", token: (await b.lease(1, T0 + 1000))[0]!.token }] });
      expect([await a.hasTask("x"), await b.hasTask("x")]).toEqual([true, false]);
      // b's unique key stays held by b's "u"; a's "u" is not b's concern.
      await a.commit({ ack: (await a.lease(5, T0 + 1000)).map(({ id, token }) => ({ id, token })), deleteData: ["u:k"] });
      expect(await a.enqueueUnique(item("u2"), "u:k")).toBeNull();
      expect(await b.enqueueUnique(item("u2"), "u:k")).toBe("u");
      expect([await a.promoteDue(T0, 10), await b.promoteDue(T0, 10)]).toEqual([1, 1]);
      expect((await a.lease(10, T0 + 1000)).map((l) => l.id).sort()).toEqual(["u2", "y"]);
      expect((await b.lease(10, T0 + 1000)).map((l) => l.id).sort()).toEqual(["u", "y"]);
      expect((await b.listLocks(T0)).map((l) => l.owner)).toEqual(["owner"]);
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

    describe("lanes and pauses", () => {
      const inLane = (id: string, lane: string, priority = 0) => ({ ...item(id, priority), lane });
      const ids = (xs: { id: string }[]) => xs.map((x) => x.id);
      const lanesOf = (xs: { id: string; lane?: string }[]) => Object.fromEntries(xs.map((x) => [x.id, x.lane]));
      const all = { now: T0 };

      test("items keep their lane through enqueue, schedule, promotion, lease and the listings; no lane is \"default\"", async () => {
        const s = await make();
        await s.enqueue([inLane("a", "emails"), item("d")]);
        await s.schedule([{ ...inLane("s", "reports"), eta: T0 }, { ...item("t"), eta: T0 + 5 }]);
        expect(lanesOf(await s.listScheduled(10))).toEqual({ s: "reports", t: "default" });
        expect(await s.promoteDue(T0 + 5, 10)).toBe(2);
        expect(lanesOf(await s.listPending(10))).toEqual({ a: "emails", d: "default", s: "reports", t: "default" });
        expect(lanesOf(await s.lease(10, T0 + 1000))).toEqual({ a: "emails", d: "default", s: "reports", t: "default" });
      });

      test("commit keeps the lane of enqueues, schedules and retries; unique and deduplicated enqueues keep theirs", async () => {
        const s = await make();
        await s.enqueue([inLane("r", "emails"), inLane("l", "emails")]);
        const [r, l] = await s.lease(2, T0 + 1000);
        await s.commit({
          enqueue: [inLane("e", "x")],
          schedule: [{ ...inLane("f", "y"), eta: T0 }],
          // A retry at once reuses the id; a retry later goes through the schedule.
          tasks: [{ lease: r!, enqueue: [inLane("r", "emails")] }, { lease: l!, schedule: [{ ...inLane("l", "emails"), eta: T0 }] }],
        });
        expect(await s.enqueueUnique({ ...inLane("u", "uq"), eta: T0 }, "ukey")).toBeNull();
        expect(await s.enqueueDeduped(inLane("t", "thr"), "tkey", "throttle", T0 + 100, T0)).toEqual({ kind: "stored" });
        expect(await s.enqueueDeduped(inLane("p", "rep"), "pkey", "replace", T0 + 100, T0)).toEqual({ kind: "stored" });
        expect(await s.enqueueDeduped({ ...inLane("p", "rep"), payload: "new" }, "pkey", "replace", T0 + 100, T0)).toMatchObject({ kind: "merged" });
        expect(await s.promoteDue(T0, 10)).toBe(3);
        expect(lanesOf(await s.lease(10, T0 + 1000))).toEqual({ r: "emails", l: "emails", e: "x", f: "y", u: "uq", t: "thr", p: "rep" });
      });

      test("a lease with lanes serves only those, each up to its cap, priorities first within a lane", async () => {
        const s = await make();
        await s.enqueue([inLane("a1", "a"), inLane("a2", "a", 5), inLane("a3", "a", 1), inLane("b1", "b"), inLane("b2", "b"), inLane("c1", "c")]);
        const got = await s.lease(10, T0 + 1000, { now: T0, lanes: { a: 2, b: Infinity, z: 3 } });
        expect(ids(got).sort()).toEqual(["a2", "a3", "b1", "b2"]);
        expect(await s.lease(10, T0 + 1000, { now: T0, lanes: { a: 0, c: 1 } }).then(ids)).toEqual(["c1"]);
        expect(await s.lease(10, T0 + 1000).then(ids)).toEqual(["a1"]);
      });

      test("a busy lane does not starve another: shares are fair, and small leases take from each lane in turn", async () => {
        const s = await make();
        await s.enqueue(Array.from({ length: 40 }, (_, i) => inLane(`busy${i}`, "busy", 9)));
        await s.enqueue(Array.from({ length: 6 }, (_, i) => inLane(`calm${i}`, "calm")));
        const lanes = { busy: Infinity, calm: Infinity };
        const count = (xs: { lane?: string }[], lane: string) => xs.filter((x) => x.lane === lane).length;
        const four = await s.lease(4, T0 + 1000, { now: T0, lanes });
        expect([count(four, "busy"), count(four, "calm")]).toEqual([2, 2]);
        const ones = [];
        for (let i = 0; i < 4; i++) ones.push(...(await s.lease(1, T0 + 1000, { now: T0, lanes })));
        expect([count(ones, "busy"), count(ones, "calm")]).toEqual([2, 2]);
        // Every lane with ready items when the filter names none; what a lane cannot give goes to the others.
        const rest = await s.lease(10, T0 + 1000, all);
        expect([count(rest, "busy"), count(rest, "calm")]).toEqual([8, 2]);
      });

      test("a paused lane is not leased with a filter, but is without one; resume says whether it was paused", async () => {
        const s = await make();
        await s.enqueue([inLane("a", "emails"), inLane("b", "reports")]);
        await s.pauseLane("emails", null);
        expect(await s.lease(10, T0 + 1000, { now: T0, lanes: { emails: Infinity, reports: Infinity } }).then(ids)).toEqual(["b"]);
        expect(await s.lease(10, T0 + 1000, all)).toEqual([]);
        expect(await s.pendingCount("emails")).toBe(1);
        expect(await s.resumeLane("emails")).toBe(true);
        expect(await s.resumeLane("emails")).toBe(false);
        expect(await s.lease(10, T0 + 1000, all).then(ids)).toEqual(["a"]);
        await s.enqueue([inLane("c", "emails")]);
        await s.pauseLane("emails", null);
        expect(await s.lease(10, T0 + 1000).then(ids)).toEqual(["c"]);
      });

      test("a pause with an end holds until then; pausing again replaces the end; listPaused is by name", async () => {
        const s = await make();
        await s.enqueue([inLane("a", "emails")]);
        await s.pauseLane("emails", T0 + 100);
        await s.pauseLane("beta", null);
        expect(await s.listPaused(T0)).toEqual([{ lane: "beta", until: null }, { lane: "emails", until: T0 + 100 }]);
        expect(await s.lease(10, T0 + 1000, { now: T0 + 99 })).toEqual([]);
        expect(await s.listPaused(T0 + 100)).toEqual([{ lane: "beta", until: null }]);
        await s.pauseLane("emails", T0 + 200);
        expect(await s.lease(10, T0 + 1000, { now: T0 + 150 })).toEqual([]);
        expect(await s.lease(10, T0 + 1000, { now: T0 + 200 }).then(ids)).toEqual(["a"]);
      });

      test("counts and listings of one lane", async () => {
        const s = await make();
        await s.enqueue([inLane("a1", "a", 1), inLane("a2", "a", 2), inLane("b1", "b")]);
        await s.schedule([{ ...inLane("s1", "a"), eta: T0 + 2 }, { ...inLane("s2", "b"), eta: T0 + 1 }, { ...inLane("s3", "a"), eta: T0 }]);
        await s.lease(1, T0 + 1000, { now: T0, lanes: { a: 1 } });
        expect([await s.pendingCount("a"), await s.leasedCount("a"), await s.scheduledCount("a")]).toEqual([1, 1, 2]);
        expect([await s.pendingCount("b"), await s.leasedCount("b"), await s.scheduledCount("b")]).toEqual([1, 0, 1]);
        expect([await s.pendingCount("none"), await s.leasedCount("none"), await s.scheduledCount("none")]).toEqual([0, 0, 0]);
        expect([await s.pendingCount(), await s.leasedCount(), await s.scheduledCount()]).toEqual([2, 1, 3]);
        expect((await s.listPending(10, "a")).map((x) => [x.id, x.leased])).toEqual([["a2", true], ["a1", false]]);
        expect(ids(await s.listPending(10, "b"))).toEqual(["b1"]);
        expect(ids(await s.listScheduled(10, "a"))).toEqual(["s3", "s1"]);
        expect(ids(await s.listScheduled(1, "b"))).toEqual(["s2"]);
      });

      test("flush removes the pauses", async () => {
        const s = await make();
        await s.pauseLane("a", null);
        await s.flush();
        expect(await s.listPaused(T0)).toEqual([]);
        expect(await s.resumeLane("a")).toBe(false);
      });

      test("resume wakes a waiting consumer", async () => {
        const s = await make();
        await s.pauseLane("a", null);
        const wakes = await wakesDuring(async () => {
          const woke = s.waitForChange(120_000);
          await s.resumeLane("a");
          await woke;
        });
        expect(wakes.changed + wakes.poll).toBeGreaterThanOrEqual(1);
        expect(wakes.timeout).toBe(0);
      });

      if (options.shared) {
        test("a pause holds at once for every instance on the queue", async () => {
          const q = queueName();
          const a = await make(q);
          const b = await create(q);
          opened.push(b);
          await a.enqueue([inLane("x", "emails")]);
          await a.pauseLane("emails", null);
          expect(await b.lease(10, T0 + 1000, all)).toEqual([]);
          expect(await b.listPaused(T0)).toEqual([{ lane: "emails", until: null }]);
          expect(await b.resumeLane("emails")).toBe(true);
          expect(await a.lease(10, T0 + 1000, all).then(ids)).toEqual(["x"]);
        });
      }
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
        // The wait's timer is longer than the test may take: only a wake-up (or, where a backend
        // documents one, a safety poll) can end it, and no timer may.
        const wakes = await wakesDuring(async () => {
          const woke = a.waitForChange(120_000);
          await b.enqueue([item("a")]);
          await woke;
        });
        expect(wakes.changed + wakes.poll).toBeGreaterThanOrEqual(1);
        expect(wakes.timeout).toBe(0);
      });
    }
  });
}

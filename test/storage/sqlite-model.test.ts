// SqliteStorage's claims (schema 8) against the reference storage: seeded random runs of enqueues, leases,
// acks, releases, renewals and expiries on both, and after every step the same leases, the same counts and
// the same listing. The claims are cut, merged around and re-read in ways no hand-written case covers.
import { expect, test } from "bun:test";
import { MemoryStorage } from "../../src/storage/memory";
import { SqliteStorage } from "../../src/storage/sqlite";
import { claimTuning } from "../../src/storage/_sqlite-claims";
import type { LeasedItem, LeaseFilter, Storage } from "../../src/storage/types";
import { tempDb } from "../harness";

const T0 = 1_700_000_000_000;

/** A seeded LCG, read from its high bits (its low bits cycle: with `% n`, r(2) only alternated). */
function rng(seed: number): (n: number) => number {
  let s = seed;
  return (n) => Math.floor(((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * n);
}

/** What both stores must agree on after a step. */
async function observe(s: Storage): Promise<unknown> {
  return {
    pending: await s.pendingCount(),
    leased: await s.leasedCount(),
    perLane: [await s.pendingCount("a"), await s.leasedCount("a"), await s.pendingCount("b"), await s.leasedCount("b")],
    list: (await s.listPending(1_000)).map((r) => [r.id, r.leased]),
    results: await s.resultCount(),
  };
}

// skipSpan (see takeHead): 64 walks every claim of these small leases inside a range read, 1 seeks past
// each, 4 mixes the two.
const SPANS = [claimTuning.skipSpan, 4, 1];
for (const seed of [1, 2, 3, 4, 5, 6]) {
  for (const span of SPANS) test(`seed ${seed}, skipSpan ${span}: 300 random steps leave SQLite's claims and the reference storage alike`, async () => {
    const saved = claimTuning.skipSpan;
    claimTuning.skipSpan = span;
    try {
      await run(seed);
    } finally {
      claimTuning.skipSpan = saved;
    }
  });
}

/** No two claims of one lane and priority overlap (a row held twice would be acked by either token). */
function noOverlap(sql: SqliteStorage): void {
  const claims = sql.database.query("SELECT lane, priority, lo, hi FROM claims ORDER BY lane, priority, lo").all() as { lane: string; priority: number; lo: number; hi: number }[];
  for (let i = 1; i < claims.length; i++) {
    const [p, c] = [claims[i - 1]!, claims[i]!];
    if (p.lane === c.lane && p.priority === c.priority) expect(c.lo).toBeGreaterThan(p.hi);
  }
}

async function run(seed: number): Promise<void> {
  const r = rng(seed);
  const ref = new MemoryStorage("q");
  const sql = new SqliteStorage({ filename: tempDb(), queue: "q" });
  // Each lease as both stores gave it: the same items, each store's own token and seq.
  const held: { ref: LeasedItem; sql: LeasedItem }[] = [];
  // Leases that may have been lost (expired and reclaimed): acks of these must report the same losses.
  let now = T0;
  let next = 0;
  const both = async <T>(f: (s: Storage) => Promise<T>): Promise<[T, T]> => [await f(ref), await f(sql)];
  for (let step = 0; step < 300; step++) {
    const op = r(10);
    if (op < 3) {
      const items = Array.from({ length: 1 + r(12) }, () => {
        const id = `t${next++}`;
        return { id, name: "t", priority: r(3) - 1, payload: JSON.stringify({ id }), lane: r(3) ? "a" : "b" };
      });
      await both((s) => s.enqueue(items));
    } else if (op < 5) {
      const n = 1 + r(15);
      const until = now + 1_000 + r(3) * 1_000;
      const lanes = ([null, { a: Infinity }, { b: 2 + r(3) }] as (Record<string, number> | null)[])[r(3)]!;
      const filter: LeaseFilter | undefined = r(4) === 0 ? undefined : lanes ? { now, lanes } : { now };
      const [a, b] = await both((s) => s.lease(n, until, filter));
      expect(b.map((x) => [x.id, x.leases])).toEqual(a.map((x) => [x.id, x.leases]));
      for (let i = 0; i < a.length; i++) held.push({ ref: a[i]!, sql: b[i]! });
    } else if (op < 7 && held.length) {
      // Ack a random subset (some of them may have expired and been reclaimed, or taken again).
      const pick = held.filter(() => r(2) === 0);
      const [a, b] = await both((s) => {
        const side = s === ref ? "ref" : "sql";
        return s.commit({ tasks: pick.map((h) => ({ lease: { id: h[side].id, token: h[side].token, seq: h[side].seq }, results: [{ id: h[side].id, payload: "1" }] })) });
      });
      expect(b.lost.sort()).toEqual(a.lost.sort());
      for (const p of pick) held.splice(held.indexOf(p), 1);
    } else if (op === 7 && held.length) {
      const pick = held.filter(() => r(3) === 0);
      const unstarted = r(2) === 0;
      const [a, b] = await both((s) => s.release(pick.map((h) => (s === ref ? h.ref : h.sql)).map(({ id, token }) => ({ id, token })), unstarted));
      expect(b).toBe(a);
      for (const p of pick) held.splice(held.indexOf(p), 1);
    } else if (op === 8 && held.length) {
      const pick = held.filter(() => r(2) === 0);
      const until = now + 1_000 + r(4) * 1_000;
      const [a, b] = await both((s) => s.renew(pick.map((h) => (s === ref ? h.ref : h.sql)).map(({ id, token }) => ({ id, token })), until));
      expect(b.sort()).toEqual(a.sort());
    } else {
      now += 500 + r(1_500);
      const [a, b] = await both((s) => s.reclaimExpired(now));
      expect(b).toBe(a);
    }
    expect(await observe(sql)).toEqual(await observe(ref));
    noOverlap(sql);
    for (const id of ["t0", `t${r(Math.max(1, next))}`]) {
      const [a, b] = await both((s) => s.locate(id));
      expect(b === null ? null : { where: b.where, leases: b.leases }).toEqual(a === null ? null : { where: a.where, leases: a.leases });
    }
  }
  sql.close();
}

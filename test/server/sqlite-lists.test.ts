// The dashboard's SQLite lists against the plain sorted query they replace: pages of the ready tasks of
// every lane, with offsets and searches, in lease order.
import { expect, test } from "bun:test";
import { SqliteStorage } from "../../src/storage/sqlite";
import { SqliteLists } from "../../src/server/sqlite-lists";
import { claimedSql } from "../../src/storage/_sqlite-claims";
import { tempDb } from "../harness";

test("queued pages over several lanes and priorities match one sorted query of the ready set", async () => {
  const file = tempDb();
  const s = new SqliteStorage({ filename: file, queue: "q" });
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  const lanes = ["default", "emails", "reports"];
  for (let round = 0; round < 3; round++) {
    await s.enqueue(Array.from({ length: 60 }, (_, i) => ({ id: `r${round}-${i}`, name: i % 4 ? "work" : "mail", priority: rnd(3) - 1, payload: "{}", lane: lanes[rnd(3)] })));
    await s.lease(5 + rnd(5), Date.now() + 60_000);
  }
  const lists = new SqliteLists(file, s);
  const reference = (q: string | null) =>
    (s.database
      .query(`SELECT id FROM queue WHERE queue = 'q' AND leased_until IS NULL AND NOT ${claimedSql("queue")} ${q ? "AND (id = ?1 OR instr(name, ?1) > 0)" : ""} ORDER BY priority DESC, seq`)
      .all(...(q ? [q] : [])) as { id: string }[]).map((r) => r.id);
  for (const q of [null, "mai"]) {
    const all = reference(q);
    expect(all.length).toBeGreaterThan(30);
    for (const [offset, limit] of [[0, 1], [0, 10], [7, 10], [25, 50], [all.length - 3, 10], [all.length, 5]] as const) {
      const page = await lists.queued({ offset, limit, q, queue: null });
      expect(page.items.map((t) => t.id)).toEqual(all.slice(offset, offset + limit));
      expect(page.more).toBe(all.length > offset + limit);
    }
  }
  lists.close();
  s.close();
});

test("a page that ends one row before the end of a single lane says there is more", async () => {
  const file = tempDb();
  const s = new SqliteStorage({ filename: file, queue: "q" });
  await s.enqueue(Array.from({ length: 12 }, (_, i) => ({ id: `t${i}`, name: "work", priority: 0, payload: "{}", lane: "emails" })));
  const lists = new SqliteLists(file, s);
  expect((await lists.queued({ offset: 0, limit: 11, q: null, queue: null })).more).toBe(true);
  expect((await lists.queued({ offset: 1, limit: 11, q: null, queue: null })).more).toBe(false);
  expect((await lists.queued({ offset: 1, limit: 10, q: null, queue: null })).more).toBe(true);
  lists.close();
  s.close();
});

import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { Database } from "bun:sqlite";
import { SqliteStorage } from "../../src/storage/sqlite";
import { SQLITE_MIGRATIONS } from "../../src/storage/sql/migrations";
import { tempDb } from "../harness";
import { describeStorageContract, item } from "./contract";

const shared = tempDb("contract.db");
describeStorageContract("sqlite", (queue) => new SqliteStorage({ filename: shared, queue }), { shared: true });

describe("sqlite storage", () => {
  test("opens in WAL mode with NORMAL sync and records the schema version", () => {
    const file = tempDb();
    const s = new SqliteStorage({ filename: file, queue: "q" });
    const db = s.database;
    expect((db.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal");
    expect((db.query("PRAGMA synchronous").get() as { synchronous: number }).synchronous).toBe(1);
    expect(db.query("SELECT version FROM schema_version ORDER BY version").all()).toEqual(SQLITE_MIGRATIONS.map((m) => ({ version: m.version })));
    s.close();
    const full = new SqliteStorage({ filename: file, queue: "q", synchronous: "FULL" });
    expect((full.database.query("PRAGMA synchronous").get() as { synchronous: number }).synchronous).toBe(2);
    full.close();
  });

  test("reopening a migrated file applies no migration twice", () => {
    const file = tempDb();
    new SqliteStorage({ filename: file, queue: "q" }).close();
    const s = new SqliteStorage({ filename: file, queue: "q" });
    expect(s.database.query("SELECT count(*) AS n FROM schema_version").get()).toEqual({ n: SQLITE_MIGRATIONS.length });
    s.close();
  });

  test("a database of schema 3 (ids unique per file, no lock fences) upgrades and keeps its rows", async () => {
    const file = tempDb();
    const old = new Database(file, { strict: true });
    old.run("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= 3)) {
      old.run(m.sql);
      old.query("INSERT INTO schema_version VALUES (?, 0)").run(m.version);
    }
    const T0 = 1_700_000_000_000;
    const insert = old.prepare(
      "INSERT INTO queue (queue, id, name, priority, payload, leased_until, token, leases) VALUES (?, ?, 't', ?, ?, ?, ?, ?)",
    );
    insert.run("a", "r1", 0, "p-r1", null, null, 0);
    insert.run("a", "r2", 5, "p-r2", null, null, 0);
    insert.run("a", "l1", 0, "p-l1", T0 + 1000, "tok", 1);
    insert.run("b", "x", 0, "p-x", null, null, 0);
    const sched = old.prepare("INSERT INTO schedule (id, queue, name, priority, eta, payload) VALUES (?, 'a', 't', 0, ?, ?)");
    sched.run("s1", T0 + 10, "p-s1");
    sched.run("s2", T0 + 10, "p-s2");
    sched.run("s3", T0 + 5, "p-s3");
    old.run("INSERT INTO results (queue, id, payload, expires_at) VALUES ('a', 'r0', 'done', NULL)");
    old.run("INSERT INTO kv (queue, key, value) VALUES ('a', 'k', 'v')");
    old.query("INSERT INTO locks (queue, key, owner, until) VALUES ('a', 'L', 'o', ?)").run(T0 + 1000);
    old.query("INSERT INTO counters (queue, key, value, expires_at) VALUES ('a', 'c', 3, ?)").run(T0 + 1000);
    old.close();

    const a = new SqliteStorage({ filename: file, queue: "a" });
    const b = new SqliteStorage({ filename: file, queue: "b" });
    expect(a.database.query("SELECT version FROM schema_version ORDER BY version").all()).toEqual(
      SQLITE_MIGRATIONS.map((m) => ({ version: m.version })),
    );
    expect((await a.listPending(10)).map((x) => [x.id, x.payload, x.leased])).toEqual([
      ["r2", "p-r2", false], ["r1", "p-r1", false], ["l1", "p-l1", true],
    ]);
    // The lease taken before the upgrade is still held by its token.
    await a.commit({ ack: [{ id: "l1", token: "tok" }] });
    expect(await a.leasedCount()).toBe(0);
    expect((await a.listScheduled(10)).map((x) => [x.id, x.eta])).toEqual([["s3", T0 + 5], ["s1", T0 + 10], ["s2", T0 + 10]]);
    expect(await a.getResult("r0", true, T0)).toBe("done");
    expect(await a.getData("k", true)).toBe("v");
    expect(await a.incr("c", 1, T0 + 1000, T0)).toBe(4);
    expect(await a.listLocks(T0)).toEqual([{ key: "L", owner: "o", until: T0 + 1000, fence: 0 }]);
    expect(await a.acquireLock("L", "p", T0 + 2000, T0 + 1000)).toBe(1);
    expect([await b.pendingCount(), await b.hasTask("x"), await a.hasTask("x")]).toEqual([1, true, false]);
    // Ids are now unique per queue: b's "x" and a's "r1" no longer block the other queue.
    await a.enqueue([item("x")]);
    await b.enqueue([item("r1")]);
    await b.schedule([{ ...item("s1"), eta: T0 }]);
    await expect(a.enqueue([item("x")])).rejects.toMatchObject({ code: "HUEY_DUPLICATE_ID" });
    expect([await a.pendingCount(), await b.pendingCount(), await b.scheduledCount()]).toEqual([3, 2, 1]);
    a.close();
    b.close();
  });

  test("a file that is not SQLite is refused with a clear error and left as it was", () => {
    const file = tempDb("notes.db");
    const text = "these are my notes, not a database\n".repeat(200);
    writeFileSync(file, text);
    expect(() => new SqliteStorage({ filename: file, queue: "q" })).toThrow(/is not a SQLite database/);
    expect(require("node:fs").readFileSync(file, "utf8")).toBe(text);
  });

  test("a database from a newer bun-huey is refused", () => {
    const file = tempDb();
    new SqliteStorage({ filename: file, queue: "q" }).close();
    const db = new Database(file);
    db.run("INSERT INTO schema_version VALUES (999, 0)");
    db.close();
    expect(() => new SqliteStorage({ filename: file, queue: "q" })).toThrow(/newer than this bun-huey knows/);
  });

  test("a read-only database is refused at open with a clear error", () => {
    const file = tempDb();
    const s = new SqliteStorage({ filename: file, queue: "q" });
    s.close();
    // As root, file modes do not stop writes; SQLite's own read-only open does.
    const ro = new SqliteStorage({ filename: file, queue: "q", readonly: true });
    return expect(ro.enqueue([item("a")])).rejects.toThrow(/read-only/);
  });

  test("a full disk fails the write with a clear error and keeps what was stored", async () => {
    const file = tempDb();
    const s = new SqliteStorage({ filename: file, queue: "q" });
    await s.enqueue([item("kept")]);
    // Cap the file at its current size: the next growth is SQLITE_FULL, as on a full disk.
    const pages = (s.database.query("PRAGMA page_count").get() as { page_count: number }).page_count;
    s.database.run(`PRAGMA max_page_count = ${pages}`);
    const big = Array.from({ length: 200 }, (_, i) => ({ ...item(`big${i}`), payload: "x".repeat(4000) }));
    await expect(s.enqueue(big)).rejects.toThrow(/disk .* is full/);
    expect((await s.listPending(10)).map((x) => x.id)).toEqual(["kept"]);
    s.close();
  });

  test("a database locked by another writer past busy_timeout: a clear error, and the write can be retried", async () => {
    const file = tempDb();
    const s = new SqliteStorage({ filename: file, queue: "q", busyTimeout: 100 });
    const other = new Database(file);
    other.run("BEGIN IMMEDIATE");
    await expect(s.enqueue([item("a")])).rejects.toThrow(/stayed locked by another connection past busy_timeout; retry, or raise busyTimeout/);
    other.run("COMMIT");
    other.close();
    await s.enqueue([item("a")]);
    expect(await s.pendingCount()).toBe(1);
    s.close();
  });

  test("a corrupt database file gives a clear error naming the file and what to do", async () => {
    const file = tempDb();
    const s = new SqliteStorage({ filename: file, queue: "q" });
    await s.enqueue(Array.from({ length: 300 }, (_, i) => ({ ...item(`t${i}`), payload: "x".repeat(500) })));
    s.database.run("PRAGMA wal_checkpoint(TRUNCATE)");
    s.close();
    // Scribble over every page but the first (the header stays valid, so the file still opens).
    const bytes = require("node:fs").readFileSync(file) as Buffer;
    for (let i = 4096; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff;
    require("node:fs").writeFileSync(file, bytes);
    let err: Error | null = null;
    try {
      const broken = new SqliteStorage({ filename: file, queue: "q" });
      await broken.listPending(10);
      broken.close();
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(/is corrupt \(database disk image is malformed\); restore it from a backup/);
    expect(err?.message).toContain(file);
  });

  test("a folder that does not exist gives a clear error", () => {
    expect(() => new SqliteStorage({ filename: "/nonexistent-dir-huey/x.db", queue: "q" })).toThrow(/cannot open/);
  });

  test("six storages opening one new file at once all succeed", async () => {
    const file = tempDb();
    const procs = Array.from({ length: 6 }, () =>
      Bun.spawn(["bun", "-e", `
        const { SqliteStorage } = await import(${JSON.stringify(require.resolve("../../src/storage/sqlite"))});
        const s = new SqliteStorage({ filename: ${JSON.stringify(file)}, queue: "q" });
        await s.enqueue([{ id: crypto.randomUUID(), name: "t", priority: 0, payload: "{}" }]);
        s.close();`], { stderr: "pipe" }),
    );
    const codes = await Promise.all(procs.map((p) => p.exited));
    expect(codes).toEqual([0, 0, 0, 0, 0, 0]);
    const s = new SqliteStorage({ filename: file, queue: "q" });
    expect(await s.pendingCount()).toBe(6);
    s.close();
  });

  test("the ready-set lease uses the partial index", () => {
    const s = new SqliteStorage({ filename: tempDb(), queue: "q" });
    const plan = s.database
      .query("EXPLAIN QUERY PLAN SELECT seq FROM queue WHERE queue = ? AND leased_until IS NULL ORDER BY priority DESC, seq LIMIT 10")
      .all("q") as { detail: string }[];
    expect(plan.map((p) => p.detail).join(" ")).toContain("queue_ready");
    s.close();
  });
});

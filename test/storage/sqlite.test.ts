import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, closeSync, existsSync, futimesSync, openSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { SqliteHuey } from "../../src/storage/sqlite-huey";
import { wakeStats } from "../../src/storage/_waiters";
import { FileWake, wakeTuning } from "../../src/storage/_wake";
import { SqliteStorage } from "../../src/storage/sqlite";
import { SQLITE_MIGRATIONS } from "../../src/storage/sql/migrations";
import { prepare } from "../../src/storage/_sqlite-sql";
import { claimedSql, claimStatements, claimTuning, seqDeleteSql, takeHead } from "../../src/storage/_sqlite-claims";
import { FIXTURES, tempDb, tempDir, waitFor } from "../harness";
import { describeStorageContract, item } from "./contract";

const shared = tempDb("contract.db");
const T0 = 1_700_000_000_000;
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

  test("a bulk enqueue and schedule over several INSERT chunks store every row's columns, in one commit", async () => {
    const s = new SqliteStorage({ filename: tempDb(), queue: "q" });
    const n = 301; // two full chunks of 128 and a short one
    const ready = Array.from({ length: n }, (_, i) => ({ id: `r${i}`, name: `n${i % 3}`, priority: i % 5, payload: `{"i":${i}}`, ...(i % 2 ? { lane: `l${i % 4}` } : {}) }));
    const later = Array.from({ length: n }, (_, i) => ({ id: `s${i}`, name: `m${i % 3}`, priority: 2 - (i % 4), payload: `{"s":${i}}`, eta: 5_000 + i, ...(i % 3 ? { lane: "late" } : {}) }));
    await s.commit({ enqueue: ready, schedule: later });
    const rows = s.database.query("SELECT id, name, priority, payload, lane FROM queue WHERE queue = 'q' ORDER BY seq").all();
    expect(rows).toEqual(ready.map((r) => ({ id: r.id, name: r.name, priority: r.priority, payload: r.payload, lane: r.lane ?? "default" })));
    const sched = s.database.query("SELECT id, name, priority, payload, eta, lane FROM schedule WHERE queue = 'q' ORDER BY seq").all();
    expect(sched).toEqual(later.map((r) => ({ id: r.id, name: r.name, priority: r.priority, payload: r.payload, eta: r.eta, lane: r.lane ?? "default" })));
    // A duplicate id in a later chunk rolls the whole commit back.
    await expect(s.enqueue([...Array.from({ length: 200 }, (_, i) => item(`x${i}`)), item("r7")])).rejects.toThrow();
    expect(await s.pendingCount()).toBe(n);
    s.close();
  });

  test("a commit of many fenced writes (several ack chunks) writes the held ones and reports each lost one", async () => {
    const s = new SqliteStorage({ filename: tempDb(), queue: "q" });
    await s.enqueue(Array.from({ length: 300 }, (_, i) => item(`t${i}`)));
    const leases = (await s.lease(300, T0 + 1000, { now: T0 })).map(({ id, token }) => ({ id, token }));
    expect(leases).toHaveLength(300);
    // Lost in the first, second and last chunk: released and leased again by "another consumer".
    const lostIds = ["t3", "t200", "t299"];
    await s.release(leases.filter((l) => lostIds.includes(l.id)));
    const retaken = await s.lease(10, T0 + 5000, { now: T0 });
    expect(retaken.map((x) => x.id).sort()).toEqual([...lostIds].sort());
    const report = await s.commit({
      putData: [{ key: "unfenced", value: "v" }],
      tasks: leases.map((l) => ({ lease: l, results: [{ id: l.id, payload: `r-${l.id}` }], putData: [{ key: `k-${l.id}`, value: "x" }] })),
    });
    expect([...report.lost].sort()).toEqual([...lostIds].sort());
    expect(await s.getData("unfenced", true)).toBe("v");
    expect(await s.getResult("t0", true, T0)).toBe("r-t0");
    expect(await s.getResult("t298", true, T0)).toBe("r-t298");
    for (const id of lostIds) {
      expect(await s.getResult(id, true, T0)).toBeNull();
      expect(await s.getData(`k-${id}`, true)).toBeNull();
    }
    // The new holders keep their leases: only the lost tasks are still queued, and leased.
    expect((await s.listPending(10)).map((x) => [x.id, x.leased]).sort()).toEqual(lostIds.map((id) => [id, true]).sort());
    s.close();
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
    // The lease taken before the upgrade became a claim of its row (schema 8), with its token, deadline and count.
    expect(a.database.query("SELECT token, until, lo = hi AS one FROM claims").all()).toEqual([{ token: "tok", until: T0 + 1000, one: 1 }]);
    expect(a.database.query("SELECT count(*) AS n FROM queue WHERE leased_until IS NOT NULL OR token IS NOT NULL").get()).toEqual({ n: 0 });
    expect(await a.locate("l1")).toMatchObject({ where: "leased", leasedUntil: T0 + 1000, leases: 1 });
    // It is still held by its token.
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

  test("a lease and a commit wait for another connection's write lock on the event loop, not with the thread blocked", async () => {
    const file = tempDb();
    const s = new SqliteStorage({ filename: file, queue: "q", busyTimeout: 3_000 });
    await s.enqueue([item("a"), item("b")]);
    const other = new Database(file);
    other.run("BEGIN IMMEDIATE");
    other.run("INSERT INTO kv (queue, key, value) VALUES ('q', 'held', 'x')");
    // Blocked inside SQLite, the lease would hold this thread until busyTimeout, and the lock would never
    // be let go (the other connection's COMMIT is on this thread).
    let leased: Awaited<ReturnType<SqliteStorage["lease"]>> | null = null;
    const lease = s.lease(10, T0 + 60_000, { now: T0 }).then((rows) => (leased = rows));
    await Bun.sleep(0);
    expect(leased).toBeNull();
    other.run("COMMIT");
    await lease;
    expect(leased!.map((r) => r.id).sort()).toEqual(["a", "b"]);
    other.run("BEGIN IMMEDIATE");
    let committed = false;
    const commit = s.commit({ tasks: [{ lease: { id: "a", token: leased![0]!.token }, results: [{ id: "a", payload: "1" }] }] }).then(() => (committed = true));
    await Bun.sleep(0);
    expect(committed).toBe(false);
    other.run("ROLLBACK");
    await commit;
    expect(await s.getResult("a", false, T0)).toBe("1");
    // The store's own timeout still bounds the wait; the connection keeps it for every other statement.
    s.close();
    const short = new SqliteStorage({ filename: file, queue: "q", busyTimeout: 30 });
    other.run("BEGIN IMMEDIATE");
    await expect(short.lease(10, T0 + 60_000, { now: T0 })).rejects.toThrow(/stayed locked by another connection past busy_timeout; retry, or raise busyTimeout/);
    expect((short.database.query("PRAGMA busy_timeout").get() as { timeout: number }).timeout).toBe(30);
    other.run("COMMIT");
    other.close();
    short.close();
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

  test("a lane's lease and the walk over the lanes use the per-lane ready index, in lease order (no sort)", () => {
    const s = new SqliteStorage({ filename: tempDb(), queue: "q" });
    const planOf = (sql: string) => (s.database.query(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((p) => p.detail).join(" | ");
    // The storage's own statements (their SQL with the parameters unbound): a gap between claims is one
    // range of the index, in seq order; the priorities are found by one seek each.
    const c = claimStatements(s.database);
    const gap = planOf(String(c.gap));
    expect(gap).toContain("queue_lane_ready (queue=? AND lane=? AND priority=? AND seq>? AND seq<?)");
    expect(gap).not.toContain("TEMP B-TREE");
    for (const st of [c.topPriority, c.nextPriority, c.members]) expect(planOf(String(st))).toContain("queue_lane_ready");
    expect(planOf("SELECT min(lane) FROM queue WHERE queue = 'q' AND leased_until IS NULL AND lane > 'a'")).toContain("queue_lane_ready");
    // Schema 7 keeps one ready index: the per-lane one.
    expect(s.database.query("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'queue_ready'").all()).toEqual([]);
    s.close();
  });

  test("reclaiming expired leases reads the index of leased rows, not the whole queue", () => {
    const s = new SqliteStorage({ filename: tempDb(), queue: "q" });
    // The storage's own statement (its SQL with the parameters unbound), not a copy of its text.
    const sql = String(prepare(s.database).reclaim);
    const plan = (s.database.query(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((p) => p.detail).join(" | ");
    expect(plan).toContain("queue_leased");
    expect(plan).not.toContain("sqlite_autoindex_queue_1");
    s.close();
  });

  test("listPending merges each lane's ready rows and the leased rows into the order of one sorted query over the queue", async () => {
    const s = new SqliteStorage({ filename: tempDb(), queue: "q" });
    let seed = 42;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    const lanes = ["default", "emails", "reports"];
    for (let round = 0; round < 4; round++) {
      await s.enqueue(Array.from({ length: 50 }, (_, i) => ({ id: `r${round}-${i}`, name: "t", priority: rnd(3) - 1, payload: "{}", lane: lanes[rnd(3)] })));
      await s.lease(7 + rnd(10), Date.now() + 60_000);
    }
    // The reference: every row of the queue in lease order, with its leased flag.
    const reference = (limit: number, lane?: string) =>
      (s.database
        .query(`SELECT id, leased_until IS NOT NULL OR ${claimedSql("queue")} AS leased FROM queue WHERE queue = 'q' ${lane ? "AND lane = ?1" : ""} ORDER BY priority DESC, seq LIMIT ${limit}`)
        .all(...(lane ? [lane] : [])) as { id: string; leased: number }[]).map((r) => [r.id, r.leased === 1]);
    for (const limit of [1, 5, 40, 500]) {
      expect((await s.listPending(limit)).map((r) => [r.id, r.leased])).toEqual(reference(limit));
      for (const lane of lanes) expect((await s.listPending(limit, lane)).map((r) => [r.id, r.leased])).toEqual(reference(limit, lane));
    }
    expect((await s.listPending(500)).filter((r) => r.leased).length).toBeGreaterThan(20);
    s.close();
  });


  test("a leased item carries its row's seq, and a commit that passes it back is fenced by the token", async () => {
    const s = new SqliteStorage({ filename: tempDb(), queue: "q" });
    await s.enqueue([{ id: "a", name: "t", priority: 0, payload: "{}" }, { id: "b", name: "t", priority: 0, payload: "{}" }]);
    const leased = await s.lease(2, Date.now() + 10_000);
    const rows = s.database.query("SELECT id, seq FROM queue WHERE queue = 'q' ORDER BY seq").all() as { id: string; seq: number }[];
    expect(leased.map((l) => [l.id, l.seq])).toEqual(rows.map((r) => [r.id, r.seq]));
    // (An EXPLAIN of a DELETE stays in progress until finalized, and would hold the commits below.)
    const explain = s.database.prepare(`EXPLAIN QUERY PLAN ${seqDeleteSql(2, false)}`);
    const plan = (explain.all() as { detail: string }[]).map((p) => p.detail).join(" | ");
    explain.finalize();
    expect(plan).toContain("INTEGER PRIMARY KEY");
    // The right seq under a token that is not the row's removes nothing.
    expect(await s.commit({ tasks: [{ lease: { id: "a", token: "not-the-token", seq: leased[0]!.seq } }] })).toEqual({ lost: ["a"] });
    expect(await s.commit({ tasks: leased.map(({ id, token, seq }) => ({ lease: { id, token, seq }, results: [{ id, payload: "1" }] })) })).toEqual({ lost: [] });
    expect(await s.leasedCount()).toBe(0);
    s.close();
  });
  test("four processes opening one new file at once, 100 times over: every open succeeds", async () => {
    // Each opener answers one line per path it is sent; the four get each new path within
    // microseconds of each other, so they create, switch to WAL and migrate the file together.
    const dir = tempDir();
    const openers = Array.from({ length: 4 }, () =>
      Bun.spawn(["bun", join(FIXTURES, "sqlite-opener.ts")], { stdin: "pipe", stdout: "pipe", stderr: "inherit" }),
    );
    const answers = openers.map((p) => lineReader(p.stdout));
    const failures: string[] = [];
    try {
      for (let round = 0; round < 100; round++) {
        const file = join(dir, `round${round}.db`);
        for (const p of openers) p.stdin.write(`${file}\n`);
        for (const p of openers) p.stdin.flush();
        const lines = await Promise.all(answers.map((next) => next()));
        failures.push(...lines.filter((l) => l !== "ok").map((l) => `round ${round}: ${l}`));
      }
    } finally {
      for (const p of openers) p.stdin.end();
      await Promise.all(openers.map((p) => p.exited));
    }
    expect(failures).toEqual([]);
  }, 60_000);

  test("a new file kept locked while opening: the error says which step waited, and how long", () => {
    const file = tempDb();
    const other = new Database(file); // rollback journal: its exclusive lock blocks the WAL switch
    other.run("CREATE TABLE mine (x)");
    other.run("BEGIN EXCLUSIVE");
    expect(() => new SqliteStorage({ filename: file, queue: "q", busyTimeout: 50 })).toThrow(
      /^open .*test\.db: could not switch it to WAL mode: another connection kept the database locked for \d+ ms \(busyTimeout is 50 ms\); retry, or raise busyTimeout$/,
    );
    other.run("COMMIT");
    other.close();
  });

  test("a WAL file kept locked while migrating: the error says so, after busyTimeout", () => {
    const file = tempDb();
    const other = new Database(file);
    other.run("PRAGMA journal_mode = WAL");
    other.run("BEGIN IMMEDIATE");
    let message = "";
    try {
      new SqliteStorage({ filename: file, queue: "q", busyTimeout: 50 });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/: could not apply its migrations: another connection kept the database locked for (\d+) ms \(busyTimeout is 50 ms\)/);
    expect(Number(/for (\d+) ms/.exec(message)![1])).toBeGreaterThanOrEqual(50);
    other.run("COMMIT");
    other.close();
    const s = new SqliteStorage({ filename: file, queue: "q", busyTimeout: 50 });
    s.close();
  });
});

describe("sqlite storage: checkHealth", () => {
  test("is null while the files are as they were opened, and for an in-memory database", async () => {
    const s = new SqliteStorage({ filename: tempDb(), queue: "q" });
    await s.enqueue([item("a")]);
    expect(await s.checkHealth()).toBeNull();
    await s.close();
    const m = new SqliteStorage({ filename: ":memory:", queue: "q" });
    expect(await m.checkHealth()).toBeNull();
    await m.close();
  });

  test("stays null while other processes open, write, checkpoint and close the same file", async () => {
    const file = tempDb();
    const s = new SqliteStorage({ filename: file, queue: "q" });
    await s.enqueue([item("a")]);
    for (let i = 0; i < 3; i++) {
      const producer = Bun.spawnSync(["bun", join(FIXTURES, "sqlite-opener.ts")], { stdin: Buffer.from(`${file}\n`) });
      expect(producer.stdout.toString()).toBe("ok\n");
    }
    s.database.run("PRAGMA wal_checkpoint(TRUNCATE)");
    expect(await s.pendingCount()).toBe(4);
    expect(await s.checkHealth()).toBeNull();
    await s.close();
  });

  test("reports the -wal and -shm files deleted, and still does once another process re-creates them", async () => {
    const file = tempDb();
    const s = new SqliteStorage({ filename: file, queue: "q" });
    await s.enqueue([item("a")]);
    rmSync(`${file}-wal`);
    rmSync(`${file}-shm`);
    expect(await s.checkHealth()).toBe(`the WAL file ${file}-wal was deleted while open`);
    // A producer process opening now starts a new WAL and -shm that this connection never reads.
    const producer = Bun.spawnSync(["bun", join(FIXTURES, "sqlite-opener.ts")], { stdin: Buffer.from(`${file}\n`) });
    expect(producer.stdout.toString()).toBe("ok\n");
    expect(await s.checkHealth()).toBe(`the WAL file ${file}-wal was replaced (inode changed)`);
    await s.close();
  });

  test("reports the -shm file deleted alone", async () => {
    const file = tempDb();
    const s = new SqliteStorage({ filename: file, queue: "q" });
    rmSync(`${file}-shm`);
    expect(await s.checkHealth()).toBe(`the shared-memory file ${file}-shm was deleted while open`);
    await s.close();
  });

  test("reports another file moved over the database", async () => {
    const file = tempDb();
    const s = new SqliteStorage({ filename: file, queue: "q" });
    await s.enqueue([item("a")]);
    const other = tempDb("other.db");
    new SqliteStorage({ filename: other, queue: "q" }).close();
    renameSync(other, file);
    expect(await s.checkHealth()).toBe(`the database file ${file} was replaced (inode changed)`);
    await s.close();
  });

  test("reports the database file deleted", async () => {
    const file = tempDb();
    const s = new SqliteStorage({ filename: file, queue: "q" });
    rmSync(file);
    expect(await s.checkHealth()).toBe(`the database file ${file} was deleted while open`);
    await s.close();
  });

  test("names the file by its absolute path, and is not fooled by a change of working directory", async () => {
    const dir = tempDir();
    const cwd = process.cwd();
    // A relative filename resolves beside the calling file, not the working directory (see _caller.ts);
    // what matters here is that a later chdir does not make the open file look deleted.
    const s = new SqliteStorage({ filename: join(dir, "rel.db"), queue: "q" });
    process.chdir(tempDir());
    try {
      expect(await s.checkHealth()).toBeNull();
      rmSync(join(dir, "rel.db-wal"));
      expect(await s.checkHealth()).toBe(`the WAL file ${join(dir, "rel.db")}-wal was deleted while open`);
    } finally {
      process.chdir(cwd);
    }
    await s.close();
  });
});

describe("sqlite storage: relative filenames", () => {
  test("resolve against the folder of the file that creates the storage, whatever the working directory", async () => {
    const dir = tempDir();
    const file = join(dir, "make.ts");
    writeFileSync(file, `import { SqliteStorage } from ${JSON.stringify(join(import.meta.dir, "../../src/storage/sqlite"))};\nexport const s = new SqliteStorage({ filename: "rel.db", queue: "q" });\n`);
    const cwd = process.cwd();
    process.chdir(tempDir());
    let s: SqliteStorage;
    try {
      ({ s } = (await import(file)) as { s: SqliteStorage });
    } finally {
      process.chdir(cwd);
    }
    expect(s.filename).toBe(join(dir, "rel.db"));
    expect(existsSync(join(dir, "rel.db"))).toBe(true);
    expect(new SqliteStorage({ filename: ":memory:", queue: "m" }).filename).toBe(":memory:");
    await s.close();
  });
});

describe("sqlite storage: file modes", () => {
  let umask = 0;
  beforeEach(() => {
    umask = process.umask(0o022);
  });
  afterEach(() => {
    process.umask(umask);
  });

  const FILES = ["", "-wal", "-shm", "-wake-queue", "-wake-results"];
  const modes = (file: string) => Object.fromEntries(FILES.map((f) => [f || "db", (statSync(file + f).mode & 0o777).toString(8)]));

  test("a new database, its -wal, -shm and wake files are the owner's alone (0600) under umask 022", async () => {
    const file = tempDb();
    const s = new SqliteStorage({ filename: file, queue: "q" });
    await s.enqueue([item("a")]);
    expect(modes(file)).toEqual({ db: "600", "-wal": "600", "-shm": "600", "-wake-queue": "600", "-wake-results": "600" });
    await s.close();
  });

  test("fileMode sets them exactly, through SqliteHuey too", async () => {
    const file = tempDb();
    const huey = new SqliteHuey({ name: "q", filename: file, fileMode: 0o660 });
    await huey.storage.enqueue([item("a")]);
    expect(modes(file)).toEqual({ db: "660", "-wal": "660", "-shm": "660", "-wake-queue": "660", "-wake-results": "660" });
    await huey.storage.close();
  });

  test("an existing database keeps its mode, and new wake files take it", async () => {
    const file = tempDb();
    writeFileSync(file, ""); // an empty file is an empty database to SQLite
    chmodSync(file, 0o640);
    const s = new SqliteStorage({ filename: file, queue: "q" });
    await s.enqueue([item("a")]);
    expect(modes(file)).toEqual({ db: "640", "-wal": "640", "-shm": "640", "-wake-queue": "640", "-wake-results": "640" });
    await s.close();
  });

  test("a fileMode the owner cannot read and write is refused with a clear error", () => {
    for (const fileMode of [0o400, 0o1777, -1, 1.5, "600" as unknown as number]) {
      expect(() => new SqliteStorage({ filename: tempDb(), queue: "q", fileMode })).toThrow(/"fileMode" must be permission bits/);
    }
  });
});

/** Reads a stream line by line: each call resolves with the next line ("eof ..." at the end). */
function lineReader(stream: ReadableStream<Uint8Array>): () => Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  return async () => {
    for (;;) {
      const nl = buffered.indexOf("\n");
      if (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) return `eof ${buffered}`;
      buffered += decoder.decode(value, { stream: true });
    }
  };
}
describe("sqlite wake-ups between threads of one process (FileWake's BroadcastChannel)", () => {
  test("a commit announced by one FileWake wakes a waiter of another on the same file, with no file events", async () => {
    // Read-only FileWakes make no wake files, so neither can watch one: only the channel is left
    // (and changed() says "no change", so their fallback poll never wakes anyone).
    const base = tempDb("channel.db");
    const a = new FileWake(base, () => false, false);
    const b = new FileWake(base, () => false, false);
    const before = { ...wakeStats.results! };
    const woke = b.wait("results", 2_000);
    a.touch("results");
    await woke;
    expect(wakeStats.results!.changed - before.changed).toBe(1);
    expect(wakeStats.results!.timeout - before.timeout).toBe(0);
    a.close();
    b.close();
  });

  test("a storage that waited and was never closed does not keep its process alive", async () => {
    const file = tempDb("alive.db");
    const src = join(import.meta.dir, "../../src/storage/sqlite.ts");
    const script =
      `import { SqliteStorage } from ${JSON.stringify(src)};\n` +
      `const s = new SqliteStorage({ filename: ${JSON.stringify(file)}, queue: "q" });\n` +
      `await s.waitForChange(5, "results");\n` +
      `await s.waitForChange(5, "queue");\n` +
      `console.log("waited");\n`;
    const proc = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    expect(await proc.exited).toBe(0);
    expect(await new Response(proc.stdout).text()).toBe("waited\n");
  });
});

describe("sqlite wake-ups from other processes (FileWake's file events)", () => {
  test("a file event notes the change it announced: the re-checks after it do not wake the next wait for that change again", async () => {
    // changed() is the storage's data_version look, stood in for by a counter; the touch is another
    // process's (a bare futimes: no channel message). Found tracing a consumer: the first re-check,
    // 2 ms after the event that woke it, woke it again for the same commit (an empty lease).
    const base = tempDb("recheck.db");
    let version = 0;
    let seen = 0;
    let looks = 0;
    const w = new FileWake(base, () => {
      looks++;
      if (version === seen) return false;
      seen = version;
      return true;
    }, true);
    const safety = wakeTuning.safetyPollMs;
    wakeTuning.safetyPollMs = 60_000; // no periodic look: only events and their re-checks
    const fd = openSync(`${base}-wake-queue`, "a");
    try {
      let woke = false;
      let again = false;
      let lookAtWake = -1;
      const first = w.wait("queue", 30_000).then(() => {
        woke = true;
        lookAtWake = looks;
        // Waits again at once, as the consumer does after leasing what the event announced.
        void w.wait("queue", 30_000).then(() => (again = true));
      });
      await waitFor(() => looks >= 5, "the arming checks (they find no change)");
      version = 1; // another process commits...
      while (!woke) {
        // ...and touches the wake file (again until Bun, which arms its watch asynchronously, reports one)
        const now = Date.now() / 1000;
        futimesSync(fd, now, now);
        await Bun.sleep(5);
      }
      await first;
      await waitFor(() => again || looks >= lookAtWake + 3, "the three re-checks after the event");
      expect(again).toBe(false);
      // A commit after the event is still caught by a re-check (a merged event hides its own).
      version = 2;
      const now = Date.now() / 1000;
      futimesSync(fd, now, now);
      await waitFor(() => again, "a wake-up for the next commit");
    } finally {
      wakeTuning.safetyPollMs = safety;
      closeSync(fd);
      w.close();
    }
  });
});

describe("sqlite WAL checkpoints off the consumer's thread (offloadCheckpoints)", () => {
  test("a Worker copies the WAL into the database file while the connection's own checkpoint waits for 10,000 pages", async () => {
    const file = tempDb();
    const s = new SqliteStorage({ filename: file, queue: "q" });
    s.offloadCheckpoints();
    expect((s.database.query("PRAGMA wal_autocheckpoint").get() as { wal_autocheckpoint: number }).wal_autocheckpoint).toBe(10_000);
    const before = statSync(file).size;
    // About 3,000 pages of WAL: past SQLite's default checkpoint (1,000), short of the fallback (10,000).
    const payload = "x".repeat(4000);
    for (let i = 0; i < 30; i++) await s.enqueue(Array.from({ length: 100 }, (_, k) => ({ id: `t${i}-${k}`, name: "n", priority: 0, payload })));
    // Only a checkpoint grows the database file itself; this connection did not run one.
    await waitFor(() => statSync(file).size > before + 5_000_000, "the database file to take the WAL's pages");
    await s.close();
  });

  test("a read-only or in-memory store does not start one", async () => {
    const mem = new SqliteStorage({ filename: ":memory:", queue: "q" });
    mem.offloadCheckpoints();
    expect((mem.database.query("PRAGMA wal_autocheckpoint").get() as { wal_autocheckpoint: number }).wal_autocheckpoint).toBe(1000);
    await mem.close();
  });
});

describe("sqlite leaseWithData: the revocations read inside the lease", () => {
  test("leases what lease would, and returns the data rows listData gives when it got any (null when it got none)", async () => {
    const s = new SqliteStorage({ filename: tempDb("with-data.db"), queue: "q" });
    try {
      const filter = { now: Date.now() };
      expect(await s.leaseWithData(10, Date.now() + 30_000, filter, "revoked:", 100)).toEqual({ items: [], data: null });
      await s.putData("revoked:id:x", '{"until":null}');
      await s.putData("revoked:task:t", '{"until":5}');
      await s.putData("revokedness", "not under the prefix");
      await s.putData("other", "1");
      await s.enqueue([item("a", 0), item("b", 5), item("c", 0)]);
      const got = await s.leaseWithData(2, Date.now() + 30_000, filter, "revoked:", 100);
      expect(got.items.map((i) => i.id)).toEqual(["b", "a"]); // lease order
      expect(got.items.every((i) => i.token === got.items[0]!.token && i.leases === 1)).toBe(true);
      expect(got.data).toEqual(await s.listData("revoked:", 100));
      expect(got.data!.map((r) => r.key)).toEqual(["revoked:id:x", "revoked:task:t"]);
      // The limit holds as listData's does; the rest is leased as by lease().
      const rest = await s.leaseWithData(10, Date.now() + 30_000, filter, "revoked:", 1);
      expect(rest.items.map((i) => i.id)).toEqual(["c"]);
      expect(rest.data).toEqual([{ key: "revoked:id:x", value: '{"until":null}' }]);
      expect(await s.leaseWithData(10, Date.now() + 30_000, filter, "revoked:", 100)).toEqual({ items: [], data: null });
    } finally {
      await s.close();
    }
  });
});

describe("sqlite claims (schema 8): a lease holds its rows with a few rows of the claims table", () => {
  const T0 = 1_700_000_000_000;
  const open = () => new SqliteStorage({ filename: tempDb(), queue: "q" });
  const claimsOf = (s: SqliteStorage, token: string) =>
    s.database.query("SELECT lane, priority, lo, hi FROM claims WHERE token = ? ORDER BY priority DESC, lo").all(token) as { lane: string; priority: number; lo: number; hi: number }[];
  const seqOf = (s: SqliteStorage, id: string) => (s.database.query("SELECT seq FROM queue WHERE id = ?").get(id) as { seq: number }).seq;
  const ids = (n: number, p = "t") => Array.from({ length: n }, (_, i) => `${p}${i + 1}`);
  /** `k` long tasks: leases of 3 whose first and last are acked, each leaving a one-row claim; their ids. */
  const longTasks = async (s: SqliteStorage, k: number) => {
    const out: string[] = [];
    for (let i = 0; i < k; i++) {
      const l = await s.lease(3, T0 + 60_000);
      out.push(l[1]!.id);
      await s.commit({ tasks: [l[0]!, l[2]!].map(({ id, token, seq }) => ({ lease: { id, token, seq }, results: [] })) });
    }
    return out;
  };
  /** `s`'s claim statements, with the range reads of a lease counted. */
  const countingReads = (s: SqliteStorage) => {
    const c = claimStatements(s.database);
    const reads = { gap: 0, gapFree: 0 };
    const counted = (name: "gap" | "gapFree") => ({ all: (...a: unknown[]) => (reads[name]++, (c[name].all as (...x: unknown[]) => unknown)(...a)) });
    return { statements: { ...c, gap: counted("gap"), gapFree: counted("gapFree") } as unknown as typeof c, reads };
  };

  test("a lease skips the rows other leases hold, takes the hole an expired claim left, and claims each run apart", async () => {
    const s = open();
    await s.enqueue(ids(20).map((id) => item(id)));
    const a = await s.lease(5, T0 + 1_000);
    const b = await s.lease(5, T0 + 9_000);
    expect(b.map((x) => x.id)).toEqual(ids(10).slice(5));
    // A's claim expires: its rows are ready again, in front of B's, and count one more lease.
    expect(await s.reclaimExpired(T0 + 2_000)).toBe(5);
    const c = await s.lease(8, T0 + 9_000);
    expect(c.map((x) => x.id)).toEqual([...ids(5), "t11", "t12", "t13"]);
    expect(c.map((x) => x.leases)).toEqual([2, 2, 2, 2, 2, 1, 1, 1]);
    // Two runs: B's claim lies between them.
    expect(claimsOf(s, c[0]!.token).map((x) => [x.lo, x.hi])).toEqual([[seqOf(s, "t1"), seqOf(s, "t5")], [seqOf(s, "t11"), seqOf(s, "t13")]]);
    expect([await s.pendingCount(), await s.leasedCount()]).toEqual([7, 13]);
    // A's late ack writes nothing: its claim is gone.
    expect(await s.commit({ tasks: a.map(({ id, token, seq }) => ({ lease: { id, token, seq }, results: [{ id, payload: "A" }] })) })).toEqual({ lost: ids(5) });
    expect(await s.commit({ tasks: [...b, ...c].map(({ id, token, seq }) => ({ lease: { id, token, seq }, results: [{ id, payload: "1" }] })) })).toEqual({ lost: [] });
    expect([await s.pendingCount(), await s.leasedCount(), await s.resultCount()]).toEqual([7, 0, 13]);
    expect(s.database.query("SELECT count(*) AS n FROM claims").get()).toEqual({ n: 0 });
    s.close();
  });

  test("small claims (long tasks left alone in their claims) are walked past inside one read: free rows between them are taken in order, each run claimed apart", async () => {
    const s = open();
    await s.enqueue(ids(400).map((id) => item(id)));
    const longs = await longTasks(s, 100);
    // Every tenth long task goes back unstarted: free rows now lie between small claims.
    expect(s.database.query("SELECT count(*) AS n FROM claims").get()).toEqual({ n: 100 });
    const released = longs.filter((_, i) => i % 10 === 5);
    for (const id of released) {
      const { token } = s.database.query("SELECT c.token FROM claims AS c JOIN queue AS q ON q.seq = c.lo WHERE q.id = ?").get(id) as { token: string };
      expect(await s.release([{ id, token }], true)).toBe(1);
    }
    // The reads of one lease, counted: one range read, not one a claim.
    const { statements, reads } = countingReads(s);
    const runs: number[] = [];
    const rows = s.database.transaction(() => takeHead(statements, "q", "default", 20, T0, true, runs))();
    expect(reads.gap + reads.gapFree).toBe(1);
    // The released long tasks first (they lie between the small claims), then the tail, in seq order.
    expect(rows.map((r) => r.id)).toEqual([...released, ...ids(400).slice(300, 310)]);
    // Each released row is a run of its own (a small claim lies on each side); the tail is one run.
    expect(runs).toEqual([...Array(10).keys(), ...Array(10).fill(10)]);
    // Through the storage too: the lease's claims hold only rows no other claim holds.
    const l = await s.lease(20, T0 + 9_000);
    expect(l.map((x) => x.id)).toEqual([...released, ...ids(400).slice(300, 310)]);
    const mine = claimsOf(s, l[0]!.token);
    expect(mine.length).toBe(11);
    const others = s.database.query("SELECT lo, hi FROM claims WHERE token != ?").all(l[0]!.token) as { lo: number; hi: number }[];
    for (const m of mine) for (const o of others) expect(m.hi < o.lo || m.lo > o.hi).toBe(true);
    s.close();
  });

  test("with every claim seeked past (skipSpan 1) the same lease reads a range a claim, and takes the same rows", async () => {
    const saved = claimTuning.skipSpan;
    claimTuning.skipSpan = 1;
    try {
      const s = open();
      await s.enqueue(ids(40).map((id) => item(id)));
      await longTasks(s, 10);
      const { statements, reads } = countingReads(s);
      const rows = s.database.transaction(() => takeHead(statements, "q", "default", 5, T0, true, []))();
      expect(rows.map((r) => r.id)).toEqual(ids(40).slice(30, 35));
      expect(reads.gap).toBe(11);
      s.close();
    } finally {
      claimTuning.skipSpan = saved;
    }
  });

  test("lanes and priorities: a lease keeps lease order, and claims one run per lane and priority; a lane's claim spanning another lane's rows does not hold them", async () => {
    const s = open();
    // Alternating lanes: lane a's claim spans the seqs of lane b's rows.
    await s.enqueue(ids(12).map((id, i) => ({ ...item(id, i % 3 === 0 ? 5 : 0), lane: i % 2 ? "b" : "a" })));
    const a = await s.lease(12, T0 + 9_000, { now: T0, lanes: { a: Infinity } });
    expect(a.map((x) => x.id)).toEqual(["t1", "t7", "t3", "t5", "t9", "t11"]);
    expect(claimsOf(s, a[0]!.token).map((x) => [x.lane, x.priority])).toEqual([["a", 5], ["a", 0]]);
    expect(await s.pendingCount("b")).toBe(6);
    const b = await s.lease(12, T0 + 9_000, { now: T0, lanes: { b: Infinity } });
    expect(b.map((x) => x.id)).toEqual(["t4", "t10", "t2", "t6", "t8", "t12"]);
    expect([await s.pendingCount(), await s.leasedCount("a"), await s.leasedCount("b")]).toEqual([0, 6, 6]);
    expect(await s.commit({ tasks: [...b, ...a].map(({ id, token, seq }) => ({ lease: { id, token, seq } })) })).toEqual({ lost: [] });
    s.close();
  });

  test("a claim stays tight: a row enqueued after its highest row was acked is ready, not inside it", async () => {
    const s = open();
    await s.enqueue(ids(3).map((id) => item(id)));
    const l = await s.lease(3, T0 + 9_000);
    const last = l.find((x) => x.id === "t3")!;
    await s.commit({ tasks: [{ lease: { id: last.id, token: last.token, seq: last.seq } }] });
    // SQLite gives the new row the largest seq plus one: t3's seq again. The claim ends below it now.
    await s.enqueue([item("new")]);
    expect(seqOf(s, "new")).toBe(last.seq!);
    expect(claimsOf(s, l[0]!.token).map((x) => [x.lo, x.hi])).toEqual([[seqOf(s, "t1"), seqOf(s, "t2")]]);
    expect([await s.pendingCount(), await s.leasedCount()]).toEqual([1, 2]);
    expect((await s.lease(5, T0 + 9_000)).map((x) => [x.id, x.leases])).toEqual([["new", 1]]);
    s.close();
  });

  test("release cuts a claim: the released rows are ready again, the rest stay held, and a started release counts a lease", async () => {
    const s = open();
    await s.enqueue(ids(5).map((id) => item(id)));
    const l = await s.lease(5, T0 + 9_000);
    const ref = (id: string) => ({ id, token: l[0]!.token });
    expect(await s.release([ref("t2")])).toBe(1);
    expect(await s.release([ref("t4")], true)).toBe(1);
    expect(await s.release([ref("t4")])).toBe(0);
    expect(claimsOf(s, l[0]!.token).map((x) => [x.lo, x.hi])).toEqual([[seqOf(s, "t1"), seqOf(s, "t1")], [seqOf(s, "t3"), seqOf(s, "t3")], [seqOf(s, "t5"), seqOf(s, "t5")]]);
    expect([await s.pendingCount(), await s.leasedCount()]).toEqual([2, 3]);
    expect((await s.locate("t2"))?.where).toBe("ready");
    expect(await s.locate("t3")).toMatchObject({ where: "leased", leasedUntil: T0 + 9_000, leases: 1 });
    expect((await s.lease(5, T0 + 9_000)).map((x) => [x.id, x.leases])).toEqual([["t2", 2], ["t4", 1]]);
    // The rows the first lease kept are still its own.
    expect(await s.commit({ tasks: l.filter((x) => ["t1", "t3", "t5"].includes(x.id)).map(({ id, token, seq }) => ({ lease: { id, token, seq } })) })).toEqual({ lost: [] });
    expect(await s.leasedCount()).toBe(2);
    s.close();
  });

  test("renewing some rows of a claim leaves the others their own deadline", async () => {
    const s = open();
    await s.enqueue(ids(4).map((id) => item(id)));
    const l = await s.lease(4, T0 + 1_000);
    expect(await s.renew(l.filter((x) => x.id !== "t3").map(({ id, token }) => ({ id, token })), T0 + 9_000)).toEqual([]);
    expect(await s.reclaimExpired(T0 + 2_000)).toBe(1);
    expect((await s.lease(5, T0 + 9_000)).map((x) => [x.id, x.leases])).toEqual([["t3", 2]]);
    expect(await s.commit({ tasks: l.filter((x) => x.id !== "t3").map(({ id, token, seq }) => ({ lease: { id, token, seq } })) })).toEqual({ lost: [] });
    s.close();
  });

  test("a row leased before schema 8 stays leased to its token: renewed, released and acked on its row, and expired by reclaim", async () => {
    const s = open();
    await s.enqueue(ids(3).map((id) => item(id)));
    s.database.run("UPDATE queue SET leased_until = ?, token = 'old', leases = 1 WHERE id IN ('t1', 't2')", [T0 + 1_000]);
    expect([await s.pendingCount(), await s.leasedCount()]).toEqual([1, 2]);
    expect((await s.lease(5, T0 + 9_000)).map((x) => x.id)).toEqual(["t3"]);
    expect(await s.renew([{ id: "t1", token: "old" }, { id: "t2", token: "nope" }], T0 + 5_000)).toEqual(["t2"]);
    expect(await s.reclaimExpired(T0 + 2_000)).toBe(1);
    expect((await s.locate("t2"))?.where).toBe("ready");
    expect(await s.release([{ id: "t1", token: "old" }])).toBe(1);
    expect(await s.pendingCount()).toBe(2);
    s.close();
  });
});

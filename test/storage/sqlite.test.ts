import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { wakeStats } from "../../src/storage/_waiters";
import { FileWake } from "../../src/storage/_wake";
import { SqliteStorage } from "../../src/storage/sqlite";
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
    expect(db.query("SELECT version FROM schema_version ORDER BY version").all()).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }]);
    s.close();
    const full = new SqliteStorage({ filename: file, queue: "q", synchronous: "FULL" });
    expect((full.database.query("PRAGMA synchronous").get() as { synchronous: number }).synchronous).toBe(2);
    full.close();
  });

  test("reopening a migrated file applies no migration twice", () => {
    const file = tempDb();
    new SqliteStorage({ filename: file, queue: "q" }).close();
    const s = new SqliteStorage({ filename: file, queue: "q" });
    expect(s.database.query("SELECT count(*) AS n FROM schema_version").get()).toEqual({ n: 3 });
    s.close();
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

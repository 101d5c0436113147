// The checkpoint Worker on a real SQLite file: its reading of the WAL-index agrees with SQLite's own
// count of WAL frames, the Worker copies a large WAL into the database by itself, and a producer's
// storage starts one once it has written enough.
import { Database } from "bun:sqlite";
import { openSync, readSync, closeSync } from "node:fs";
import { expect, test } from "bun:test";
import { checkpointTuning, DEEP_IDLE_MS, FALLBACK_PAGES, MIN_FRAMES, QUIET_MS, walFrames } from "../../src/storage/_sqlite-checkpointer";
import { OFFLOAD_AFTER_ROWS, SqliteStorage } from "../../src/storage/sqlite";
import { tempDb, waitFor } from "../harness";

function readFrames(filename: string) {
  const fd = openSync(`${filename}-shm`, "r");
  try {
    const buf = new Uint8Array(100);
    readSync(fd, buf, 0, 100, 0);
    return walFrames(buf);
  } finally {
    closeSync(fd);
  }
}

/** A writer without an automatic checkpoint, so only the Worker (or the test) copies the WAL. */
function writer(filename: string): Database {
  const db = new Database(filename);
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA wal_autocheckpoint = 0");
  db.run("CREATE TABLE IF NOT EXISTS blob_rows (b BLOB)");
  return db;
}

test("walFrames reads the WAL's frame count and what a checkpoint copied, as SQLite reports them", () => {
  const filename = tempDb();
  const db = writer(filename);
  const ins = db.prepare("INSERT INTO blob_rows VALUES (?)");
  for (let i = 0; i < 37; i++) ins.run(new Uint8Array(3000));
  const before = readFrames(filename)!;
  const r = db.query("PRAGMA wal_checkpoint(PASSIVE)").get() as { busy: number; log: number; checkpointed: number };
  expect(r.log).toBeGreaterThan(37);
  expect(before).toEqual({ max: r.log, pending: r.log });
  expect(readFrames(filename)).toEqual({ max: r.log, pending: r.log - r.checkpointed });
  expect(r.checkpointed).toBe(r.log);
  db.close();
});

test("the consumer's checkpoint Worker copies a WAL of MIN_FRAMES frames into the database", async () => {
  const filename = tempDb();
  const storage = new SqliteStorage({ filename, queue: "ckpt" });
  const db = writer(filename);
  try {
    storage.offloadCheckpoints();
    const ins = db.prepare("INSERT INTO blob_rows VALUES (?)");
    db.transaction(() => {
      for (let i = 0; i < MIN_FRAMES + 50; i++) ins.run(new Uint8Array(3000));
    })();
    expect(readFrames(filename)!.pending).toBeGreaterThanOrEqual(MIN_FRAMES);
    await waitFor(() => readFrames(filename)!.pending === 0, "the Worker to checkpoint the WAL");
  } finally {
    db.close();
    await storage.close();
  }
});

test("a checkpoint Worker gone deep idle is woken by its storage's writes", async () => {
  // An hour of deep idle: without the storage's poke the WAL below would wait that long. A short quiet
  // wait brings the Worker to deep idle sooner.
  checkpointTuning.deepIdleMs = 3_600_000;
  checkpointTuning.quietMs = 50;
  const filename = tempDb();
  const storage = new SqliteStorage({ filename, queue: "ckpt" });
  try {
    storage.offloadCheckpoints();
    // The schema's frames are copied once the WAL is quiet: then the Worker waits in deep idle.
    await waitFor(() => readFrames(filename)?.pending === 0, "the quiet checkpoint of the new file");
    const payload = "x".repeat(3000);
    await storage.enqueue(Array.from({ length: MIN_FRAMES + 50 }, (_, i) => ({ id: `t${i}`, name: "noop", priority: 0, payload })));
    expect(readFrames(filename)!.pending).toBeGreaterThanOrEqual(MIN_FRAMES);
    await waitFor(() => readFrames(filename)!.pending === 0, "the poked Worker to checkpoint the WAL");
  } finally {
    checkpointTuning.deepIdleMs = DEEP_IDLE_MS;
    checkpointTuning.quietMs = QUIET_MS;
    await storage.close();
  }
});

const autocheckpoint = (s: SqliteStorage) => (s.database.query("PRAGMA wal_autocheckpoint").get() as { wal_autocheckpoint: number }).wal_autocheckpoint;

test("a producer's storage starts its checkpoint Worker once it has written OFFLOAD_AFTER_ROWS rows", async () => {
  // Without it, its own connection checkpoints (copies and fsyncs) inside every commit that passes
  // 1,000 WAL pages. With it, the connection keeps that only as a fallback, at FALLBACK_PAGES.
  const filename = tempDb();
  const storage = new SqliteStorage({ filename, queue: "producer" });
  const item = (i: number, payload = "{}") => ({ id: `t${i}`, name: "noop", priority: 0, payload });
  try {
    await storage.enqueue(Array.from({ length: OFFLOAD_AFTER_ROWS - 11 }, (_, i) => item(i)));
    for (let i = 0; i < 10; i++) await storage.enqueue([item(1000 + i)]);
    expect(storage.checkpointsOffloaded).toBe(false);
    expect(autocheckpoint(storage)).toBe(1000); // SQLite's default
    await storage.enqueue([item(2000)]); // row OFFLOAD_AFTER_ROWS
    expect(storage.checkpointsOffloaded).toBe(true);
    expect(autocheckpoint(storage)).toBe(FALLBACK_PAGES);
    // And the Worker copies what this storage writes.
    const payload = "x".repeat(3000);
    await storage.enqueue(Array.from({ length: MIN_FRAMES + 50 }, (_, i) => item(3000 + i, payload)));
    expect(readFrames(filename)!.pending).toBeGreaterThanOrEqual(MIN_FRAMES);
    await waitFor(() => readFrames(filename)!.pending === 0, "the Worker to checkpoint the producer's WAL");
  } finally {
    await storage.close();
  }
});

test("scheduled rows, results and dedup enqueues count; a read-only or in-memory storage never starts a Worker", async () => {
  const filename = tempDb();
  const storage = new SqliteStorage({ filename, queue: "producer" });
  const memory = new SqliteStorage({ filename: ":memory:", queue: "producer" });
  try {
    const n = OFFLOAD_AFTER_ROWS / 4;
    await storage.schedule(Array.from({ length: n }, (_, i) => ({ id: `s${i}`, name: "noop", priority: 0, payload: "{}", eta: Date.now() + 60_000 })));
    for (let i = 0; i < n; i++) await storage.putResult({ id: `r${i}`, payload: "1" });
    for (let i = 0; i < n; i++) await storage.enqueueUnique({ id: `u${i}`, name: "noop", priority: 0, payload: "{}" }, `key${i}`);
    await storage.enqueue(Array.from({ length: n - 1 }, (_, i) => ({ id: `e${i}`, name: "noop", priority: 0, payload: "{}" })));
    expect(storage.checkpointsOffloaded).toBe(false);
    await storage.enqueue([{ id: "last", name: "noop", priority: 0, payload: "{}" }]);
    expect(storage.checkpointsOffloaded).toBe(true);
    const readonly = new SqliteStorage({ filename, queue: "producer", readonly: true });
    try {
      await memory.enqueue(Array.from({ length: OFFLOAD_AFTER_ROWS * 2 }, (_, i) => ({ id: `m${i}`, name: "noop", priority: 0, payload: "{}" })));
      expect(memory.checkpointsOffloaded).toBe(false);
      readonly.offloadCheckpoints();
      expect(readonly.checkpointsOffloaded).toBe(false);
    } finally {
      await readonly.close();
    }
  } finally {
    await memory.close();
    await storage.close();
  }
});

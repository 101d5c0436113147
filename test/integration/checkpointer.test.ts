// The consumer's checkpoint Worker on a real SQLite file: its reading of the WAL-index agrees with
// SQLite's own count of WAL frames, and the Worker copies a large WAL into the database by itself.
import { Database } from "bun:sqlite";
import { openSync, readSync, closeSync } from "node:fs";
import { expect, test } from "bun:test";
import { checkpointTuning, DEEP_IDLE_MS, MIN_FRAMES, QUIET_MS, walFrames } from "../../src/storage/_sqlite-checkpointer";
import { SqliteStorage } from "../../src/storage/sqlite";
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

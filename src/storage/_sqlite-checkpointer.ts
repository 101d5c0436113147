// The WAL checkpoint, off the consumer's thread. SQLite's automatic checkpoint runs inside the COMMIT that
// passes 1,000 WAL pages: that commit copies ~4 MB into the database file and syncs it, on the thread that
// drains the queue. A consumer starts this instead: a small Worker with its own connection looks at the
// WAL-index every 5 ms while the WAL changes, every 100 ms while it does not, and runs
// `PRAGMA wal_checkpoint(PASSIVE)` once MIN_FRAMES wait to be copied, or once the WAL has been quiet for
// QUIET_MS (PASSIVE never waits for, nor blocks, a writer or a reader). The consumer's connection keeps an
// automatic checkpoint only as a fallback, at FALLBACK_PAGES, should the Worker fall behind. What is
// durable when is unchanged: a commit is in the WAL either way; only who copies it into the database
// file, and when, changes.
import type { Database } from "bun:sqlite";

/** WAL pages at which the consumer's own connection still checkpoints (40 MB at 4 KB pages). */
export const FALLBACK_PAGES = 10_000;
/**
 * Frames not yet copied into the database file at which the Worker checkpoints: under the 1,000 at
 * which a producer's connection checkpoints by itself, so the Worker gets there first.
 */
export const MIN_FRAMES = 512;
/** A WAL that has not changed for this long is checkpointed whatever its size (its writes made durable). */
export const QUIET_MS = 2_000;
/** How often the Worker looks while the WAL changes, ms; and while it does not. */
const BUSY_MS = 5;
const IDLE_MS = 100;

/**
 * Whether the Worker checkpoints now: `pending` frames are in the WAL and not in the database file
 * (null when the WAL-index could not be read), the WAL last changed `quietMs` ago.
 *
 * Each checkpoint that copies the whole WAL makes the next writer restart the WAL, and SQLite syncs
 * the WAL's header on a restart even at synchronous=NORMAL: an fsync in that writer's commit. A
 * checkpoint after every small commit (as this Worker once did every 100 ms) put an fsync into
 * nearly every single enqueue of an otherwise idle queue (0.3 ms became 1 ms here). Waiting for
 * MIN_FRAMES costs that fsync once per 512 pages, as SQLite's own automatic checkpoint does.
 */
export function checkpointDue(pending: number | null, quietMs: number, minFrames: number, quiet: number): boolean {
  if (pending === null) return true;
  return pending >= minFrames || (pending > 0 && quietMs >= quiet);
}

/**
 * The WAL's frames from the first 100 bytes of its WAL-index (the -shm file, sqlite.org/walformat.html):
 * the header's mxFrame (u32 at byte 16, native order; Bun runs on little-endian machines only) is the
 * last valid frame, the checkpoint info's nBackfill (u32 at byte 96) the frames already copied into the
 * database. Null when the header is not initialised. Read without a lock: a torn read only moves a
 * checkpoint.
 */
export function walFrames(head: Uint8Array): { max: number; pending: number } | null {
  if (head.length < 100 || head[12] !== 1) return null;
  const view = new DataView(head.buffer, head.byteOffset, 100);
  const max = view.getUint32(16, true);
  return { max, pending: Math.max(0, max - view.getUint32(96, true)) };
}

// The Worker's code, as text: a Blob URL works under `bun run` and in the compiled binary alike, with no
// entry point of its own to embed. It only reads the file's WAL-index and runs this PRAGMA on the file
// it is given. The two functions above are written into it, so they take their limits as arguments.
const CODE = `
import { Database } from "bun:sqlite";
import { openSync, readSync } from "node:fs";
const due = ${checkpointDue.toString()};
const frames = ${walFrames.toString()};
self.onmessage = (e) => {
  const { filename, busyMs, idleMs, minFrames, quietMs } = e.data;
  const db = new Database(filename, { readwrite: true, create: false });
  db.run("PRAGMA busy_timeout = 0");
  const q = db.query("PRAGMA wal_checkpoint(PASSIVE)");
  const buf = new Uint8Array(100);
  let fd = -1;
  const pending = () => {
    try {
      if (fd < 0) fd = openSync(filename + "-shm", "r");
      return frames(buf.subarray(0, readSync(fd, buf, 0, 100, 0)));
    } catch { return null; }
  };
  let lastMax = -1, changedAt = Date.now();
  const tick = () => {
    const p = pending();
    const now = Date.now();
    // An unreadable WAL-index: checkpoint on every idle tick, as if it were due.
    const changed = p !== null && p.max !== lastMax;
    if (changed) { lastMax = p.max; changedAt = now; }
    if (due(p ? p.pending : null, now - changedAt, minFrames, quietMs)) { try { q.get(); } catch {} }
    setTimeout(tick, changed ? busyMs : idleMs);
  };
  tick();
};
`;

let url: string | null = null;

export class Checkpointer {
  readonly #worker: Worker;
  #stopped = false;

  /** Start checkpointing `filename` (an absolute path of a WAL database) from a Worker. */
  constructor(db: Database, filename: string) {
    url ??= URL.createObjectURL(new Blob([CODE], { type: "application/javascript" }));
    db.run(`PRAGMA wal_autocheckpoint = ${FALLBACK_PAGES}`);
    this.#worker = new Worker(url);
    this.#worker.unref();
    this.#worker.postMessage({ filename, busyMs: BUSY_MS, idleMs: IDLE_MS, minFrames: MIN_FRAMES, quietMs: QUIET_MS });
  }

  /** Stop the Worker (its connection closes with it). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#worker.terminate();
  }
}

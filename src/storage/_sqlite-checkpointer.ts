// The WAL checkpoint, off the writing thread. SQLite's automatic checkpoint runs inside the COMMIT that
// passes 1,000 WAL pages: that commit copies ~4 MB into the database file and syncs it, on the thread that
// drains the queue. A consumer starts this instead (so does a producer's storage, once it has written
// OFFLOAD_AFTER_ROWS rows: see sqlite.ts): a small Worker with its own connection runs
// `PRAGMA wal_checkpoint(PASSIVE)` once MIN_FRAMES wait to be copied, or once the WAL has been quiet for
// QUIET_MS (PASSIVE never waits for, nor blocks, a writer or a reader). It learns both from the WAL-index:
// every 5 ms while the WAL changes, less often when it does not (nextLookMs), and at once when the storage
// that started it pokes it after a write. The storage's connection keeps an
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
/** How often the Worker looks while the WAL changes, ms; and while a due checkpoint has not copied everything. */
const BUSY_MS = 5;
const IDLE_MS = 100;
/** How often it looks once the WAL is quiet and all copied: the storage's writes poke it sooner. */
export const DEEP_IDLE_MS = 1_000;
/** Internal settings (not exported by the package): tests lengthen the deep-idle wait to see the pokes, and shorten the quiet wait. */
export const checkpointTuning = { deepIdleMs: DEEP_IDLE_MS, quietMs: QUIET_MS };
/** The storage pokes the Worker at most this often (a message while it writes; the Worker acts only on a wait longer than IDLE_MS). */
const POKE_EVERY_MS = 100;

/**
 * When the Worker looks next, ms, after a look (and its checkpoint, if any) that found `pending` frames
 * still to copy, the WAL last changed `quietMs` ago: soon while the WAL changes; at the quiet deadline
 * while fewer than `minFrames` wait for it; every `idle` while a checkpoint is due but could not copy
 * everything (a reader holds old frames) or the WAL-index cannot be read (`pending` null); every `deep`
 * once all is copied. The storage's own writes poke a Worker that waits longer than `idle`; another
 * process's are seen at the next look, and its connection checkpoints by itself at 1,000 pages. (Ten
 * looks a second, idle or not, were 0.15 % of a core in an idle consumer here.)
 */
export function nextLookMs(changed: boolean, pending: number | null, quietMs: number, t: { busy: number; idle: number; deep: number; quiet: number; minFrames: number }): number {
  if (changed) return t.busy;
  if (pending === null || pending >= t.minFrames) return t.idle;
  if (pending > 0) return quietMs < t.quiet ? Math.max(t.idle, t.quiet - quietMs) : t.idle;
  return t.deep;
}

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
// it is given. The three functions above are written into it, so they take their limits as arguments.
const CODE = `
import { Database } from "bun:sqlite";
import { openSync, readSync } from "node:fs";
const due = ${checkpointDue.toString()};
const frames = ${walFrames.toString()};
const nextLook = ${nextLookMs.toString()};
let timer = null, sleeping = false, tick = null;
self.onmessage = (e) => {
  if (e.data === "poke") {
    // The storage wrote: look now rather than at the end of a long wait.
    if (sleeping && tick) { clearTimeout(timer); tick(); }
    return;
  }
  const { filename, busyMs, idleMs, deepMs, minFrames, quietMs } = e.data;
  const times = { busy: busyMs, idle: idleMs, deep: deepMs, quiet: quietMs, minFrames };
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
  tick = () => {
    const p = pending();
    const now = Date.now();
    // An unreadable WAL-index: checkpoint on every idle tick, as if it were due.
    const changed = p !== null && p.max !== lastMax;
    if (changed) { lastMax = p.max; changedAt = now; }
    let left = p ? p.pending : null;
    if (due(left, now - changedAt, minFrames, quietMs)) {
      try { q.get(); } catch {}
      const after = pending();
      left = after ? after.pending : null;
    }
    const ms = nextLook(changed, left, now - changedAt, times);
    sleeping = ms > idleMs;
    timer = setTimeout(tick, ms);
  };
  tick();
};
`;

let url: string | null = null;

export class Checkpointer {
  readonly #worker: Worker;
  #stopped = false;
  #pokedAt = -Infinity;

  /** Start checkpointing `filename` (an absolute path of a WAL database) from a Worker. */
  constructor(db: Database, filename: string) {
    url ??= URL.createObjectURL(new Blob([CODE], { type: "application/javascript" }));
    db.run(`PRAGMA wal_autocheckpoint = ${FALLBACK_PAGES}`);
    this.#worker = new Worker(url, { name: "huey-checkpoint" }); // the thread's name, as top -H shows it
    this.#worker.unref();
    this.#worker.postMessage({ filename, busyMs: BUSY_MS, idleMs: IDLE_MS, deepMs: checkpointTuning.deepIdleMs, minFrames: MIN_FRAMES, quietMs: checkpointTuning.quietMs });
  }

  /** After a write of the storage that started it: wake the Worker if it sleeps (a message at most every POKE_EVERY_MS). */
  poke(): void {
    if (this.#stopped) return;
    const now = performance.now();
    if (now - this.#pokedAt < POKE_EVERY_MS) return;
    this.#pokedAt = now;
    this.#worker.postMessage("poke");
  }

  /** Stop the Worker (its connection closes with it). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#worker.terminate();
  }
}

// The WAL checkpoint, off the consumer's thread. SQLite's automatic checkpoint runs inside the COMMIT that
// passes 1,000 WAL pages: that commit copies ~4 MB into the database file and syncs it, on the thread that
// drains the queue. A consumer starts this instead: a small Worker with its own connection runs
// `PRAGMA wal_checkpoint(PASSIVE)` every 5 ms while the WAL grows, every 100 ms while it does not (PASSIVE
// never waits for, nor blocks, a writer or a reader), and the consumer's connection keeps an automatic checkpoint only as a fallback, at
// FALLBACK_PAGES, should the Worker fall behind. What is durable when is unchanged: a commit is in the WAL
// either way; only who copies it into the database file, and when, changes.
import type { Database } from "bun:sqlite";

/** WAL pages at which the consumer's own connection still checkpoints (40 MB at 4 KB pages). */
export const FALLBACK_PAGES = 10_000;
/** How often the Worker checkpoints while the WAL grows, ms; and while it does not (an idle queue). */
const BUSY_MS = 5;
const IDLE_MS = 100;

// The Worker's code, as text: a Blob URL works under `bun run` and in the compiled binary alike, with no
// entry point of its own to embed. It only ever runs this PRAGMA on the file it is given.
const CODE = `
import { Database } from "bun:sqlite";
self.onmessage = (e) => {
  const db = new Database(e.data.filename, { readwrite: true, create: false });
  db.run("PRAGMA busy_timeout = 0");
  const q = db.query("PRAGMA wal_checkpoint(PASSIVE)");
  let last = -1;
  const tick = () => {
    let log = last;
    try { log = q.get().log; } catch {}
    const grew = log !== last;
    last = log;
    setTimeout(tick, grew ? e.data.busyMs : e.data.idleMs);
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
    this.#worker.postMessage({ filename, busyMs: BUSY_MS, idleMs: IDLE_MS });
  }

  /** Stop the Worker (its connection closes with it). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#worker.terminate();
  }
}

// The raw baselines of the latency measurement: the same path as bun-huey's, one task from a producer
// process to a consumer process, its Worker and back, with no library around it, so the bench can
// print each latency figure next to what this machine gives the bare path in the same run.
//
// - "ours": the statements bun-huey's SQLite storage runs on that path (the producer's INSERT, the
//   consumer's lease through the storage's own SqliteLeaser, a fenced ack with the result's INSERT,
//   the producer's read of the result), and the same wake-ups (a file touched per topic, fs.watch on
//   it, a postMessage to a Worker and back).
// - "hops": the wake-ups alone (touch, Worker round trip, touch), no database: the floor any design
//   with a consumer process and a Worker pays on this machine.
//
// Run as a child (`bun bench/_raw_latency.ts <db> <mode>`) it is the consumer; rawLatency() in the
// parent is the producer.
import { closeSync, futimesSync, openSync, watch, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SqliteStorage } from "../src/storage/sqlite";
import { prepare, rowInserts } from "../src/storage/_sqlite-sql";
import { claimStatements } from "../src/storage/_sqlite-claims";
import { SqliteLeaser } from "../src/storage/_sqlite-lease";
import { ackHeldSeqs, seqDeletes } from "../src/storage/_sqlite-transactions";
import { openBare } from "./_raw";

const QUEUE = "bench";
const LANE = "default";
export type RawLatencyMode = "ours" | "hops";

function touch(fd: number): void {
  const now = Date.now() / 1000;
  futimesSync(fd, now, now);
}

/** The Worker: decode the payload, reply with the value (what a no-op task's run amounts to). */
const WORKER = `self.onmessage = (e) => {
  const m = JSON.parse(e.data);
  self.postMessage(JSON.stringify({ ok: true, value: m.args[0] }));
};`;

/** The consumer side, in the child process. Prints "ready" once it watches. */
async function consumer(file: string, mode: RawLatencyMode): Promise<void> {
  const worker = new Worker(URL.createObjectURL(new Blob([WORKER], { type: "application/javascript" })));
  const resultsFd = openSync(`${file}-wake-results`, "a");
  let onEvent: () => void;
  if (mode === "hops") {
    let pending = false;
    worker.onmessage = () => {
      pending = false;
      touch(resultsFd);
    };
    onEvent = () => {
      if (pending) return;
      pending = true;
      worker.postMessage(JSON.stringify({ args: [0] }));
    };
  } else {
    const db = openBare(file);
    const st = prepare(db);
    const cs = claimStatements(db);
    const leaser = new SqliteLeaser(db, st, cs, QUEUE);
    const del = seqDeletes(db);
    const writes = rowInserts(db, QUEUE);
    type Leased = { seq: number; id: string; token: string; payload: string };
    let held: Leased | null = null;
    const commit = db.transaction((l: Leased, payload: string) => {
      if (!ackHeldSeqs(cs, del, l.token, [l.seq], null)) throw new Error("raw latency: a lease was lost");
      writes.results([{ id: l.id, payload }]);
    }).immediate;
    worker.onmessage = (e: MessageEvent<string>) => {
      commit(held!, e.data);
      held = null;
      touch(resultsFd);
    };
    onEvent = () => {
      if (held) return;
      const token = crypto.randomUUID();
      const now = Date.now();
      const got = leaser.lease(1, now + 30_000, token, { now, lanes: null }) as unknown as Leased[];
      if (got.length === 0) return;
      held = got[0]!;
      worker.postMessage(held.payload);
    };
  }
  watch(`${file}-wake-queue`, { persistent: true }, () => onEvent());
  console.log("ready");
}

/**
 * The producer side: `samples` tasks after random idle gaps (20 ms..1 s, seeded as the bench's own
 * latency run), each from its INSERT (or touch) to its result read. Returns the latencies, ms,
 * sorted, the first five (warm-up) left out.
 */
export async function rawLatency(dir: string, samples: number, mode: RawLatencyMode, gap: () => number): Promise<number[]> {
  const file = join(dir, `raw-latency-${mode}.db`);
  new SqliteStorage({ filename: file, queue: QUEUE }).close(); // made and migrated by the storage
  for (const t of ["queue", "results"]) writeFileSync(`${file}-wake-${t}`, "");
  const child = Bun.spawn([process.execPath, import.meta.path, file, mode], { stdout: "pipe", stderr: "inherit" });
  try {
    const reader = child.stdout.getReader();
    const first = await reader.read();
    if (!new TextDecoder().decode(first.value).startsWith("ready")) throw new Error("raw latency: the child did not start");
    const db = mode === "ours" ? openBare(file) : null;
    const st = db ? prepare(db) : null;
    const ins = st ? st.insert : null;
    const read = st ? st.peekResult : null; // the storage's read of a result (Result.get)
    const queueFd = openSync(`${file}-wake-queue`, "a");
    let wake: (() => void) | null = null;
    const watcher = watch(`${file}-wake-results`, { persistent: false }, () => wake?.());
    const out: number[] = [];
    try {
      for (let i = 0; i < samples + 5; i++) {
        await Bun.sleep(gap());
        const id = Bun.randomUUIDv7();
        const payload = JSON.stringify({ v: 1, id, name: "noop", args: [i], priority: 0, retries: 0, retryDelay: 0, attempt: 1 });
        const t0 = performance.now();
        const woke = new Promise<void>((resolve) => (wake = resolve));
        ins?.run(QUEUE, id, "noop", 0, payload, LANE);
        touch(queueFd);
        // A lost file event must not hang the bench: after 1 s, look (and touch) again.
        for (;;) {
          const timer = new Promise<"late">((r) => setTimeout(() => r("late"), 1_000));
          if ((await Promise.race([woke, timer])) !== "late") break;
          if (read?.get(QUEUE, id, Date.now())) break;
          touch(queueFd);
        }
        wake = null;
        if (read) {
          const row = read.get(QUEUE, id, Date.now()) as { payload: string } | null;
          if (!row || (JSON.parse(row.payload) as { value: number }).value !== i) throw new Error(`raw latency: no result for task ${i}`);
        }
        const ms = performance.now() - t0;
        if (i >= 5) out.push(ms);
      }
    } finally {
      watcher.close();
      closeSync(queueFd);
      db?.close(false);
    }
    return out.sort((a, b) => a - b);
  } finally {
    child.kill();
    await child.exited;
  }
}

if (import.meta.main) await consumer(process.argv[2]!, process.argv[3] as RawLatencyMode);

// `bun bench/ids.ts`: what the order of task ids costs the SQLite store. The consumer's storage calls,
// in one process and one thread: N tasks enqueued, then leased 512 at a time and each lease committed
// with a small result per task, on a fresh file per round (its checkpoints in their Worker, as a
// consumer's are). Once with ids that grow with time, as generated ids do (UUIDv7), once with random
// ones (UUIDv4), interleaved; the medians of lease and commit per task are printed, and their ratio.
//
//   bun bench/ids.ts                          100,000 tasks, 3 rounds of each
//   bun bench/ids.ts --count 20000 --rounds 5
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SqliteStorage } from "../src/storage/sqlite";
import type { LeasedItem } from "../src/storage/types";

const { values: opt } = parseArgs({
  options: { count: { type: "string", default: "100000" }, rounds: { type: "string", default: "3" } },
  strict: true,
});
const N = Number(opt.count);
const ROUNDS = Number(opt.rounds);
if (!Number.isInteger(N) || N < 1000 || !Number.isInteger(ROUNDS) || ROUNDS < 1) {
  process.stderr.write("ids: --count must be a whole number of at least 1000, --rounds at least 1\n");
  process.exit(2);
}
const LEASE = 512;
const ENQUEUE = 1000;

type Order = "time-ordered (UUIDv7)" | "random (UUIDv4)";
const ORDERS: Order[] = ["time-ordered (UUIDv7)", "random (UUIDv4)"];

async function round(order: Order): Promise<{ lease: number; commit: number }> {
  const dir = mkdtempSync(join(tmpdir(), "huey-bench-ids-"));
  const s = new SqliteStorage({ filename: join(dir, "ids.db"), queue: "default" });
  try {
    s.offloadCheckpoints();
    const id = order === "random (UUIDv4)" ? () => crypto.randomUUID() : () => Bun.randomUUIDv7();
    for (let i = 0; i < N; i += ENQUEUE) {
      const items = [];
      for (let j = i; j < Math.min(N, i + ENQUEUE); j++) items.push({ id: id(), name: "noop", priority: 0, payload: `{"v":1,"n":"noop","a":[${j}]}` });
      await s.enqueue(items);
    }
    let lease = 0;
    let commit = 0;
    let n = 0;
    for (;;) {
      const t0 = performance.now();
      const rows: LeasedItem[] = await s.lease(LEASE, Date.now() + 60_000);
      const t1 = performance.now();
      if (rows.length === 0) break;
      await s.commit({ tasks: rows.map((r) => ({ lease: { id: r.id, token: r.token, seq: r.seq }, results: [{ id: r.id, payload: "1" }] })) });
      commit += performance.now() - t1;
      lease += t1 - t0;
      n += rows.length;
    }
    if (n !== N) throw new Error(`ids: leased ${n} of ${N} tasks`);
    return { lease: (lease * 1000) / n, commit: (commit * 1000) / n };
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const got = new Map<Order, { lease: number[]; commit: number[] }>(ORDERS.map((o) => [o, { lease: [], commit: [] }]));
for (let r = 0; r < ROUNDS; r++) {
  for (const o of ORDERS) {
    const x = await round(o);
    got.get(o)!.lease.push(x.lease);
    got.get(o)!.commit.push(x.commit);
    process.stderr.write(`ids: round ${r + 1}, ${o}: lease ${x.lease.toFixed(2)}, commit ${x.commit.toFixed(2)} us a task\n`);
  }
}
console.log(`task ids and the SQLite store: ${N.toLocaleString("en-US")} tasks, leases of ${LEASE}, a result each; medians of ${ROUNDS} rounds`);
for (const o of ORDERS) {
  const g = got.get(o)!;
  console.log(`  ${o.padEnd(22)} lease ${median(g.lease).toFixed(2)} us, commit ${median(g.commit).toFixed(2)} us a task`);
}
const [v7, v4] = ORDERS.map((o) => median(got.get(o)!.commit));
console.log(`  random ids' commit against time-ordered ones: ${(v4! / v7!).toFixed(1)}x`);

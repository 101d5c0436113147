// The raw bun:sqlite baselines: the statements bun-huey's SQLite storage runs, on a fresh file with
// the same pragmas and schema, with no library around them. Each bun-huey figure is printed as a
// ratio to the matching one here. Keep the SQL in step with src/storage/_sqlite-sql.ts.
import { Database } from "bun:sqlite";
import { join } from "node:path";
import m0001 from "../src/storage/sql/0001_init.sql" with { type: "text" };
import m0002 from "../src/storage/sql/0002_locks_counters.sql" with { type: "text" };

const QUEUE = "bench";
const SQL = {
  insert: "INSERT INTO queue (queue, id, name, priority, payload) VALUES (?, ?, ?, ?, ?)",
  lease: `UPDATE queue SET leased_until = ?1, token = ?2, leases = leases + 1
       WHERE seq IN (SELECT seq FROM queue WHERE queue = ?3 AND leased_until IS NULL
                     ORDER BY priority DESC, seq LIMIT ?4)
       RETURNING seq, id, name, priority, payload, token, leases`,
  ack: "DELETE FROM queue WHERE id = ? AND token = ?",
  putResult: "INSERT OR REPLACE INTO results (queue, id, payload, expires_at) VALUES (?, ?, ?, ?)",
};

/** Open like SqliteStorage does: busy_timeout first, then WAL, then synchronous=NORMAL; then the schema. */
function open(file: string): Database {
  const db = new Database(file, { create: true, readwrite: true, strict: true });
  db.run("PRAGMA busy_timeout = 5000");
  db.query("PRAGMA journal_mode = WAL").get();
  db.run("PRAGMA synchronous = NORMAL");
  db.run(m0001);
  db.run(m0002);
  return db;
}

/** Task rows shaped like bun-huey's (a v1 message for noop(i)), made before any timing. */
function rows(n: number): { id: string; payload: string }[] {
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const id = Bun.randomUUIDv7();
    out[i] = {
      id,
      payload: JSON.stringify({ v: 1, id, name: "noop", args: [i], priority: 0, retries: 0, retryDelay: 0, attempt: 1 }),
    };
  }
  return out;
}

/** One row per commit (autocommit INSERT). Returns rows/s. */
export function rawSingleInsert(dir: string, n: number): number {
  const db = open(join(dir, "raw-single.db"));
  const data = rows(n);
  const ins = db.prepare(SQL.insert);
  const t0 = performance.now();
  for (const r of data) ins.run(QUEUE, r.id, "noop", 0, r.payload);
  const s = (performance.now() - t0) / 1000;
  db.close(false);
  return n / s;
}

/** 1000 rows per BEGIN IMMEDIATE transaction. Returns rows/s. */
export function rawBulkInsert(dir: string, n: number, chunk = 1000): number {
  const db = open(join(dir, "raw-bulk.db"));
  const data = rows(n);
  const ins = db.prepare(SQL.insert);
  const tx = db.transaction((part: typeof data) => {
    for (const r of part) ins.run(QUEUE, r.id, "noop", 0, r.payload);
  }).immediate;
  const t0 = performance.now();
  for (let i = 0; i < n; i += chunk) tx(data.slice(i, i + chunk));
  const s = (performance.now() - t0) / 1000;
  db.close(false);
  return n / s;
}

/**
 * The drain loop in one thread: lease `batch` rows with the same UPDATE ... RETURNING, then in one
 * transaction delete them and insert their results. The queue is filled first (not timed).
 * Returns tasks/s.
 */
export function rawDrain(dir: string, n: number, batch = 32): number {
  const db = open(join(dir, "raw-drain.db"));
  const data = rows(n);
  const ins = db.prepare(SQL.insert);
  db.transaction(() => {
    for (const r of data) ins.run(QUEUE, r.id, "noop", 0, r.payload);
  }).immediate();
  const lease = db.prepare(SQL.lease);
  const ack = db.prepare(SQL.ack);
  const put = db.prepare(SQL.putResult);
  type Leased = { id: string; token: string; payload: string };
  const commit = db.transaction((leased: Leased[]) => {
    for (const l of leased) ack.run(l.id, l.token);
    for (const l of leased) put.run(QUEUE, l.id, JSON.stringify({ ok: true, value: (JSON.parse(l.payload) as { args: number[] }).args[0] }), null);
  }).immediate;
  let done = 0;
  const t0 = performance.now();
  for (;;) {
    const leased = lease.all(Date.now() + 30_000, crypto.randomUUID(), QUEUE, batch) as Leased[];
    if (leased.length === 0) break;
    commit(leased);
    done += leased.length;
  }
  const s = (performance.now() - t0) / 1000;
  const results = (db.query("SELECT count(*) AS n FROM results").get() as { n: number }).n;
  db.close(false);
  if (done !== n || results !== n) throw new Error(`raw drain: leased ${done}, stored ${results} results, expected ${n}`);
  return n / s;
}

// The raw bun:sqlite baselines: the statements bun-huey's SQLite storage runs, on a fresh file with
// the same pragmas and schema (made by SqliteStorage itself), with no library around them. Each
// bun-huey figure is printed as a ratio to the matching one here. The drain's "ours" prepares the
// storage's own statements (src/storage/_sqlite-sql.ts), so it cannot drift from them.
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { SqliteStorage } from "../src/storage/sqlite";
import { prepare, rowInserts } from "../src/storage/_sqlite-sql";
import { claimStatements } from "../src/storage/_sqlite-claims";
import { SqliteLeaser } from "../src/storage/_sqlite-lease";
import { ackHeldSeqs, seqDeletes } from "../src/storage/_sqlite-transactions";
import { FALLBACK_PAGES } from "../src/storage/_sqlite-checkpointer";

const QUEUE = "bench";
const LANE = "default";

/**
 * A fresh file made and migrated by SqliteStorage, opened again bare with its pragmas: busy_timeout,
 * WAL, synchronous=NORMAL, and the automatic checkpoint only past FALLBACK_PAGES, as the storage's
 * connection has it once the WAL is copied from a Worker of its own, off the writing thread: a
 * consumer's from its start, a producer's once it has written OFFLOAD_AFTER_ROWS rows.
 */
function open(file: string): Database {
  new SqliteStorage({ filename: file, queue: QUEUE }).close();
  return openBare(file);
}

/** An existing bun-huey file opened bare, with the storage connection's pragmas (see open). */
export function openBare(file: string): Database {
  const db = new Database(file, { readwrite: true, strict: true });
  db.run("PRAGMA busy_timeout = 5000");
  db.query("PRAGMA journal_mode = WAL").get();
  db.run("PRAGMA synchronous = NORMAL");
  db.run(`PRAGMA wal_autocheckpoint = ${FALLBACK_PAGES}`);
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

/** One row per commit (autocommit INSERT, the storage's own). Returns rows/s. */
export function rawSingleInsert(dir: string, n: number): number {
  const db = open(join(dir, "raw-single.db"));
  const data = rows(n);
  const ins = prepare(db).insert;
  const t0 = performance.now();
  for (const r of data) ins.run(QUEUE, r.id, "noop", 0, r.payload, LANE);
  const s = (performance.now() - t0) / 1000;
  db.close(false);
  return n / s;
}

/** A fresh file per call: one run measures several chunk sizes. */
let rawBulkRuns = 0;

/** 1000 rows per BEGIN IMMEDIATE transaction, one INSERT each. Returns rows/s. */
export function rawBulkInsert(dir: string, n: number, chunk = 1000): number {
  const db = open(join(dir, `raw-bulk-${chunk}-${rawBulkRuns++}.db`));
  const data = rows(n);
  const ins = prepare(db).insert;
  const tx = db.transaction((part: typeof data) => {
    for (const r of part) ins.run(QUEUE, r.id, "noop", 0, r.payload, LANE);
  }).immediate;
  const t0 = performance.now();
  for (let i = 0; i < n; i += chunk) tx(data.slice(i, i + chunk));
  const s = (performance.now() - t0) / 1000;
  db.close(false);
  return n / s;
}

/**
 * The drain loop in one thread with the storage's own statements: lease `batch` rows with its lane
 * lease (SqliteLeaser: read the lane's first unclaimed rows, pause check included, and claim them),
 * then in one transaction its fenced ack (the token's claims read, the rows they hold deleted by seq,
 * FENCE_CHUNK a statement), the claims' bounds read again, and its results insert (128 rows a statement, as the consumer's). The queue is filled first (not
 * timed). Returns tasks/s.
 */
export function rawDrain(dir: string, n: number, batch = 32): number {
  const db = open(join(dir, `raw-drain-${n}-${batch}.db`));
  const data = rows(n);
  const st = prepare(db);
  db.transaction(() => {
    for (const r of data) st.insert.run(QUEUE, r.id, "noop", 0, r.payload, LANE);
  }).immediate();
  type Leased = { seq: number; id: string; token: string; payload: string };
  const cs = claimStatements(db);
  const leaser = new SqliteLeaser(db, st, cs, QUEUE);
  const del = seqDeletes(db);
  const writes = rowInserts(db, QUEUE);
  const commit = db.transaction((leased: Leased[], token: string) => {
    if (!ackHeldSeqs(cs, del, token, leased.map((l) => l.seq), null)) throw new Error("raw drain: a lease was lost");
    const results = leased.map((l) => ({ id: l.id, payload: JSON.stringify({ ok: true, value: (JSON.parse(l.payload) as { args: number[] }).args[0] }) }));
    writes.results(results);
  }).immediate;
  let done = 0;
  const t0 = performance.now();
  for (;;) {
    const token = crypto.randomUUID();
    const now = Date.now();
    const leased = leaser.lease(batch, now + 30_000, token, { now, lanes: { [LANE]: Infinity } }) as unknown as Leased[];
    if (leased.length === 0) break;
    commit(leased, token);
    done += leased.length;
  }
  const s = (performance.now() - t0) / 1000;
  const results = (db.query("SELECT count(*) AS n FROM results").get() as { n: number }).n;
  db.close(false);
  if (done !== n || results !== n) throw new Error(`raw drain: leased ${done}, stored ${results} results, expected ${n}`);
  return n / s;
}

/**
 * The ceiling: the fastest shape known for the same work in one thread, at-least-once and fencing
 * kept. A lease claims a batch with one row instead of rewriting each leased row: it reads the
 * lane's first `batch` ready rows past its last claim (pause check included, as ours) and inserts
 * one claim row (token, seq range, expiry). The rows stay queued, untouched, until their results
 * are written: then one transaction finds the claim by its token (the fence: a claim that expired
 * and was taken back is gone) and deletes it, deletes the range's rows, and writes the results in
 * one multi-row INSERT per 32. The storage claims too (_sqlite-claims.ts), in the general form: any
 * priorities, runs cut around other claims and released rows, acks of any subset, bounds kept tight.
 * Returns tasks/s.
 */
export function rawDrainCeiling(dir: string, n: number, batch = 256): number {
  const db = open(join(dir, `raw-ceiling-${n}-${batch}.db`));
  const data = rows(n);
  const ins = prepare(db).insert;
  db.transaction(() => {
    for (const r of data) ins.run(QUEUE, r.id, "noop", 0, r.payload, LANE);
  }).immediate();
  // Its own claims table, in place of the storage's (one claim a lease, found by its token).
  db.run("DROP TABLE claims");
  db.run(`CREATE TABLE claims (token TEXT PRIMARY KEY, queue TEXT NOT NULL, lane TEXT NOT NULL, priority INTEGER NOT NULL,
            lo INTEGER NOT NULL, hi INTEGER NOT NULL, until INTEGER NOT NULL) WITHOUT ROWID`);
  db.run("CREATE INDEX claims_range ON claims (queue, lane, priority, hi)");
  // One priority in this drain: the head of the lane is past the highest claimed seq.
  const head = db.prepare(
    `SELECT seq, id, payload FROM queue WHERE queue = ?1 AND lane = ?2 AND leased_until IS NULL AND priority = 0
       AND NOT EXISTS (SELECT 1 FROM pauses WHERE queue = ?1 AND lane = ?2 AND (until IS NULL OR until > ?4))
       AND seq > coalesce((SELECT max(hi) FROM claims WHERE queue = ?1 AND lane = ?2 AND priority = 0), 0)
     ORDER BY priority DESC, seq LIMIT ?3`,
  );
  const claim = db.prepare("INSERT INTO claims (token, queue, lane, priority, lo, hi, until) VALUES (?, ?, ?, 0, ?, ?, ?)");
  type Claimed = { seq: number; id: string; payload: string };
  const lease = db.transaction((token: string, now: number): Claimed[] => {
    const got = head.all(QUEUE, LANE, batch, now) as Claimed[];
    if (got.length) claim.run(token, QUEUE, LANE, got[0]!.seq, got[got.length - 1]!.seq, now + 30_000);
    return got;
  }).immediate;
  const fence = db.prepare("DELETE FROM claims WHERE token = ? RETURNING lo, hi");
  const del = db.prepare("DELETE FROM queue WHERE seq >= ?1 AND seq <= ?2 AND +queue = ?3");
  const writes = rowInserts(db, QUEUE);
  const commit = db.transaction((claimed: Claimed[], token: string) => {
    const c = fence.get(token) as { lo: number; hi: number } | null;
    if (!c) throw new Error("raw ceiling drain: a claim was lost");
    if (del.run(c.lo, c.hi, QUEUE).changes !== claimed.length) throw new Error("raw ceiling drain: a claimed range held other rows");
    const results = claimed.map((l) => ({ id: l.id, payload: JSON.stringify({ ok: true, value: (JSON.parse(l.payload) as { args: number[] }).args[0] }) }));
    writes.results(results);
  }).immediate;
  let done = 0;
  const t0 = performance.now();
  for (;;) {
    const token = crypto.randomUUID();
    const claimed = lease(token, Date.now());
    if (claimed.length === 0) break;
    commit(claimed, token);
    done += claimed.length;
  }
  const s = (performance.now() - t0) / 1000;
  const results = (db.query("SELECT count(*) AS n FROM results").get() as { n: number }).n;
  db.close(false);
  if (done !== n || results !== n) throw new Error(`raw ceiling drain: claimed ${done}, stored ${results} results, expected ${n}`);
  return n / s;
}

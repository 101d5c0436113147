// The raw bun:sqlite baselines: the statements bun-huey's SQLite storage runs, on a fresh file with
// the same pragmas and schema (made by SqliteStorage itself), with no library around them. Each
// bun-huey figure is printed as a ratio to the matching one here. The drain's "ours" prepares the
// storage's own statements (src/storage/_sqlite-sql.ts), so it cannot drift from them.
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { SqliteStorage } from "../src/storage/sqlite";
import { bySize, chunked, prepare, putResultsSql, seqAckSql } from "../src/storage/_sqlite-sql";
import { FENCE_CHUNK } from "../src/storage/_sqlite-transactions";
import { FALLBACK_PAGES } from "../src/storage/_sqlite-checkpointer";

const QUEUE = "bench";
const LANE = "default";

/**
 * A fresh file made and migrated by SqliteStorage, opened again bare with its pragmas: busy_timeout,
 * WAL, synchronous=NORMAL. `drain`: checkpoint as a consumer's connection does (only past
 * FALLBACK_PAGES: a consumer copies the WAL from a Worker of its own, off the draining thread).
 */
function open(file: string, drain = false): Database {
  new SqliteStorage({ filename: file, queue: QUEUE }).close();
  const db = new Database(file, { readwrite: true, strict: true });
  db.run("PRAGMA busy_timeout = 5000");
  db.query("PRAGMA journal_mode = WAL").get();
  db.run("PRAGMA synchronous = NORMAL");
  if (drain) db.run(`PRAGMA wal_autocheckpoint = ${FALLBACK_PAGES}`);
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
 * lease (UPDATE ... RETURNING, pause check included), then in one transaction its fenced ack by
 * token and seq (FENCE_CHUNK rows a statement) and its results insert (32 rows a statement). The
 * queue is filled first (not timed). Returns tasks/s.
 */
export function rawDrain(dir: string, n: number, batch = 32): number {
  const db = open(join(dir, `raw-drain-${n}-${batch}.db`), true);
  const data = rows(n);
  const st = prepare(db);
  db.transaction(() => {
    for (const r of data) st.insert.run(QUEUE, r.id, "noop", 0, r.payload, LANE);
  }).immediate();
  type Leased = { seq: number; id: string; token: string; payload: string };
  const ack = bySize(db, (k) => seqAckSql(k, false));
  const commit = db.transaction((leased: Leased[], token: string) => {
    for (let i = 0; i < leased.length; i += FENCE_CHUNK) {
      const part = leased.slice(i, i + FENCE_CHUNK);
      const params: (string | number)[] = [token];
      for (const l of part) params.push(l.seq);
      if (ack(part.length).run(params).changes !== part.length) throw new Error("raw drain: a lease was lost");
    }
    const results = leased.map((l) => ({ id: l.id, payload: JSON.stringify({ ok: true, value: (JSON.parse(l.payload) as { args: number[] }).args[0] }) }));
    chunked(db, results, putResultsSql, (o, r) => o.push(QUEUE, r.id, r.payload, null));
  }).immediate;
  let done = 0;
  const t0 = performance.now();
  for (;;) {
    const token = crypto.randomUUID();
    const now = Date.now();
    const leased = st.leaseLane.all(now + 30_000, token, QUEUE, batch, LANE, now) as Leased[];
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
 * The ceiling: the fastest shape known for the same work in one thread, at-least-once kept (a
 * claimed row stays queued, leased, until its result is written). Per batch of `batch`: one
 * UPDATE ... RETURNING claims a seq range, then in one transaction one multi-row INSERT writes the
 * results and one DELETE removes the range. Returns tasks/s.
 */
export function rawDrainCeiling(dir: string, n: number, batch = 256): number {
  const db = open(join(dir, `raw-ceiling-${n}-${batch}.db`), true);
  const data = rows(n);
  const ins = prepare(db).insert;
  db.transaction(() => {
    for (const r of data) ins.run(QUEUE, r.id, "noop", 0, r.payload, LANE);
  }).immediate();
  // Claim: the lowest `batch` ready seqs, as one rowid range (a drain of a plain queue has no gaps);
  // `+queue` and `IS NOT NULL IS FALSE` keep the planner on the rowid range instead of the partial
  // ready index, which would scan every ready row.
  const claim = db.prepare(
    `UPDATE queue SET leased_until = ?1, token = ?2, leases = leases + 1
       WHERE seq >= ?4 AND seq < ?4 + ?5 AND +queue = ?3 AND leased_until IS NOT NULL IS FALSE
       RETURNING seq, id, payload`,
  );
  const first = db.prepare("SELECT min(seq) AS s FROM queue WHERE queue = ? AND leased_until IS NULL");
  const del = db.prepare("DELETE FROM queue WHERE seq >= ?1 AND seq < ?2 AND token = ?3");
  const putMany = new Map<number, ReturnType<typeof db.prepare>>();
  const putStmt = (k: number) => {
    let s = putMany.get(k);
    if (!s) {
      s = db.prepare(`INSERT OR REPLACE INTO results (queue, id, payload, expires_at) VALUES ${Array(k).fill("(?, ?, ?, NULL)").join(", ")}`);
      putMany.set(k, s);
    }
    return s;
  };
  type Claimed = { seq: number; id: string; payload: string };
  const commit = db.transaction((claimed: Claimed[], token: string, from: number) => {
    const params: string[] = [];
    for (const c of claimed) params.push(QUEUE, c.id, `{"ok":true,"value":${(JSON.parse(c.payload) as { args: number[] }).args[0]}}`);
    putStmt(claimed.length).run(...params);
    del.run(from, from + batch, token);
  }).immediate;
  let done = 0;
  const t0 = performance.now();
  let seq = (first.get(QUEUE) as { s: number | null }).s;
  while (seq !== null) {
    const token = crypto.randomUUID();
    const claimed = claim.all(Date.now() + 30_000, token, QUEUE, seq, batch) as Claimed[];
    if (claimed.length === 0) {
      seq = (first.get(QUEUE) as { s: number | null }).s;
      continue;
    }
    commit(claimed, token, seq);
    done += claimed.length;
    seq += batch;
  }
  const s = (performance.now() - t0) / 1000;
  const results = (db.query("SELECT count(*) AS n FROM results").get() as { n: number }).n;
  db.close(false);
  if (done !== n || results !== n) throw new Error(`raw ceiling drain: claimed ${done}, stored ${results} results, expected ${n}`);
  return n / s;
}

import type { Database, Statement } from "bun:sqlite";
import { claimedRowsSql, claimedSql, claimUntilSql } from "./_sqlite-claims";
import { DEFAULT_LANE, type QueueItem, type ResultItem, type ScheduledItem } from "./types";

/** `head` followed by `n` copies of `tuple` (a multi-row statement's text; bySize prepares each size once). */
function rowsSql(head: string, tuple: string, n: number, tail = ""): string {
  return `${head} ${Array(n).fill(tuple).join(", ")}${tail}`;
}

/**
 * The acks of `n` leases by (queue, id, token) (ids are unique per queue only, schema 5, and this form
 * uses that index): rows leased before schema 8, which carry their token. `returning`: say which went.
 */
export function rowAckSql(n: number, returning: boolean): string {
  return rowsSql("DELETE FROM queue WHERE (queue, id, token) IN (VALUES", "(?, ?, ?)", n, returning ? ") RETURNING id, token" : ")");
}

const insertSql = (n: number) => rowsSql("INSERT INTO queue (queue, id, name, priority, payload, lane) VALUES", "(?, ?, ?, ?, ?, ?)", n);
const scheduleSql = (n: number) => rowsSql("INSERT INTO schedule (id, queue, name, priority, eta, payload, lane) VALUES", "(?, ?, ?, ?, ?, ?, ?)", n);
const putResultsSql = (n: number) => rowsSql("INSERT OR REPLACE INTO results (queue, id, payload, expires_at) VALUES", "(?, ?, ?, ?)", n);

/**
 * The statement for `n` rows of a multi-row shape, prepared from `sqlFor(n)` on first use and kept
 * (a lookup by number, not by the SQL text as `db.query` does).
 */
export function bySize(db: Database, sqlFor: (n: number) => string): (n: number) => Statement {
  const cache = new Map<number, Statement>();
  return (n) => {
    let st = cache.get(n);
    if (!st) cache.set(n, (st = db.prepare(sqlFor(n))));
    return st;
  };
}

/** Rows per INSERT of a bulk enqueue or schedule: measured fastest here between 32 and 512. */
export const INSERT_CHUNK = 128;

/**
 * The multi-row INSERTs of a bulk enqueue or schedule, and of a commit's results, into queue `q` of
 * `db`: each chunk size's statement prepared once, each chunk's parameters written straight into one
 * array (slice, flatMap and a statement lookup by its SQL text per chunk cost ~0.4 us a row, a sixth of
 * the insert itself). Results went the older way, 32 rows a statement looked up by its text and
 * bound by spreading: 1.07 against 0.97 us a row here (medians of 8 rounds of 512-row commits).
 */
export function rowInserts(db: Database, q: string) {
  const queueStmt = bySize(db, insertSql);
  const scheduleStmt = bySize(db, scheduleSql);
  const resultStmt = bySize(db, putResultsSql);
  /** Each chunk of `items`: `width` parameters a row, written by `fill` from offset `o`. */
  const insert = <T>(items: T[], width: number, stmt: (n: number) => Statement, fill: (p: (string | number | null)[], o: number, it: T) => void) => {
    for (let i = 0; i < items.length; i += INSERT_CHUNK) {
      const n = Math.min(INSERT_CHUNK, items.length - i);
      const p: (string | number | null)[] = new Array(n * width);
      for (let j = 0; j < n; j++) fill(p, j * width, items[i + j]!);
      // One array argument binds as the parameter list (no spread of up to 896 arguments).
      stmt(n).run(p);
    }
  };
  return {
    enqueue(items: QueueItem[]): void {
      insert(items, 6, queueStmt, (p, o, it) => {
        p[o] = q; p[o + 1] = it.id; p[o + 2] = it.name; p[o + 3] = it.priority; p[o + 4] = it.payload; p[o + 5] = it.lane ?? DEFAULT_LANE;
      });
    },
    schedule(items: ScheduledItem[]): void {
      insert(items, 7, scheduleStmt, (p, o, it) => {
        p[o] = it.id; p[o + 1] = q; p[o + 2] = it.name; p[o + 3] = it.priority; p[o + 4] = it.eta; p[o + 5] = it.payload; p[o + 6] = it.lane ?? DEFAULT_LANE;
      });
    },
    /** Results, each replacing any of the same id (a commit's, one or a few a task). */
    results(items: ResultItem[]): void {
      insert(items, 4, resultStmt, (p, o, it) => {
        p[o] = q; p[o + 1] = it.id; p[o + 2] = it.payload; p[o + 3] = it.expiresAt ?? null;
      });
    },
  };
}

/** The lanes with ready items of queue ?1, one index seek each (queue_lane_ready), not a scan of the ready set. */
export const READY_LANES_SQL = `WITH RECURSIVE l(lane) AS (
    SELECT min(lane) FROM queue WHERE queue = ?1 AND leased_until IS NULL
    UNION ALL
    SELECT (SELECT min(lane) FROM queue WHERE queue = ?1 AND leased_until IS NULL AND lane > l.lane) FROM l
    WHERE l.lane IS NOT NULL
  ) SELECT lane FROM l WHERE lane IS NOT NULL`;

export function prepare(db: Database) {
  const q = (sql: string) => db.prepare(sql);
  return {
    insert: q("INSERT INTO queue (queue, id, name, priority, payload, lane) VALUES (?, ?, ?, ?, ?, ?)"),
    insertScheduled: q("INSERT INTO schedule (id, queue, name, priority, eta, payload, lane) VALUES (?, ?, ?, ?, ?, ?, ?)"),
    readyLanes: q(READY_LANES_SQL),
    pause: q("INSERT OR REPLACE INTO pauses (queue, lane, until) VALUES (?, ?, ?)"),
    resume: q("DELETE FROM pauses WHERE queue = ? AND lane = ?"),
    listPaused: q("SELECT lane, until FROM pauses WHERE queue = ?1 AND (until IS NULL OR until > ?2) ORDER BY lane"),
    // Ready rows counted include the claimed ones (leased_until stays NULL under a claim): the storage
    // subtracts what claims hold (a join of the claims to their ranges: what consumers hold).
    countReadyLane: q("SELECT count(*) AS n FROM queue WHERE queue = ? AND leased_until IS NULL AND lane = ?"),
    // Rows leased before schema 8 are few: count them through their partial index (the planner otherwise
    // walks the whole queue by (queue, id): 183 ms at 1,000,000 queued).
    countLeasedLane: q("SELECT count(*) AS n FROM queue INDEXED BY queue_leased WHERE queue = ? AND leased_until IS NOT NULL AND lane = ?"),
    countScheduledLane: q("SELECT count(*) AS n FROM schedule WHERE queue = ? AND lane = ?"),
    // listPending reads the partial index and the claims, never the whole queue in a sort: a lane's first
    // ready rows in lease order (queue_lane_ready, no sort), and the leased rows (few: what consumers
    // hold): the rows claims hold, and those leased before schema 8.
    listReadyLane: q(
      `SELECT seq, id, name, lane, priority, payload FROM queue AS r WHERE queue = ?1 AND lane = ?2 AND leased_until IS NULL
         AND NOT ${claimedSql("r")}
       ORDER BY priority DESC, seq LIMIT ?3`,
    ),
    listLeased: q(
      `SELECT seq, id, name, lane, priority, payload FROM queue INDEXED BY queue_leased WHERE queue = ?1 AND leased_until IS NOT NULL
       UNION ALL ${claimedRowsSql("q.seq, q.id, q.name, q.lane, q.priority, q.payload", "c.queue = ?1")}`,
    ),
    listLeasedLane: q(
      `SELECT seq, id, name, lane, priority, payload FROM queue INDEXED BY queue_leased WHERE queue = ?1 AND leased_until IS NOT NULL AND lane = ?2
       UNION ALL ${claimedRowsSql("q.seq, q.id, q.name, q.lane, q.priority, q.payload", "c.queue = ?1 AND c.lane = ?2")}`,
    ),
    listScheduledLane: q(
      "SELECT id, name, lane, priority, eta, payload FROM schedule WHERE queue = ?1 AND lane = ?3 ORDER BY eta, rowid LIMIT ?2",
    ),
    // Rows leased before schema 8 (a lease of this version claims its rows: _sqlite-claims.ts). Their
    // `leases` counted the lease when it was taken, so their expiry adds nothing. Through the partial
    // index of leased rows: the planner otherwise walks the whole queue by (queue, id), on the
    // consumer's thread at every maintenance round (~0.5 ms per 1,000 queued).
    reclaim: q("UPDATE queue INDEXED BY queue_leased SET leased_until = NULL, token = NULL WHERE queue = ? AND leased_until < ?"),
    releaseRow: q("UPDATE queue SET leased_until = NULL, token = NULL WHERE queue = ? AND id = ? AND token = ?"),
    releaseRowUnstarted: q("UPDATE queue SET leased_until = NULL, token = NULL, leases = max(leases - 1, 0) WHERE queue = ? AND id = ? AND token = ?"),
    renewRow: q("UPDATE queue SET leased_until = ? WHERE queue = ? AND id = ? AND token = ?"),
    promote: q(
      `INSERT INTO queue (queue, id, name, priority, payload, lane)
       SELECT queue, id, name, priority, payload, lane FROM schedule WHERE queue = ?1 AND eta <= ?2
       ORDER BY eta, rowid LIMIT ?3`,
    ),
    unschedule: q(
      `DELETE FROM schedule WHERE rowid IN (SELECT rowid FROM schedule WHERE queue = ?1 AND eta <= ?2
       ORDER BY eta, rowid LIMIT ?3)`,
    ),
    nextEta: q("SELECT min(eta) AS eta FROM schedule WHERE queue = ?"),
    putResult: q("INSERT OR REPLACE INTO results (queue, id, payload, expires_at) VALUES (?, ?, ?, ?)"),
    peekResult: q(
      "SELECT payload FROM results WHERE queue = ?1 AND id = ?2 AND (expires_at IS NULL OR expires_at > ?3)",
    ),
    popResult: q(
      `DELETE FROM results WHERE queue = ?1 AND id = ?2 AND (expires_at IS NULL OR expires_at > ?3)
       RETURNING payload`,
    ),
    deleteResult: q("DELETE FROM results WHERE queue = ? AND id = ?"),
    putData: q("INSERT OR REPLACE INTO kv (queue, key, value) VALUES (?, ?, ?)"),
    putIfEmpty: q("INSERT OR IGNORE INTO kv (queue, key, value) VALUES (?, ?, ?)"),
    peekData: q("SELECT value FROM kv WHERE queue = ? AND key = ?"),
    popData: q("DELETE FROM kv WHERE queue = ? AND key = ? RETURNING value"),
    deleteData: q("DELETE FROM kv WHERE queue = ? AND key = ?"),
    deleteDataIf: q("DELETE FROM kv WHERE queue = ? AND key = ? AND value = ?"),
    countReady: q("SELECT count(*) AS n FROM queue WHERE queue = ? AND leased_until IS NULL"),
    countLeased: q("SELECT count(*) AS n FROM queue INDEXED BY queue_leased WHERE queue = ? AND leased_until IS NOT NULL"),
    countScheduled: q("SELECT count(*) AS n FROM schedule WHERE queue = ?"),
    countResults: q("SELECT count(*) AS n FROM results WHERE queue = ?"),
    listScheduled: q(
      "SELECT id, name, lane, priority, eta, payload FROM schedule WHERE queue = ? ORDER BY eta, rowid LIMIT ?",
    ),
    dataVersion: q("PRAGMA data_version"),
    listData: q("SELECT key, value FROM kv WHERE queue = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?"),
    listDataFrom: q("SELECT key, value FROM kv WHERE queue = ? AND key >= ? ORDER BY key LIMIT ?"),
    listDataAfter: q("SELECT key, value FROM kv WHERE queue = ? AND key >= ? AND key > ? AND key < ? ORDER BY key LIMIT ?"),
    listDataFromAfter: q("SELECT key, value FROM kv WHERE queue = ? AND key >= ? AND key > ? ORDER BY key LIMIT ?"),
    // Each purge deletes at most ?3 rows (found through the expiry indexes), so one statement never holds
    // the write lock for long however many rows expired.
    purgeResults: q(
      `DELETE FROM results WHERE queue = ?1 AND id IN
         (SELECT id FROM results WHERE queue = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2 LIMIT ?3)`,
    ),
    purgeCounters: q(
      "DELETE FROM counters WHERE queue = ?1 AND key IN (SELECT key FROM counters WHERE queue = ?1 AND expires_at <= ?2 LIMIT ?3)",
    ),
    purgeLocks: q("DELETE FROM locks WHERE queue = ?1 AND key IN (SELECT key FROM locks WHERE queue = ?1 AND until <= ?2 LIMIT ?3)"),
    countData: q("SELECT count(*) AS n FROM kv WHERE queue = ? AND key >= ? AND key < ?"),
    countDataFrom: q("SELECT count(*) AS n FROM kv WHERE queue = ? AND key >= ?"),
    incr: q(
      `INSERT INTO counters (queue, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)
       ON CONFLICT (queue, key) DO UPDATE SET
         value = CASE WHEN expires_at > ?5 THEN value + ?3 ELSE ?3 END,
         expires_at = CASE WHEN expires_at > ?5 THEN expires_at ELSE ?4 END
       RETURNING value`,
    ),
    // dedup: take a pending (scheduled, or queued and not leased) item out, to store it again.
    unscheduleId: q("DELETE FROM schedule WHERE queue = ? AND id = ?"),
    dequeuePending: q(`DELETE FROM queue WHERE queue = ? AND id = ? AND token IS NULL AND NOT ${claimedSql("queue")}`),
    isPending: q(
      `SELECT 1 FROM queue AS r WHERE queue = ?1 AND id = ?2 AND token IS NULL AND NOT ${claimedSql("r")}
       UNION ALL SELECT 1 FROM schedule WHERE queue = ?1 AND id = ?2`,
    ),
    // locate: two lookups on the (queue, id) unique indexes.
    // A claimed row is leased until its claim's until, this lease counted (as a lease reports it).
    locateQueued: q(
      `SELECT name, priority, payload, lane, coalesce(leased_until, ${claimUntilSql("r")}) AS leased_until,
         leases + (${claimedSql("r")}) AS leases
       FROM queue AS r WHERE queue = ?1 AND id = ?2`,
    ),
    locateScheduled: q("SELECT name, priority, payload, lane, eta FROM schedule WHERE queue = ?1 AND id = ?2"),
    taskExists: q("SELECT 1 FROM queue WHERE queue = ?1 AND id = ?2 UNION ALL SELECT 1 FROM schedule WHERE queue = ?1 AND id = ?2"),
    acquireLock: q(
      `INSERT INTO locks (queue, key, owner, until) VALUES (?1, ?2, ?3, ?4)
       ON CONFLICT (queue, key) DO UPDATE SET owner = ?3, until = ?4 WHERE locks.until <= ?5 OR locks.owner = ?3`,
    ),
    bumpFence: q(
      `INSERT INTO lock_fences (queue, key, fence) VALUES (?1, ?2, 1)
       ON CONFLICT (queue, key) DO UPDATE SET fence = fence + 1 RETURNING fence`,
    ),
    renewLock: q("UPDATE locks SET until = ? WHERE queue = ? AND key = ? AND owner = ?"),
    unlock: q("DELETE FROM locks WHERE queue = ? AND key = ? AND owner = ?"),
    forceUnlock: q("DELETE FROM locks WHERE queue = ? AND key = ?"),
    // The holder's fence is its key's counter: only an acquisition bumps it, and it takes the lock.
    listLocks: q(
      `SELECT l.key, l.owner, l.until, coalesce(f.fence, 0) AS fence
       FROM locks AS l LEFT JOIN lock_fences AS f ON f.queue = l.queue AND f.key = l.key
       WHERE l.queue = ? AND l.until > ? ORDER BY l.key`,
    ),
  };
}

/** The prepared statements of one open database. */
export type Statements = ReturnType<typeof prepare>;

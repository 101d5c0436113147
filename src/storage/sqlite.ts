import { Database, type Statement } from "bun:sqlite";
import { accessSync, closeSync, constants, existsSync, fchmodSync, openSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ConfigurationError, DuplicateIdError, StorageError } from "../errors";
import { touches, withHeld } from "./_fence";
import { prefixEnd } from "./_prefix";
import { FileWake, type Topic } from "./_wake";
import { SQLITE_MIGRATIONS } from "./sql/migrations";
import type {
  CommitBatch, CommitReport, FencedWrite, LeaseRef, LeasedItem, LockInfo, QueueItem, ResultItem, ScheduledItem, Storage,
} from "./types";

export interface SqliteStorageOptions {
  /** Path of the database file (created when missing), or ":memory:". */
  filename: string;
  /** Queue name; several queues can share one file. */
  queue: string;
  /**
   * "NORMAL" survives a process crash without loss; "FULL" also survives power loss at the
   * cost of one fsync per commit.
   * @default "NORMAL"
   */
  synchronous?: "NORMAL" | "FULL";
  /** How long a statement waits for another process's write lock, in ms. @default 5000 */
  busyTimeout?: number;
  /** Open without writing anything: for inspection tools. @default false */
  readonly?: boolean;
  /**
   * Permissions of the database file when it is created (exactly these, whatever the umask).
   * SQLite gives its -wal and -shm files the database file's permissions, and so does bun-huey
   * for its -wake-* files. An existing database file keeps its own. @default 0o600
   */
  fileMode?: number;
}


/**
 * Storage on one SQLite file (WAL). Several threads and processes share it safely: every
 * read-then-write is one statement or a BEGIN IMMEDIATE transaction.
 */
export class SqliteStorage implements Storage {
  readonly kind = "sqlite";
  readonly queue: string;
  readonly filename: string;
  #db: Database;
  #s: ReturnType<typeof prepare>;
  #commitTx: (batch: CommitBatch) => string[];
  #promoteTx: (now: number, limit: number) => number;
  #uniqueTx: (item: QueueItem | ScheduledItem, key: string) => string | null;
  #acquireTx: (key: string, owner: string, until: number, now: number) => number | null;
  #renewLocksTx: (keys: string[], owner: string, until: number) => string[];
  #wake: FileWake;
  #seenVersion = -1;
  #closed = false;
  /** The database file and its -wal and -shm as they were at open, for checkHealth. */
  #files: WatchedFile[] = [];

  constructor(options: SqliteStorageOptions) {
    const mode = options.fileMode;
    if (mode !== undefined && !(Number.isInteger(mode) && mode >= 0 && mode <= 0o777 && (mode & 0o600) === 0o600)) {
      throw new ConfigurationError(
        `SqliteStorage "fileMode" must be permission bits from 0o600 to 0o777 that let the owner read and write, such as 0o600 or 0o640; got ${JSON.stringify(mode)}`,
      );
    }
    this.queue = options.queue;
    this.filename = options.filename;
    this.#db = openDatabase(options);
    this.#s = prepare(this.#db);
    const file = this.filename === ":memory:" || this.filename === "" ? null : this.filename;
    if (file !== null) {
      // Absolute, as SQLite keeps it: a later chdir must not make the file look deleted.
      const path = resolve(file);
      this.#files = [
        watched("database file", path),
        watched("WAL file", `${path}-wal`),
        watched("shared-memory file", `${path}-shm`),
      ].filter((f): f is WatchedFile => f !== null);
    }
    const dbMode = this.#files[0]?.mode ?? DEFAULT_FILE_MODE;
    this.#wake = new FileWake(file, () => this.#foreignChange(), !options.readonly, dbMode);
    this.#seenVersion = this.#dataVersion();
    const s = this.#s;
    const q = this.queue;
    const db = this.#db;
    this.#commitTx = this.#db.transaction((b: CommitBatch): string[] => {
      const lost: string[] = [];
      let w: CommitBatch = b;
      if (b.tasks?.length) {
        // The fence: each task's ack deletes its row only under its token; RETURNING says which
        // held, so the check costs no extra statement. Their writes follow only for those.
        const acked: string[] = [];
        chunkedValues(db, b.tasks, fencedAckSql, (t) => [q, t.lease.id, t.lease.token], acked);
        let held: FencedWrite[] = b.tasks;
        if (acked.length < b.tasks.length) {
          const kept = new Set(acked);
          held = [];
          for (const t of b.tasks) {
            if (kept.has(t.lease.id)) held.push(t);
            else lost.push(t.lease.id);
          }
        }
        for (const t of b.tasks) if (t.releaseLocks) for (const l of t.releaseLocks) s.unlock.run(q, l.key, l.owner);
        w = withHeld(b, held);
      }
      if (w.ack?.length) chunked(db, w.ack, ackSql, (l) => [q, l.id, l.token]);
      if (w.results?.length) chunked(db, w.results, (n) => putResultsSql(n), (r) => [q, r.id, r.payload, r.expiresAt ?? null]);
      if (w.enqueue?.length) chunked(db, w.enqueue, insertSql, (it) => [q, it.id, it.name, it.priority, it.payload]);
      if (w.schedule) for (const it of w.schedule) s.insertScheduled.run(it.id, q, it.name, it.priority, it.eta, it.payload);
      if (w.putData) for (const d of w.putData) s.putData.run(q, d.key, d.value);
      if (w.deleteData) for (const k of w.deleteData) s.deleteData.run(q, k);
      return lost;
    }).immediate;
    this.#uniqueTx = this.#db.transaction((item: QueueItem | ScheduledItem, key: string) => {
      const holder = s.peekData.get(q, key) as { value: string } | null;
      if (holder && s.taskExists.get(q, holder.value)) return holder.value;
      if ("eta" in item) s.insertScheduled.run(item.id, q, item.name, item.priority, item.eta, item.payload);
      else s.insert.run(q, item.id, item.name, item.priority, item.payload);
      s.putData.run(q, key, item.id);
      return null;
    }).immediate;
    // Take the lock, then bump its key's fence: one transaction, so a fence is only used by a
    // lock that was taken, and two acquisitions never share one.
    this.#acquireTx = this.#db.transaction((key: string, owner: string, until: number, now: number) => {
      if (s.acquireLock.run(q, key, owner, until, now).changes === 0) return null;
      return (s.bumpFence.get(q, key) as { fence: number }).fence;
    }).immediate;
    this.#renewLocksTx = this.#db.transaction((keys: string[], owner: string, until: number) =>
      keys.filter((k) => s.renewLock.run(until, q, k, owner).changes === 0),
    ).immediate;
    this.#promoteTx = this.#db.transaction((now: number, limit: number) => {
      const moved = s.promote.run(q, now, limit).changes;
      if (moved) s.unschedule.run(q, now, limit);
      return moved;
    }).immediate;
  }

  async enqueue(items: QueueItem[]): Promise<void> {
    if (items.length === 1) {
      // One statement in autocommit: a third of the work of BEGIN, INSERT, COMMIT.
      const it = items[0]!;
      this.#guard(() => this.#s.insert.run(this.queue, it.id, it.name, it.priority, it.payload), "enqueue");
    } else {
      this.#guard(() => this.#commitTx({ enqueue: items }), "enqueue");
    }
    this.#wake.touch("queue");
  }

  async schedule(items: ScheduledItem[]): Promise<void> {
    this.#guard(() => this.#commitTx({ schedule: items }), "schedule");
    this.#wake.touch("queue");
  }

  async lease(max: number, leaseUntil: number): Promise<LeasedItem[]> {
    const rows = this.#guard(
      () => this.#s.lease.all(leaseUntil, crypto.randomUUID(), this.queue, max) as (LeasedItem & { seq: number })[],
      "lease",
    );
    // RETURNING gives no order guarantee: restore lease order.
    rows.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    return rows.map(({ seq: _seq, ...item }) => item);
  }

  async renew(leases: LeaseRef[], leaseUntil: number): Promise<string[]> {
    const lost: string[] = [];
    this.#guard(
      () =>
        this.#eachLease(leases, (l) => {
          if (this.#s.renew.run(leaseUntil, this.queue, l.id, l.token).changes === 0) lost.push(l.id);
          return 0;
        }),
      "renew",
    );
    return lost;
  }

  async release(leases: LeaseRef[]): Promise<number> {
    const n = this.#guard(() => this.#eachLease(leases, (l) => this.#s.release.run(this.queue, l.id, l.token).changes), "release");
    if (n) this.#wake.touch("queue");
    return n;
  }

  async reclaimExpired(now: number): Promise<number> {
    return this.#guard(() => this.#s.reclaim.run(this.queue, now).changes, "reclaim expired leases");
  }

  async commit(batch: CommitBatch): Promise<CommitReport> {
    const lost = this.#guard(() => this.#commitTx(batch), "commit");
    // Touching for a lost task's writes too is a spurious wake-up at worst.
    const t = batch.tasks ? touches(batch) : { results: !!batch.results?.length, queue: !!(batch.enqueue?.length || batch.schedule?.length) };
    if (t.results) this.#wake.touch("results");
    if (t.queue) this.#wake.touch("queue");
    return { lost };
  }

  async promoteDue(now: number, limit: number): Promise<number> {
    const n = this.#guard(() => this.#promoteTx(now, limit), "promote scheduled tasks");
    if (n) this.#wake.touch("queue");
    return n;
  }

  async nextEta(): Promise<number | null> {
    const row = this.#guard(() => this.#s.nextEta.get(this.queue) as { eta: number | null }, "read schedule");
    return row.eta;
  }

  async putResult(item: ResultItem): Promise<void> {
    this.#guard(() => this.#s.putResult.run(this.queue, item.id, item.payload, item.expiresAt ?? null), "store result");
    this.#wake.touch("results");
  }

  async getResult(id: string, preserve: boolean, now: number): Promise<string | null> {
    return this.#guard(() => {
      const row = (preserve ? this.#s.peekResult.get(this.queue, id, now) : this.#s.popResult.get(this.queue, id, now)) as
        | { payload: string }
        | null;
      return row ? row.payload : null;
    }, "read result");
  }

  async deleteResult(id: string): Promise<boolean> {
    return this.#guard(() => this.#s.deleteResult.run(this.queue, id).changes > 0, "delete result");
  }

  async putData(key: string, value: string): Promise<void> {
    this.#guard(() => this.#s.putData.run(this.queue, key, value), "put data");
  }

  async putIfEmpty(key: string, value: string): Promise<boolean> {
    return this.#guard(() => this.#s.putIfEmpty.run(this.queue, key, value).changes > 0, "put data");
  }

  async getData(key: string, preserve: boolean): Promise<string | null> {
    return this.#guard(() => {
      const row = (preserve ? this.#s.peekData.get(this.queue, key) : this.#s.popData.get(this.queue, key)) as
        | { value: string }
        | null;
      return row ? row.value : null;
    }, "read data");
  }

  async deleteData(key: string): Promise<boolean> {
    return this.#guard(() => this.#s.deleteData.run(this.queue, key).changes > 0, "delete data");
  }

  async hasTask(id: string): Promise<boolean> {
    return this.#guard(() => this.#s.taskExists.get(this.queue, id) !== null, "find task");
  }

  async countData(prefix: string): Promise<number> {
    const end = prefixEnd(prefix);
    return this.#guard(
      () => ((end === null ? this.#s.countDataFrom.get(this.queue, prefix) : this.#s.countData.get(this.queue, prefix, end)) as { n: number }).n,
      "count data",
    );
  }

  async listData(prefix: string, limit: number): Promise<{ key: string; value: string }[]> {
    // Range scan on the primary key (BINARY: UTF-8 byte order): prefix <= key < prefixEnd(prefix).
    const end = prefixEnd(prefix);
    return this.#guard(
      () =>
        (end === null
          ? this.#s.listDataFrom.all(this.queue, prefix, limit)
          : this.#s.listData.all(this.queue, prefix, end, limit)) as { key: string; value: string }[],
      "list data",
    );
  }

  async incr(key: string, by: number, expiresAt: number, now: number): Promise<number> {
    const row = this.#guard(() => this.#s.incr.get(this.queue, key, by, expiresAt, now), "count") as { value: number };
    return row.value;
  }

  async enqueueUnique(item: QueueItem | ScheduledItem, key: string): Promise<string | null> {
    const holder = this.#guard(() => this.#uniqueTx(item, key), "enqueue");
    if (holder === null) this.#wake.touch("queue");
    return holder;
  }

  async acquireLock(key: string, owner: string, until: number, now: number): Promise<number | null> {
    return this.#guard(() => this.#acquireTx(key, owner, until, now), "acquire lock");
  }

  async renewLocks(keys: string[], owner: string, until: number): Promise<string[]> {
    if (keys.length === 0) return [];
    return this.#guard(() => this.#renewLocksTx(keys, owner, until), "renew locks");
  }

  async releaseLock(key: string, owner: string | null): Promise<boolean> {
    return this.#guard(
      () => (owner === null ? this.#s.forceUnlock.run(this.queue, key) : this.#s.unlock.run(this.queue, key, owner)).changes > 0,
      "release lock",
    );
  }

  async listLocks(now: number): Promise<LockInfo[]> {
    return this.#guard(() => this.#s.listLocks.all(this.queue, now) as LockInfo[], "list locks");
  }

  async purgeExpired(now: number): Promise<number> {
    return this.#guard(
      () =>
        this.#db.transaction(() => {
          const s = this.#s;
          return (
            s.purgeResults.run(this.queue, now).changes + s.purgeCounters.run(this.queue, now).changes + s.purgeLocks.run(this.queue, now).changes
          );
        }).immediate(),
      "purge expired entries",
    );
  }

  async pendingCount(): Promise<number> {
    return this.#count(this.#s.countReady);
  }

  async leasedCount(): Promise<number> {
    return this.#count(this.#s.countLeased);
  }

  async scheduledCount(): Promise<number> {
    return this.#count(this.#s.countScheduled);
  }

  async resultCount(): Promise<number> {
    return this.#count(this.#s.countResults);
  }

  async listPending(limit: number): Promise<(QueueItem & { leased: boolean })[]> {
    const rows = this.#guard(() => this.#s.listPending.all(this.queue, limit), "list pending") as (QueueItem & {
      leased: number;
    })[];
    return rows.map((r) => ({ ...r, leased: r.leased === 1 }));
  }

  async listScheduled(limit: number): Promise<ScheduledItem[]> {
    return this.#guard(() => this.#s.listScheduled.all(this.queue, limit), "list scheduled") as ScheduledItem[];
  }

  async flush(): Promise<void> {
    this.#guard(
      () =>
        this.#db.transaction(() => {
          // Not lock_fences: a fence handed out before the flush must never be handed out again.
          for (const table of ["queue", "schedule", "results", "kv", "locks", "counters"]) {
            this.#db.query(`DELETE FROM ${table} WHERE queue = ?`).run(this.queue);
          }
        }).immediate(),
      "flush",
    );
  }

  /**
   * A commit between the caller's read and this call cannot be slept through: no file event is
   * handled between them (events are macrotasks; only microtasks run between an awaited read and
   * this call), and an event wakes every waiter of its topic.
   */
  waitForChange(timeoutMs: number, topic: Topic = "queue"): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#wake.wait(topic, timeoutMs);
  }

  /**
   * A one-line description of a fatal problem with the files under this open database, or null.
   * Deleting the -wal or -shm file, or replacing or deleting the database file, while it is open
   * splits the processes that use it: this one keeps writing to the old files, which nobody else
   * reads, and what it writes is lost. Costs three stat calls; no SQL.
   */
  async checkHealth(): Promise<string | null> {
    if (this.#closed) return null;
    for (const f of this.#files) {
      let now;
      try {
        now = statSync(f.path, { bigint: true, throwIfNoEntry: false });
      } catch (err) {
        if ((err as { code?: string }).code !== "ENOTDIR") return null; // cannot look (permissions): no verdict
      }
      if (!now) return `the ${f.label} ${f.path} was deleted while open`;
      if (now.ino !== f.ino || now.dev !== f.dev) return `the ${f.label} ${f.path} was replaced (inode changed)`;
    }
    return null;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake.close();
    this.#db.close(false);
  }

  /** Direct access for tests and tools that inspect the file. */
  get database(): Database {
    return this.#db;
  }

  #eachLease(leases: LeaseRef[], fn: (l: LeaseRef) => number): number {
    let n = 0;
    this.#db.transaction(() => {
      for (const l of leases) n += fn(l);
    }).immediate();
    return n;
  }

  #count(stmt: Statement): Promise<number> {
    return Promise.resolve(this.#guard(() => (stmt.get(this.queue) as { n: number }).n, "count"));
  }

  #dataVersion(): number {
    return (this.#s.dataVersion.get() as { data_version: number }).data_version;
  }

  /** True when another connection committed since the wake-up logic last looked (FileWake only). */
  #foreignChange(): boolean {
    const v = this.#dataVersion();
    if (v === this.#seenVersion) return false;
    this.#seenVersion = v;
    return true;
  }

  #guard<T>(fn: () => T, what: string): T {
    try {
      return fn();
    } catch (err) {
      throw describeSqliteError(err, this.filename, what);
    }
  }
}

interface WatchedFile {
  label: string;
  path: string;
  dev: bigint;
  ino: bigint;
  /** Permission bits. */
  mode: number;
}

/** The identity of `path` now, or null when it does not exist (a -wal or -shm not made yet). */
function watched(label: string, path: string): WatchedFile | null {
  const st = statSync(path, { bigint: true, throwIfNoEntry: false });
  return st ? { label, path, dev: st.dev, ino: st.ino, mode: Number(st.mode & 0o777n) } : null;
}

/**
 * Rows per multi-row statement. One statement per row cost about as much in bun:sqlite's call
 * overhead as the row's own work; 32 rows per statement keeps the cached statement shapes few.
 */
const CHUNK = 32;

/** Run `sqlFor(n)` over `rows` in chunks of CHUNK rows (bun:sqlite caches each shape's statement). */
function chunked<T>(db: Database, rows: T[], sqlFor: (n: number) => string, params: (row: T) => (string | number | null)[]): void {
  for (let i = 0; i < rows.length; i += CHUNK) {
    const part = rows.slice(i, i + CHUNK);
    db.query(sqlFor(part.length)).run(...part.flatMap(params));
  }
}

/** chunked() for a statement that returns one column: its values are pushed onto `out`. */
function chunkedValues<T>(
  db: Database, rows: T[], sqlFor: (n: number) => string, params: (row: T) => (string | number | null)[], out: unknown[],
): void {
  for (let i = 0; i < rows.length; i += CHUNK) {
    const part = rows.slice(i, i + CHUNK);
    for (const r of db.query(sqlFor(part.length)).values(...part.flatMap(params))) out.push(r[0]);
  }
}

const fencedAckSqls = new Map<number, string>();
function fencedAckSql(n: number): string {
  let sql = fencedAckSqls.get(n);
  if (!sql) {
    fencedAckSqls.set(n, (sql = `DELETE FROM queue WHERE (queue, id, token) IN (VALUES ${Array(n).fill("(?, ?, ?)").join(", ")}) RETURNING id`));
  }
  return sql;
}

const ackSqls = new Map<number, string>();
function ackSql(n: number): string {
  let sql = ackSqls.get(n);
  // (queue, id, token): ids are unique per queue only (schema 5), and this form uses that index.
  if (!sql) ackSqls.set(n, (sql = `DELETE FROM queue WHERE (queue, id, token) IN (VALUES ${Array(n).fill("(?, ?, ?)").join(", ")})`));
  return sql;
}

const insertSqls = new Map<number, string>();
function insertSql(n: number): string {
  let sql = insertSqls.get(n);
  if (!sql) insertSqls.set(n, (sql = `INSERT INTO queue (queue, id, name, priority, payload) VALUES ${Array(n).fill("(?, ?, ?, ?, ?)").join(", ")}`));
  return sql;
}

const resultSqls = new Map<number, string>();
function putResultsSql(n: number): string {
  let sql = resultSqls.get(n);
  if (!sql) {
    resultSqls.set(n, (sql = `INSERT OR REPLACE INTO results (queue, id, payload, expires_at) VALUES ${Array(n).fill("(?, ?, ?, ?)").join(", ")}`));
  }
  return sql;
}

function prepare(db: Database) {
  const q = (sql: string) => db.prepare(sql);
  return {
    insert: q("INSERT INTO queue (queue, id, name, priority, payload) VALUES (?, ?, ?, ?, ?)"),
    insertScheduled: q("INSERT INTO schedule (id, queue, name, priority, eta, payload) VALUES (?, ?, ?, ?, ?, ?)"),
    lease: q(
      `UPDATE queue SET leased_until = ?1, token = ?2, leases = leases + 1
       WHERE seq IN (SELECT seq FROM queue WHERE queue = ?3 AND leased_until IS NULL
                     ORDER BY priority DESC, seq LIMIT ?4)
       RETURNING seq, id, name, priority, payload, token, leases`,
    ),
    renew: q("UPDATE queue SET leased_until = ? WHERE queue = ? AND id = ? AND token = ?"),
    release: q("UPDATE queue SET leased_until = NULL, token = NULL WHERE queue = ? AND id = ? AND token = ?"),
    reclaim: q("UPDATE queue SET leased_until = NULL, token = NULL WHERE queue = ? AND leased_until < ?"),
    promote: q(
      `INSERT INTO queue (queue, id, name, priority, payload)
       SELECT queue, id, name, priority, payload FROM schedule WHERE queue = ?1 AND eta <= ?2
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
    countReady: q("SELECT count(*) AS n FROM queue WHERE queue = ? AND leased_until IS NULL"),
    countLeased: q("SELECT count(*) AS n FROM queue WHERE queue = ? AND leased_until IS NOT NULL"),
    countScheduled: q("SELECT count(*) AS n FROM schedule WHERE queue = ?"),
    countResults: q("SELECT count(*) AS n FROM results WHERE queue = ?"),
    listPending: q(
      `SELECT id, name, priority, payload, leased_until IS NOT NULL AS leased FROM queue WHERE queue = ?
       ORDER BY priority DESC, seq LIMIT ?`,
    ),
    listScheduled: q(
      "SELECT id, name, priority, eta, payload FROM schedule WHERE queue = ? ORDER BY eta, rowid LIMIT ?",
    ),
    dataVersion: q("PRAGMA data_version"),
    listData: q("SELECT key, value FROM kv WHERE queue = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?"),
    listDataFrom: q("SELECT key, value FROM kv WHERE queue = ? AND key >= ? ORDER BY key LIMIT ?"),
    purgeResults: q("DELETE FROM results WHERE queue = ? AND expires_at IS NOT NULL AND expires_at <= ?"),
    purgeCounters: q("DELETE FROM counters WHERE queue = ? AND expires_at <= ?"),
    purgeLocks: q("DELETE FROM locks WHERE queue = ? AND until <= ?"),
    countData: q("SELECT count(*) AS n FROM kv WHERE queue = ? AND key >= ? AND key < ?"),
    countDataFrom: q("SELECT count(*) AS n FROM kv WHERE queue = ? AND key >= ?"),
    incr: q(
      `INSERT INTO counters (queue, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)
       ON CONFLICT (queue, key) DO UPDATE SET
         value = CASE WHEN expires_at > ?5 THEN value + ?3 ELSE ?3 END,
         expires_at = CASE WHEN expires_at > ?5 THEN expires_at ELSE ?4 END
       RETURNING value`,
    ),
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

/** Open (creating when missing), set pragmas in the order that avoids SQLITE_BUSY, migrate. */
function openDatabase(o: SqliteStorageOptions): Database {
  const busyTimeout = Math.max(0, Math.trunc(o.busyTimeout ?? 5000));
  const started = performance.now();
  let db: Database | undefined;
  try {
    if (!o.readonly) createWithMode(o.filename, o.fileMode ?? DEFAULT_FILE_MODE);
    db = o.readonly
      ? new Database(o.filename, { readonly: true, strict: true })
      : new Database(o.filename, { create: true, readwrite: true, strict: true });
    // busy_timeout FIRST: with another order, processes opening a new file at once saw SQLITE_BUSY.
    db.run(`PRAGMA busy_timeout = ${busyTimeout}`);
    if (o.readonly) {
      checkSchema(db, o.filename);
      return db;
    }
    const open = { db, filename: o.filename, busyTimeout, started };
    if (o.filename !== ":memory:") {
      const mode = whileBusy(open, "switch it to WAL mode", () => (db!.query("PRAGMA journal_mode = WAL").get() as { journal_mode: string }).journal_mode);
      if (mode !== "wal") throw new StorageError(`${o.filename}: could not switch to WAL mode (got "${mode}")`);
    }
    db.run(`PRAGMA synchronous = ${o.synchronous === "FULL" ? "FULL" : "NORMAL"}`);
    whileBusy(open, "apply its migrations", () => migrate(db!));
    return db;
  } catch (err) {
    db?.close(false);
    throw describeSqliteError(err, o.filename, "open");
  }
}

/** Permissions of the files bun-huey creates: the owner's alone, for they hold task arguments and results. */
const DEFAULT_FILE_MODE = 0o600;

/**
 * Create a missing database file with `mode` (exactly: umask aside), so that SQLite, which gives
 * -wal and -shm the database file's permissions, creates those with it too. An existing file keeps
 * its mode. Any failure here is left for SQLite's own open to report.
 */
function createWithMode(filename: string, mode: number): void {
  if (filename === ":memory:" || filename === "" || existsSync(filename)) return;
  let fd: number;
  try {
    fd = openSync(filename, "wx", mode);
  } catch {
    return; // created by another process meanwhile, or a folder SQLite will report on
  }
  try {
    fchmodSync(fd, mode);
  } catch {
    /* a file system without modes: it stays as created */
  } finally {
    closeSync(fd);
  }
}

/**
 * Run one step of opening, again while it fails with SQLITE_BUSY, until `busyTimeout` ms have
 * passed since the open began. SQLite answers some steps BUSY at once, without waiting for
 * busy_timeout: `PRAGMA journal_mode = WAL` while another connection is switching the same new
 * file, and any lock upgrade that could deadlock. Each retry waits at most the time that is left.
 */
function whileBusy<T>(
  o: { db: Database; filename: string; busyTimeout: number; started: number },
  what: string,
  step: () => T,
): T {
  let pause = 1;
  let retried = false;
  try {
    for (;;) {
      try {
        return step();
      } catch (err) {
        const waited = performance.now() - o.started;
        if (!String((err as { code?: unknown }).code).startsWith("SQLITE_BUSY")) throw err;
        if (waited >= o.busyTimeout) {
          throw new StorageError(
            `open ${o.filename}: could not ${what}: another connection kept the database locked for ${Math.round(waited)} ms ` +
              `(busyTimeout is ${o.busyTimeout} ms); retry, or raise busyTimeout`,
            { cause: err },
          );
        }
        // A little jitter, so that processes that collided once do not collide again in step.
        Bun.sleepSync(Math.min(pause * (0.5 + Math.random()), o.busyTimeout - waited));
        pause = Math.min(pause * 2, 20);
        retried = true;
        o.db.run(`PRAGMA busy_timeout = ${Math.max(0, Math.ceil(o.busyTimeout - (performance.now() - o.started)))}`);
      }
    }
  } finally {
    if (retried) o.db.run(`PRAGMA busy_timeout = ${o.busyTimeout}`);
  }
}

function migrate(db: Database): void {
  db.transaction(() => {
    db.run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    const row = db.query("SELECT max(version) AS v FROM schema_version").get() as { v: number | null };
    const current = row.v ?? 0;
    const latest = SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1]!.version;
    if (current > latest) {
      throw new StorageError(
        `the database has schema version ${current}, newer than this bun-huey knows (${latest}); upgrade bun-huey`,
      );
    }
    for (const m of SQLITE_MIGRATIONS) {
      if (m.version <= current) continue;
      db.run(m.sql);
      db.query("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)").run(m.version, Date.now());
    }
  }).immediate();
}

function checkSchema(db: Database, filename: string): void {
  const t = db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get();
  if (!t) throw new StorageError(`${filename} is not a bun-huey database (no schema_version table)`);
}

/** The file exists but it, or its folder (WAL needs to create files there), cannot be written. */
function isReadOnlyPlace(filename: string): boolean {
  if (!existsSync(filename)) return false;
  for (const path of [filename, dirname(filename)]) {
    try {
      accessSync(path, constants.W_OK);
    } catch {
      return true;
    }
  }
  return false;
}

/** Turn SQLite's error codes into messages that say what to do. */
export function describeSqliteError(err: unknown, filename: string, what: string): unknown {
  // Ours already (a StorageError, a DuplicateIdError): keep it as it is.
  if (!(err instanceof Error) || String((err as { code?: unknown }).code).startsWith("HUEY_")) return err;
  const code = String((err as { code?: unknown }).code ?? "");
  // Extended codes (SQLITE_READONLY_DBMOVED, SQLITE_IOERR_WRITE...) share their primary code's advice.
  const base = code.split("_").slice(0, 2).join("_");
  const file = filename === ":memory:" ? "the in-memory database" : filename;
  const hint: Record<string, string> = {
    SQLITE_NOTADB: `${file} is not a SQLite database; point filename at a new path or an existing bun-huey database`,
    SQLITE_CORRUPT: `${file} is corrupt (${err.message}); restore it from a backup, or run "sqlite3 ${file} .recover"`,
    SQLITE_READONLY: `${file} is read-only (${err.message}); the consumer and producers need write access to the file and its folder`,
    SQLITE_FULL: `the disk holding ${file} is full; free space, then retry: nothing already stored was lost`,
    SQLITE_BUSY: `${file} stayed locked by another connection past busy_timeout; retry, or raise busyTimeout`,
    SQLITE_CANTOPEN: `cannot open ${file} (${err.message}); check that the folder exists and is writable`,
    SQLITE_IOERR: `I/O error on ${file} (${err.message}); check the disk`,
  };
  if (base === "SQLITE_CANTOPEN" && filename !== ":memory:" && isReadOnlyPlace(filename)) {
    return new StorageError(
      `${what}: ${file} is read-only (its file system or folder does not allow writes); the consumer and producers need write access to the file and its folder`,
      { cause: err },
    );
  }
  const message = hint[base];
  if (!message) {
    if (/constraint/i.test(code) && /UNIQUE/i.test(err.message)) {
      return new DuplicateIdError(`${what}: a task with the same id is already queued (${err.message})`, { cause: err });
    }
    return new StorageError(`${what} failed on ${file}: ${err.message}`, { cause: err });
  }
  return new StorageError(`${what}: ${message}`, { cause: err });
}

import { Database, type Statement } from "bun:sqlite";
import { accessSync, constants, existsSync } from "node:fs";
import { dirname } from "node:path";
import { DuplicateIdError, StorageError } from "../errors";
import { prefixEnd } from "./_prefix";
import { FileWake, type Topic } from "./_wake";
import { SQLITE_MIGRATIONS } from "./sql/migrations";
import type {
  CommitBatch, LeaseRef, LeasedItem, LockInfo, QueueItem, ResultItem, ScheduledItem, Storage,
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
  #commitTx: (batch: CommitBatch) => void;
  #promoteTx: (now: number, limit: number) => number;
  #uniqueTx: (item: QueueItem | ScheduledItem, key: string) => string | null;
  #wake: FileWake;
  #seenVersion = -1;
  #closed = false;

  constructor(options: SqliteStorageOptions) {
    this.queue = options.queue;
    this.filename = options.filename;
    this.#db = openDatabase(options);
    this.#s = prepare(this.#db);
    this.#wake = new FileWake(this.filename === ":memory:" ? null : this.filename, () => this.#foreignChange(), !options.readonly);
    this.#seenVersion = this.#dataVersion();
    const s = this.#s;
    const q = this.queue;
    const db = this.#db;
    this.#commitTx = this.#db.transaction((b: CommitBatch) => {
      if (b.ack) chunked(db, b.ack, ackSql, (l) => [l.id, l.token]);
      if (b.results) chunked(db, b.results, (n) => putResultsSql(n), (r) => [q, r.id, r.payload, r.expiresAt ?? null]);
      if (b.enqueue) chunked(db, b.enqueue, insertSql, (it) => [q, it.id, it.name, it.priority, it.payload]);
      if (b.schedule) for (const it of b.schedule) s.insertScheduled.run(it.id, q, it.name, it.priority, it.eta, it.payload);
      if (b.putData) for (const d of b.putData) s.putData.run(q, d.key, d.value);
      if (b.deleteData) for (const k of b.deleteData) s.deleteData.run(q, k);
    }).immediate;
    this.#uniqueTx = this.#db.transaction((item: QueueItem | ScheduledItem, key: string) => {
      const holder = s.peekData.get(q, key) as { value: string } | null;
      if (holder && s.taskExists.get(holder.value, holder.value)) return holder.value;
      if ("eta" in item) s.insertScheduled.run(item.id, q, item.name, item.priority, item.eta, item.payload);
      else s.insert.run(q, item.id, item.name, item.priority, item.payload);
      s.putData.run(q, key, item.id);
      return null;
    }).immediate;
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

  async renew(leases: LeaseRef[], leaseUntil: number): Promise<number> {
    return this.#guard(() => this.#eachLease(leases, (l) => this.#s.renew.run(leaseUntil, l.id, l.token).changes), "renew");
  }

  async release(leases: LeaseRef[]): Promise<number> {
    const n = this.#guard(() => this.#eachLease(leases, (l) => this.#s.release.run(l.id, l.token).changes), "release");
    if (n) this.#wake.touch("queue");
    return n;
  }

  async reclaimExpired(now: number): Promise<number> {
    return this.#guard(() => this.#s.reclaim.run(this.queue, now).changes, "reclaim expired leases");
  }

  async commit(batch: CommitBatch): Promise<void> {
    this.#guard(() => this.#commitTx(batch), "commit");
    if (batch.results?.length) this.#wake.touch("results");
    if (batch.enqueue?.length || batch.schedule?.length) this.#wake.touch("queue");
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
    return this.#guard(() => this.#s.taskExists.get(id, id) !== null, "find task");
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

  async acquireLock(key: string, owner: string, until: number, now: number): Promise<boolean> {
    return this.#guard(() => this.#s.acquireLock.run(this.queue, key, owner, until, now).changes > 0, "acquire lock");
  }

  async renewLocks(keys: string[], owner: string, until: number): Promise<number> {
    return this.#guard(() => {
      let n = 0;
      for (const k of keys) n += this.#s.renewLock.run(until, this.queue, k, owner).changes;
      return n;
    }, "renew locks");
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

const ackSqls = new Map<number, string>();
function ackSql(n: number): string {
  let sql = ackSqls.get(n);
  if (!sql) ackSqls.set(n, (sql = `DELETE FROM queue WHERE (id, token) IN (VALUES ${Array(n).fill("(?, ?)").join(", ")})`));
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
    ack: q("DELETE FROM queue WHERE id = ? AND token = ?"),
    renew: q("UPDATE queue SET leased_until = ? WHERE id = ? AND token = ?"),
    release: q("UPDATE queue SET leased_until = NULL, token = NULL WHERE id = ? AND token = ?"),
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
    taskExists: q("SELECT 1 FROM queue WHERE id = ? UNION ALL SELECT 1 FROM schedule WHERE id = ?"),
    acquireLock: q(
      `INSERT INTO locks (queue, key, owner, until) VALUES (?1, ?2, ?3, ?4)
       ON CONFLICT (queue, key) DO UPDATE SET owner = ?3, until = ?4 WHERE locks.until <= ?5 OR locks.owner = ?3`,
    ),
    renewLock: q("UPDATE locks SET until = ? WHERE queue = ? AND key = ? AND owner = ?"),
    unlock: q("DELETE FROM locks WHERE queue = ? AND key = ? AND owner = ?"),
    forceUnlock: q("DELETE FROM locks WHERE queue = ? AND key = ?"),
    listLocks: q("SELECT key, owner, until FROM locks WHERE queue = ? AND until > ? ORDER BY key"),
  };
}

/** Open (creating when missing), set pragmas in the order that avoids SQLITE_BUSY, migrate. */
function openDatabase(o: SqliteStorageOptions): Database {
  let db: Database | undefined;
  try {
    db = o.readonly
      ? new Database(o.filename, { readonly: true, strict: true })
      : new Database(o.filename, { create: true, readwrite: true, strict: true });
    // busy_timeout FIRST: with another order, processes opening a new file at once saw SQLITE_BUSY.
    db.run(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(o.busyTimeout ?? 5000))}`);
    if (o.readonly) {
      checkSchema(db, o.filename);
      return db;
    }
    if (o.filename !== ":memory:") {
      const mode = (db.query("PRAGMA journal_mode = WAL").get() as { journal_mode: string }).journal_mode;
      if (mode !== "wal") throw new StorageError(`${o.filename}: could not switch to WAL mode (got "${mode}")`);
    }
    db.run(`PRAGMA synchronous = ${o.synchronous === "FULL" ? "FULL" : "NORMAL"}`);
    migrate(db);
    return db;
  } catch (err) {
    db?.close(false);
    throw describeSqliteError(err, o.filename, "open");
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

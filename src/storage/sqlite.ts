import type { Database, Statement } from "bun:sqlite";
import { ConfigurationError } from "../errors";
import { touches } from "./_fence";
import { locateRow } from "./_locate";
import { claimStatements, releaseRows, renewRows, type ClaimRow, type ClaimStatements } from "./_sqlite-claims";
import { SqliteLeaser } from "./_sqlite-lease";
import { Checkpointer } from "./_sqlite-checkpointer";
import { resolve } from "node:path";
import { prefixEnd } from "./_prefix";
import { describeSqliteError } from "./_sqlite-errors";
import { DatabaseFiles } from "./_sqlite-health";
import { busyTimeoutOf, DEFAULT_FILE_MODE, openDatabase, type SqliteStorageOptions } from "./_sqlite-open";
import { prepare, type Statements } from "./_sqlite-sql";
import { transactions } from "./_sqlite-transactions";
import { FileWake, type Topic } from "./_wake";
import type {
  CommitBatch, CommitReport, DedupOutcome, LeaseFilter, LeaseRef, LeasedItem, LocatedItem, LockInfo, PausedLane, QueueItem, ResultItem, ScheduledItem, Storage,
} from "./types";
import { byLeaseOrder, DEFAULT_LANE, PURGE_ALL, purgeLimit } from "./types";
import { resolveDbFilename } from "../_caller";

export { describeSqliteError } from "./_sqlite-errors";

/**
 * Rows a storage writes (enqueued, scheduled, committed) before it starts its checkpoint Worker by itself,
 * as a consumer's does at start: a producer that writes this much would otherwise run SQLite's automatic
 * checkpoint (copy ~4 MB into the database file, and fsync it) inside one of its own commits every 1,000
 * WAL pages, about every 330 single enqueues or 15 bulk enqueues of 1,000 here, while no consumer's Worker
 * got there first. A process that writes less never starts a thread for it.
 */
export const OFFLOAD_AFTER_ROWS = 256;
export type { SqliteStorageOptions } from "./_sqlite-open";

/**
 * Storage on one SQLite file (WAL). Several threads and processes share it safely: every
 * read-then-write is one statement or a BEGIN IMMEDIATE transaction.
 */
export class SqliteStorage implements Storage {
  readonly kind = "sqlite";
  readonly queue: string;
  readonly filename: string;
  #db: Database;
  #s: Statements;
  #c: ClaimStatements;
  #commitTx: (batch: CommitBatch) => string[];
  #promoteTx: (now: number, limit: number) => number;
  #uniqueTx: (item: QueueItem | ScheduledItem, key: string) => string | null;
  #leaser: SqliteLeaser;
  #dedupTx: (item: QueueItem | ScheduledItem, key: string, mode: "throttle" | "replace", until: number, now: number) => DedupOutcome;
  #acquireTx: (key: string, owner: string, until: number, now: number) => number | null;
  #renewLocksTx: (keys: string[], owner: string, until: number) => string[];
  #wake: FileWake;
  #seenVersion = -1;
  #closed = false;
  #readonly: boolean;
  #checkpointer: Checkpointer | null = null;
  /** Rows written through this storage until it offloads its checkpoints (OFFLOAD_AFTER_ROWS). */
  #written = 0;
  /** A writable file (not :memory:): its checkpoints can run in a Worker. */
  #offloadable: boolean;
  /**
   * How long a write waits for another connection's lock (ms), and the pragma that sets it back after
   * #unblocked's attempts. Run as text each time: SQLite applies busy_timeout when the pragma is
   * prepared, so a prepared statement run again did not always set it (a lease waited 3 s here).
   */
  #busyTimeout: number;
  #busyOn: string;
  /** The database file and its -wal and -shm as they were at open, for checkHealth. */
  #files: DatabaseFiles;

  constructor(options: SqliteStorageOptions) {
    const mode = options.fileMode;
    if (mode !== undefined && !(Number.isInteger(mode) && mode >= 0 && mode <= 0o777 && (mode & 0o600) === 0o600)) {
      throw new ConfigurationError(
        `SqliteStorage "fileMode" must be permission bits from 0o600 to 0o777 that let the owner read and write, such as 0o600 or 0o640; got ${JSON.stringify(mode)}`,
      );
    }
    this.queue = options.queue;
    // Relative: against the folder of the file that runs `new SqliteStorage(...)` (see SqliteHuey).
    const filename = typeof options.filename === "string" ? resolveDbFilename(options.filename, new.target) : options.filename;
    options = { ...options, filename };
    this.filename = filename;
    this.#db = openDatabase(options);
    this.#readonly = options.readonly === true;
    this.#s = prepare(this.#db);
    this.#c = claimStatements(this.#db);
    this.#busyTimeout = busyTimeoutOf(options);
    this.#busyOn = `PRAGMA busy_timeout = ${this.#busyTimeout}`;
    const file = this.filename === ":memory:" || this.filename === "" ? null : this.filename;
    this.#offloadable = file !== null && !this.#readonly;
    this.#files = new DatabaseFiles(file);
    const dbMode = this.#files.mode ?? DEFAULT_FILE_MODE;
    this.#wake = new FileWake(file, () => this.#foreignChange(), !options.readonly, dbMode);
    this.#seenVersion = this.#dataVersion();
    const tx = transactions(this.#db, this.#s, this.#c, this.queue);
    this.#commitTx = tx.commit;
    this.#uniqueTx = tx.unique;
    this.#dedupTx = tx.dedup;
    this.#acquireTx = tx.acquire;
    this.#renewLocksTx = tx.renewLocks;
    this.#promoteTx = tx.promote;
    this.#leaser = new SqliteLeaser(this.#db, this.#s, this.#c, this.queue);
    // One read transaction: a row leased between the two reads is listed once.
    this.#listPendingTx = this.#db.transaction(this.#listPendingTx);
  }

  async enqueue(items: QueueItem[]): Promise<void> {
    if (items.length === 1) {
      // One statement in autocommit: a third of the work of BEGIN, INSERT, COMMIT.
      const it = items[0]!;
      this.#guard(() => this.#s.insert.run(this.queue, it.id, it.name, it.priority, it.payload, it.lane ?? DEFAULT_LANE), "enqueue");
    } else {
      this.#guard(() => this.#commitTx({ enqueue: items }), "enqueue");
    }
    this.#touch("queue", items.length);
  }

  async schedule(items: ScheduledItem[]): Promise<void> {
    this.#guard(() => this.#commitTx({ schedule: items }), "schedule");
    this.#touch("queue", items.length);
  }

  lease(max: number, leaseUntil: number, filter?: LeaseFilter): Promise<LeasedItem[]> {
    return this.#lease(max, leaseUntil, filter);
  }

  async leaseWithData(max: number, leaseUntil: number, filter: LeaseFilter | undefined, prefix: string, limit: number): Promise<{ items: LeasedItem[]; data: { key: string; value: string }[] | null }> {
    let data: { key: string; value: string }[] | null = null;
    const items = await this.#lease(max, leaseUntil, filter, (got) => (data = got > 0 ? this.#dataRows(prefix, limit) : null));
    return { items, data };
  }

  /** A lease under a fresh token; `after` runs inside its transaction (see SqliteLeaser.lease). */
  async #lease(max: number, leaseUntil: number, filter: LeaseFilter | undefined, after?: (got: number) => void): Promise<LeasedItem[]> {
    const token = crypto.randomUUID();
    const rows = await this.#unblocked(() => this.#leaser.lease(max, leaseUntil, token, filter, after), "lease");
    // RETURNING gives no order guarantee: restore lease order. The rows keep their `seq` (not part
    // of LeasedItem): copying each row without it cost more than the sort.
    if (rows.length > 1) rows.sort(byLeaseOrder);
    return rows;
  }

  async pauseLane(lane: string, until: number | null): Promise<void> {
    this.#guard(() => this.#s.pause.run(this.queue, lane, until), "pause");
  }

  async resumeLane(lane: string): Promise<boolean> {
    const had = this.#guard(() => this.#s.resume.run(this.queue, lane).changes > 0, "resume");
    this.#touch("queue");
    return had;
  }

  async listPaused(now: number): Promise<PausedLane[]> {
    return this.#guard(() => this.#s.listPaused.all(this.queue, now) as PausedLane[], "list paused");
  }

  /**
   * Each lease still held gets `leaseUntil`: a claim all of whose rows are renewed (a consumer renews
   * every task it holds at once) takes the new until; one only some of whose rows are is cut into runs,
   * so each row keeps its own. A lease taken before schema 8 is renewed on its row.
   */
  async renew(leases: LeaseRef[], leaseUntil: number): Promise<string[]> {
    const lost: string[] = [];
    this.#guard(
      () =>
        this.#db.transaction(() => {
          for (const [claim, { token, seqs }] of this.#byClaim(leases, (l) => {
            if (this.#s.renewRow.run(leaseUntil, this.queue, l.id, l.token).changes === 0) lost.push(l.id);
          })) {
            renewRows(this.#c, token, claim, seqs, leaseUntil);
          }
        }).immediate(),
      "renew",
    );
    return lost;
  }

  /**
   * Each row leaves its claim (the claim is cut into the runs of rows it keeps) and is ready again;
   * unless `unstarted`, the lease counts (leases + 1). A lease taken before schema 8 is released on its row.
   */
  async release(leases: LeaseRef[], unstarted = false): Promise<number> {
    const n = this.#guard(
      () =>
        this.#db.transaction(() => {
          let n = 0;
          for (const [claim, { token, seqs }] of this.#byClaim(leases, (l) => {
            n += (unstarted ? this.#s.releaseRowUnstarted : this.#s.releaseRow).run(this.queue, l.id, l.token).changes;
          })) {
            releaseRows(this.#c, token, claim, seqs);
            if (!unstarted) for (const seq of seqs) this.#c.countStarted.run(seq);
            n += seqs.size;
          }
          return n;
        }).immediate(),
      "release",
    );
    if (n) this.#touch("queue");
    return n;
  }

  /** The claims holding `leases` (each with the rows named of it); `other` gets each lease no claim holds. */
  #byClaim(leases: LeaseRef[], other: (l: LeaseRef) => void): Map<ClaimRow, { token: string; seqs: Set<number> }> {
    const c = this.#c;
    const byId = new Map<number, { token: string; seqs: Set<number> }>();
    for (const l of leases) {
      const h = c.holder.get(this.queue, l.id, l.token) as { seq: number; claim: number } | null;
      if (!h) {
        other(l);
        continue;
      }
      const e = byId.get(h.claim);
      if (e) e.seqs.add(h.seq);
      else byId.set(h.claim, { token: l.token, seqs: new Set([h.seq]) });
    }
    const out = new Map<ClaimRow, { token: string; seqs: Set<number> }>();
    const tokens = new Map<string, ClaimRow[]>();
    for (const [id, e] of byId) {
      let claims = tokens.get(e.token);
      if (!claims) tokens.set(e.token, (claims = c.ofToken.all(e.token) as ClaimRow[]));
      out.set(claims.find((x) => x.id === id)!, e);
    }
    return out;
  }

  async reclaimExpired(now: number): Promise<number> {
    return this.#guard(
      () =>
        this.#db.transaction(() => {
          const claimed = this.#c.reclaimRows.run(this.queue, now).changes;
          this.#c.reclaim.run(this.queue, now);
          return claimed + this.#s.reclaim.run(this.queue, now).changes;
        }).immediate(),
      "reclaim expired leases",
    );
  }

  async commit(batch: CommitBatch): Promise<CommitReport> {
    const lost = await this.#unblocked(() => this.#commitTx(batch), "commit");
    // Touching for a lost task's writes too is a spurious wake-up at worst.
    const t = batch.tasks ? touches(batch) : { results: !!batch.results?.length, queue: !!(batch.enqueue?.length || batch.schedule?.length) };
    if (t.results) this.#wake.touch("results");
    if (t.queue) this.#wake.touch("queue");
    // Whatever it touched: acks alone grow the WAL too.
    this.#afterWrite((batch.tasks?.length ?? 0) + (batch.enqueue?.length ?? 0) + (batch.schedule?.length ?? 0) + (batch.results?.length ?? 0) + 1);
    return { lost };
  }

  async promoteDue(now: number, limit: number): Promise<number> {
    const n = this.#guard(() => this.#promoteTx(now, limit), "promote scheduled tasks");
    if (n) this.#touch("queue");
    return n;
  }

  async nextEta(): Promise<number | null> {
    const row = this.#guard(() => this.#s.nextEta.get(this.queue) as { eta: number | null }, "read schedule");
    return row.eta;
  }

  async putResult(item: ResultItem): Promise<void> {
    this.#guard(() => this.#s.putResult.run(this.queue, item.id, item.payload, item.expiresAt ?? null), "store result");
    this.#touch("results");
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

  async deleteDataIf(key: string, value: string): Promise<boolean> {
    return this.#guard(() => this.#s.deleteDataIf.run(this.queue, key, value).changes > 0, "delete data");
  }

  async hasTask(id: string): Promise<boolean> {
    return this.#guard(() => this.#s.taskExists.get(this.queue, id) !== null, "find task");
  }

  async locate(id: string): Promise<LocatedItem | null> {
    return this.#guard(() => locateRow(id, this.#s.locateQueued.get(this.queue, id) as never, this.#s.locateScheduled.get(this.queue, id) as never), "locate task");
  }

  async countData(prefix: string): Promise<number> {
    const end = prefixEnd(prefix);
    return this.#guard(
      () => ((end === null ? this.#s.countDataFrom.get(this.queue, prefix) : this.#s.countData.get(this.queue, prefix, end)) as { n: number }).n,
      "count data",
    );
  }

  async listData(prefix: string, limit: number, after?: string): Promise<{ key: string; value: string }[]> {
    return this.#guard(() => this.#dataRows(prefix, limit, after), "list data");
  }

  #dataRows(prefix: string, limit: number, after?: string): { key: string; value: string }[] {
    // Range scan on the primary key (BINARY: UTF-8 byte order): prefix <= key < prefixEnd(prefix), key > after.
    const end = prefixEnd(prefix);
    const s = this.#s;
    return (
      after === undefined
        ? end === null
          ? s.listDataFrom.all(this.queue, prefix, limit)
          : s.listData.all(this.queue, prefix, end, limit)
        : end === null
          ? s.listDataFromAfter.all(this.queue, prefix, after, limit)
          : s.listDataAfter.all(this.queue, prefix, after, end, limit)
    ) as { key: string; value: string }[];
  }

  async incr(key: string, by: number, expiresAt: number, now: number): Promise<number> {
    const row = this.#guard(() => this.#s.incr.get(this.queue, key, by, expiresAt, now), "count") as { value: number };
    return row.value;
  }

  async enqueueUnique(item: QueueItem | ScheduledItem, key: string): Promise<string | null> {
    const holder = this.#guard(() => this.#uniqueTx(item, key), "enqueue");
    if (holder === null) this.#touch("queue");
    return holder;
  }

  async enqueueDeduped(item: QueueItem | ScheduledItem, key: string, mode: "throttle" | "replace", until: number, now: number): Promise<DedupOutcome> {
    const out = this.#guard(() => this.#dedupTx(item, key, mode, until, now), "enqueue");
    if (out.kind !== "conflict") this.#touch("queue");
    return out;
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

  async purgeExpired(now: number, limit: number = PURGE_ALL): Promise<number> {
    const n = purgeLimit(limit);
    return this.#guard(
      () =>
        this.#db.transaction(() => {
          const s = this.#s;
          return (
            s.purgeResults.run(this.queue, now, n).changes + s.purgeCounters.run(this.queue, now, n).changes + s.purgeLocks.run(this.queue, now, n).changes
          );
        }).immediate(),
      "purge expired entries",
    );
  }

  /** Rows with no lease, less those a claim holds (their leased_until stays NULL), in one read. */
  async pendingCount(lane?: string): Promise<number> {
    return lane === undefined
      ? this.#count(this.#s.countReady, undefined, this.#c.count, -1)
      : this.#count(this.#s.countReadyLane, lane, this.#c.countLane, -1);
  }

  /** Rows claims hold, and rows leased before schema 8, in one read. */
  async leasedCount(lane?: string): Promise<number> {
    return lane === undefined
      ? this.#count(this.#s.countLeased, undefined, this.#c.count, 1)
      : this.#count(this.#s.countLeasedLane, lane, this.#c.countLane, 1);
  }

  async scheduledCount(lane?: string): Promise<number> {
    return lane === undefined ? this.#count(this.#s.countScheduled) : this.#count(this.#s.countScheduledLane, lane);
  }

  async resultCount(): Promise<number> {
    return this.#count(this.#s.countResults);
  }

  async listPending(limit: number, lane?: string): Promise<(QueueItem & { leased: boolean })[]> {
    return this.#guard(() => this.#listPendingTx(limit, lane), "list pending");
  }

  /**
   * The first `limit` of a lane (or of every lane) in lease order, leased or not, from one read: each
   * lane's first `limit` ready rows and every leased row, merged. 1,000,000 queued took ~0.3 s as one
   * sorted query over the queue; this reads at most `limit` rows a lane plus what consumers hold.
   */
  #listPendingTx = (limit: number, lane: string | undefined): (QueueItem & { leased: boolean })[] => {
    type Row = QueueItem & { seq: number; leased: boolean };
    const s = this.#s;
    const rows: Row[] = [];
    const lanes = lane === undefined ? (s.readyLanes.all(this.queue) as { lane: string }[]).map((r) => r.lane) : [lane];
    for (const l of lanes) for (const r of s.listReadyLane.all(this.queue, l, limit) as Row[]) rows.push({ ...r, leased: false });
    const leased = (lane === undefined ? s.listLeased.all(this.queue) : s.listLeasedLane.all(this.queue, lane)) as Row[];
    for (const r of leased) rows.push({ ...r, leased: true });
    rows.sort(byLeaseOrder);
    return rows.slice(0, limit).map((r) => ({ id: r.id, name: r.name, lane: r.lane, priority: r.priority, payload: r.payload, leased: r.leased }));
  };

  async listScheduled(limit: number, lane?: string): Promise<ScheduledItem[]> {
    return this.#guard(
      () => (lane === undefined ? this.#s.listScheduled.all(this.queue, limit) : this.#s.listScheduledLane.all(this.queue, limit, lane)),
      "list scheduled",
    ) as ScheduledItem[];
  }

  async flush(): Promise<void> {
    this.#guard(
      () =>
        this.#db.transaction(() => {
          // Not lock_fences: a fence handed out before the flush must never be handed out again.
          for (const table of ["queue", "claims", "schedule", "results", "kv", "locks", "counters", "pauses"]) {
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
    return this.#closed ? null : this.#files.check();
  }

  /**
   * After a write of `rows` rows: wake waiters (see _wake.ts), and a checkpoint Worker that sleeps (see
   * _sqlite-checkpointer.ts), or count the rows towards starting one.
   */
  #touch(topic: Topic, rows = 1): void {
    this.#wake.touch(topic);
    this.#afterWrite(rows);
  }

  /** Poke the checkpoint Worker, or count the rows written; past OFFLOAD_AFTER_ROWS, start one (a producer's store). */
  #afterWrite(rows: number): void {
    if (this.#checkpointer) this.#checkpointer.poke();
    else if (this.#offloadable && (this.#written += rows) >= OFFLOAD_AFTER_ROWS) this.offloadCheckpoints();
  }

  /** Whether the WAL checkpoint runs in this storage's Worker (for tests and tools). */
  get checkpointsOffloaded(): boolean {
    return this.#checkpointer !== null;
  }

  /**
   * The WAL checkpoint runs in a Worker (see _sqlite-checkpointer.ts): the consumer's store at start,
   * any other once it has written OFFLOAD_AFTER_ROWS rows.
   */
  offloadCheckpoints(): void {
    if (this.#closed || this.#checkpointer || !this.#offloadable) return;
    this.#checkpointer = new Checkpointer(this.#db, resolve(this.filename));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#checkpointer?.stop();
    this.#wake.close();
    this.#db.close(false);
  }

  /** Direct access for tests and tools that inspect the file. */
  get database(): Database {
    return this.#db;
  }

  /** `stmt`'s count (of the queue, or of one lane); with `claimed`, plus or minus (`sign`) that count too, in one read. */
  #count(stmt: Statement, lane?: string, claimed?: Statement, sign = 1): Promise<number> {
    const n = (st: Statement) => ((lane === undefined ? st.get(this.queue) : st.get(this.queue, lane)) as { n: number }).n;
    return Promise.resolve(
      this.#guard(() => (claimed ? this.#db.transaction(() => n(stmt) + sign * n(claimed))() : n(stmt)), "count"),
    );
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

  /**
   * A write transaction (BEGIN IMMEDIATE: it takes the write lock first, so a busy start has written
   * nothing) that waits for another connection's write lock on the event loop, not inside SQLite's busy
   * handler, which sleeps with the thread blocked. A consumer's lease and commit go through here: a
   * producer's transaction of 100,000 enqueued tasks held the lock for 80-130 ms here, and the
   * consumer's thread was frozen that long (no Worker report read, no timeout fired, no signal
   * handled). Each attempt runs with busy_timeout 0; the store waits 1, 2, 4, then 8 ms between
   * attempts, as SQLite's own handler does, up to the store's busyTimeout, then throws as before.
   */
  async #unblocked<T>(fn: () => T, what: string): Promise<T> {
    let deadline = -1;
    let pause = 1;
    for (;;) {
      try {
        this.#db.run("PRAGMA busy_timeout = 0");
        return fn();
      } catch (err) {
        const busy = String((err as { code?: unknown }).code ?? "").startsWith("SQLITE_BUSY");
        if (!busy) throw describeSqliteError(err, this.filename, what);
        const now = performance.now();
        if (deadline < 0) deadline = now + this.#busyTimeout;
        if (now >= deadline) throw describeSqliteError(err, this.filename, what);
      } finally {
        if (!this.#closed) this.#db.run(this.#busyOn);
      }
      await Bun.sleep(Math.min(pause, Math.max(0, deadline - performance.now())));
      pause = Math.min(pause * 2, 8);
    }
  }

  #guard<T>(fn: () => T, what: string): T {
    try {
      return fn();
    } catch (err) {
      throw describeSqliteError(err, this.filename, what);
    }
  }
}

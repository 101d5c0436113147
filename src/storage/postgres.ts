import type { SQL } from "bun";
import { ConfigurationError } from "../errors";
import { prefixEnd } from "./_prefix";
import { enqueueInTransaction, groupCommit } from "./_postgres-commit";
import { PgConnection } from "./_postgres-connection";
import { countItems, leaseRows, listPaused, listPending, listScheduled, pauseLane, resumeLane } from "./_postgres-lanes";
import { columns, leaseColumns, putData, putResults, type Row, toNumberOrNull } from "./_postgres-sql";
import { enqueueDeduped, enqueueUnique } from "./_postgres-unique";
import { PgWake } from "./_postgres-wake";
import { pgLocate } from "./_postgres-locate";
import type { Topic } from "./_wake";
import type {
  CommitBatch, CommitReport, DedupOutcome, LeaseFilter, LeaseRef, LeasedItem, LockInfo, PausedLane, QueueItem, ResultItem, ScheduledItem,
  Storage,
} from "./types";
import { PURGE_ALL, purgeLimit } from "./types";

export interface PostgresStorageOptions {
  /** Connection URL, e.g. `postgres://user:password@host:5432/database`. */
  url: string;
  /** Queue name; several queues can share one schema. */
  queue: string;
  /**
   * Schema holding bun-huey's tables; created on first use. Letters, digits and `_` only, so it
   * can be used as an identifier without quoting surprises.
   * @default "huey"
   */
  schema?: string;
  /**
   * Pool size: queries of one instance that can run at once. Bun opens several connections on
   * the first query and more under load, up to this many. LISTEN uses one more, opened by the
   * first `waitForChange`. Mind the server's `max_connections` (100 by default) across processes.
   * @default 10
   */
  max?: number;
  /**
   * How long to wait for a new connection before failing, in ms.
   * @default 10000
   */
  connectTimeout?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/i;

/**
 * Storage on PostgreSQL through Bun's built-in client. Any number of processes share one schema:
 * leases use `FOR UPDATE SKIP LOCKED`, multi-statement steps run in one transaction, and writers
 * wake waiters in other processes with NOTIFY. Connects and migrates on the first call.
 */
export class PostgresStorage implements Storage {
  readonly kind = "postgres";
  readonly queue: string;
  readonly schema: string;
  #conn: PgConnection;
  #wake: PgWake;
  #turn = 0;

  /** Synchronous and offline: nothing connects until the first call. */
  constructor(options: PostgresStorageOptions) {
    this.queue = options.queue;
    this.schema = options.schema ?? "huey";
    if (!SCHEMA_NAME.test(this.schema) || this.schema.length > 63) {
      throw new ConfigurationError(
        `schema "${this.schema}" is not a valid name: use letters, digits and _ (not first), at most 63 characters`,
      );
    }
    this.#conn = new PgConnection({
      url: options.url, schema: this.schema, max: options.max ?? 10, connectTimeout: options.connectTimeout ?? 10_000,
    });
    this.#wake = new PgWake(this.#conn, `${this.schema}\n${this.queue}`);
  }

  async enqueue(items: QueueItem[]): Promise<void> {
    if (!items.length) return;
    const c = columns(items);
    await this.#wake.writeAndNotify("enqueue", "queue", ({ sql, t }) => sql`
      INSERT INTO ${t.queue} (queue, id, name, priority, payload, lane)
      SELECT ${this.queue}, * FROM unnest(${c.ids}::text[], ${c.names}::text[], ${c.priorities}::float8[], ${c.payloads}::text[],
                                          ${c.lanes}::text[])
      RETURNING 1`);
  }

  async schedule(items: ScheduledItem[]): Promise<void> {
    if (!items.length) return;
    const c = columns(items);
    // Notifies "queue" too: a scheduler may be sleeping towards a later eta.
    await this.#wake.writeAndNotify("schedule", "queue", ({ sql, t }) => sql`
      INSERT INTO ${t.schedule} (queue, id, name, priority, eta, payload, lane)
      SELECT ${this.queue}, * FROM unnest(${c.ids}::text[], ${c.names}::text[], ${c.priorities}::float8[],
                                          ${c.etas}::int8[], ${c.payloads}::text[], ${c.lanes}::text[])
      RETURNING 1`);
  }

  /** See leaseRows: one statement, the pause check included. */
  async lease(max: number, leaseUntil: number, filter?: LeaseFilter): Promise<LeasedItem[]> {
    if (max <= 0) return [];
    // Read before the query: a notification that arrives while it runs must still count as news.
    const gen = this.#wake.gen.queue;
    const turn = filter ? this.#turn++ : 0;
    const items = await this.#conn.run("lease", (db) => leaseRows(db, this.queue, max, leaseUntil, filter, turn));
    if (items.length < max) this.#wake.seen.queue = gen;
    return items;
  }

  pauseLane(lane: string, until: number | null): Promise<void> {
    return pauseLane(this.#conn, this.queue, lane, until);
  }

  resumeLane(lane: string): Promise<boolean> {
    return resumeLane(this.#wake, this.queue, lane);
  }

  listPaused(now: number): Promise<PausedLane[]> {
    return listPaused(this.#conn, this.queue, now);
  }

  async renew(leases: LeaseRef[], leaseUntil: number): Promise<string[]> {
    if (!leases.length) return [];
    const { ids, tokens } = leaseColumns(leases);
    const [row] = await this.#conn.run("renew", ({ sql, t }) => sql`
      WITH renewed AS (
        UPDATE ${t.queue} AS q SET leased_until = ${leaseUntil}
        FROM unnest(${ids}::text[], ${tokens}::text[]) AS l(id, token)
        WHERE q.queue = ${this.queue} AND q.id = l.id AND q.token = l.token
        RETURNING q.id)
      SELECT ARRAY(SELECT l.id FROM unnest(${ids}::text[]) WITH ORDINALITY AS l(id, ord)
                   WHERE l.id NOT IN (SELECT id FROM renewed) ORDER BY l.ord) AS lost`);
    return (row!.lost as string[]).map(String);
  }

  async release(leases: LeaseRef[], unstarted = false): Promise<number> {
    if (!leases.length) return 0;
    const { ids, tokens } = leaseColumns(leases);
    // Given back before they ran: these leases do not count towards maxLeases (Storage.release).
    const less = unstarted ? 1 : 0;
    return this.#wake.writeAndNotify("release", "queue", ({ sql, t }) => sql`
      UPDATE ${t.queue} AS q SET leased_until = NULL, token = NULL, leases = greatest(q.leases - ${less}::int, 0)
      FROM unnest(${ids}::text[], ${tokens}::text[]) AS l(id, token)
      WHERE q.queue = ${this.queue} AND q.id = l.id AND q.token = l.token
      RETURNING 1`);
  }

  async reclaimExpired(now: number): Promise<number> {
    // Notifies too: other consumers may be idle while these items wait.
    return this.#wake.writeAndNotify("reclaim expired leases", "queue", ({ sql, t }) => sql`
      UPDATE ${t.queue} SET leased_until = NULL, token = NULL
      WHERE queue = ${this.queue} AND leased_until IS NOT NULL AND leased_until < ${now}
      RETURNING 1`);
  }

  commit(batch: CommitBatch): Promise<CommitReport> {
    return groupCommit(this.#wake, this.queue, batch);
  }

  /**
   * Enqueue (ready) and schedule items inside the caller's own transaction: `tx` is the `tx` of
   * the application's `sql.begin(async (tx) => ...)` on a Bun.SQL connection to the same
   * database. The rows (and the NOTIFY that wakes consumers) become visible when that
   * transaction commits, and vanish with it on rollback. Migrates the schema first on this
   * storage's own connection, so the caller's transaction never runs DDL.
   */
  enqueueWith(tx: SQL, items: QueueItem[], scheduled: ScheduledItem[] = []): Promise<void> {
    return enqueueInTransaction(this.#conn, this.#wake, this.queue, tx, items, scheduled);
  }

  async promoteDue(now: number, limit: number): Promise<number> {
    if (limit <= 0) return 0;
    // One statement moves the rows and notifies; SKIP LOCKED lets two schedulers promote side by side.
    return this.#wake.notifying("promote scheduled tasks", ["queue"], async ({ sql, t }, notify) => {
      const [row] = await sql`
      WITH due AS (
        DELETE FROM ${t.schedule} WHERE queue = ${this.queue} AND id IN (
          SELECT id FROM ${t.schedule} WHERE queue = ${this.queue} AND eta <= ${now}
          ORDER BY eta, seq LIMIT ${limit} FOR UPDATE SKIP LOCKED)
        RETURNING queue, id, name, priority, payload, lane, eta, seq),
      moved AS (
        INSERT INTO ${t.queue} (queue, id, name, priority, payload, lane)
        SELECT queue, id, name, priority, payload, lane FROM due ORDER BY eta, seq
        RETURNING 1)
      SELECT (SELECT count(*)::int FROM moved) AS n,
             (SELECT pg_notify(${this.#wake.channels.queue}, ${this.#wake.self}) FROM moved WHERE ${notify} LIMIT 1) IS NULL AS _`;
      return Number(row!.n);
    });
  }

  async nextEta(): Promise<number | null> {
    const [row] = await this.#conn.run("read schedule", ({ sql, t }) => sql`
      SELECT min(eta) AS eta FROM ${t.schedule} WHERE queue = ${this.queue}`);
    return toNumberOrNull(row?.eta);
  }

  async putResult(item: ResultItem): Promise<void> {
    await this.#wake.writeAndNotify("store result", "results", ({ sql, t }) => putResults(sql, t, this.queue, [item]));
  }

  async getResult(id: string, preserve: boolean, now: number): Promise<string | null> {
    const gen = this.#wake.gen.results;
    const rows: Row[] = await this.#conn.run("read result", ({ sql, t }) =>
      preserve
        ? sql`SELECT payload FROM ${t.results}
              WHERE queue = ${this.queue} AND id = ${id} AND (expires_at IS NULL OR expires_at > ${now})`
        : sql`DELETE FROM ${t.results}
              WHERE queue = ${this.queue} AND id = ${id} AND (expires_at IS NULL OR expires_at > ${now})
              RETURNING payload`,
    );
    if (!rows.length) this.#wake.seen.results = gen;
    return rows.length ? String(rows[0]!.payload) : null;
  }

  async deleteResult(id: string): Promise<boolean> {
    const r = await this.#conn.run("delete result", ({ sql, t }) => sql`
      DELETE FROM ${t.results} WHERE queue = ${this.queue} AND id = ${id}`);
    return r.count > 0;
  }

  async putData(key: string, value: string): Promise<void> {
    await this.#conn.run("put data", ({ sql, t }) => putData(sql, t, this.queue, [{ key, value }]));
  }

  async putIfEmpty(key: string, value: string): Promise<boolean> {
    const r = await this.#conn.run("put data", ({ sql, t }) => sql`
      INSERT INTO ${t.kv} (queue, key, value) VALUES (${this.queue}, ${key}, ${value}) ON CONFLICT DO NOTHING`);
    return r.count > 0;
  }

  async getData(key: string, preserve: boolean): Promise<string | null> {
    const rows: Row[] = await this.#conn.run("read data", ({ sql, t }) =>
      preserve
        ? sql`SELECT value FROM ${t.kv} WHERE queue = ${this.queue} AND key = ${key}`
        : sql`DELETE FROM ${t.kv} WHERE queue = ${this.queue} AND key = ${key} RETURNING value`,
    );
    return rows.length ? String(rows[0]!.value) : null;
  }

  async deleteData(key: string): Promise<boolean> {
    const r = await this.#conn.run("delete data", ({ sql, t }) => sql`
      DELETE FROM ${t.kv} WHERE queue = ${this.queue} AND key = ${key}`);
    return r.count > 0;
  }

  async deleteDataIf(key: string, value: string): Promise<boolean> {
    const r = await this.#conn.run("delete data", ({ sql, t }) => sql`
      DELETE FROM ${t.kv} WHERE queue = ${this.queue} AND key = ${key} AND value = ${value}`);
    return r.count > 0;
  }

  locate(id: string) { return pgLocate(this.#conn, this.queue, id); }

  async hasTask(id: string): Promise<boolean> {
    const [row] = await this.#conn.run("find task", ({ sql, t }) => sql`
      SELECT EXISTS (SELECT 1 FROM ${t.queue} WHERE queue = ${this.queue} AND id = ${id})
          OR EXISTS (SELECT 1 FROM ${t.schedule} WHERE queue = ${this.queue} AND id = ${id}) AS found`);
    return row?.found === true;
  }

  async countData(prefix: string): Promise<number> {
    const end = prefixEnd(prefix);
    return this.#conn.count(({ sql, t }) =>
      end === null
        ? sql`SELECT count(*)::int AS n FROM ${t.kv} WHERE queue = ${this.queue} AND key >= ${prefix}`
        : sql`SELECT count(*)::int AS n FROM ${t.kv} WHERE queue = ${this.queue} AND key >= ${prefix} AND key < ${end}`,
    );
  }

  async listData(prefix: string, limit: number, after?: string): Promise<{ key: string; value: string }[]> {
    // Range scan on the primary key (COLLATE "C": code point order): prefix <= key < prefixEnd(prefix), key > after.
    const end = prefixEnd(prefix);
    const rows: Row[] = await this.#conn.run("list data", ({ sql, t }) => {
      const from = after === undefined ? sql`` : sql`AND key > ${after}`;
      return end === null
        ? sql`SELECT key, value FROM ${t.kv} WHERE queue = ${this.queue} AND key >= ${prefix} ${from} ORDER BY key LIMIT ${limit}`
        : sql`SELECT key, value FROM ${t.kv} WHERE queue = ${this.queue} AND key >= ${prefix} AND key < ${end} ${from} ORDER BY key LIMIT ${limit}`;
    });
    return rows.map((r) => ({ key: String(r.key), value: String(r.value) }));
  }

  async incr(key: string, by: number, expiresAt: number, now: number): Promise<number> {
    const [row] = await this.#conn.run("count", ({ sql, t }) => sql`
      INSERT INTO ${t.counters} AS c (queue, key, value, expires_at) VALUES (${this.queue}, ${key}, ${by}, ${expiresAt})
      ON CONFLICT (queue, key) DO UPDATE SET
        value = CASE WHEN c.expires_at > ${now} THEN c.value + excluded.value ELSE excluded.value END,
        expires_at = CASE WHEN c.expires_at > ${now} THEN c.expires_at ELSE excluded.expires_at END
      RETURNING value`);
    return Number(row!.value);
  }

  enqueueUnique(item: QueueItem | ScheduledItem, key: string): Promise<string | null> {
    return enqueueUnique(this.#wake, this.schema, this.queue, item, key);
  }

  enqueueDeduped(item: QueueItem | ScheduledItem, key: string, mode: "throttle" | "replace", until: number, now: number): Promise<DedupOutcome> {
    return enqueueDeduped(this.#wake, this.schema, this.queue, item, key, mode, until, now);
  }

  async acquireLock(key: string, owner: string, until: number, now: number): Promise<number | null> {
    // One statement: the fence is bumped only when the lock was taken. Two acquisitions of one
    // key cannot both take it (ON CONFLICT locks the row and checks the newest version), so
    // they never bump the same fence.
    const rows: Row[] = await this.#conn.run("acquire lock", ({ sql, t }) => sql`
      WITH taken AS (
        INSERT INTO ${t.locks} AS l (queue, key, owner, until) VALUES (${this.queue}, ${key}, ${owner}, ${until})
        ON CONFLICT (queue, key) DO UPDATE SET owner = excluded.owner, until = excluded.until
        WHERE l.until <= ${now} OR l.owner = excluded.owner
        RETURNING l.queue, l.key)
      INSERT INTO ${t.lockFences} AS f (queue, key, fence) SELECT queue, key, 1 FROM taken
      ON CONFLICT (queue, key) DO UPDATE SET fence = f.fence + 1
      RETURNING fence`);
    return rows.length ? Number(rows[0]!.fence) : null;
  }

  async renewLocks(keys: string[], owner: string, until: number): Promise<string[]> {
    if (!keys.length) return [];
    const rows: Row[] = await this.#conn.run("renew locks", ({ sql, t }) => sql`
      UPDATE ${t.locks} SET until = ${until}
      WHERE queue = ${this.queue} AND key = ANY(${keys}::text[]) AND owner = ${owner}
      RETURNING key`);
    const renewed = new Set(rows.map((r) => String(r.key)));
    return keys.filter((k) => !renewed.has(k));
  }

  async releaseLock(key: string, owner: string | null): Promise<boolean> {
    const r = await this.#conn.run("release lock", ({ sql, t }) =>
      owner === null
        ? sql`DELETE FROM ${t.locks} WHERE queue = ${this.queue} AND key = ${key}`
        : sql`DELETE FROM ${t.locks} WHERE queue = ${this.queue} AND key = ${key} AND owner = ${owner}`,
    );
    return r.count > 0;
  }

  async listLocks(now: number): Promise<LockInfo[]> {
    const rows: Row[] = await this.#conn.run("list locks", ({ sql, t }) => sql`
      SELECT l.key, l.owner, l.until, coalesce(f.fence, 0) AS fence
      FROM ${t.locks} AS l LEFT JOIN ${t.lockFences} AS f ON f.queue = l.queue AND f.key = l.key
      WHERE l.queue = ${this.queue} AND l.until > ${now} ORDER BY l.key`);
    // The holder's fence is its key's counter: only an acquisition bumps it, and it takes the lock.
    return rows.map((r) => ({ key: String(r.key), owner: String(r.owner), until: Number(r.until), fence: Number(r.fence) }));
  }

  async purgeExpired(now: number, limit: number = PURGE_ALL): Promise<number> {
    const n = purgeLimit(limit);
    // Each kind at most `n` rows per call, so one statement never holds its row locks for long.
    const [row] = await this.#conn.run("purge expired entries", ({ sql, t }) => sql`
      WITH r AS (DELETE FROM ${t.results} WHERE queue = ${this.queue} AND id IN (
             SELECT id FROM ${t.results} WHERE queue = ${this.queue} AND expires_at IS NOT NULL AND expires_at <= ${now} LIMIT ${n}
             FOR UPDATE SKIP LOCKED) RETURNING 1),
           c AS (DELETE FROM ${t.counters} WHERE queue = ${this.queue} AND key IN (
             SELECT key FROM ${t.counters} WHERE queue = ${this.queue} AND expires_at <= ${now} LIMIT ${n}
             FOR UPDATE SKIP LOCKED) RETURNING 1),
           l AS (DELETE FROM ${t.locks} WHERE queue = ${this.queue} AND key IN (
             SELECT key FROM ${t.locks} WHERE queue = ${this.queue} AND until <= ${now} LIMIT ${n}
             FOR UPDATE SKIP LOCKED) RETURNING 1)
      SELECT ((SELECT count(*) FROM r) + (SELECT count(*) FROM c) + (SELECT count(*) FROM l))::int AS n`);
    return Number(row!.n);
  }

  pendingCount(lane?: string): Promise<number> {
    return countItems(this.#conn, this.queue, "ready", lane);
  }

  leasedCount(lane?: string): Promise<number> {
    return countItems(this.#conn, this.queue, "leased", lane);
  }

  scheduledCount(lane?: string): Promise<number> {
    return countItems(this.#conn, this.queue, "scheduled", lane);
  }

  async resultCount(): Promise<number> {
    return this.#conn.count(({ sql, t }) => sql`SELECT count(*)::int AS n FROM ${t.results} WHERE queue = ${this.queue}`);
  }

  listPending(limit: number, lane?: string): Promise<(QueueItem & { leased: boolean })[]> {
    return listPending(this.#conn, this.queue, limit, lane);
  }

  listScheduled(limit: number, lane?: string): Promise<ScheduledItem[]> {
    return listScheduled(this.#conn, this.queue, limit, lane);
  }

  async flush(): Promise<void> {
    await this.#conn.run("flush", ({ sql, t }) =>
      sql.begin(async (tx) => {
        // Not lock_fences: a fence handed out before the flush must never be handed out again.
        for (const table of [t.queue, t.schedule, t.results, t.kv, t.locks, t.counters, t.pauses]) {
          await tx`DELETE FROM ${table} WHERE queue = ${this.queue}`;
        }
      }),
    );
  }

  waitForChange(timeoutMs: number, topic: Topic = "queue"): Promise<void> {
    if (this.#conn.closed) return Promise.resolve();
    return this.#wake.wait(timeoutMs, topic);
  }

  async close(): Promise<void> {
    if (this.#conn.closed) return;
    this.#conn.stop();
    await this.#wake.close();
    await this.#conn.end();
  }
}

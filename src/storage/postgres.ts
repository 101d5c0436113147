import { SQL } from "bun";
import { ConfigurationError, DuplicateIdError, StorageError } from "../errors";
import { touches, withHeld } from "./_fence";
import { prefixEnd } from "./_prefix";
import { Waiters } from "./_waiters";
import type { Topic } from "./_wake";
import { POSTGRES_MIGRATIONS } from "./sql/postgres/migrations";
import type {
  CommitBatch, CommitReport, FencedWrite, LeaseRef, LeasedItem, LockInfo, QueueItem, ResultItem, ScheduledItem, Storage,
} from "./types";

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

type Tables = Record<
  "queue" | "schedule" | "results" | "kv" | "locks" | "lockFences" | "counters" | "schemaVersion",
  SQL.Query<unknown>
>;
interface Db {
  sql: SQL;
  t: Tables;
}
type Row = Record<string, unknown>;

const TOPICS: Topic[] = ["queue", "results"];
const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/i;
/** Key space of pg_advisory_xact_lock(int, int) used for migrations: "huey" in ASCII. */
const MIGRATION_LOCK_CLASS = 0x68756579;
/**
 * A wait that started before the LISTEN was acknowledged may have missed a notification sent
 * in between: such a wait ends after at most this long, so the caller looks again.
 */
const UNCOVERED_WAIT_MS = 100;
/** How long close() lets running queries finish, in seconds. */
const CLOSE_TIMEOUT_S = 5;

/**
 * Storage on PostgreSQL through Bun's built-in client. Any number of processes share one schema:
 * leases use `FOR UPDATE SKIP LOCKED`, multi-statement steps run in one transaction, and writers
 * wake waiters in other processes with NOTIFY. Connects and migrates on the first call.
 */
export class PostgresStorage implements Storage {
  readonly kind = "postgres";
  readonly queue: string;
  readonly schema: string;
  #url: string;
  #max: number;
  #connectTimeout: number;
  #ready: Promise<Db> | null = null;
  #sql: SQL | null = null;
  #closed = false;
  // Wake-ups: one channel per topic; a notification bumps its topic's generation.
  #channels: Record<Topic, string>;
  /** Sent as the NOTIFY payload so this instance can ignore its own notifications (it wakes locally). */
  #self = crypto.randomUUID();
  #waiters: Record<Topic, Waiters> = { queue: new Waiters("queue"), results: new Waiters("results") };
  #gen: Record<Topic, number> = { queue: 0, results: 0 };
  /** The generation at the caller's last read that found nothing; -1 before any. */
  #seen: Record<Topic, number> = { queue: -1, results: -1 };
  #listening: Promise<void> | null = null;
  /** True once LISTEN was acknowledged: from then on every foreign write wakes us. */
  #listenAcked = false;
  /** Notifying writes of this instance under way, per topic (see #notifying). */
  #writing: Record<Topic, number> = { queue: 0, results: 0 };
  /** The coalesced NOTIFY under way per topic, and whether another must follow it. */
  #pending: Record<Topic, Promise<void> | null> = { queue: null, results: null };
  #again: Record<Topic, boolean> = { queue: false, results: false };

  /** Synchronous and offline: nothing connects until the first call. */
  constructor(options: PostgresStorageOptions) {
    this.queue = options.queue;
    this.schema = options.schema ?? "huey";
    if (!SCHEMA_NAME.test(this.schema) || this.schema.length > 63) {
      throw new ConfigurationError(
        `schema "${this.schema}" is not a valid name: use letters, digits and _ (not first), at most 63 characters`,
      );
    }
    this.#url = options.url;
    this.#max = options.max ?? 10;
    this.#connectTimeout = options.connectTimeout ?? 10_000;
    const key = `${this.schema}\n${this.queue}`;
    this.#channels = { queue: channelName(key, "queue"), results: channelName(key, "results") };
  }

  async enqueue(items: QueueItem[]): Promise<void> {
    if (!items.length) return;
    const c = columns(items);
    await this.#writeAndNotify("enqueue", "queue", ({ sql, t }) => sql`
      INSERT INTO ${t.queue} (queue, id, name, priority, payload)
      SELECT ${this.queue}, * FROM unnest(${c.ids}::text[], ${c.names}::text[], ${c.priorities}::float8[], ${c.payloads}::text[])
      RETURNING 1`);
  }

  async schedule(items: ScheduledItem[]): Promise<void> {
    if (!items.length) return;
    const c = columns(items);
    // Notifies "queue" too: a scheduler may be sleeping towards a later eta.
    await this.#writeAndNotify("schedule", "queue", ({ sql, t }) => sql`
      INSERT INTO ${t.schedule} (queue, id, name, priority, eta, payload)
      SELECT ${this.queue}, * FROM unnest(${c.ids}::text[], ${c.names}::text[], ${c.priorities}::float8[],
                                          ${c.etas}::int8[], ${c.payloads}::text[])
      RETURNING 1`);
  }

  async lease(max: number, leaseUntil: number): Promise<LeasedItem[]> {
    if (max <= 0) return [];
    // Read before the query: a notification that arrives while it runs must still count as news.
    const gen = this.#gen.queue;
    const rows: Row[] = await this.#run("lease", ({ sql, t }) => sql`
      UPDATE ${t.queue} SET leased_until = ${leaseUntil}, token = ${crypto.randomUUID()}, leases = leases + 1
      WHERE seq IN (SELECT seq FROM ${t.queue} WHERE queue = ${this.queue} AND leased_until IS NULL
                    ORDER BY priority DESC, seq LIMIT ${max} FOR UPDATE SKIP LOCKED)
      RETURNING seq, id, name, priority, payload, token, leases`);
    if (rows.length < max) this.#seen.queue = gen;
    // RETURNING gives no order guarantee: restore lease order.
    const items = rows.map((r) => ({ seq: Number(r.seq), item: toLeased(r) }));
    items.sort((a, b) => b.item.priority - a.item.priority || a.seq - b.seq);
    return items.map((x) => x.item);
  }

  async renew(leases: LeaseRef[], leaseUntil: number): Promise<string[]> {
    if (!leases.length) return [];
    const { ids, tokens } = leaseColumns(leases);
    const [row] = await this.#run("renew", ({ sql, t }) => sql`
      WITH renewed AS (
        UPDATE ${t.queue} AS q SET leased_until = ${leaseUntil}
        FROM unnest(${ids}::text[], ${tokens}::text[]) AS l(id, token)
        WHERE q.queue = ${this.queue} AND q.id = l.id AND q.token = l.token
        RETURNING q.id)
      SELECT ARRAY(SELECT l.id FROM unnest(${ids}::text[]) WITH ORDINALITY AS l(id, ord)
                   WHERE l.id NOT IN (SELECT id FROM renewed) ORDER BY l.ord) AS lost`);
    return (row!.lost as string[]).map(String);
  }

  async release(leases: LeaseRef[]): Promise<number> {
    if (!leases.length) return 0;
    const { ids, tokens } = leaseColumns(leases);
    return this.#writeAndNotify("release", "queue", ({ sql, t }) => sql`
      UPDATE ${t.queue} AS q SET leased_until = NULL, token = NULL
      FROM unnest(${ids}::text[], ${tokens}::text[]) AS l(id, token)
      WHERE q.queue = ${this.queue} AND q.id = l.id AND q.token = l.token
      RETURNING 1`);
  }

  async reclaimExpired(now: number): Promise<number> {
    // Notifies too: other consumers may be idle while these items wait.
    return this.#writeAndNotify("reclaim expired leases", "queue", ({ sql, t }) => sql`
      UPDATE ${t.queue} SET leased_until = NULL, token = NULL
      WHERE queue = ${this.queue} AND leased_until IS NOT NULL AND leased_until < ${now}
      RETURNING 1`);
  }

  async commit(batch: CommitBatch): Promise<CommitReport> {
    const tasks = batch.tasks ?? [];
    const touched = touches(batch);
    const topics: Topic[] = [];
    if (touched.results) topics.push("results");
    if (touched.queue) topics.push("queue");
    if (!batch.ack?.length && !tasks.length && !topics.length && !batch.putData?.length && !batch.deleteData?.length) {
      return { lost: [] };
    }
    let lost: string[] = [];
    if (canCommitInOneStatement(batch)) {
      await this.#notifying("commit", topics, async (db, notify) => {
        lost = await this.#commitStatement(db, batch, notify ? topics : []);
        return 1;
      });
      return { lost };
    }
    await this.#notifying("commit", topics, ({ sql, t }, notify) =>
      sql.begin(async (tx) => {
        // The fences and the acks in one statement: a task holds when its ack deleted its row.
        let held: FencedWrite[] = tasks;
        const acks = tasks.length ? [...(batch.ack ?? []), ...tasks.map((f) => f.lease)] : (batch.ack ?? []);
        if (acks.length) {
          const { ids, tokens } = leaseColumns(acks);
          const rows: Row[] = await tx`
            DELETE FROM ${t.queue} WHERE queue = ${this.queue} AND (id, token) IN (SELECT * FROM unnest(${ids}::text[], ${tokens}::text[]))
            RETURNING id`;
          if (tasks.length) {
            const acked = new Set(rows.map((r) => String(r.id)));
            held = [];
            for (const f of tasks) {
              if (acked.has(f.lease.id)) held.push(f);
              else lost.push(f.lease.id);
            }
          }
        }
        const w = tasks.length ? withHeld(batch, held) : batch;
        if (w.results?.length) await this.#putResults(tx, t, w.results);
        if (w.enqueue?.length) {
          const c = columns(w.enqueue);
          await tx`INSERT INTO ${t.queue} (queue, id, name, priority, payload)
            SELECT ${this.queue}, * FROM unnest(${c.ids}::text[], ${c.names}::text[], ${c.priorities}::float8[], ${c.payloads}::text[])`;
        }
        if (w.schedule?.length) {
          const c = columns(w.schedule);
          await tx`INSERT INTO ${t.schedule} (queue, id, name, priority, eta, payload)
            SELECT ${this.queue}, * FROM unnest(${c.ids}::text[], ${c.names}::text[], ${c.priorities}::float8[],
                                                ${c.etas}::int8[], ${c.payloads}::text[])`;
        }
        if (w.putData?.length) await this.#putData(tx, t, w.putData);
        if (w.deleteData?.length) {
          await tx`DELETE FROM ${t.kv} WHERE queue = ${this.queue} AND key = ANY(${w.deleteData}::text[])`;
        }
        const locks = tasks.flatMap((f) => f.releaseLocks ?? []);
        if (locks.length) {
          await tx`DELETE FROM ${t.locks} AS k USING unnest(${locks.map((l) => l.key)}::text[], ${locks.map((l) => l.owner)}::text[]) AS u(key, owner)
            WHERE k.queue = ${this.queue} AND k.key = u.key AND k.owner = u.owner`;
        }
        // Inside the transaction: delivered on COMMIT, dropped on ROLLBACK.
        if (notify && topics.length) {
          const channels = topics.map((topic) => this.#channels[topic]);
          await tx`SELECT pg_notify(c, ${this.#self}) FROM unnest(${channels}::text[]) AS c`;
        }
        return 1;
      }),
    );
    return { lost };
  }

  /**
   * The group commit as ONE statement (one round trip, one implicit transaction) instead of
   * BEGIN, a statement per part, NOTIFY and COMMIT: 5-7 round trips before. The text never
   * changes (empty arrays write nothing), so the server plans it once per connection. Data-
   * modifying CTEs run in an unspecified order, so callers use it only when no two parts touch
   * the same row (see canCommitInOneStatement).
   *
   * The fence: every row a task writes carries its task's id as `owner` (null for the unfenced
   * part) and is written only if `acked`, the DELETE of the acks, returned that id, i.e. only if
   * the task's token still held its row. Returns the ids of the tasks whose lease was lost.
   */
  async #commitStatement({ sql, t }: Db, batch: CommitBatch, notify: Topic[]): Promise<string[]> {
    const tasks = batch.tasks ?? [];
    const ack = leaseColumns(tasks.length ? [...(batch.ack ?? []), ...tasks.map((f) => f.lease)] : (batch.ack ?? []));
    // Last wins per id / key (ON CONFLICT cannot touch a row twice); canCommitInOneStatement
    // made sure that no id or key is written by two owners.
    const results = [...new Map(owned(batch, (b) => b.results).map((o) => [o.row.id, o])).values()];
    const enq = owned(batch, (b) => b.enqueue);
    const sch = owned(batch, (b) => b.schedule);
    const puts = [...new Map(owned(batch, (b) => b.putData).map((o) => [o.row.key, o])).values()];
    const dels = owned(batch, (b) => b.deleteData);
    const locks = tasks.flatMap((f) => f.releaseLocks ?? []);
    const ec = columns(enq.map((o) => o.row));
    const sc = columns(sch.map((o) => o.row));
    const owners = (rows: { owner: string | null }[]) => rows.map((o) => o.owner);
    const channels = notify.map((topic) => this.#channels[topic]);
    const [row] = await sql`
      WITH acked AS (
        DELETE FROM ${t.queue} AS q USING unnest(${ack.ids}::text[], ${ack.tokens}::text[]) AS l(id, token)
        WHERE q.queue = ${this.queue} AND q.id = l.id AND q.token = l.token
        RETURNING q.id),
      res AS (
        INSERT INTO ${t.results} (queue, id, payload, expires_at)
        SELECT ${this.queue}, r.id, r.payload, r.expires_at
        FROM unnest(${results.map((o) => o.row.id)}::text[], ${results.map((o) => o.row.payload)}::text[],
                    ${results.map((o) => o.row.expiresAt ?? null)}::int8[], ${owners(results)}::text[]) AS r(id, payload, expires_at, owner)
        WHERE r.owner IS NULL OR r.owner IN (SELECT id FROM acked)
        ON CONFLICT (queue, id) DO UPDATE SET payload = excluded.payload, expires_at = excluded.expires_at),
      enq AS (
        INSERT INTO ${t.queue} (queue, id, name, priority, payload)
        SELECT ${this.queue}, e.id, e.name, e.priority, e.payload
        FROM unnest(${ec.ids}::text[], ${ec.names}::text[], ${ec.priorities}::float8[], ${ec.payloads}::text[],
                    ${owners(enq)}::text[]) AS e(id, name, priority, payload, owner)
        WHERE e.owner IS NULL OR e.owner IN (SELECT id FROM acked)),
      sch AS (
        INSERT INTO ${t.schedule} (queue, id, name, priority, eta, payload)
        SELECT ${this.queue}, s.id, s.name, s.priority, s.eta, s.payload
        FROM unnest(${sc.ids}::text[], ${sc.names}::text[], ${sc.priorities}::float8[], ${sc.etas}::int8[],
                    ${sc.payloads}::text[], ${owners(sch)}::text[]) AS s(id, name, priority, eta, payload, owner)
        WHERE s.owner IS NULL OR s.owner IN (SELECT id FROM acked)),
      put AS (
        INSERT INTO ${t.kv} (queue, key, value)
        SELECT ${this.queue}, p.key, p.value
        FROM unnest(${puts.map((o) => o.row.key)}::text[], ${puts.map((o) => o.row.value)}::text[], ${owners(puts)}::text[])
          AS p(key, value, owner)
        WHERE p.owner IS NULL OR p.owner IN (SELECT id FROM acked)
        ON CONFLICT (queue, key) DO UPDATE SET value = excluded.value),
      del AS (
        DELETE FROM ${t.kv} WHERE queue = ${this.queue} AND key IN (
          SELECT d.key FROM unnest(${dels.map((o) => o.row)}::text[], ${owners(dels)}::text[]) AS d(key, owner)
          WHERE d.owner IS NULL OR d.owner IN (SELECT id FROM acked))),
      unlock AS (
        DELETE FROM ${t.locks} AS k USING unnest(${locks.map((l) => l.key)}::text[], ${locks.map((l) => l.owner)}::text[]) AS u(key, owner)
        WHERE k.queue = ${this.queue} AND k.key = u.key AND k.owner = u.owner)
      SELECT ARRAY(SELECT f.id FROM unnest(${tasks.map((f) => f.lease.id)}::text[]) WITH ORDINALITY AS f(id, ord)
                   WHERE f.id NOT IN (SELECT id FROM acked) ORDER BY f.ord) AS lost,
             count(pg_notify(c, ${this.#self})) AS n
      FROM unnest(${channels}::text[]) AS c`;
    return (row!.lost as string[]).map(String);
  }

  /**
   * Enqueue (ready) and schedule items inside the caller's own transaction: `tx` is the `tx` of
   * the application's `sql.begin(async (tx) => ...)` on a Bun.SQL connection to the same
   * database. The rows (and the NOTIFY that wakes consumers) become visible when that
   * transaction commits, and vanish with it on rollback. Migrates the schema first on this
   * storage's own connection, so the caller's transaction never runs DDL.
   */
  async enqueueWith(tx: SQL, items: QueueItem[], scheduled: ScheduledItem[] = []): Promise<void> {
    if (!items.length && !scheduled.length) return;
    await this.#connect("enqueue");
    const t = tables(tx, this.schema);
    const c = columns(items);
    const s = columns(scheduled);
    const channel = this.#channels.queue;
    try {
      await tx`
        WITH enq AS (
          INSERT INTO ${t.queue} (queue, id, name, priority, payload)
          SELECT ${this.queue}, * FROM unnest(${c.ids}::text[], ${c.names}::text[], ${c.priorities}::float8[], ${c.payloads}::text[])),
        sch AS (
          INSERT INTO ${t.schedule} (queue, id, name, priority, eta, payload)
          SELECT ${this.queue}, * FROM unnest(${s.ids}::text[], ${s.names}::text[], ${s.priorities}::float8[],
                                              ${s.etas}::int8[], ${s.payloads}::text[]))
        SELECT pg_notify(${channel}, 'tx')`;
    } catch (err) {
      throw describePgError(err, this.#url, "enqueue in transaction");
    }
  }

  async promoteDue(now: number, limit: number): Promise<number> {
    if (limit <= 0) return 0;
    // One statement moves the rows and notifies; SKIP LOCKED lets two schedulers promote side by side.
    return this.#notifying("promote scheduled tasks", ["queue"], async ({ sql, t }, notify) => {
      const [row] = await sql`
      WITH due AS (
        DELETE FROM ${t.schedule} WHERE queue = ${this.queue} AND id IN (
          SELECT id FROM ${t.schedule} WHERE queue = ${this.queue} AND eta <= ${now}
          ORDER BY eta, seq LIMIT ${limit} FOR UPDATE SKIP LOCKED)
        RETURNING queue, id, name, priority, payload, eta, seq),
      moved AS (
        INSERT INTO ${t.queue} (queue, id, name, priority, payload)
        SELECT queue, id, name, priority, payload FROM due ORDER BY eta, seq
        RETURNING 1)
      SELECT (SELECT count(*)::int FROM moved) AS n,
             (SELECT pg_notify(${this.#channels.queue}, ${this.#self}) FROM moved WHERE ${notify} LIMIT 1) IS NULL AS _`;
      return Number(row!.n);
    });
  }

  async nextEta(): Promise<number | null> {
    const [row] = await this.#run("read schedule", ({ sql, t }) => sql`
      SELECT min(eta) AS eta FROM ${t.schedule} WHERE queue = ${this.queue}`);
    return toNumberOrNull(row?.eta);
  }

  async putResult(item: ResultItem): Promise<void> {
    await this.#writeAndNotify("store result", "results", ({ sql, t }) => this.#putResults(sql, t, [item]));
  }

  async getResult(id: string, preserve: boolean, now: number): Promise<string | null> {
    const gen = this.#gen.results;
    const rows: Row[] = await this.#run("read result", ({ sql, t }) =>
      preserve
        ? sql`SELECT payload FROM ${t.results}
              WHERE queue = ${this.queue} AND id = ${id} AND (expires_at IS NULL OR expires_at > ${now})`
        : sql`DELETE FROM ${t.results}
              WHERE queue = ${this.queue} AND id = ${id} AND (expires_at IS NULL OR expires_at > ${now})
              RETURNING payload`,
    );
    if (!rows.length) this.#seen.results = gen;
    return rows.length ? String(rows[0]!.payload) : null;
  }

  async deleteResult(id: string): Promise<boolean> {
    const r = await this.#run("delete result", ({ sql, t }) => sql`
      DELETE FROM ${t.results} WHERE queue = ${this.queue} AND id = ${id}`);
    return r.count > 0;
  }

  async putData(key: string, value: string): Promise<void> {
    await this.#run("put data", ({ sql, t }) => this.#putData(sql, t, [{ key, value }]));
  }

  async putIfEmpty(key: string, value: string): Promise<boolean> {
    const r = await this.#run("put data", ({ sql, t }) => sql`
      INSERT INTO ${t.kv} (queue, key, value) VALUES (${this.queue}, ${key}, ${value}) ON CONFLICT DO NOTHING`);
    return r.count > 0;
  }

  async getData(key: string, preserve: boolean): Promise<string | null> {
    const rows: Row[] = await this.#run("read data", ({ sql, t }) =>
      preserve
        ? sql`SELECT value FROM ${t.kv} WHERE queue = ${this.queue} AND key = ${key}`
        : sql`DELETE FROM ${t.kv} WHERE queue = ${this.queue} AND key = ${key} RETURNING value`,
    );
    return rows.length ? String(rows[0]!.value) : null;
  }

  async deleteData(key: string): Promise<boolean> {
    const r = await this.#run("delete data", ({ sql, t }) => sql`
      DELETE FROM ${t.kv} WHERE queue = ${this.queue} AND key = ${key}`);
    return r.count > 0;
  }

  async hasTask(id: string): Promise<boolean> {
    const [row] = await this.#run("find task", ({ sql, t }) => sql`
      SELECT EXISTS (SELECT 1 FROM ${t.queue} WHERE queue = ${this.queue} AND id = ${id})
          OR EXISTS (SELECT 1 FROM ${t.schedule} WHERE queue = ${this.queue} AND id = ${id}) AS found`);
    return row?.found === true;
  }

  async countData(prefix: string): Promise<number> {
    const end = prefixEnd(prefix);
    return this.#count(({ sql, t }) =>
      end === null
        ? sql`SELECT count(*)::int AS n FROM ${t.kv} WHERE queue = ${this.queue} AND key >= ${prefix}`
        : sql`SELECT count(*)::int AS n FROM ${t.kv} WHERE queue = ${this.queue} AND key >= ${prefix} AND key < ${end}`,
    );
  }

  async listData(prefix: string, limit: number): Promise<{ key: string; value: string }[]> {
    // Range scan on the primary key (COLLATE "C": code point order): prefix <= key < prefixEnd(prefix).
    const end = prefixEnd(prefix);
    const rows: Row[] = await this.#run("list data", ({ sql, t }) =>
      end === null
        ? sql`SELECT key, value FROM ${t.kv} WHERE queue = ${this.queue} AND key >= ${prefix} ORDER BY key LIMIT ${limit}`
        : sql`SELECT key, value FROM ${t.kv} WHERE queue = ${this.queue} AND key >= ${prefix} AND key < ${end} ORDER BY key LIMIT ${limit}`,
    );
    return rows.map((r) => ({ key: String(r.key), value: String(r.value) }));
  }

  async incr(key: string, by: number, expiresAt: number, now: number): Promise<number> {
    const [row] = await this.#run("count", ({ sql, t }) => sql`
      INSERT INTO ${t.counters} AS c (queue, key, value, expires_at) VALUES (${this.queue}, ${key}, ${by}, ${expiresAt})
      ON CONFLICT (queue, key) DO UPDATE SET
        value = CASE WHEN c.expires_at > ${now} THEN c.value + excluded.value ELSE excluded.value END,
        expires_at = CASE WHEN c.expires_at > ${now} THEN c.expires_at ELSE excluded.expires_at END
      RETURNING value`);
    return Number(row!.value);
  }

  async enqueueUnique(item: QueueItem | ScheduledItem, key: string): Promise<string | null> {
    let holder: string | null = null;
    await this.#notifying("enqueue", ["queue"], ({ sql, t }, notify) =>
      sql.begin(async (tx) => {
        // Serialise callers of this key: the check and the insert must not interleave. Hash
        // collisions only make unrelated keys wait for each other.
        await tx`SELECT pg_advisory_xact_lock(hashtextextended(${`${this.schema}\n${this.queue}\n${key}`}, 0))`;
        const [held] = await tx`
          SELECT k.value FROM ${t.kv} AS k WHERE k.queue = ${this.queue} AND k.key = ${key}
            AND (EXISTS (SELECT 1 FROM ${t.queue} WHERE queue = k.queue AND id = k.value)
              OR EXISTS (SELECT 1 FROM ${t.schedule} WHERE queue = k.queue AND id = k.value))`;
        if (held) {
          holder = String(held.value);
          return 0;
        }
        if ("eta" in item) {
          await tx`INSERT INTO ${t.schedule} (queue, id, name, priority, eta, payload)
            VALUES (${this.queue}, ${item.id}, ${item.name}, ${item.priority}, ${item.eta}, ${item.payload})`;
        } else {
          await tx`INSERT INTO ${t.queue} (queue, id, name, priority, payload)
            VALUES (${this.queue}, ${item.id}, ${item.name}, ${item.priority}, ${item.payload})`;
        }
        await this.#putData(tx, t, [{ key, value: item.id }]);
        if (notify) await tx`SELECT pg_notify(${this.#channels.queue}, ${this.#self})`;
        return 1;
      }),
    );
    return holder;
  }

  async acquireLock(key: string, owner: string, until: number, now: number): Promise<number | null> {
    // One statement: the fence is bumped only when the lock was taken. Two acquisitions of one
    // key cannot both take it (ON CONFLICT locks the row and checks the newest version), so
    // they never bump the same fence.
    const rows: Row[] = await this.#run("acquire lock", ({ sql, t }) => sql`
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
    const rows: Row[] = await this.#run("renew locks", ({ sql, t }) => sql`
      UPDATE ${t.locks} SET until = ${until}
      WHERE queue = ${this.queue} AND key = ANY(${keys}::text[]) AND owner = ${owner}
      RETURNING key`);
    const renewed = new Set(rows.map((r) => String(r.key)));
    return keys.filter((k) => !renewed.has(k));
  }

  async releaseLock(key: string, owner: string | null): Promise<boolean> {
    const r = await this.#run("release lock", ({ sql, t }) =>
      owner === null
        ? sql`DELETE FROM ${t.locks} WHERE queue = ${this.queue} AND key = ${key}`
        : sql`DELETE FROM ${t.locks} WHERE queue = ${this.queue} AND key = ${key} AND owner = ${owner}`,
    );
    return r.count > 0;
  }

  async listLocks(now: number): Promise<LockInfo[]> {
    const rows: Row[] = await this.#run("list locks", ({ sql, t }) => sql`
      SELECT l.key, l.owner, l.until, coalesce(f.fence, 0) AS fence
      FROM ${t.locks} AS l LEFT JOIN ${t.lockFences} AS f ON f.queue = l.queue AND f.key = l.key
      WHERE l.queue = ${this.queue} AND l.until > ${now} ORDER BY l.key`);
    // The holder's fence is its key's counter: only an acquisition bumps it, and it takes the lock.
    return rows.map((r) => ({ key: String(r.key), owner: String(r.owner), until: Number(r.until), fence: Number(r.fence) }));
  }

  async purgeExpired(now: number): Promise<number> {
    const [row] = await this.#run("purge expired entries", ({ sql, t }) => sql`
      WITH r AS (DELETE FROM ${t.results} WHERE queue = ${this.queue} AND expires_at IS NOT NULL AND expires_at <= ${now} RETURNING 1),
           c AS (DELETE FROM ${t.counters} WHERE queue = ${this.queue} AND expires_at <= ${now} RETURNING 1),
           l AS (DELETE FROM ${t.locks} WHERE queue = ${this.queue} AND until <= ${now} RETURNING 1)
      SELECT ((SELECT count(*) FROM r) + (SELECT count(*) FROM c) + (SELECT count(*) FROM l))::int AS n`);
    return Number(row!.n);
  }

  async pendingCount(): Promise<number> {
    return this.#count(({ sql, t }) => sql`
      SELECT count(*)::int AS n FROM ${t.queue} WHERE queue = ${this.queue} AND leased_until IS NULL`);
  }

  async leasedCount(): Promise<number> {
    return this.#count(({ sql, t }) => sql`
      SELECT count(*)::int AS n FROM ${t.queue} WHERE queue = ${this.queue} AND leased_until IS NOT NULL`);
  }

  async scheduledCount(): Promise<number> {
    return this.#count(({ sql, t }) => sql`SELECT count(*)::int AS n FROM ${t.schedule} WHERE queue = ${this.queue}`);
  }

  async resultCount(): Promise<number> {
    return this.#count(({ sql, t }) => sql`SELECT count(*)::int AS n FROM ${t.results} WHERE queue = ${this.queue}`);
  }

  async listPending(limit: number): Promise<(QueueItem & { leased: boolean })[]> {
    const rows: Row[] = await this.#run("list pending", ({ sql, t }) => sql`
      SELECT id, name, priority, payload, leased_until IS NOT NULL AS leased FROM ${t.queue}
      WHERE queue = ${this.queue} ORDER BY priority DESC, seq LIMIT ${limit}`);
    return rows.map((r) => ({ ...toItem(r), leased: r.leased === true }));
  }

  async listScheduled(limit: number): Promise<ScheduledItem[]> {
    const rows: Row[] = await this.#run("list scheduled", ({ sql, t }) => sql`
      SELECT id, name, priority, eta, payload FROM ${t.schedule}
      WHERE queue = ${this.queue} ORDER BY eta, seq LIMIT ${limit}`);
    return rows.map((r) => ({ ...toItem(r), eta: Number(r.eta) }));
  }

  async flush(): Promise<void> {
    await this.#run("flush", ({ sql, t }) =>
      sql.begin(async (tx) => {
        // Not lock_fences: a fence handed out before the flush must never be handed out again.
        for (const table of [t.queue, t.schedule, t.results, t.kv, t.locks, t.counters]) {
          await tx`DELETE FROM ${table} WHERE queue = ${this.queue}`;
        }
      }),
    );
  }

  waitForChange(timeoutMs: number, topic: Topic = "queue"): Promise<void> {
    if (this.#closed) return Promise.resolve();
    // Until the LISTEN is acknowledged notifications do not reach us, so such a wait is cut short
    // and the caller looks again soon: a short poll while starting, or while the server is down.
    const covered = this.#listenAcked;
    if (!covered) this.#listen();
    // A notification that came after the caller's last empty read must not be slept through.
    if (this.#seen[topic] !== -1 && this.#seen[topic] !== this.#gen[topic]) {
      this.#seen[topic] = this.#gen[topic];
      return Promise.resolve();
    }
    this.#seen[topic] = this.#gen[topic];
    if (covered) return this.#waiters[topic].wait(timeoutMs);
    return this.#waiters[topic].wait(Math.min(timeoutMs, UNCOVERED_WAIT_MS), "poll");
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const topic of TOPICS) this.#waiters[topic].wakeAll();
    // Let notifications of committed writes go out before the pool closes.
    await Promise.all(TOPICS.map((topic) => this.#pending[topic]));
    const sql = this.#sql;
    this.#sql = null;
    // Also closes the LISTEN connection, so the process can exit.
    if (sql) await sql.close({ timeout: CLOSE_TIMEOUT_S }).catch(() => {});
  }

  /** Connect and migrate once; a failure is not memoised, so the next call tries again. */
  #connect(what: string): Promise<Db> {
    if (this.#closed) return Promise.reject(new StorageError(`${what}: this PostgreSQL storage is closed`));
    this.#ready ??= this.#open().catch((err) => {
      this.#ready = null;
      throw err;
    });
    return this.#ready;
  }

  async #open(): Promise<Db> {
    let sql: SQL;
    try {
      sql = new SQL({
        url: this.#url,
        max: this.#max,
        // Bun counts in seconds.
        connectionTimeout: Math.max(1, Math.ceil(this.#connectTimeout / 1000)),
      });
    } catch (err) {
      throw describePgError(err, this.#url, "connect");
    }
    if (this.#closed) {
      await sql.close({ timeout: 0 });
      throw new StorageError("connect: this PostgreSQL storage is closed");
    }
    this.#sql = sql;
    const db = { sql, t: tables(sql, this.schema) };
    try {
      await migrate(db, this.schema);
    } catch (err) {
      this.#sql = null;
      await sql.close({ timeout: 0 }).catch(() => {});
      throw describePgError(err, this.#url, "connect");
    }
    return db;
  }

  /**
   * LISTEN on both topics' channels, once: Bun keeps one dedicated connection for it, reconnects
   * it when it drops and re-subscribes. A failure is not memoised; the next wait tries again.
   */
  #listen(): void {
    this.#listening ??= (async () => {
      const { sql } = await this.#connect("listen");
      let acks = 0;
      for (const topic of TOPICS) {
        await sql.listen(
          this.#channels[topic],
          (payload) => {
            // Our own writes already woke this instance (#wakeLocal).
            if (payload !== this.#self) this.#notified(topic);
          },
          () => {
            // The first acks are the subscriptions; a later one follows a reconnect, and
            // notifications sent while the connection was down are lost: wake everyone.
            if (++acks > TOPICS.length) for (const t of TOPICS) this.#notified(t);
          },
        );
      }
      this.#listenAcked = true;
    })().catch(() => {
      // Server down or closing: waits stay short; the caller's next query reports the error.
      this.#listening = null;
    });
  }

  #notified(topic: Topic): void {
    this.#gen[topic]++;
    this.#waiters[topic].wakeAll();
  }

  /**
   * Our own writes wake this instance at once, without the round trip through NOTIFY; counted
   * like a notification so a caller between its read and its wait does not sleep through them.
   */
  #wakeLocal(topic: Topic): void {
    this.#notified(topic);
  }

  async #run<T>(what: string, fn: (db: Db) => Promise<T>): Promise<T> {
    const db = await this.#connect(what);
    try {
      return await fn(db);
    } catch (err) {
      throw describePgError(err, this.#url, what);
    }
  }

  async #count(fn: (db: Db) => Promise<Row[]>): Promise<number> {
    const [row] = await this.#run("count", fn);
    return Number(row!.n);
  }

  /**
   * Run a write that waiters elsewhere care about, then have it NOTIFY `topics`; resolves with the
   * rows it changed (0: no notification).
   *
   * Measured (PostgreSQL 15, synchronous_commit=on): a transaction that notifies holds a global
   * lock through its commit's WAL flush, so 8 concurrent insert+NOTIFY statements ran at ~900/s
   * against ~7,000/s for plain inserts. So a write notifies in its own statement (one round
   * trip) only when no other notifying write of this instance is under way; overlapping writes
   * leave it to one coalesced NOTIFY sent after they commit (#notifyLater).
   */
  async #notifying(what: string, topics: Topic[], write: (db: Db, notify: boolean) => Promise<number>): Promise<number> {
    const solo = topics.every((topic) => this.#writing[topic] === 0);
    for (const topic of topics) this.#writing[topic]++;
    let n: number;
    try {
      n = await this.#run(what, (db) => write(db, solo));
    } finally {
      for (const topic of topics) this.#writing[topic]--;
    }
    if (n > 0) {
      for (const topic of topics) {
        this.#wakeLocal(topic);
        if (!solo) this.#notifyLater(topic);
      }
    }
    return n;
  }

  /** {@link #notifying} for one data-modifying statement ending in `RETURNING 1`. */
  #writeAndNotify(what: string, topic: Topic, write: (db: Db) => SQL.Query<unknown>): Promise<number> {
    return this.#notifying(what, [topic], async (db, notify) => {
      const [row] = await db.sql`
        WITH w AS (${write(db)})
        SELECT (SELECT count(*)::int FROM w) AS n,
               (SELECT pg_notify(${this.#channels[topic]}, ${this.#self}) FROM w WHERE ${notify} LIMIT 1) IS NULL AS _`;
      return Number(row!.n);
    });
  }

  /**
   * NOTIFY `topic` after writes that have committed. One at a time per topic: requests made
   * while one is under way are served by a single NOTIFY sent after it. Best effort: a lost
   * notification costs waiters elsewhere their timeout, never correctness.
   */
  #notifyLater(topic: Topic): void {
    if (this.#pending[topic]) {
      this.#again[topic] = true;
      return;
    }
    this.#pending[topic] = (async () => {
      try {
        do {
          this.#again[topic] = false;
          const { sql } = await this.#connect("notify");
          await sql`SELECT pg_notify(${this.#channels[topic]}, ${this.#self})`;
        } while (this.#again[topic] && !this.#closed);
      } catch {
        // server gone: the next regular query reports it
      } finally {
        // Same synchronous step as the loop's last check: no request can fall in between.
        this.#pending[topic] = null;
      }
    })();
  }

  /** Upsert results; the last of several with one id wins (ON CONFLICT cannot touch a row twice). */
  #putResults(sql: SQL, t: Tables, items: ResultItem[]): SQL.Query<unknown> {
    const last = [...new Map(items.map((r) => [r.id, r])).values()];
    const ids = last.map((r) => r.id);
    const payloads = last.map((r) => r.payload);
    const expires = last.map((r) => r.expiresAt ?? null);
    return sql`
      INSERT INTO ${t.results} (queue, id, payload, expires_at)
      SELECT ${this.queue}, * FROM unnest(${ids}::text[], ${payloads}::text[], ${expires}::int8[])
      ON CONFLICT (queue, id) DO UPDATE SET payload = excluded.payload, expires_at = excluded.expires_at
      RETURNING 1`;
  }

  /** Upsert key-value entries; the last of several with one key wins. */
  #putData(sql: SQL, t: Tables, entries: { key: string; value: string }[]): Promise<unknown> {
    const last = new Map(entries.map((e) => [e.key, e.value]));
    return sql`
      INSERT INTO ${t.kv} (queue, key, value)
      SELECT ${this.queue}, * FROM unnest(${[...last.keys()]}::text[], ${[...last.values()]}::text[])
      ON CONFLICT (queue, key) DO UPDATE SET value = excluded.value`;
  }
}

/** Create the schema and apply pending migrations, under a lock so processes starting together are safe. */
async function migrate({ sql, t }: Db, schema: string): Promise<void> {
  const latest = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1]!.version;
  // Fast path without DDL or locks: a migrated schema needs no CREATE privilege.
  if ((await schemaVersion(sql, t, schema)) === latest) return;
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_CLASS}, hashtext(${schema}))`;
    await tx`CREATE SCHEMA IF NOT EXISTS ${tx(schema)}`;
    await tx`CREATE TABLE IF NOT EXISTS ${t.schemaVersion} (version integer PRIMARY KEY, applied_at bigint NOT NULL)`;
    const current = await schemaVersion(tx, t, schema);
    if (current > latest) {
      throw new StorageError(
        `schema "${schema}" has version ${current}, newer than this bun-huey knows (${latest}); upgrade bun-huey`,
      );
    }
    for (const m of POSTGRES_MIGRATIONS) {
      if (m.version <= current) continue;
      // The files use unqualified names; SET LOCAL ends with this transaction. `schema` is validated.
      await tx.unsafe(`SET LOCAL search_path TO "${schema}";\n${m.sql}`);
      await tx`INSERT INTO ${t.schemaVersion} (version, applied_at) VALUES (${m.version}, ${Date.now()})`;
    }
  });
}

/** The applied schema version, 0 when the schema or its version table does not exist yet. */
async function schemaVersion(sql: SQL, t: Tables, schema: string): Promise<number> {
  const [exists] = await sql`
    SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = ${schema} AND tablename = 'schema_version'`;
  if (!exists) return 0;
  const [row] = await sql`SELECT coalesce(max(version), 0)::int AS v FROM ${t.schemaVersion}`;
  return Number(row!.v);
}

function tables(sql: SQL, schema: string): Tables {
  const q = (name: string) => sql(`${schema}.${name}`);
  return {
    queue: q("queue"), schedule: q("schedule"), results: q("results"), kv: q("kv"),
    locks: q("locks"), lockFences: q("lock_fences"), counters: q("counters"), schemaVersion: q("schema_version"),
  };
}

/**
 * NOTIFY channels are database-wide identifiers (at most 63 bytes), and a queue name can be any
 * string: hash schema, queue and topic into a short lowercase name.
 */
function channelName(key: string, topic: Topic): string {
  const hash = new Bun.CryptoHasher("sha256").update(`${key}\n${topic}`).digest("hex").slice(0, 32);
  return `huey_${topic}_${hash}`;
}

function columns(items: (QueueItem | ScheduledItem)[]) {
  return {
    ids: items.map((i) => i.id),
    names: items.map((i) => i.name),
    priorities: items.map((i) => i.priority),
    etas: items.map((i) => ("eta" in i ? i.eta : null)),
    payloads: items.map((i) => i.payload),
  };
}

/**
 * True when no row is written twice by the batch: an acked item's id enqueued again (a retry
 * without delay) or a key both put and deleted must be applied in order, in a transaction. So
 * must a result id or key written by two owners (the unfenced part, tasks), where which write
 * wins depends on which fences held.
 */
function canCommitInOneStatement(batch: CommitBatch): boolean {
  const parts: Omit<FencedWrite, "lease">[] = batch.tasks?.length ? [batch, ...batch.tasks] : [batch];
  const acked = new Set<string>();
  for (const a of batch.ack ?? []) acked.add(a.id);
  for (const f of batch.tasks ?? []) acked.add(f.lease.id);
  const deleted = new Set<string>();
  for (const p of parts) for (const k of p.deleteData ?? []) deleted.add(k);
  const resultOwner = new Map<string, number>();
  const keyOwner = new Map<string, number>();
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (acked.size) for (const e of p.enqueue ?? []) if (acked.has(e.id)) return false;
    for (const r of p.results ?? []) {
      if ((resultOwner.get(r.id) ?? i) !== i) return false;
      resultOwner.set(r.id, i);
    }
    for (const d of p.putData ?? []) {
      if (deleted.has(d.key) || (keyOwner.get(d.key) ?? i) !== i) return false;
      keyOwner.set(d.key, i);
    }
  }
  return true;
}

/** Rows of the unfenced part (owner null) and of each task (owner: its lease's id). */
function owned<T>(batch: CommitBatch, pick: (p: Omit<FencedWrite, "lease">) => T[] | undefined): { row: T; owner: string | null }[] {
  const out: { row: T; owner: string | null }[] = [];
  for (const row of pick(batch) ?? []) out.push({ row, owner: null });
  for (const f of batch.tasks ?? []) for (const row of pick(f) ?? []) out.push({ row, owner: f.lease.id });
  return out;
}

function leaseColumns(leases: LeaseRef[]) {
  return { ids: leases.map((l) => l.id), tokens: leases.map((l) => l.token) };
}

function toItem(r: Row): QueueItem {
  return { id: String(r.id), name: String(r.name), priority: Number(r.priority), payload: String(r.payload) };
}

function toLeased(r: Row): LeasedItem {
  return { ...toItem(r), token: String(r.token), leases: Number(r.leases) };
}

/** Bun returns int8 as a string (or BigInt with `bigint: true`): times come back as numbers. */
function toNumberOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
  }
}

/** Turn Bun.SQL and PostgreSQL errors into StorageErrors that say what to do. */
function describePgError(err: unknown, url: string, what: string): unknown {
  if (!(err instanceof Error) || String((err as { code?: unknown }).code).startsWith("HUEY_")) return err;
  const code = String((err as { code?: unknown }).code ?? "");
  const state = String((err as { errno?: unknown }).errno ?? "");
  const where = redactUrl(url);
  const hint = (message: string) => new StorageError(`${what}: ${message}`, { cause: err });
  if (code === "ERR_INVALID_URL" || err instanceof TypeError) {
    return hint(`"${where}" is not a valid PostgreSQL URL (${err.message}); use postgres://user:password@host:5432/database`);
  }
  if (/^ERR_POSTGRES_(CONNECTION_(REFUSED|FAILED|TIMEOUT)|TLS_|SASL_|UNSUPPORTED_AUTH)/.test(code)) {
    return hint(
      `cannot connect to PostgreSQL at ${where} (${err.message}); check that the server is running and that the ` +
        `host, port and credentials in the url are right`,
    );
  }
  const hints: Record<string, string> = {
    "3D000": `the database in ${where} does not exist (${err.message}); create it (createdb) or fix the url`,
    "28P01": `PostgreSQL rejected the login for ${where} (${err.message}); check the user and password in the url`,
    "28000": `PostgreSQL rejected the login for ${where} (${err.message}); check the user and pg_hba.conf`,
    "42501": `permission denied on ${where} (${err.message}); the user needs CREATE on the database the first time, then read and write on the schema`,
    "57P03": `PostgreSQL at ${where} is starting up or shutting down (${err.message}); retry shortly`,
    "53300": `PostgreSQL at ${where} has no free connections (${err.message}); raise max_connections or lower the pool size (option max)`,
  };
  if (state === "23505") return new DuplicateIdError(`${what}: a task with the same id is already queued (${err.message})`, { cause: err });
  const message = hints[state];
  if (message) return hint(message);
  if (code === "ERR_POSTGRES_CONNECTION_CLOSED") {
    return hint(`the connection to PostgreSQL at ${where} was closed (${err.message}); retry`);
  }
  return hint(`failed on ${where}: ${err.message}`);
}

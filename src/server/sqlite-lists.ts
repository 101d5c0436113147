// The dashboard's lists on a SQLite queue, read from the file directly over a read-only connection of
// its own: the Storage contract has no offset, search, results list or lookup by id (see lists.ts). Every
// query is bounded (LIMIT/OFFSET), takes its values as bound parameters, and walks an index the consumer
// already keeps: queue_ready / queue_lane_ready, queue_leased, schedule_due, the results and kv keys.
// Searching by part of a task name scans rows in list order until a page is full.
import { Database, type Statement } from "bun:sqlite";
import { KEYS } from "../message";
import { byLeaseOrder, type Storage } from "../storage/types";
import { READY_LANES_SQL } from "../storage/_sqlite-sql";
import { claimedRowsSql, claimedSql, claimUntilSql } from "../storage/_sqlite-claims";
import { deadLetterRow, doneRow, taskRow, type Counts, type DoneRow, type FailedRow, type FoundTask, type ListQuery, type Lists, type Page, type TaskRow } from "./lists";

type Row = { id: string; name: string; lane: string; priority: number; payload: string; eta?: number; leased_until?: number | null };

/** "failed:" .. "failed;": every key with the prefix (";" follows ":"). */
const FAILED_END = `${KEYS.failed.slice(0, -1)};`;

export class SqliteLists implements Lists {
  readonly #db: Database;
  readonly #queue: string;
  readonly #storage: Storage;
  readonly #cache = new Map<string, Statement>();

  /** `filename` must exist (the Huey's storage has opened and migrated it). */
  /** Totals of unsearched lists come from `storage`'s own counts. */
  constructor(filename: string, storage: Storage) {
    this.#db = new Database(filename, { readonly: true });
    this.#db.run("PRAGMA busy_timeout = 5000");
    this.#queue = storage.queue;
    this.#storage = storage;
  }

  #q(sql: string): Statement {
    let s = this.#cache.get(sql);
    if (!s) this.#cache.set(sql, (s = this.#db.query(sql)));
    return s;
  }

  /**
   * Ready tasks per lane: the lanes found by one index seek each (as the consumer finds them), then one
   * count per lane on queue_lane_ready, so the total costs one walk of the ready set, not two; less the
   * rows claims hold (leased: their leased_until stays NULL, see _sqlite-claims.ts). Leased tasks: those
   * claims hold, and rows leased before schema 8 through queue_leased. Scheduled: one count on
   * schedule_due, per lane only when there are several. One read transaction.
   */
  async counts(known: string[]): Promise<Counts> {
    return this.#db.transaction(() => this.#counts(known))();
  }

  #counts(known: string[]): Counts {
    const found = this.#readyLanes();
    const claimed = new Map(
      (this.#q(claimedRowsSql("c.lane AS lane, count(*) AS n", "c.queue = ?1") + " GROUP BY c.lane").all(this.#queue) as { lane: string; n: number }[]).map((r) => [r.lane, r.n]),
    );
    const ready = new Map<string, number>();
    for (const lane of found) {
      const n = (this.#q("SELECT count(*) AS n FROM queue WHERE queue = ? AND lane = ? AND leased_until IS NULL").get(this.#queue, lane) as { n: number }).n - (claimed.get(lane) ?? 0);
      if (n > 0) ready.set(lane, n);
    }
    const leased = new Map(
      (this.#q("SELECT lane, count(*) AS n FROM queue INDEXED BY queue_leased WHERE leased_until IS NOT NULL AND queue = ? GROUP BY lane").all(this.#queue) as { lane: string; n: number }[]).map((r) => [r.lane, r.n]),
    );
    for (const [lane, n] of claimed) leased.set(lane, (leased.get(lane) ?? 0) + n);
    const scheduledTotal = (this.#q("SELECT count(*) AS n FROM schedule WHERE queue = ?").get(this.#queue) as { n: number }).n;
    const lanes = [...new Set([...known, ...found, ...leased.keys()])].sort();
    const scheduled =
      scheduledTotal === 0
        ? new Map<string, number>()
        : lanes.length <= 1
          ? new Map([[lanes[0] ?? "default", scheduledTotal]])
          : new Map((this.#q("SELECT lane, count(*) AS n FROM schedule WHERE queue = ? GROUP BY lane").all(this.#queue) as { lane: string; n: number }[]).map((r) => [r.lane, r.n]));
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    for (const lane of scheduled.keys()) if (!lanes.includes(lane)) lanes.push(lane);
    return {
      queued: sum(ready),
      running: sum(leased),
      scheduled: scheduledTotal,
      lanes: lanes.sort().map((lane) => ({ queue: lane, queued: ready.get(lane) ?? 0, running: leased.get(lane) ?? 0, scheduled: scheduled.get(lane) ?? 0 })),
    };
  }

  /** The lanes with ready tasks: one index seek each on queue_lane_ready. */
  #readyLanes(): string[] {
    return (this.#q(READY_LANES_SQL).all(this.#queue) as { lane: string }[]).map((r) => r.lane);
  }

  #tasks(table: "ready" | "leased" | "schedule", q: ListQuery): { rows: Row[]; more: boolean } {
    if (table === "ready" && q.queue === null) return this.#readyAcrossLanes(q);
    const where = ["queue = $queue"];
    const params: Record<string, string | number> = { $queue: this.#queue, $limit: q.limit + 1, $offset: q.offset };
    if (table === "ready") where.push("leased_until IS NULL", `NOT ${claimedSql("queue")}`);
    if (q.queue !== null) {
      where.push("lane = $lane");
      params.$lane = q.queue;
    }
    if (q.q !== null) {
      where.push("(id = $q OR instr(name, $q) > 0)");
      params.$q = q.q;
    }
    const cols = table === "schedule" ? "id, name, lane, priority, payload, eta" : "seq, id, name, lane, priority, payload, leased_until";
    const order = table === "schedule" ? "eta, seq" : "priority DESC, seq";
    // Leased: the rows claims hold (until their claim's until), and those leased before schema 8 through
    // their own index (else SQLite walks every row of the queue to find the few).
    const from =
      table === "schedule"
        ? "schedule"
        : table === "ready"
          ? "queue"
          : `(SELECT seq, queue, id, name, lane, priority, payload, leased_until FROM queue INDEXED BY queue_leased WHERE queue = $queue AND leased_until IS NOT NULL
              UNION ALL ${claimedRowsSql("q.seq, q.queue, q.id, q.name, q.lane, q.priority, q.payload, c.until AS leased_until", "c.queue = $queue")})`;
    const rows = this.#q(`SELECT ${cols} FROM ${from} WHERE ${where.join(" AND ")} ORDER BY ${order} LIMIT $limit OFFSET $offset`).all(params as never) as Row[];
    return { rows: rows.slice(0, q.limit), more: rows.length > q.limit };
  }

  /**
   * Ready tasks of every lane in lease order. queue_lane_ready is ordered within a lane, so one query
   * over all lanes sorted the whole ready set (~0.3 s at 1,000,000 queued): instead each lane gives its
   * first offset + limit + 1 in order, in one read transaction, and they are merged here.
   */
  #readyAcrossLanes(q: ListQuery): { rows: Row[]; more: boolean } {
    return this.#db.transaction(() => {
      const rows: (Row & { seq: number })[] = [];
      for (const lane of this.#readyLanes()) {
        const one = this.#tasks("ready", { ...q, queue: lane, offset: 0, limit: q.offset + q.limit + 1 }) as { rows: (Row & { seq: number })[]; more: boolean };
        rows.push(...one.rows);
      }
      rows.sort(byLeaseOrder);
      const page = rows.slice(q.offset, q.offset + q.limit + 1);
      return { rows: page.slice(0, q.limit), more: page.length > q.limit };
    })();
  }

  async #taskPage(table: "ready" | "leased" | "schedule", q: ListQuery): Promise<Page<TaskRow>> {
    const { rows, more } = this.#tasks(table, q);
    const items = rows.map(
      (r) => taskRow(r, table === "schedule" ? { eta: r.eta! } : table === "leased" ? { leasedUntil: r.leased_until ?? null } : {}).row,
    );
    return { items, offset: q.offset, limit: q.limit, more, total: null };
  }

  async queued(q: ListQuery): Promise<Page<TaskRow>> {
    return this.#taskPage("ready", q);
  }

  async running(q: ListQuery): Promise<Page<TaskRow>> {
    return this.#taskPage("leased", q);
  }

  async scheduled(q: ListQuery): Promise<Page<TaskRow>> {
    return this.#taskPage("schedule", q);
  }

  /** Newest first by id (generated ids are UUIDv7, so by enqueue time); a search is an exact id. */
  async done(q: ListQuery, now: number): Promise<Page<DoneRow>> {
    const params = { $queue: this.#queue, $now: now, $limit: q.limit + 1, $offset: q.offset, $q: q.q ?? "" };
    const rows = this.#q(
      `SELECT id, payload, expires_at FROM results WHERE queue = $queue AND (expires_at IS NULL OR expires_at > $now)
       AND ($q = '' OR id = $q) ORDER BY id DESC LIMIT $limit OFFSET $offset`,
    ).all(params) as { id: string; payload: string; expires_at: number | null }[];
    const items = rows.slice(0, q.limit).map((r) => doneRow(r.id, r.payload, r.expires_at));
    const total = q.q === null ? await this.#storage.resultCount() : null;
    return { items, offset: q.offset, limit: q.limit, more: rows.length > q.limit, total };
  }

  /** Oldest first (as huey.failed() and `huey failed`); a search is an exact id or part of the task name. */
  async failed(q: ListQuery): Promise<Page<FailedRow>> {
    const params = { $queue: this.#queue, $from: KEYS.failed, $to: FAILED_END, $limit: q.limit + 1, $offset: q.offset, $q: q.q ?? "", $key: KEYS.failed + (q.q ?? ""), $lane: q.queue ?? "" };
    // A dead letter's queue is in its stored message (absent there: "default").
    const rows = this.#q(
      `SELECT value FROM kv WHERE queue = $queue AND key >= $from AND key < $to
       AND ($q = '' OR key = $key OR (json_valid(value) AND instr(json_extract(value, '$.name'), $q) > 0))
       AND ($lane = '' OR (json_valid(value) AND json_valid(json_extract(value, '$.payload'))
                           AND coalesce(json_extract(json_extract(value, '$.payload'), '$.queue'), 'default') = $lane))
       ORDER BY key LIMIT $limit OFFSET $offset`,
    ).all(params) as { value: string }[];
    const items = rows
      .slice(0, q.limit)
      .map((r) => deadLetterRow(r.value))
      .filter((r): r is FailedRow => r !== null);
    const total = q.q === null && q.queue === null ? await this.#storage.countData(KEYS.failed) : null;
    return { items, offset: q.offset, limit: q.limit, more: rows.length > q.limit, total };
  }

  async find(id: string): Promise<FoundTask | null> {
    // A claimed row is running until its claim's until (see _sqlite-claims.ts).
    const r = this.#q(
      `SELECT id, name, lane, priority, payload, coalesce(leased_until, ${claimUntilSql("r")}) AS leased_until FROM queue AS r WHERE queue = ? AND id = ?`,
    ).get(this.#queue, id) as Row | null;
    if (r) {
      const { row, message } = taskRow(r, r.leased_until != null ? { leasedUntil: r.leased_until } : {});
      return { state: r.leased_until != null ? "running" : "queued", row, message };
    }
    const s = this.#q("SELECT id, name, lane, priority, payload, eta FROM schedule WHERE queue = ? AND id = ?").get(this.#queue, id) as Row | null;
    if (s) {
      const { row, message } = taskRow(s, { eta: s.eta! });
      return { state: "scheduled", row, message };
    }
    return null;
  }

  close(): void {
    this.#db.close();
  }
}

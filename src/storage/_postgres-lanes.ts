// PostgresStorage: leases (of every lane, or fairly across the lanes a filter names), pauses, and
// the per-lane counts and listings.
import type { SQL } from "bun";
import type { PgConnection } from "./_postgres-connection";
import { type Db, type Row, toItem, toLeased } from "./_postgres-sql";
import type { PgWake } from "./_postgres-wake";
import type { LeasedItem, LeaseFilter, PausedLane, QueueItem, ScheduledItem } from "./types";

/**
 * Lease up to `max` ready items in ONE statement. With a filter: the lanes served (those named,
 * or every lane with ready items, found by a walk of the per-lane index) minus the lanes paused
 * at `filter.now`, checked in the same statement, so a pause holds at once for every consumer.
 * Each lane offers its first `cap` items in priority order; they are taken round-robin, one item
 * per lane per round, starting at the lane `turn` names: a busy lane never starves another, and
 * what a lane cannot give goes to the others. (The same fair split as shareRounds, which hands
 * out each round's shares a lane at a time: the two differ only in which lanes get the rounding
 * extra of a round, and the rotation evens that out.)
 */
export async function leaseRows(
  { sql, t }: Db, queue: string, max: number, leaseUntil: number, filter: LeaseFilter | undefined, turn: number,
): Promise<LeasedItem[]> {
  const token = crypto.randomUUID();
  let rows: Row[];
  if (!filter) {
    rows = await sql`
      UPDATE ${t.queue} SET leased_until = ${leaseUntil}, token = ${token}, leases = leases + 1
      WHERE seq IN (SELECT seq FROM ${t.queue} WHERE queue = ${queue} AND leased_until IS NULL
                    ORDER BY priority DESC, seq LIMIT ${max} FOR UPDATE SKIP LOCKED)
      RETURNING seq, id, name, lane, priority, payload, token, leases`;
  } else {
    const spec = filter.lanes ? Object.entries(filter.lanes).map(([lane, cap]) => [lane, Math.floor(Math.min(cap, max))] as const) : null;
    // The lanes to serve and each one's cap: named, or every lane with ready items (a loose index scan).
    const wanted = spec
      ? sql`SELECT w.lane COLLATE "C" AS lane, w.cap FROM unnest(${spec.map((s) => s[0])}::text[], ${spec.map((s) => s[1])}::int8[]) AS w(lane, cap)`
      : sql`WITH RECURSIVE r AS (
              (SELECT lane FROM ${t.queue} WHERE queue = ${queue} AND leased_until IS NULL ORDER BY lane LIMIT 1)
              UNION ALL
              SELECT (SELECT q.lane FROM ${t.queue} AS q WHERE q.queue = ${queue} AND q.leased_until IS NULL AND q.lane > r.lane
                      ORDER BY q.lane LIMIT 1)
              FROM r WHERE r.lane IS NOT NULL)
            SELECT lane, ${max}::int8 AS cap FROM r WHERE lane IS NOT NULL`;
    rows = await sql`
      WITH open AS (
        SELECT w.lane, w.cap, row_number() OVER (ORDER BY w.lane) - 1 AS i, count(*) OVER () AS n
        FROM (${wanted}) AS w
        WHERE w.cap > 0 AND NOT EXISTS (
          SELECT 1 FROM ${t.pauses} AS p
          WHERE p.queue = ${queue} AND p.lane = w.lane AND (p.until IS NULL OR p.until > ${filter.now}))),
      offered AS (
        SELECT c.seq, c.rn, (o.i - ${turn} % o.n + o.n) % o.n AS ord
        FROM open AS o CROSS JOIN LATERAL (
          SELECT x.seq, row_number() OVER (ORDER BY x.priority DESC, x.seq) AS rn FROM (
            SELECT seq, priority FROM ${t.queue}
            WHERE queue = ${queue} AND lane = o.lane AND leased_until IS NULL
            ORDER BY priority DESC, seq LIMIT o.cap FOR UPDATE SKIP LOCKED) AS x) AS c)
      UPDATE ${t.queue} SET leased_until = ${leaseUntil}, token = ${token}, leases = leases + 1
      WHERE seq IN (SELECT seq FROM offered ORDER BY rn, ord LIMIT ${max})
      RETURNING seq, id, name, lane, priority, payload, token, leases`;
  }
  // RETURNING gives no order guarantee: restore lease order.
  const items = rows.map((r) => ({ seq: Number(r.seq), item: toLeased(r) }));
  items.sort((a, b) => b.item.priority - a.item.priority || a.seq - b.seq);
  return items.map((x) => x.item);
}

export async function pauseLane(conn: PgConnection, queue: string, lane: string, until: number | null): Promise<void> {
  await conn.run("pause", ({ sql, t }) => sql`
    INSERT INTO ${t.pauses} (queue, lane, until) VALUES (${queue}, ${lane}, ${until})
    ON CONFLICT (queue, lane) DO UPDATE SET until = excluded.until`);
}

/** Ends a pause and, when there was one, notifies "queue": idle consumers wake and lease. */
export async function resumeLane(wake: PgWake, queue: string, lane: string): Promise<boolean> {
  const n = await wake.writeAndNotify("resume", "queue", ({ sql, t }) => sql`
    DELETE FROM ${t.pauses} WHERE queue = ${queue} AND lane = ${lane} RETURNING 1`);
  return n > 0;
}

export async function listPaused(conn: PgConnection, queue: string, now: number): Promise<PausedLane[]> {
  const rows: Row[] = await conn.run("list paused", ({ sql, t }) => sql`
    SELECT lane, until FROM ${t.pauses} WHERE queue = ${queue} AND (until IS NULL OR until > ${now}) ORDER BY lane`);
  return rows.map((r) => ({ lane: String(r.lane), until: r.until === null ? null : Number(r.until) }));
}

/** Rows of one lane, or of every lane when `lane` is undefined. */
function inLane(sql: SQL, lane: string | undefined) {
  return lane === undefined ? sql`TRUE` : sql`lane = ${lane}`;
}

export function countItems(conn: PgConnection, queue: string, what: "ready" | "leased" | "scheduled", lane?: string): Promise<number> {
  return conn.count(({ sql, t }) =>
    what === "scheduled"
      ? sql`SELECT count(*)::int AS n FROM ${t.schedule} WHERE queue = ${queue} AND ${inLane(sql, lane)}`
      : what === "ready"
        ? sql`SELECT count(*)::int AS n FROM ${t.queue} WHERE queue = ${queue} AND leased_until IS NULL AND ${inLane(sql, lane)}`
        : sql`SELECT count(*)::int AS n FROM ${t.queue} WHERE queue = ${queue} AND leased_until IS NOT NULL AND ${inLane(sql, lane)}`,
  );
}

export async function listPending(conn: PgConnection, queue: string, limit: number, lane?: string): Promise<(QueueItem & { leased: boolean })[]> {
  // The first `limit` ready ones through the ready index (queue_ready, or queue_lane_ready for a lane)
  // and the leased ones through queue_leased (few: what consumers hold), merged in one statement: one
  // ORDER BY over the whole queue was a sort of every row (~180 ms at 500,000 queued).
  const rows: Row[] = await conn.run("list pending", ({ sql, t }) => sql`
    SELECT id, name, lane, priority, payload, leased FROM (
      (SELECT seq, id, name, lane, priority, payload, FALSE AS leased FROM ${t.queue}
       WHERE queue = ${queue} AND ${inLane(sql, lane)} AND leased_until IS NULL ORDER BY priority DESC, seq LIMIT ${limit})
      UNION ALL
      (SELECT seq, id, name, lane, priority, payload, TRUE AS leased FROM ${t.queue}
       WHERE queue = ${queue} AND ${inLane(sql, lane)} AND leased_until IS NOT NULL)
    ) AS pending ORDER BY priority DESC, seq LIMIT ${limit}`);
  return rows.map((r) => ({ ...toItem(r), leased: r.leased === true }));
}

export async function listScheduled(conn: PgConnection, queue: string, limit: number, lane?: string): Promise<ScheduledItem[]> {
  const rows: Row[] = await conn.run("list scheduled", ({ sql, t }) => sql`
    SELECT id, name, lane, priority, eta, payload FROM ${t.schedule}
    WHERE queue = ${queue} AND ${inLane(sql, lane)} ORDER BY eta, seq LIMIT ${limit}`);
  return rows.map((r) => ({ ...toItem(r), eta: Number(r.eta) }));
}

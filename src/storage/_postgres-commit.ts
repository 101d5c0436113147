import { heldKey, touches, withHeld } from "./_fence";
import type { SQL } from "bun";
import { describePgError, type PgConnection } from "./_postgres-connection";
import { columns, type Db, leaseColumns, putData, putResults, type Row, tables } from "./_postgres-sql";
import type { PgWake } from "./_postgres-wake";
import type { Topic } from "./_wake";
import type { CommitBatch, CommitReport, FencedWrite, QueueItem, ScheduledItem } from "./types";

/** PostgresStorage.commit: one statement when canCommitInOneStatement allows it, else one transaction. */
export async function groupCommit(wake: PgWake, queue: string, batch: CommitBatch): Promise<CommitReport> {
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
    await wake.notifying("commit", topics, async (db, notify) => {
      lost = await commitStatement(wake, queue, db, batch, notify ? topics : []);
      return 1;
    });
    return { lost };
  }
  await wake.notifying("commit", topics, ({ sql, t }, notify) =>
    sql.begin(async (tx) => {
      // The fences and the acks in one statement: a task holds when its ack deleted its row.
      let held: FencedWrite[] = tasks;
      const acks = tasks.length ? [...(batch.ack ?? []), ...tasks.map((f) => f.lease)] : (batch.ack ?? []);
      if (acks.length) {
        const { ids, tokens } = leaseColumns(acks);
        const rows: Row[] = await tx`
          DELETE FROM ${t.queue} WHERE queue = ${queue} AND (id, token) IN (SELECT * FROM unnest(${ids}::text[], ${tokens}::text[]))
          RETURNING id, token`;
        if (tasks.length) {
          // By lease, not by id: one batch may name an id under a lost lease and under the one that took it again.
          const acked = new Set(rows.map((r) => heldKey(String(r.token), String(r.id))));
          held = [];
          for (const f of tasks) {
            if (acked.has(heldKey(f.lease.token, f.lease.id))) held.push(f);
            else lost.push(f.lease.id);
          }
        }
      }
      const w = tasks.length ? withHeld(batch, held) : batch;
      if (w.results?.length) await putResults(tx, t, queue, w.results);
      if (w.enqueue?.length) {
        const c = columns(w.enqueue);
        await tx`INSERT INTO ${t.queue} (queue, id, name, priority, payload, lane)
          SELECT ${queue}, * FROM unnest(${c.ids}::text[], ${c.names}::text[], ${c.priorities}::float8[], ${c.payloads}::text[],
                                          ${c.lanes}::text[])`;
      }
      if (w.schedule?.length) {
        const c = columns(w.schedule);
        await tx`INSERT INTO ${t.schedule} (queue, id, name, priority, eta, payload, lane)
          SELECT ${queue}, * FROM unnest(${c.ids}::text[], ${c.names}::text[], ${c.priorities}::float8[],
                                              ${c.etas}::int8[], ${c.payloads}::text[], ${c.lanes}::text[])`;
      }
      if (w.putData?.length) await putData(tx, t, queue, w.putData);
      if (w.deleteData?.length) {
        await tx`DELETE FROM ${t.kv} WHERE queue = ${queue} AND key = ANY(${w.deleteData}::text[])`;
      }
      const locks = tasks.flatMap((f) => f.releaseLocks ?? []);
      if (locks.length) {
        await tx`DELETE FROM ${t.locks} AS k USING unnest(${locks.map((l) => l.key)}::text[], ${locks.map((l) => l.owner)}::text[]) AS u(key, owner)
          WHERE k.queue = ${queue} AND k.key = u.key AND k.owner = u.owner`;
      }
      // Inside the transaction: delivered on COMMIT, dropped on ROLLBACK.
      if (notify && topics.length) {
        const channels = topics.map((topic) => wake.channels[topic]);
        await tx`SELECT pg_notify(c, ${wake.self}) FROM unnest(${channels}::text[]) AS c`;
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
async function commitStatement(wake: PgWake, queue: string, { sql, t }: Db, batch: CommitBatch, notify: Topic[]): Promise<string[]> {
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
  const channels = notify.map((topic) => wake.channels[topic]);
  const [row] = await sql`
    WITH acked AS (
      DELETE FROM ${t.queue} AS q USING unnest(${ack.ids}::text[], ${ack.tokens}::text[]) AS l(id, token)
      WHERE q.queue = ${queue} AND q.id = l.id AND q.token = l.token
      RETURNING q.id),
    res AS (
      INSERT INTO ${t.results} (queue, id, payload, expires_at)
      SELECT ${queue}, r.id, r.payload, r.expires_at
      FROM unnest(${results.map((o) => o.row.id)}::text[], ${results.map((o) => o.row.payload)}::text[],
                  ${results.map((o) => o.row.expiresAt ?? null)}::int8[], ${owners(results)}::text[]) AS r(id, payload, expires_at, owner)
      WHERE r.owner IS NULL OR r.owner IN (SELECT id FROM acked)
      ON CONFLICT (queue, id) DO UPDATE SET payload = excluded.payload, expires_at = excluded.expires_at),
    enq AS (
      INSERT INTO ${t.queue} (queue, id, name, priority, payload, lane)
      SELECT ${queue}, e.id, e.name, e.priority, e.payload, e.lane
      FROM unnest(${ec.ids}::text[], ${ec.names}::text[], ${ec.priorities}::float8[], ${ec.payloads}::text[],
                  ${ec.lanes}::text[], ${owners(enq)}::text[]) AS e(id, name, priority, payload, lane, owner)
      WHERE e.owner IS NULL OR e.owner IN (SELECT id FROM acked)),
    sch AS (
      INSERT INTO ${t.schedule} (queue, id, name, priority, eta, payload, lane)
      SELECT ${queue}, s.id, s.name, s.priority, s.eta, s.payload, s.lane
      FROM unnest(${sc.ids}::text[], ${sc.names}::text[], ${sc.priorities}::float8[], ${sc.etas}::int8[],
                  ${sc.payloads}::text[], ${sc.lanes}::text[], ${owners(sch)}::text[]) AS s(id, name, priority, eta, payload, lane, owner)
      WHERE s.owner IS NULL OR s.owner IN (SELECT id FROM acked)),
    put AS (
      INSERT INTO ${t.kv} (queue, key, value)
      SELECT ${queue}, p.key, p.value
      FROM unnest(${puts.map((o) => o.row.key)}::text[], ${puts.map((o) => o.row.value)}::text[], ${owners(puts)}::text[])
        AS p(key, value, owner)
      WHERE p.owner IS NULL OR p.owner IN (SELECT id FROM acked)
      ON CONFLICT (queue, key) DO UPDATE SET value = excluded.value),
    del AS (
      DELETE FROM ${t.kv} WHERE queue = ${queue} AND key IN (
        SELECT d.key FROM unnest(${dels.map((o) => o.row)}::text[], ${owners(dels)}::text[]) AS d(key, owner)
        WHERE d.owner IS NULL OR d.owner IN (SELECT id FROM acked))),
    unlock AS (
      DELETE FROM ${t.locks} AS k USING unnest(${locks.map((l) => l.key)}::text[], ${locks.map((l) => l.owner)}::text[]) AS u(key, owner)
      WHERE k.queue = ${queue} AND k.key = u.key AND k.owner = u.owner)
    SELECT ARRAY(SELECT f.id FROM unnest(${tasks.map((f) => f.lease.id)}::text[]) WITH ORDINALITY AS f(id, ord)
                 WHERE f.id NOT IN (SELECT id FROM acked) ORDER BY f.ord) AS lost,
           count(pg_notify(c, ${wake.self})) AS n
    FROM unnest(${channels}::text[]) AS c`;
  return (row!.lost as string[]).map(String);
}

/**
 * True when no lease id is acked twice and no row is written twice by the batch: an acked item's id enqueued again (a retry
 * without delay) or a key both put and deleted must be applied in order, in a transaction. So
 * must a result id or key written by two owners (the unfenced part, tasks), where which write
 * wins depends on which fences held.
 */
function canCommitInOneStatement(batch: CommitBatch): boolean {
  const parts: Omit<FencedWrite, "lease">[] = batch.tasks?.length ? [batch, ...batch.tasks] : [batch];
  // The statement tells the fences apart by id (owner): an id acked twice (a lost lease and the one that
  // took the task again) needs the transaction, which tells them apart by token too.
  const acked = new Set<string>();
  for (const a of batch.ack ?? []) acked.add(a.id);
  for (const f of batch.tasks ?? []) {
    if (acked.has(f.lease.id)) return false;
    acked.add(f.lease.id);
  }
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

/** PostgresStorage.enqueueWith: the caller's transaction `tx` inserts the items and sends the NOTIFY. */
export async function enqueueInTransaction(
conn: PgConnection, wake: PgWake, queue: string, tx: SQL, items: QueueItem[], scheduled: ScheduledItem[],
): Promise<void> {
  if (!items.length && !scheduled.length) return;
  await conn.connect("enqueue");
  const t = tables(tx, conn.schema);
  const c = columns(items);
  const s = columns(scheduled);
  const channel = wake.channels.queue;
  try {
    await tx`
      WITH enq AS (
        INSERT INTO ${t.queue} (queue, id, name, priority, payload, lane)
        SELECT ${queue}, * FROM unnest(${c.ids}::text[], ${c.names}::text[], ${c.priorities}::float8[], ${c.payloads}::text[],
                                            ${c.lanes}::text[])),
      sch AS (
        INSERT INTO ${t.schedule} (queue, id, name, priority, eta, payload, lane)
        SELECT ${queue}, * FROM unnest(${s.ids}::text[], ${s.names}::text[], ${s.priorities}::float8[],
                                            ${s.etas}::int8[], ${s.payloads}::text[], ${s.lanes}::text[]))
      SELECT pg_notify(${channel}, 'tx')`;
  } catch (err) {
    throw describePgError(err, conn.url, "enqueue in transaction");
  }
}

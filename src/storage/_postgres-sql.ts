import type { SQL } from "bun";
import type { LeaseRef, LeasedItem, QueueItem, ResultItem, ScheduledItem } from "./types";
import { DEFAULT_LANE } from "./types";

export type Tables = Record<
  "queue" | "schedule" | "results" | "kv" | "locks" | "lockFences" | "counters" | "pauses" | "schemaVersion",
  SQL.Query<unknown>
>;
export interface Db {
  sql: SQL;
  t: Tables;
}
export type Row = Record<string, unknown>;

export function tables(sql: SQL, schema: string): Tables {
  const q = (name: string) => sql(`${schema}.${name}`);
  return {
    queue: q("queue"), schedule: q("schedule"), results: q("results"), kv: q("kv"),
    locks: q("locks"), lockFences: q("lock_fences"), counters: q("counters"), pauses: q("pauses"),
    schemaVersion: q("schema_version"),
  };
}

export function columns(items: (QueueItem | ScheduledItem)[]) {
  return {
    ids: items.map((i) => i.id),
    names: items.map((i) => i.name),
    priorities: items.map((i) => i.priority),
    etas: items.map((i) => ("eta" in i ? i.eta : null)),
    payloads: items.map((i) => i.payload),
    lanes: items.map((i) => i.lane ?? DEFAULT_LANE),
  };
}

export function leaseColumns(leases: LeaseRef[]) {
  return { ids: leases.map((l) => l.id), tokens: leases.map((l) => l.token) };
}

export function toItem(r: Row): QueueItem {
  return { id: String(r.id), name: String(r.name), lane: String(r.lane), priority: Number(r.priority), payload: String(r.payload) };
}

export function toLeased(r: Row): LeasedItem {
  return { ...toItem(r), token: String(r.token), leases: Number(r.leases) };
}

/** Bun returns int8 as a string (or BigInt with `bigint: true`): times come back as numbers. */
export function toNumberOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** Upsert results; the last of several with one id wins (ON CONFLICT cannot touch a row twice). */
export function putResults(sql: SQL, t: Tables, queue: string, items: ResultItem[]): SQL.Query<unknown> {
  const last = [...new Map(items.map((r) => [r.id, r])).values()];
  const ids = last.map((r) => r.id);
  const payloads = last.map((r) => r.payload);
  const expires = last.map((r) => r.expiresAt ?? null);
  return sql`
    INSERT INTO ${t.results} (queue, id, payload, expires_at)
    SELECT ${queue}, * FROM unnest(${ids}::text[], ${payloads}::text[], ${expires}::int8[])
    ON CONFLICT (queue, id) DO UPDATE SET payload = excluded.payload, expires_at = excluded.expires_at
    RETURNING 1`;
}

/** Upsert key-value entries; the last of several with one key wins. */
export function putData(sql: SQL, t: Tables, queue: string, entries: { key: string; value: string }[]): Promise<unknown> {
  const last = new Map(entries.map((e) => [e.key, e.value]));
  return sql`
    INSERT INTO ${t.kv} (queue, key, value)
    SELECT ${queue}, * FROM unnest(${[...last.keys()]}::text[], ${[...last.values()]}::text[])
    ON CONFLICT (queue, key) DO UPDATE SET value = excluded.value`;
}

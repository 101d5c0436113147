// PostgresStorage.locate(): one task by id, from the queue or the schedule (each a lookup on its (queue, id) key).
import { locateRow, type QueueRow, type ScheduleRow } from "./_locate";
import type { PgConnection } from "./_postgres-connection";
import type { LocatedItem } from "./types";

export async function pgLocate(conn: PgConnection, queue: string, id: string): Promise<LocatedItem | null> {
  // `to_jsonb(row) ->> 'lane'` reads the lane column where the schema has one, and null (the default lane) where not.
  const rows = (await conn.run("locate task", ({ sql, t }) => sql`
    SELECT 'q' AS src, name, priority, payload, leased_until, leases, NULL::bigint AS eta, to_jsonb(q) ->> 'lane' AS lane
      FROM ${t.queue} AS q WHERE queue = ${queue} AND id = ${id}
    UNION ALL
    SELECT 's', name, priority, payload, NULL, 0, eta, to_jsonb(s) ->> 'lane'
      FROM ${t.schedule} AS s WHERE queue = ${queue} AND id = ${id}`)) as (QueueRow & ScheduleRow & { src: string })[];
  return locateRow(id, rows.find((r) => r.src === "q"), rows.find((r) => r.src === "s"));
}

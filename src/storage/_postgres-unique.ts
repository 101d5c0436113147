// PostgresStorage: the enqueues that check a key first (unique tasks, throttle and replace).
import type { SQL } from "bun";
import { putData, type Tables } from "./_postgres-sql";
import type { PgWake } from "./_postgres-wake";
import type { DedupOutcome, QueueItem, ScheduledItem } from "./types";
import { dedupValue, DEFAULT_LANE, parseDedupValue } from "./types";

/** PostgresStorage.enqueueUnique: one transaction, serialised per key by an advisory lock. */
export async function enqueueUnique(
  wake: PgWake, schema: string, queue: string, item: QueueItem | ScheduledItem, key: string,
): Promise<string | null> {
  let holder: string | null = null;
  await wake.notifying("enqueue", ["queue"], ({ sql, t }, notify) =>
    sql.begin(async (tx) => {
      // Serialise callers of this key: the check and the insert must not interleave. Hash
      // collisions only make unrelated keys wait for each other.
      await tx`SELECT pg_advisory_xact_lock(hashtextextended(${`${schema}\n${queue}\n${key}`}, 0))`;
      const [held] = await tx`
        SELECT k.value FROM ${t.kv} AS k WHERE k.queue = ${queue} AND k.key = ${key}
          AND (EXISTS (SELECT 1 FROM ${t.queue} WHERE queue = k.queue AND id = k.value)
            OR EXISTS (SELECT 1 FROM ${t.schedule} WHERE queue = k.queue AND id = k.value))`;
      if (held) {
        holder = String(held.value);
        return 0;
      }
      await insertItem(tx, t, queue, item);
      await putData(tx, t, queue, [{ key, value: item.id }]);
      if (notify) await tx`SELECT pg_notify(${wake.channels.queue}, ${wake.self})`;
      return 1;
    }),
  );
  return holder;
}

/** Store one item, ready or (with an eta) scheduled, in the transaction `tx`. */
async function insertItem(tx: SQL, t: Tables, queue: string, item: QueueItem | ScheduledItem): Promise<void> {
  if ("eta" in item) {
    await tx`INSERT INTO ${t.schedule} (queue, id, name, priority, eta, payload, lane)
      VALUES (${queue}, ${item.id}, ${item.name}, ${item.priority}, ${item.eta}, ${item.payload}, ${item.lane ?? DEFAULT_LANE})`;
  } else {
    await tx`INSERT INTO ${t.queue} (queue, id, name, priority, payload, lane)
      VALUES (${queue}, ${item.id}, ${item.name}, ${item.priority}, ${item.payload}, ${item.lane ?? DEFAULT_LANE})`;
  }
}

/** PostgresStorage.enqueueDeduped: one transaction, serialised per key by an advisory lock. */
export async function enqueueDeduped(
  wake: PgWake, schema: string, queue: string, item: QueueItem | ScheduledItem, key: string,
  mode: "throttle" | "replace", until: number, now: number,
): Promise<DedupOutcome> {
  let out: DedupOutcome = { kind: "stored" };
  await wake.notifying("enqueue", ["queue"], ({ sql, t }, notify) =>
    sql.begin(async (tx) => {
      // Serialise callers of this key: the check and the write must not interleave.
      await tx`SELECT pg_advisory_xact_lock(hashtextextended(${`${schema}\n${queue}\n${key}`}, 0))`;
      const [row] = await tx`SELECT value FROM ${t.kv} WHERE queue = ${queue} AND key = ${key}`;
      const entry = parseDedupValue(row ? String(row.value) : null);
      const insert = () => insertItem(tx, t, queue, item);
      const done = async (o: DedupOutcome) => {
        out = o;
        if (o.kind === "conflict") return 0;
        if (notify) await tx`SELECT pg_notify(${wake.channels.queue}, ${wake.self})`;
        return 1;
      };
      if (mode === "throttle") {
        if (entry && entry.until > now) return done({ kind: "merged", id: entry.id });
      } else if (entry && entry.id !== item.id) {
        const [p] = await tx`
          SELECT 1 AS x FROM ${t.queue} WHERE queue = ${queue} AND id = ${entry.id} AND token IS NULL
          UNION ALL SELECT 1 FROM ${t.schedule} WHERE queue = ${queue} AND id = ${entry.id}`;
        if (p) return done({ kind: "conflict", holder: entry.id });
      } else if (entry) {
        // Leased rows are never touched (token IS NULL): a running task is not modified.
        const a = await tx`DELETE FROM ${t.schedule} WHERE queue = ${queue} AND id = ${item.id} RETURNING id`;
        const b = await tx`DELETE FROM ${t.queue} WHERE queue = ${queue} AND id = ${item.id} AND token IS NULL RETURNING id`;
        if (a.length + b.length === 0) return done({ kind: "conflict", holder: null });
        await insert();
        return done({ kind: "merged", id: item.id });
      }
      await insert();
      await putData(tx, t, queue, [{ key, value: dedupValue(until, item.id) }]);
      return done({ kind: "stored" });
    }),
  );
  return out;
}

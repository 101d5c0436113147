// Raw baselines for the network backends: the client's own statements with no library around
// them, on a fresh schema / key prefix. They are NOT the same work as bun-huey's (no token, no
// priority order across an index for Redis; see each label): they show what the client and
// server can do on this machine, so a bun-huey figure can be read against them.
import { RedisClient, SQL } from "bun";

/** Task rows shaped like bun-huey's (a v1 message for noop(i)), made before any timing. */
function rows(n: number): { id: string; payload: string }[] {
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const id = Bun.randomUUIDv7();
    out[i] = { id, payload: JSON.stringify({ v: 1, id, name: "noop", args: [i], priority: 0, retries: 0, retryDelay: 0, attempt: 1 }) };
  }
  return out;
}

// ------------------------------------------------------------------ PostgreSQL (Bun.SQL)

async function pgOpen(url: string, schema: string): Promise<SQL> {
  const sql = new SQL({ url, max: 4 });
  await sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`;
  await sql`CREATE SCHEMA ${sql(schema)}`;
  // The same shape as src/storage/sql/postgres/0001_init.sql's queue and results tables.
  await sql.unsafe(`
    CREATE TABLE "${schema}".queue (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, queue text NOT NULL,
      id text NOT NULL UNIQUE, name text NOT NULL, priority double precision NOT NULL, payload text NOT NULL,
      leased_until bigint, token text, leases integer NOT NULL DEFAULT 0);
    CREATE INDEX ON "${schema}".queue (queue, priority DESC, seq) WHERE leased_until IS NULL;
    CREATE TABLE "${schema}".results (queue text NOT NULL, id text NOT NULL, payload text NOT NULL, expires_at bigint,
      PRIMARY KEY (queue, id));`);
  return sql;
}

async function pgClose(sql: SQL, schema: string): Promise<void> {
  await sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`;
  await sql.close({ timeout: 1 });
}

/** One INSERT per statement (autocommit), awaited one by one. rows/s */
export async function pgRawSingle(url: string, schema: string, n: number): Promise<number> {
  const sql = await pgOpen(url, schema);
  const q = sql(`${schema}.queue`);
  const data = rows(n);
  const t0 = performance.now();
  for (const r of data) await sql`INSERT INTO ${q} (queue, id, name, priority, payload) VALUES ('bench', ${r.id}, 'noop', 0, ${r.payload})`;
  const rate = n / ((performance.now() - t0) / 1000);
  await pgClose(sql, schema);
  return rate;
}

/** One INSERT ... SELECT FROM unnest(...) of `chunk` rows per statement. rows/s */
export async function pgRawBulk(url: string, schema: string, n: number, chunk = 1000): Promise<number> {
  const sql = await pgOpen(url, schema);
  const q = sql(`${schema}.queue`);
  const data = rows(n);
  const t0 = performance.now();
  for (let i = 0; i < n; i += chunk) {
    const part = data.slice(i, i + chunk);
    await sql`INSERT INTO ${q} (queue, id, name, priority, payload)
      SELECT 'bench', id, 'noop', 0, payload FROM unnest(${part.map((r) => r.id)}::text[], ${part.map((r) => r.payload)}::text[]) AS t(id, payload)`;
  }
  const rate = n / ((performance.now() - t0) / 1000);
  await pgClose(sql, schema);
  return rate;
}

/**
 * One thread: lease `batch` rows (UPDATE ... WHERE seq IN (SELECT ... FOR UPDATE SKIP LOCKED)
 * RETURNING), then one statement that deletes them and upserts their results. tasks/s
 */
export async function pgRawDrain(url: string, schema: string, n: number, batch = 32): Promise<number> {
  const sql = await pgOpen(url, schema);
  const q = sql(`${schema}.queue`);
  const res = sql(`${schema}.results`);
  const data = rows(n);
  for (let i = 0; i < n; i += 1000) {
    const part = data.slice(i, i + 1000);
    await sql`INSERT INTO ${q} (queue, id, name, priority, payload)
      SELECT 'bench', id, 'noop', 0, payload FROM unnest(${part.map((r) => r.id)}::text[], ${part.map((r) => r.payload)}::text[]) AS t(id, payload)`;
  }
  await sql`ANALYZE ${q}`; // as autovacuum would have (see FreshStore.settle)
  let done = 0;
  const t0 = performance.now();
  for (;;) {
    const token = crypto.randomUUID();
    const leased: { id: string; payload: string }[] = await sql`
      UPDATE ${q} SET leased_until = ${Date.now() + 30_000}, token = ${token}, leases = leases + 1
      WHERE seq IN (SELECT seq FROM ${q} WHERE queue = 'bench' AND leased_until IS NULL ORDER BY priority DESC, seq LIMIT ${batch} FOR UPDATE SKIP LOCKED)
      RETURNING id, payload`;
    if (leased.length === 0) break;
    const ids = leased.map((l) => l.id);
    const values = leased.map((l) => JSON.stringify({ ok: true, value: (JSON.parse(l.payload) as { args: number[] }).args[0] }));
    await sql`WITH acked AS (DELETE FROM ${q} WHERE id = ANY(${ids}::text[]) AND token = ${token})
      INSERT INTO ${res} (queue, id, payload) SELECT 'bench', * FROM unnest(${ids}::text[], ${values}::text[])
      ON CONFLICT (queue, id) DO UPDATE SET payload = excluded.payload`;
    done += leased.length;
  }
  const rate = n / ((performance.now() - t0) / 1000);
  const [{ c }] = await sql`SELECT count(*)::int AS c FROM ${res}`;
  await pgClose(sql, schema);
  if (done !== n || c !== n) throw new Error(`raw pg drain: leased ${done}, stored ${c} results, expected ${n}`);
  return rate;
}

// ------------------------------------------------------------------ Redis (Bun's RedisClient)

async function redisOpen(url: string): Promise<RedisClient> {
  const client = new RedisClient(url);
  await client.connect();
  return client;
}

/** One LPUSH per item, awaited one by one (a plain list: no priority, no lookup by id). items/s */
export async function redisRawSingle(url: string, prefix: string, n: number): Promise<number> {
  const client = await redisOpen(url);
  const key = `${prefix}:raw:list`;
  const data = rows(n);
  const t0 = performance.now();
  for (const r of data) await client.send("LPUSH", [key, r.payload]);
  const rate = n / ((performance.now() - t0) / 1000);
  await client.send("DEL", [key]);
  client.close();
  return rate;
}

/** One LPUSH of `chunk` items per call. items/s */
export async function redisRawBulk(url: string, prefix: string, n: number, chunk = 1000): Promise<number> {
  const client = await redisOpen(url);
  const key = `${prefix}:raw:list`;
  const data = rows(n);
  const t0 = performance.now();
  for (let i = 0; i < n; i += chunk) await client.send("LPUSH", [key, ...data.slice(i, i + chunk).map((r) => r.payload)]);
  const rate = n / ((performance.now() - t0) / 1000);
  await client.send("DEL", [key]);
  client.close();
  return rate;
}

/** One thread: RPOP `batch` items, then one HSET of their results. tasks/s */
export async function redisRawDrain(url: string, prefix: string, n: number, batch = 32): Promise<number> {
  const client = await redisOpen(url);
  const key = `${prefix}:raw:list`;
  const results = `${prefix}:raw:results`;
  const data = rows(n);
  for (let i = 0; i < n; i += 1000) await client.send("LPUSH", [key, ...data.slice(i, i + 1000).map((r) => r.payload)]);
  let done = 0;
  const t0 = performance.now();
  for (;;) {
    const popped = (await client.send("RPOP", [key, String(batch)])) as string[] | null;
    if (!popped?.length) break;
    const fields: string[] = [];
    for (const p of popped) {
      const m = JSON.parse(p) as { id: string; args: number[] };
      fields.push(m.id, JSON.stringify({ ok: true, value: m.args[0] }));
    }
    await client.send("HSET", [results, ...fields]);
    done += popped.length;
  }
  const rate = n / ((performance.now() - t0) / 1000);
  const stored = Number(await client.send("HLEN", [results]));
  await client.send("DEL", [key, results]);
  client.close();
  if (done !== n || stored !== n) throw new Error(`raw redis drain: popped ${done}, stored ${stored}, expected ${n}`);
  return rate;
}

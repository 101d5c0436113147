// Where the bench's tasks live. Each backend makes a fresh, empty store per measurement, tells
// the consumer process how to reach it (environment for bench/tasks.ts), and gives the bench
// process a Huey on it. Each backend has raw baselines of its own client (SQLite: bench/_raw.ts;
// PostgreSQL and Redis: bench/_raw_services.ts) and its own targets.
import { Database } from "bun:sqlite";
import { RedisClient, SQL } from "bun";
import { join } from "node:path";
import * as thisLibrary from "../src/index";
import type { Huey } from "../src/index";
import { MAX_LEASE_BATCH } from "../src/consumer/engine";
import { rawBulkInsert, rawDrain, rawDrainCeiling, rawSingleInsert } from "./_raw";
import { pgRawBulk, pgRawDrain, pgRawSingle, redisRawBulk, redisRawDrain, redisRawSingle } from "./_raw_services";

export interface FreshStore {
  /** Environment for the consumer process, read by bench/tasks.ts. */
  env: Record<string, string>;
  /** A Huey on this store for the bench process (register tasks on it with defineTasks). */
  huey: Huey;
  /** True when no task is queued or leased: cheap, called every few ms while draining. */
  drained(): boolean | Promise<boolean>;
  /**
   * Once the drain's tasks are stored, within its time (the consumer drains meanwhile): what the server
   * does by itself to a table in use. PostgreSQL: ANALYZE the queue table, as autovacuum does once a tenth of it changed;
   * on a bench's fresh table it had not run yet, so no plan met the statistics a production table has
   * (the lease was JIT-compiled at every call on an analyzed table, unseen here).
   */
  settle?(): Promise<void>;
  close(): Promise<void>;
}

type Target = { op: ">=" | "<=" | "<"; value: number; note?: string };

export interface Backend {
  name: string;
  /** null when available; otherwise why not. */
  check(): Promise<string | null>;
  /** A fresh store; `durable`: commits that survive power loss (SQLite: synchronous FULL; the servers always are). */
  fresh(dir: string, label: string, durable?: boolean): FreshStore;
  /**
   * SQLite only: its default (synchronous NORMAL) does not fsync a commit, so the group-commit gain the
   * issue asks for (one fsync for many calls) is measured on a second store with synchronous FULL.
   */
  durableVariant?: string;
  /** Column heading of the raw figures, e.g. "raw bun:sqlite". */
  rawLabel: string;
  raw: {
    single(dir: string, n: number): Promise<number>;
    bulk(dir: string, n: number, chunk: number): Promise<number>;
    /** "ours": the consumer's statement shapes, leasing `batch` rows per statement. */
    drain(dir: string, n: number, batch: number): Promise<number>;
    /** "ceiling": the fastest shape known for the same work, one thread (sqlite only). */
    ceiling?(dir: string, n: number, batch: number): Promise<number>;
  };
  /** What each raw figure measures, for the notes column. */
  rawNotes: { single: string; bulk: (chunk: number) => string; drain: string };
  /**
   * The targets of issue 14 ("Speed"), on this project's 2-core machine. `drainCold` and `drainSteady`
   * are for the consumer's default workers (-w 1), `drainInline` for -w 0; `drainSteady` holds for the
   * 100,000 and 1,000,000 rows.
   */
  targets: {
    single?: Target; bulk?: Target; drainCold?: Target; drainSteady?: Target; drainInline?: Target;
    latencyP50?: Target; latencyP99?: Target;
    /** 100 concurrent calls from one process. */
    concurrent?: Target;
    /** 100 concurrent calls against calls awaited one by one, on durable commits (sqlite: its durableVariant). */
    groupCommitGain?: Target;
  };
}

type Library = Pick<typeof thisLibrary, "SqliteHuey" | "PostgresHuey" | "RedisHuey">;
let lib: Library = thisLibrary;

/**
 * The bun-huey the bench process enqueues with and reads results through (default: this checkout's
 * src/). A consumer binary of another version needs its own: stores and messages differ between versions.
 */
export function useLibrary(other: Library): void {
  lib = other;
}

const sqlite: Backend = {
  name: "sqlite",
  check: async () => null,
  durableVariant: 'synchronous: "FULL"',
  fresh(dir, label, durable = false) {
    const filename = join(dir, `${label}.db`);
    const huey = new lib.SqliteHuey({ name: "bench", filename, ...(durable ? { synchronous: "FULL" as const } : {}) });
    void huey.storage; // create and migrate the file now, not inside a timed section
    // A second connection for the drained() check: one indexed probe, O(1) whatever the queue size.
    const probe = new Database(filename, { readonly: true });
    probe.run("PRAGMA busy_timeout = 5000");
    const any = probe.prepare("SELECT 1 FROM queue WHERE queue = 'bench' LIMIT 1");
    return {
      env: { HUEY_BENCH_BACKEND: "sqlite", HUEY_BENCH_DB: filename },
      huey,
      drained: () => any.get() === null,
      async close() {
        probe.close(false);
        await huey.close();
      },
    };
  },
  rawLabel: "raw bun:sqlite",
  raw: {
    single: async (dir, n) => rawSingleInsert(dir, n),
    bulk: async (dir, n, chunk) => rawBulkInsert(dir, n, chunk),
    drain: async (dir, n, batch) => rawDrain(dir, n, batch),
    ceiling: async (dir, n, batch) => rawDrainCeiling(dir, n, batch),
  },
  rawNotes: { single: "raw: INSERT per commit, 1 thread (its own checkpoints, past 10,000 WAL pages)", bulk: (c) => `raw: ${c} INSERTs per tx, 1 thread (checkpoints likewise)`, drain: `ours: the storage's claim lease of ${MAX_LEASE_BATCH} + 1 tx of its claim ack and results insert; ceiling: a claim row per ${MAX_LEASE_BATCH} (rows read, not rewritten) + 1 tx of claim and range DELETE and results insert, 1 thread` },
  targets: {
    single: { op: ">=", value: 30_000 },
    bulk: { op: ">=", value: 500_000 },
    concurrent: { op: ">=", value: 150_000 },
    groupCommitGain: { op: ">=", value: 10 },
    drainCold: { op: ">=", value: 60_000 },
    drainSteady: { op: ">=", value: 100_000 },
    drainInline: { op: ">=", value: 120_000 },
    latencyP50: { op: "<=", value: 2 },
    latencyP99: { op: "<=", value: 4 },
  },
};

const PG_URL = process.env.HUEY_BENCH_PG_URL ?? process.env.HUEY_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const REDIS_URL = process.env.HUEY_BENCH_REDIS_URL ?? process.env.HUEY_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const RUN = `${process.pid}_${Math.random().toString(36).slice(2, 6)}`;

const postgres: Backend = {
  name: "postgres",
  async check() {
    const sql = new SQL({ url: PG_URL, max: 1, connectionTimeout: 3 });
    try {
      await sql`SELECT 1`;
      return null;
    } catch (err) {
      return `PostgreSQL at ${PG_URL} is unreachable (${err instanceof Error ? err.message : String(err)}); set HUEY_BENCH_PG_URL`;
    } finally {
      await sql.close({ timeout: 0 }).catch(() => {});
    }
  },
  fresh(_dir, label) {
    const schema = `huey_bench_${RUN}_${label.replace(/[^a-z0-9_]/gi, "_")}`;
    const huey = new lib.PostgresHuey({ name: "bench", url: PG_URL, schema });
    const probe = new SQL({ url: PG_URL, max: 1 });
    return {
      env: { HUEY_BENCH_BACKEND: "postgres", HUEY_BENCH_PG_URL: PG_URL, HUEY_BENCH_PG_SCHEMA: schema },
      huey,
      async drained() {
        const [row] = await probe`SELECT 1 AS x FROM ${probe(`${schema}.queue`)} WHERE queue = 'bench' LIMIT 1`;
        return !row;
      },
      async settle() {
        await probe`ANALYZE ${probe(`${schema}.queue`)}`;
      },
      async close() {
        await huey.close();
        await probe`DROP SCHEMA IF EXISTS ${probe(schema)} CASCADE`;
        await probe.close({ timeout: 1 });
      },
    };
  },
  rawLabel: "raw client",
  raw: {
    single: (_dir, n) => pgRawSingle(PG_URL, `huey_bench_${RUN}_raw`, n),
    bulk: (_dir, n, chunk) => pgRawBulk(PG_URL, `huey_bench_${RUN}_raw`, n, chunk),
    drain: (_dir, n, batch) => pgRawDrain(PG_URL, `huey_bench_${RUN}_raw`, n, batch),
  },
  rawNotes: {
    single: "raw Bun.SQL: INSERT per statement, awaited",
    bulk: (c) => `raw Bun.SQL: INSERT .. unnest of ${c}`,
    drain: `raw Bun.SQL: UPDATE..SKIP LOCKED RETURNING ${MAX_LEASE_BATCH} + DELETE/INSERT results, 1 thread`,
  },
  targets: { drainSteady: { op: ">=", value: 35_000 }, groupCommitGain: { op: ">=", value: 10 } },
};

const redis: Backend = {
  name: "redis",
  async check() {
    const client = new RedisClient(REDIS_URL, { maxRetries: 0, connectionTimeout: 2_000, autoReconnect: false });
    try {
      const pong = await Promise.race([client.send("PING", []), Bun.sleep(3_000).then(() => "no answer within 3s")]);
      return pong === "PONG" ? null : `Redis at ${REDIS_URL}: ${String(pong)}`;
    } catch (err) {
      return `Redis at ${REDIS_URL} is unreachable (${err instanceof Error ? err.message : String(err)}); set HUEY_BENCH_REDIS_URL`;
    } finally {
      client.close();
    }
  },
  fresh(_dir, label) {
    const prefix = `huey_bench_${RUN}_${label}`;
    const huey = new lib.RedisHuey({ name: "bench", url: REDIS_URL, prefix });
    const probe = new RedisClient(REDIS_URL);
    const ready = `${prefix}:bench:ready`;
    const leased = `${prefix}:bench:leased`;
    return {
      env: { HUEY_BENCH_BACKEND: "redis", HUEY_BENCH_REDIS_URL: REDIS_URL, HUEY_BENCH_REDIS_PREFIX: prefix },
      huey,
      async drained() {
        const [a, b] = await Promise.all([probe.send("ZCARD", [ready]), probe.send("ZCARD", [leased])]);
        return Number(a) + Number(b) === 0;
      },
      async close() {
        await huey.flush();
        await huey.close();
        probe.close();
      },
    };
  },
  rawLabel: "raw client",
  raw: {
    single: (_dir, n) => redisRawSingle(REDIS_URL, `huey_bench_${RUN}_raw`, n),
    bulk: (_dir, n, chunk) => redisRawBulk(REDIS_URL, `huey_bench_${RUN}_raw`, n, chunk),
    drain: (_dir, n, batch) => redisRawDrain(REDIS_URL, `huey_bench_${RUN}_raw`, n, batch),
  },
  rawNotes: {
    single: "raw Bun Redis: LPUSH per call, awaited (a plain list)",
    bulk: (c) => `raw Bun Redis: LPUSH of ${c}`,
    drain: "raw Bun Redis: RPOP 32 + HSET results, 1 thread (no lease)",
  },
  targets: { drainSteady: { op: ">=", value: 45_000 } },
};

export const BACKENDS: Record<string, Backend> = { sqlite, postgres, redis };

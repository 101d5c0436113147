// PostgreSQL and Redis for the integration tests: probes, fresh schemas / key prefixes and their
// cleanup, server restarts, and spawned consumers on test/fixtures/backend-fixture.ts.
import { RedisClient, SQL } from "bun";
import { test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { BackendConfig, BackendName } from "./fixtures/backend-fixture";
import { ROOT, servicesRequired, tempDb } from "./harness";

export const PG_URL = process.env.HUEY_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const REDIS_URL = process.env.HUEY_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
export const CLI = join(ROOT, "src", "cli.ts");
export const BACKEND_FIXTURE = join(ROOT, "test", "fixtures", "backend-fixture.ts");

/** Why PostgreSQL cannot be used, or null. */
export async function probePostgres(): Promise<string | null> {
  const sql = new SQL({ url: PG_URL, max: 1, connectionTimeout: 3 });
  try {
    await sql`SELECT 1`;
    return null;
  } catch (err) {
    return `PostgreSQL at ${PG_URL} is unreachable (${err instanceof Error ? err.message : String(err)})`;
  } finally {
    await sql.close({ timeout: 0 }).catch(() => {});
  }
}

/** Why Redis cannot be used, or null. */
export async function probeRedis(): Promise<string | null> {
  const client = new RedisClient(REDIS_URL, { maxRetries: 0, connectionTimeout: 2_000, autoReconnect: false });
  try {
    const pong = await Promise.race([client.send("PING", []), Bun.sleep(3_000).then(() => "no answer within 3s")]);
    return pong === "PONG" ? null : `Redis at ${REDIS_URL}: ${String(pong)}`;
  } catch (err) {
    return `Redis at ${REDIS_URL} is unreachable (${err instanceof Error ? err.message : String(err)})`;
  } finally {
    client.close();
  }
}

export async function probe(backend: BackendName): Promise<string | null> {
  if (backend === "postgres") return probePostgres();
  if (backend === "redis") return probeRedis();
  return null;
}

/**
 * A backend that cannot be reached: print why its tests are skipped, or (HUEY_TEST_SERVICES=
 * require) register a failing test. Returns true when the tests should run.
 */
export function gate(what: string, reason: string | null): boolean {
  if (reason === null) return true;
  if (servicesRequired()) {
    test(`${what}: the server is reachable (HUEY_TEST_SERVICES=require)`, () => {
      throw new Error(reason);
    });
  } else {
    console.warn(`skipping ${what}: ${reason} (set HUEY_TEST_SERVICES=require to fail instead)`);
  }
  return false;
}

function uniqueName(tag: string): string {
  return `huey_${tag}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}

/** A fresh store for `backend` (own file, schema or key prefix) and the cleanup that removes it. */
export function freshConfig(backend: BackendName, tag: string): { config: BackendConfig; cleanup: () => Promise<void> } {
  if (backend === "sqlite") return { config: { backend, db: tempDb(`${tag}.db`) }, cleanup: async () => {} };
  if (backend === "postgres") {
    const schema = uniqueName(tag);
    return { config: { backend, pgUrl: PG_URL, pgSchema: schema }, cleanup: () => dropSchema(schema) };
  }
  const prefix = uniqueName(tag);
  return { config: { backend, redisUrl: REDIS_URL, redisPrefix: prefix }, cleanup: () => deleteKeys(`${prefix}:*`) };
}

export async function dropSchema(schema: string): Promise<void> {
  const admin = new SQL({ url: PG_URL, max: 1, connectionTimeout: 5 });
  try {
    await admin`DROP SCHEMA IF EXISTS ${admin(schema)} CASCADE`;
  } finally {
    await admin.close({ timeout: 1 }).catch(() => {});
  }
}

export async function deleteKeys(pattern: string): Promise<void> {
  const client = new RedisClient(REDIS_URL);
  try {
    let cursor = "0";
    do {
      const [next, keys] = (await client.send("SCAN", [cursor, "MATCH", pattern, "COUNT", "1000"])) as [string, string[]];
      cursor = String(next);
      if (keys.length) await client.send("DEL", keys);
    } while (cursor !== "0");
  } finally {
    client.close();
  }
}

// ------------------------------------------------------------------ servers

function sh(cmd: string[]): { code: number; out: string } {
  const p = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, out: `${p.stdout.toString()}${p.stderr.toString()}` };
}

function pgCluster(action: "restart" | "start" | "stop"): { code: number; out: string } {
  const version = readdirSync("/etc/postgresql")[0]!;
  return sh(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action]);
}

/**
 * Restart PostgreSQL (fast shutdown: every connection is dropped), staying down `downMs` in
 * between so clients see refused connections for a while, not just dropped ones.
 */
export async function restartPostgres(downMs = 0): Promise<void> {
  if (downMs <= 0) {
    const r = pgCluster("restart");
    if (r.code !== 0) throw new Error(`pg_ctlcluster restart failed (${r.code}): ${r.out}`);
    return;
  }
  const stop = pgCluster("stop");
  try {
    if (stop.code !== 0) throw new Error(`pg_ctlcluster stop failed (${stop.code}): ${stop.out}`);
    await Bun.sleep(downMs);
  } finally {
    const start = pgCluster("start");
    if (start.code !== 0) throw new Error(`pg_ctlcluster start failed (${start.code}): ${start.out}`);
  }
}

/** Start PostgreSQL if it is not running (test cleanup: always leave it up). */
export async function ensurePostgres(): Promise<void> {
  if ((await probePostgres()) === null) return;
  pgCluster("start");
}

const REDIS_START = [
  "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379", "--save", "", "--appendonly", "no",
  "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log",
];

function startRedis(): void {
  const r = sh(REDIS_START);
  if (r.code !== 0) throw new Error(`redis-server failed to start (${r.code}): ${r.out}`);
}

/**
 * Restart Redis keeping its data: SHUTDOWN SAVE writes a snapshot (the server runs without
 * persistence otherwise) that the new server loads from --dir; the snapshot is removed once loaded,
 * so later restarts start empty as before.
 */
export async function restartRedis(downMs = 0): Promise<void> {
  sh(["redis-cli", "-p", "6379", "shutdown", "save"]);
  try {
    await waitUntil(async () => (await probeRedis()) !== null, "Redis to stop", 10_000);
    await Bun.sleep(downMs);
  } finally {
    startRedis();
  }
  await waitUntil(async () => (await probeRedis()) === null, "Redis to start", 10_000);
  sh(["rm", "-f", "/var/lib/redis/dump.rdb"]);
}

/** Start Redis if it is not running (test cleanup: always leave it up). */
export async function ensureRedis(): Promise<void> {
  if ((await probeRedis()) === null) return;
  try {
    startRedis();
  } catch {
    /* reported by the next probe */
  }
  await waitUntil(async () => (await probeRedis()) === null, "Redis to start", 10_000).catch(() => {});
}

async function waitUntil(cond: () => Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

// ------------------------------------------------------------------ consumers

/** The environment backend-fixture.ts reads to build the same Huey in a spawned consumer. */
export function configToEnv(c: BackendConfig): Record<string, string> {
  const env: Record<string, string> = { HUEY_BACKEND: c.backend };
  if (c.db) env.HUEY_DB = c.db;
  if (c.pgUrl) env.HUEY_PG_URL = c.pgUrl;
  if (c.pgSchema) env.HUEY_PG_SCHEMA = c.pgSchema;
  if (c.redisUrl) env.HUEY_REDIS_URL = c.redisUrl;
  if (c.redisPrefix) env.HUEY_REDIS_PREFIX = c.redisPrefix;
  return env;
}

export interface Spawned {
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  /** stderr so far (the consumer logs there). */
  log(): string;
  alive(): boolean;
  /** SIGTERM and wait; the exit code. */
  stop(): Promise<number | null>;
}

/** `huey run backend-fixture.ts ...args` (source, or the binary after useBinary) on the store `config` names. */
export function spawnConsumer(config: BackendConfig, args: string[], env: Record<string, string> = {}): Spawned {
  return spawnCli(["run", BACKEND_FIXTURE, ...args], { ...configToEnv(config), ...env });
}

let command: string[] = ["bun", CLI];

/** Run consumers with the compiled binary instead of `bun src/cli.ts` (end-to-end). */
export function useBinary(path: string): void {
  command = [path];
}

export function spawnCli(args: string[], env: Record<string, string> = {}): Spawned {
  const proc = Bun.spawn([...command, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env, NO_COLOR: "1" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let text = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) text += decoder.decode(chunk, { stream: true });
  })();
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  return {
    proc,
    log: () => text,
    alive,
    async stop() {
      if (alive()) proc.kill("SIGTERM");
      const killer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
      const code = await proc.exited;
      clearTimeout(killer);
      return code;
    },
  };
}

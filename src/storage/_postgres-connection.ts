import { SQL } from "bun";
import { DuplicateIdError, StorageError } from "../errors";
import { type Db, type Row, tables, type Tables } from "./_postgres-sql";
import { POSTGRES_MIGRATIONS } from "./sql/postgres/migrations";

/** Key space of pg_advisory_xact_lock(int, int) used for migrations: "huey" in ASCII. */
const MIGRATION_LOCK_CLASS = 0x68756579;
/** How long close() lets running queries finish, in seconds. */
const CLOSE_TIMEOUT_S = 5;

/**
 * The options of a PostgresStorage's pool (Bun.SQL). `connection` holds the settings each connection
 * opens with. jit off: every statement here is short, and once the queue table has statistics
 * (autovacuum analyzes it) the planner's estimate for the lease (up to 100 lanes times a tenth of the
 * rows) passed jit_above_cost, so PostgreSQL compiled the lease anew each time: 27 ms for 512 rows
 * instead of 8 here.
 */
export function clientOptions(url: string, max: number, connectTimeoutMs: number) {
  return {
    url,
    max,
    // Bun counts in seconds.
    connectionTimeout: Math.max(1, Math.ceil(connectTimeoutMs / 1000)),
    connection: { jit: "off" },
  };
}

/**
 * The pool of one PostgresStorage: opened, and the schema migrated, on the first query; a
 * failure there is not memoised. Errors of every query become StorageErrors that say what to do.
 */
export class PgConnection {
  readonly url: string;
  readonly schema: string;
  #max: number;
  #connectTimeout: number;
  #ready: Promise<Db> | null = null;
  #sql: SQL | null = null;
  #closed = false;

  constructor(o: { url: string; schema: string; max: number; connectTimeout: number }) {
    this.url = o.url;
    this.schema = o.schema;
    this.#max = o.max;
    this.#connectTimeout = o.connectTimeout;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Refuse every query from now on; end() then closes the pool. */
  stop(): void {
    this.#closed = true;
  }

  async end(): Promise<void> {
    const sql = this.#sql;
    this.#sql = null;
    // Also closes the LISTEN connection, so the process can exit.
    if (sql) await sql.close({ timeout: CLOSE_TIMEOUT_S }).catch(() => {});
  }

  /** Connect and migrate once; a failure is not memoised, so the next call tries again. */
  connect(what: string): Promise<Db> {
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
      sql = new SQL(clientOptions(this.url, this.#max, this.#connectTimeout));
    } catch (err) {
      throw describePgError(err, this.url, "connect");
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
      throw describePgError(err, this.url, "connect");
    }
    return db;
  }

  async run<T>(what: string, fn: (db: Db) => Promise<T>): Promise<T> {
    const db = await this.connect(what);
    try {
      return await fn(db);
    } catch (err) {
      throw describePgError(err, this.url, what);
    }
  }

  async count(fn: (db: Db) => Promise<Row[]>): Promise<number> {
    const [row] = await this.run("count", fn);
    return Number(row!.n);
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
export function describePgError(err: unknown, url: string, what: string): unknown {
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

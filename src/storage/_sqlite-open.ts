import { Database } from "bun:sqlite";
import { closeSync, existsSync, fchmodSync, openSync } from "node:fs";
import { StorageError } from "../errors";
import { describeSqliteError } from "./_sqlite-errors";
import { SQLITE_MIGRATIONS } from "./sql/migrations";

/** Open (creating when missing), set pragmas in the order that avoids SQLITE_BUSY, migrate. */
export interface SqliteStorageOptions {
  /** Path of the database file (created when missing), or ":memory:". */
  filename: string;
  /** Queue name; several queues can share one file. */
  queue: string;
  /**
   * "NORMAL" survives a process crash without loss; "FULL" also survives power loss at the
   * cost of one fsync per commit.
   * @default "NORMAL"
   */
  synchronous?: "NORMAL" | "FULL";
  /** How long a statement waits for another process's write lock, in ms. @default 5000 */
  busyTimeout?: number;
  /** Open without writing anything: for inspection tools. @default false */
  readonly?: boolean;
  /**
   * Permissions of the database file when it is created (exactly these, whatever the umask).
   * SQLite gives its -wal and -shm files the database file's permissions, and so does bun-huey
   * for its -wake-* files. An existing database file keeps its own. @default 0o600
   */
  fileMode?: number;
}

/** The busy timeout a store's connection waits with, in ms. */
export function busyTimeoutOf(o: SqliteStorageOptions): number {
  return Math.max(0, Math.trunc(o.busyTimeout ?? 5000));
}

export function openDatabase(o: SqliteStorageOptions): Database {
  const busyTimeout = busyTimeoutOf(o);
  const started = performance.now();
  let db: Database | undefined;
  try {
    if (!o.readonly) createWithMode(o.filename, o.fileMode ?? DEFAULT_FILE_MODE);
    db = o.readonly
      ? new Database(o.filename, { readonly: true, strict: true })
      : new Database(o.filename, { create: true, readwrite: true, strict: true });
    // busy_timeout FIRST: with another order, processes opening a new file at once saw SQLITE_BUSY.
    db.run(`PRAGMA busy_timeout = ${busyTimeout}`);
    if (o.readonly) {
      checkSchema(db, o.filename);
      return db;
    }
    const open = { db, filename: o.filename, busyTimeout, started };
    if (o.filename !== ":memory:") {
      const mode = whileBusy(open, "switch it to WAL mode", () => (db!.query("PRAGMA journal_mode = WAL").get() as { journal_mode: string }).journal_mode);
      if (mode !== "wal") throw new StorageError(`${o.filename}: could not switch to WAL mode (got "${mode}")`);
    }
    db.run(`PRAGMA synchronous = ${o.synchronous === "FULL" ? "FULL" : "NORMAL"}`);
    whileBusy(open, "apply its migrations", () => migrate(db!));
    return db;
  } catch (err) {
    db?.close(false);
    throw describeSqliteError(err, o.filename, "open");
  }
}

/** Permissions of the files bun-huey creates: the owner's alone, for they hold task arguments and results. */
export const DEFAULT_FILE_MODE = 0o600;

/**
 * Create a missing database file with `mode` (exactly: umask aside), so that SQLite, which gives
 * -wal and -shm the database file's permissions, creates those with it too. An existing file keeps
 * its mode. Any failure here is left for SQLite's own open to report.
 */
function createWithMode(filename: string, mode: number): void {
  if (filename === ":memory:" || filename === "" || existsSync(filename)) return;
  let fd: number;
  try {
    fd = openSync(filename, "wx", mode);
  } catch {
    return; // created by another process meanwhile, or a folder SQLite will report on
  }
  try {
    fchmodSync(fd, mode);
  } catch {
    /* a file system without modes: it stays as created */
  } finally {
    closeSync(fd);
  }
}

/**
 * Run one step of opening, again while it fails with SQLITE_BUSY, until `busyTimeout` ms have
 * passed since the open began. SQLite answers some steps BUSY at once, without waiting for
 * busy_timeout: `PRAGMA journal_mode = WAL` while another connection is switching the same new
 * file, and any lock upgrade that could deadlock. Each retry waits at most the time that is left.
 */
function whileBusy<T>(
  o: { db: Database; filename: string; busyTimeout: number; started: number },
  what: string,
  step: () => T,
): T {
  let pause = 1;
  let retried = false;
  try {
    for (;;) {
      try {
        return step();
      } catch (err) {
        const waited = performance.now() - o.started;
        if (!String((err as { code?: unknown }).code).startsWith("SQLITE_BUSY")) throw err;
        if (waited >= o.busyTimeout) {
          throw new StorageError(
            `open ${o.filename}: could not ${what}: another connection kept the database locked for ${Math.round(waited)} ms ` +
              `(busyTimeout is ${o.busyTimeout} ms); retry, or raise busyTimeout`,
            { cause: err },
          );
        }
        // A little jitter, so that processes that collided once do not collide again in step.
        Bun.sleepSync(Math.min(pause * (0.5 + Math.random()), o.busyTimeout - waited));
        pause = Math.min(pause * 2, 20);
        retried = true;
        o.db.run(`PRAGMA busy_timeout = ${Math.max(0, Math.ceil(o.busyTimeout - (performance.now() - o.started)))}`);
      }
    }
  } finally {
    if (retried) o.db.run(`PRAGMA busy_timeout = ${o.busyTimeout}`);
  }
}

function migrate(db: Database): void {
  db.transaction(() => {
    db.run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    const row = db.query("SELECT max(version) AS v FROM schema_version").get() as { v: number | null };
    const current = row.v ?? 0;
    const latest = SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1]!.version;
    if (current > latest) {
      throw new StorageError(
        `the database has schema version ${current}, newer than this bun-huey knows (${latest}); upgrade bun-huey`,
      );
    }
    for (const m of SQLITE_MIGRATIONS) {
      if (m.version <= current) continue;
      db.run(m.sql);
      db.query("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)").run(m.version, Date.now());
    }
  }).immediate();
}

function checkSchema(db: Database, filename: string): void {
  const t = db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get();
  if (!t) throw new StorageError(`${filename} is not a bun-huey database (no schema_version table)`);
}

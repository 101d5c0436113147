import { accessSync, constants, existsSync } from "node:fs";
import { dirname } from "node:path";
import { DuplicateIdError, StorageError } from "../errors";

/** The file exists but it, or its folder (WAL needs to create files there), cannot be written. */
function isReadOnlyPlace(filename: string): boolean {
  if (!existsSync(filename)) return false;
  for (const path of [filename, dirname(filename)]) {
    try {
      accessSync(path, constants.W_OK);
    } catch {
      return true;
    }
  }
  return false;
}

/** Turn SQLite's error codes into messages that say what to do. */
export function describeSqliteError(err: unknown, filename: string, what: string): unknown {
  // Ours already (a StorageError, a DuplicateIdError): keep it as it is.
  if (!(err instanceof Error) || String((err as { code?: unknown }).code).startsWith("HUEY_")) return err;
  const code = String((err as { code?: unknown }).code ?? "");
  // Extended codes (SQLITE_READONLY_DBMOVED, SQLITE_IOERR_WRITE...) share their primary code's advice.
  const base = code.split("_").slice(0, 2).join("_");
  const file = filename === ":memory:" ? "the in-memory database" : filename;
  const hint: Record<string, string> = {
    SQLITE_NOTADB: `${file} is not a SQLite database; point filename at a new path or an existing bun-huey database`,
    SQLITE_CORRUPT: `${file} is corrupt (${err.message}); restore it from a backup, or run "sqlite3 ${file} .recover"`,
    SQLITE_READONLY: `${file} is read-only (${err.message}); the consumer and producers need write access to the file and its folder`,
    SQLITE_FULL: `the disk holding ${file} is full; free space, then retry: nothing already stored was lost`,
    SQLITE_BUSY: `${file} stayed locked by another connection past busy_timeout; retry, or raise busyTimeout`,
    SQLITE_CANTOPEN: `cannot open ${file} (${err.message}); check that the folder exists and is writable`,
    SQLITE_IOERR: `I/O error on ${file} (${err.message}); check the disk`,
  };
  if (base === "SQLITE_CANTOPEN" && filename !== ":memory:" && isReadOnlyPlace(filename)) {
    return new StorageError(
      `${what}: ${file} is read-only (its file system or folder does not allow writes); the consumer and producers need write access to the file and its folder`,
      { cause: err },
    );
  }
  const message = hint[base];
  if (!message) {
    if (/constraint/i.test(code) && /UNIQUE/i.test(err.message)) {
      return new DuplicateIdError(`${what}: a task with the same id is already queued (${err.message})`, { cause: err });
    }
    return new StorageError(`${what} failed on ${file}: ${err.message}`, { cause: err });
  }
  return new StorageError(`${what}: ${message}`, { cause: err });
}

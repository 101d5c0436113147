// The files under an open SQLite database, as they were at open: replacing or deleting the database file,
// or deleting its -wal or -shm file, while it is open splits the processes that use it (this one keeps
// writing to the old files, which nobody else reads). `check()` tells, with three stat calls and no SQL.
import { statSync } from "node:fs";
import { resolve } from "node:path";

interface WatchedFile {
  label: string;
  path: string;
  dev: bigint;
  ino: bigint;
  /** Permission bits. */
  mode: number;
}

export class DatabaseFiles {
  readonly #files: WatchedFile[];

  /** `file`: the database's path, or null for an in-memory database (nothing to watch). */
  constructor(file: string | null) {
    if (file === null) {
      this.#files = [];
      return;
    }
    // Absolute, as SQLite keeps it: a later chdir must not make the file look deleted.
    const path = resolve(file);
    this.#files = [
      watched("database file", path),
      watched("WAL file", `${path}-wal`),
      watched("shared-memory file", `${path}-shm`),
    ].filter((f): f is WatchedFile => f !== null);
  }

  /** The database file's permission bits at open, or null when there is none. */
  get mode(): number | null {
    return this.#files[0]?.mode ?? null;
  }

  /** A one-line description of a file deleted or replaced since open, or null. */
  check(): string | null {
    for (const f of this.#files) {
      let now;
      try {
        now = statSync(f.path, { bigint: true, throwIfNoEntry: false });
      } catch (err) {
        if ((err as { code?: string }).code !== "ENOTDIR") return null; // cannot look (permissions): no verdict
      }
      if (!now) return `the ${f.label} ${f.path} was deleted while open`;
      if (now.ino !== f.ino || now.dev !== f.dev) return `the ${f.label} ${f.path} was replaced (inode changed)`;
    }
    return null;
  }
}

/** The identity of `path` now, or null when it does not exist (a -wal or -shm not made yet). */
function watched(label: string, path: string): WatchedFile | null {
  const st = statSync(path, { bigint: true, throwIfNoEntry: false });
  return st ? { label, path, dev: st.dev, ino: st.ino, mode: Number(st.mode & 0o777n) } : null;
}

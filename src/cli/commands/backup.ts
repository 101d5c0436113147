// `huey backup FILE OUT.db`: a consistent copy of a SQLite queue while consumers run. SQLite's
// `VACUUM INTO` reads the database in one read transaction: under WAL that is a snapshot of the
// last commit before it began, and it blocks no writer.
import { defineCommand } from "citty";
import { closeSync, existsSync, fchmodSync, fsyncSync, linkSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { SqliteStorage } from "../../storage/sqlite";
import { commonArgs, extraPositionals, fileArg, withHuey } from "../_context";
import { CliError } from "../errors";
import { inert, out, plural, printJson } from "../_output";

const args = {
  file: fileArg,
  out: { type: "positional", description: "the copy to write (a new file; --force to replace one)", required: true, valueHint: "OUT.db" },
  force: { type: "boolean", description: "replace OUT if it exists (and drop its -wal and -shm files)" },
  ...commonArgs,
} as const;

export default defineCommand({
  meta: {
    name: "backup",
    description:
      "Copy the queue's SQLite database to OUT, consistently, while consumers run: the copy holds every commit made before the backup began. " +
      "It has the source's file mode (0600 unless fileMode says otherwise). SQLite queues only: for PostgreSQL use pg_dump, for Redis its RDB/AOF.\n\n" +
      "Examples:\n" +
      "  huey backup tasks.ts /var/backups/app-$(date +%F).db\n" +
      "  huey backup tasks.ts app-copy.db --force",
  },
  args,
  async run({ args: a, rawArgs }) {
    extraPositionals(rawArgs, args, "backup", 1, 0);
    const target = a.out;
    if (existsSync(target) && !a.force) {
      throw new CliError(`${target} already exists; choose a new file, or --force to replace it`, undefined, "exists");
    }
    await withHuey(a.file, a.instance, async (huey) => {
      const storage = huey.storage;
      if (storage.kind !== "sqlite") {
        throw new CliError(
          `huey backup copies SQLite queues; queue "${inert(huey.name)}" is on ${storage.kind} (back it up with that server's tools: pg_dump for PostgreSQL, an RDB snapshot for Redis)`,
          undefined,
          "unsupported",
        );
      }
      const sqlite = storage as SqliteStorage;
      if (sqlite.filename === ":memory:" || sqlite.filename === "") throw new CliError("the queue is an in-memory SQLite database: there is no file to copy", undefined, "unsupported");
      const started = Date.now();
      const bytes = backup(sqlite, target, a.force === true);
      const ms = Date.now() - started;
      if (a.json) return printJson({ source: sqlite.filename, out: target, bytes, startedAt: started, ms });
      out(`backed up ${sqlite.filename} to ${target} (${plural(bytes, "byte")}, ${ms}ms)`);
    });
  },
});

/**
 * Write the snapshot to a new file beside OUT (created empty with the source's mode, as
 * VACUUM INTO requires), fsync it, then put it in place: a link, which fails if OUT appeared
 * meanwhile, or with `force` a rename over it. A failed backup leaves OUT as it was.
 */
function backup(storage: SqliteStorage, target: string, force: boolean): number {
  const mode = statSync(storage.filename).mode & 0o777;
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  rmSync(tmp, { force: true });
  let fd = openSync(tmp, "wx", mode);
  try {
    fchmodSync(fd, mode); // exactly the source's mode, whatever the umask
  } finally {
    closeSync(fd);
  }
  try {
    storage.database.query("VACUUM INTO ?").run(tmp);
    fd = openSync(tmp, "r+");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (force) {
      // Another file's -wal next to the copy would be read as the copy's own.
      for (const suffix of ["-wal", "-shm"]) rmSync(target + suffix, { force: true });
      renameSync(tmp, target);
    } else {
      try {
        linkSync(tmp, target);
      } catch (err) {
        if ((err as { code?: string }).code === "EEXIST") throw new CliError(`${target} already exists; choose a new file, or --force to replace it`, undefined, "exists");
        throw err;
      }
      rmSync(tmp);
    }
    return statSync(target).size;
  } finally {
    rmSync(tmp, { force: true });
  }
}

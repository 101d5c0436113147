// SqliteHuey: a Huey on one SQLite file, beside its storage.
import { resolveDbFilename } from "../_caller";
import { ConfigurationError } from "../errors";
import { Huey, type HueyOptions } from "../huey";
import { SqliteStorage, type SqliteStorageOptions } from "./sqlite";

export interface SqliteHueyOptions extends Omit<HueyOptions, "storage">, Partial<Omit<SqliteStorageOptions, "queue">> {}

/**
 * A Huey on one SQLite file: `new SqliteHuey({ name: "app", filename: "app.db" })`. A relative filename is
 * resolved against the folder of the file that runs `new SqliteHuey(...)` (not the working directory), so the
 * consumer, the CLI and a web app started elsewhere open the same database; when that file cannot be found
 * (code from eval), against the working directory.
 */
export class SqliteHuey extends Huey {
  /** The database file, absolute (or ":memory:"). */
  readonly filename: string;
  constructor(options: SqliteHueyOptions) {
    const given = options.filename ?? `${options.name}.db`;
    if (typeof given !== "string" || given === "") {
      throw new ConfigurationError(`SqliteHuey "filename" must be a path, got ${JSON.stringify(options.filename)}`);
    }
    const filename = resolveDbFilename(given, new.target);
    if (options.synchronous !== undefined && options.synchronous !== "NORMAL" && options.synchronous !== "FULL") {
      throw new ConfigurationError(`SqliteHuey "synchronous" must be "NORMAL" or "FULL", got ${JSON.stringify(options.synchronous)}`);
    }
    super({
      ...options,
      storage: () =>
        new SqliteStorage({
          filename,
          queue: options.name,
          synchronous: options.synchronous,
          busyTimeout: options.busyTimeout,
          readonly: options.readonly,
          fileMode: options.fileMode,
        }),
    });
    this.filename = filename;
  }
}

// SqliteHuey: a Huey on one SQLite file, beside its storage.
import { ConfigurationError } from "../errors";
import { Huey, type HueyOptions } from "../huey";
import { SqliteStorage, type SqliteStorageOptions } from "./sqlite";

export interface SqliteHueyOptions extends Omit<HueyOptions, "storage">, Partial<Omit<SqliteStorageOptions, "queue">> {}

/** A Huey on one SQLite file: `new SqliteHuey({ name: "app", filename: "app.db" })`. */
export class SqliteHuey extends Huey {
  readonly filename: string;
  constructor(options: SqliteHueyOptions) {
    const filename = options.filename ?? `${options.name}.db`;
    if (typeof filename !== "string" || filename === "") {
      throw new ConfigurationError(`SqliteHuey "filename" must be a path, got ${JSON.stringify(options.filename)}`);
    }
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

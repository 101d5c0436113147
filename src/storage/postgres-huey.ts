// PostgresHuey: a Huey on PostgreSQL, beside its storage, with enqueueing inside the caller's transaction.
import { ConfigurationError } from "../errors";
import { Huey, type HueyOptions } from "../huey";
import { Result, ResultGroup } from "../result";
import type { AnyTaskDef } from "../task";
import { internalsOf } from "../_internals";
import { PostgresStorage, type PostgresStorageOptions } from "./postgres";
import type { Storage } from "./types";

export interface PostgresHueyOptions extends Omit<HueyOptions, "storage">, Omit<PostgresStorageOptions, "queue"> {}

/**
 * A Huey on PostgreSQL: `new PostgresHuey({ name: "app", url: process.env.DATABASE_URL })`.
 * Tables live in their own schema (`huey` by default); consumers on many machines share them.
 */
export class PostgresHuey extends Huey {
  constructor(options: PostgresHueyOptions) {
    if (typeof options.url !== "string" || options.url === "") {
      throw new ConfigurationError(`PostgresHuey needs a "url" such as postgres://user@host:5432/db, got ${JSON.stringify(options.url)}`);
    }
    const { url, schema, max, connectTimeout } = options;
    super({ ...options, storage: () => new PostgresStorage({ url, queue: options.name, schema, max, connectTimeout }) });
  }

  /**
   * Enqueue calls inside your own PostgreSQL transaction, so the tasks exist only if your writes
   * commit: `await sql.begin(async (tx) => { await tx\`INSERT INTO orders ...\`;
   * await huey.enqueueInTransaction(tx, [[sendReceipt, [orderId]]]); })`. `tx` is a Bun.SQL
   * transaction on the same database as this PostgresHuey. Calls with `{ delay }` or `{ eta }`
   * are not accepted here (use a task with no delay, or schedule after the commit); unique tasks
   * are refused, as in enqueueMany. Consumers are woken when the transaction commits. The
   * "enqueued" signal is not emitted: this process cannot know whether the transaction commits.
   */
  async enqueueInTransaction<R = unknown>(
    tx: Parameters<PostgresStorage["enqueueWith"]>[0],
    calls: Iterable<readonly [AnyTaskDef, readonly unknown[]]>,
  ): Promise<ResultGroup<R>> {
    const storage = this.storage as Storage & Partial<Pick<PostgresStorage, "enqueueWith">>;
    if (this.options.immediate || typeof storage.enqueueWith !== "function") {
      throw new ConfigurationError(
        `huey.enqueueInTransaction() needs a PostgresHuey (this huey "${this.name}" uses ${this.options.immediate ? "immediate mode" : `${storage.kind} storage`})`,
      );
    }
    if (!tx || typeof tx !== "function") {
      throw new ConfigurationError("huey.enqueueInTransaction(tx, calls): tx must be the transaction of a Bun.SQL sql.begin() callback");
    }
    const items = [...calls].map(([def, args]) => internalsOf(this).itemFor(def, args, "in a transaction"));
    await storage.enqueueWith(tx, items);
    return new ResultGroup<R>(items.map((it) => new Result<R>(it.id, this, it.payload)));
  }
}

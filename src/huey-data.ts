// What a queue holds, read and changed by id or key: revocations, key-value data, introspection, dead
// letters and locks. Huey (huey.ts) adds the tasks; this part needs only the storage.
import { ConfigurationError } from "./errors";
import { countFailed, listFailed, purgeFailed, retryFailed, type FailedTask } from "./dead-letters";
import { flushLocks, withLock } from "./locks";
import { itemInfo, KEYS, readMessage } from "./message";
import { Result, type ResultOwner } from "./result";
import { decode, encode } from "./serializer";
import type { TaskInfo } from "./signals";
import { DEFAULT_LANE, type LockInfo, type QueueItem, type Storage } from "./storage/types";
import { toEpochMs, type Duration } from "./_time";
import { taskLog, taskState, type TaskState } from "./task-state";
import type { TaskLog } from "./task-log";

export interface PendingTask extends TaskInfo {
  /** The named queue (the task option `queue`). */
  queue: string;
  /** Taken by a consumer (running or about to). */
  leased: boolean;
}

export interface ScheduledTask extends TaskInfo {
  /** The named queue (the task option `queue`). */
  queue: string;
  eta: number;
}

/** The named queue of a stored item: its message says (not every backend lists the lane column). */
function queueOf(it: QueueItem): string {
  try {
    return readMessage(it.payload).queue ?? DEFAULT_LANE;
  } catch {
    return it.lane ?? DEFAULT_LANE;
  }
}

export abstract class HueyData implements ResultOwner {
  #storage: Storage | null = null;
  readonly #storageFactory: () => Storage;

  constructor(storageFactory: () => Storage) {
    this.#storageFactory = storageFactory;
  }

  /** The storage, opened on first use. */
  get storage(): Storage {
    return (this.#storage ??= this.#storageFactory());
  }

  /** Retries of a registered task (a retried dead letter gets them back). */
  protected abstract retriesOf(name: string): number;

  // ------------------------------------------------------------------ locks

  /**
   * Run `fn` holding the lock `key` (for code inside a task). Throws TaskLockedError when someone
   * else holds it. The lock is a lease renewed while `fn` runs, so a process that dies frees it.
   * `fn` gets the lock's fencing token: pass it with writes elsewhere, which can then refuse a
   * token older than one they have seen (a holder whose lease ran out while it was paused).
   */
  async withLock<T>(key: string, fn: (fence: number) => T | Promise<T>, options: { lease?: Duration } = {}): Promise<T> {
    return withLock(this.storage, key, fn, options);
  }

  /** True while someone holds the lock `key`. */
  async isLocked(key: string): Promise<boolean> {
    return (await this.storage.listLocks(Date.now())).some((l) => l.key === key);
  }

  /** Locks held now, with their owner, lease end and fencing token. */
  locks(): Promise<LockInfo[]> {
    return this.storage.listLocks(Date.now());
  }

  /** Free the named locks, or every lock when none is named; returns how many were freed. */
  async flushLocks(...keys: string[]): Promise<number> {
    return flushLocks(this.storage, keys);
  }

  // ------------------------------------------------------------------ revocation

  /**
   * Skip the task with this id when it comes up (signal "revoked"); abort it if running. The
   * task must be queued, scheduled or running: revoking an id that is unknown or already
   * finished is an error, not a silent no-op.
   */
  async revokeById(id: string, options?: { until?: Date | number; once?: boolean }): Promise<void> {
    if (typeof id !== "string" || id === "") throw new ConfigurationError(`revokeById() needs a task id, got ${JSON.stringify(id)}`);
    if (!(await this.storage.hasTask(id))) {
      const finished = (await this.storage.getResult(id, true, Date.now())) !== null;
      throw new ConfigurationError(
        finished
          ? `task ${id} has already finished; there is nothing to revoke`
          : `no task with id ${id} is queued, scheduled or running (check the id; finished tasks cannot be revoked)`,
      );
    }
    return this.revokeKey(KEYS.revokedId + id, options);
  }

  restoreById(id: string): Promise<boolean> {
    return this.storage.deleteData(KEYS.revokedId + id);
  }

  isRevokedId(id: string): Promise<boolean> {
    return this.isRevokedKey(KEYS.revokedId + id);
  }

  protected async revokeKey(key: string, o: { until?: Date | number; once?: boolean } = {}): Promise<void> {
    const until = o.until === undefined ? null : toEpochMs(o.until, "revoke() until");
    await this.storage.putData(key, JSON.stringify({ until, once: o.once ?? false }));
  }

  protected async isRevokedKey(key: string): Promise<boolean> {
    const raw = await this.storage.getData(key, true);
    if (raw === null) return false;
    const r = JSON.parse(raw) as { until: number | null };
    return r.until === null || r.until > Date.now();
  }


  // ------------------------------------------------------------------ key-value data

  /** Store a JSON value under `key` (shared by every process on this store). */
  async put(key: string, value: unknown): Promise<void> {
    await this.storage.putData(KEYS.user + key, encode(value, `huey.put("${key}")`));
  }

  /** Store only when `key` is absent; true when stored. */
  putIfEmpty(key: string, value: unknown): Promise<boolean> {
    return this.storage.putIfEmpty(KEYS.user + key, encode(value, `huey.putIfEmpty("${key}")`));
  }

  /** Read `key`: removes it unless `peek` (as in Huey). Undefined when absent. */
  async get<T = unknown>(key: string, options: { peek?: boolean } = {}): Promise<T | undefined> {
    const raw = await this.storage.getData(KEYS.user + key, options.peek ?? false);
    return raw === null ? undefined : decode<T>(raw);
  }

  delete(key: string): Promise<boolean> {
    return this.storage.deleteData(KEYS.user + key);
  }

  // ------------------------------------------------------------------ introspection

  /** Tasks waiting to run (and, flagged `leased`, those taken by a consumer), in run order. */
  async pending(options: { limit?: number; queue?: string } = {}): Promise<PendingTask[]> {
    const items = await this.storage.listPending(options.limit ?? 100, options.queue);
    return items.map((it) => ({ ...itemInfo(it), queue: queueOf(it), leased: it.leased }));
  }

  /** Tasks waiting for their eta (delayed tasks and retries), earliest first. */
  async scheduled(options: { limit?: number; queue?: string } = {}): Promise<ScheduledTask[]> {
    const items = await this.storage.listScheduled(options.limit ?? 100, options.queue);
    return items.map((it) => ({ ...itemInfo(it), queue: queueOf(it), eta: it.eta }));
  }

  /** Ready tasks waiting to run (not counting running ones). */
  /** `queue`: of that named queue only (so for scheduledCount). */
  pendingCount(queue?: string): Promise<number> {
    return this.storage.pendingCount(queue);
  }

  scheduledCount(queue?: string): Promise<number> {
    return this.storage.scheduledCount(queue);
  }

  resultCount(): Promise<number> {
    return this.storage.resultCount();
  }

  /** Remove every task, schedule entry, result, dead letter, lock and key of this queue. */
  flush(): Promise<void> {
    return this.storage.flush();
  }

  // ------------------------------------------------------------------ state and log by id

  /** Where task `id` is in its life: queued, scheduled, running, done, failed, canceled, revoked, expired or unknown (see TaskState). */
  state(id: string, options: { now?: number } = {}): Promise<TaskState> {
    return taskState(this, id, options.now ?? Date.now());
  }

  /** The lines task `id` wrote with ctx.log() and the timeline of its signals, every attempt, oldest first. */
  taskLog(id: string): Promise<TaskLog> {
    return taskLog(this.storage, id);
  }

  // ------------------------------------------------------------------ dead letters

  /** How many tasks are in the dead-letter store; of that named queue when `queue` is given. */
  failedCount(queue?: string): Promise<number> {
    return countFailed(this.storage, queue);
  }

  /**
   * Tasks that failed for good, oldest first, with their arguments, error, attempts and queue;
   * `queue`: of that named queue only.
   */
  async failed(options: { limit?: number; queue?: string } = {}): Promise<FailedTask[]> {
    return listFailed(this.storage, options.limit ?? 100, options.queue);
  }

  /** Enqueue a failed task again (same id, its retries restored) and drop its dead letter. */
  async retryFailed(id: string): Promise<Result<unknown>> {
    const payload = await retryFailed(this.storage, id, (name) => this.retriesOf(name));
    return new Result(id, this, payload);
  }

  /**
   * Drop one dead letter, or all of them (of that named queue when `queue` is given; 1000 per
   * transaction, `onProgress` told the running total after each); returns how many were dropped.
   */
  async purgeFailed(id?: string, options: { onProgress?: (purged: number) => void; queue?: string } = {}): Promise<number> {
    return purgeFailed(this.storage, id, options.onProgress, options.queue);
  }


  /** Close the storage; the next use opens it again. */
  async close(): Promise<void> {
    const s = this.#storage;
    this.#storage = null;
    await s?.close();
  }
}

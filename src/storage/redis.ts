import type { RedisClient } from "bun";
import type { DuplicateIdError, StorageError } from "../errors";
import { touches } from "./_fence";
import { compareCodePoints } from "./_prefix";
import { Connection, describeRedisError, redactUrl } from "./_redis-connection";
import { type Arg, DATA_KEYS, evalScript, KEY_PARTS, type Script, SCRIPTS } from "./_redis-scripts";
import { RedisWake } from "./_redis-wake";
import { redisLocate } from "./_redis-locate";
import type { Topic } from "./_wake";
import type {
  CommitBatch, CommitReport, DedupOutcome, FencedWrite, LeaseFilter, LeaseRef, LeasedItem, LockInfo, PausedLane, QueueItem, ResultItem, ScheduledItem,
  Storage,
} from "./types";
import { DEFAULT_LANE, PURGE_ALL, purgeLimit } from "./types";

export { redactUrl } from "./_redis-connection";

export interface RedisStorageOptions {
  /**
   * Where Redis (7.2 or later, or Valkey) listens: `redis://[user:password@]host:6379[/db]`,
   * `rediss://...` for TLS, `redis+unix:///path/to/redis.sock` for a socket.
   */
  url: string;
  /** Queue name; several queues can share one Redis database. */
  queue: string;
  /**
   * Start of every key this storage writes: keys are `<prefix>:<queue>:<part>`, so
   * `SCAN MATCH <prefix>:*` finds them all.
   * @default "huey"
   */
  prefix?: string;
}

/**
 * Storage on Redis through Bun's built-in client. Every method is one Lua script or one command,
 * so each is atomic, and any number of processes can share a queue.
 *
 * Wake-ups: writers PUBLISH on a channel per queue and topic from inside their script; each
 * instance opens one subscriber connection on its first `waitForChange`. See `waitForChange`
 * for how a change made between a read and the wait is not slept through.
 *
 * Needs standalone Redis (Bun's client has no Cluster support). The constructor does no I/O:
 * the connection opens on the first call, and a server that cannot be reached fails that call
 * with a StorageError within a few seconds.
 */
export class RedisStorage implements Storage {
  readonly kind = "redis";
  readonly queue: string;
  /** The URL with any password masked, as shown in error messages. */
  readonly url: string;
  #keys: string[];
  #conn: Connection;
  #wake: RedisWake;
  #turn = 0;
  #closed = false;

  constructor(options: RedisStorageOptions) {
    this.queue = options.queue;
    this.url = redactUrl(options.url);
    const prefix = options.prefix ?? "huey";
    this.#keys = KEY_PARTS.map((part) => `${prefix}:${options.queue}:${part}`);
    this.#conn = new Connection(options.url, this.url);
    this.#wake = new RedisWake({ queue: this.#keys[DATA_KEYS]!, results: this.#keys[DATA_KEYS + 1]! }, options.url, this.url);
  }

  async enqueue(items: QueueItem[]): Promise<void> {
    await this.#commit({ enqueue: items }, "enqueue");
  }

  async schedule(items: ScheduledItem[]): Promise<void> {
    await this.#commit({ schedule: items }, "schedule");
  }

  /**
   * One script: with a filter, the pause check and a fair split across lanes (shareRounds, in
   * lua/lease.lua) happen in the same atomic step.
   */
  async lease(max: number, leaseUntil: number, filter?: LeaseFilter): Promise<LeasedItem[]> {
    this.#wake.look("queue");
    // One token per call: it proves ownership of every item this call leased.
    const token = crypto.randomUUID();
    const args: Arg[] = [max, leaseUntil, token];
    if (!filter) args.push("all");
    else {
      const spec = filter.lanes ? Object.keys(filter.lanes).sort() : null;
      args.push("lanes", filter.now, this.#turn++, spec ? spec.length : -1);
      for (const lane of spec ?? []) args.push(lane, Math.max(0, Math.floor(Math.min(filter.lanes![lane]!, max))));
    }
    const flat = (await this.#run(SCRIPTS.lease, args, "lease")) as Arg[];
    return chunks(flat, 6).map(([id, name, priority, payload, leases, lane]) => ({
      id: String(id), name: String(name), lane: String(lane), priority: Number(priority), payload: String(payload), token, leases: Number(leases),
    }));
  }

  async pauseLane(lane: string, until: number | null): Promise<void> {
    await this.#run(SCRIPTS.lanes, ["pause", lane, until ?? ""], "pause");
  }

  async resumeLane(lane: string): Promise<boolean> {
    const n = Number(await this.#run(SCRIPTS.lanes, ["resume", lane], "resume"));
    if (n) this.#wake.hear("queue");
    return n > 0;
  }

  async listPaused(now: number): Promise<PausedLane[]> {
    const flat = (await this.#run(SCRIPTS.lanes, ["paused", now], "list paused")) as string[];
    return chunks(flat, 2)
      .map(([lane, until]) => ({ lane: String(lane), until: until === "" ? null : Number(until) }))
      .sort((a, b) => compareCodePoints(a.lane, b.lane));
  }

  async renew(leases: LeaseRef[], leaseUntil: number): Promise<string[]> {
    if (leases.length === 0) return [];
    const lost = (await this.#run(SCRIPTS.renew, [leaseUntil, ...flatLeases(leases)], "renew")) as Arg[] | null;
    return (lost ?? []).map(String);
  }

  async release(leases: LeaseRef[], unstarted = false): Promise<number> {
    if (leases.length === 0) return 0;
    const n = Number(await this.#run(SCRIPTS.release, [unstarted ? "1" : "0", ...flatLeases(leases)], "release"));
    if (n) this.#wake.hear("queue");
    return n;
  }

  async reclaimExpired(now: number): Promise<number> {
    const n = Number(await this.#run(SCRIPTS.reclaim, [now], "reclaim expired leases"));
    if (n) this.#wake.hear("queue");
    return n;
  }

  commit(batch: CommitBatch): Promise<CommitReport> {
    return this.#commit(batch, "commit");
  }

  async #commit(batch: CommitBatch, what: string): Promise<CommitReport> {
    const args: Arg[] = [];
    const list = <T>(rows: T[] | undefined, fields: (row: T) => Arg[]) => {
      args.push(rows?.length ?? 0);
      for (const row of rows ?? []) args.push(...fields(row));
    };
    const writes = (b: Omit<CommitBatch, "ack" | "tasks">) => {
      list(b.results, (r) => [r.id, r.payload, r.expiresAt ?? ""]);
      list(b.enqueue, (it) => [it.id, it.name, it.priority, it.payload, it.lane ?? DEFAULT_LANE]);
      list(b.schedule, (it) => [it.id, it.name, it.priority, it.payload, it.eta, it.lane ?? DEFAULT_LANE]);
      list(b.putData, (d) => [d.key, d.value]);
      list(b.deleteData, (k) => [k]);
    };
    list(batch.ack, (a) => [a.id, a.token]);
    writes(batch);
    const tasks = batch.tasks ?? [];
    // The common batch (every task stored one result and nothing else: a drain of successes) goes as
    // one flat list of (id, token, result id, payload, expiresAt): 5 arguments a task instead of 11,
    // and no Lua tables per task. Any other task sends the whole batch the general way, in order.
    const simple = tasks.length > 0 && tasks.every(onlyOneResult);
    args.push(simple ? 0 : tasks.length);
    if (!simple) {
      for (const t of tasks) {
        args.push(t.lease.id, t.lease.token);
        writes(t);
        list(t.releaseLocks, (l) => [l.key, l.owner]);
      }
    }
    args.push(simple ? tasks.length : 0);
    if (simple) for (const t of tasks) {
      const r = t.results![0]!;
      args.push(t.lease.id, t.lease.token, r.id, r.payload, r.expiresAt ?? "");
    }
    const lost = (await this.#run(SCRIPTS.commit, args, what)) as Arg[] | null;
    // Heard for a lost task's writes too: a spurious wake-up at worst.
    const t = touches(batch);
    if (t.queue) this.#wake.hear("queue");
    if (t.results) this.#wake.hear("results");
    return { lost: (lost ?? []).map(String) };
  }

  async promoteDue(now: number, limit: number): Promise<number> {
    this.#wake.look("queue");
    const n = Number(await this.#run(SCRIPTS.promote, [now, limit], "promote scheduled tasks"));
    if (n) this.#wake.hear("queue");
    return n;
  }

  async nextEta(): Promise<number | null> {
    const eta = await this.#run(SCRIPTS.inspect, ["next_eta"], "read schedule");
    return eta === null ? null : Number(eta);
  }

  async putResult(item: ResultItem): Promise<void> {
    await this.#commit({ results: [item] }, "store result");
  }

  async getResult(id: string, preserve: boolean, now: number): Promise<string | null> {
    this.#wake.look("results");
    return (await this.#run(SCRIPTS.result, [id, preserve ? "1" : "0", now], "read result")) as string | null;
  }

  async deleteResult(id: string): Promise<boolean> {
    return (await this.#run(SCRIPTS.data, ["delete_result", id], "delete result")) === 1;
  }

  async putData(key: string, value: string): Promise<void> {
    await this.#run(SCRIPTS.data, ["put", key, value], "put data");
  }

  async putIfEmpty(key: string, value: string): Promise<boolean> {
    return (await this.#run(SCRIPTS.data, ["put_if_empty", key, value], "put data")) === 1;
  }

  async getData(key: string, preserve: boolean): Promise<string | null> {
    return (await this.#run(SCRIPTS.data, ["get", key, preserve ? "1" : "0"], "read data")) as string | null;
  }

  async deleteData(key: string): Promise<boolean> {
    return (await this.#run(SCRIPTS.data, ["delete", key], "delete data")) === 1;
  }

  async deleteDataIf(key: string, value: string): Promise<boolean> {
    return (await this.#run(SCRIPTS.data, ["delete_if", key, value], "delete data")) === 1;
  }

  locate(id: string) { return redisLocate((s, args, what) => this.#run(s, args, what), id); }

  async hasTask(id: string): Promise<boolean> {
    return (await this.#run(SCRIPTS.data, ["has_task", id], "find task")) === 1;
  }

  async countData(prefix: string): Promise<number> {
    return Number(await this.#run(SCRIPTS.data, ["count", prefix], "count data"));
  }

  async listData(prefix: string, limit: number, after?: string): Promise<{ key: string; value: string }[]> {
    if (limit <= 0) return [];
    // A cursor below the prefix excludes nothing the prefix selects; the script gets one only when it narrows.
    const from = after !== undefined && compareCodePoints(after, prefix) >= 0 ? [after] : [];
    const flat = (await this.#run(SCRIPTS.data, ["list", prefix, limit, ...from], "list data")) as string[];
    return chunks(flat, 2).map(([key, value]) => ({ key: key!, value: value! }));
  }

  async incr(key: string, by: number, expiresAt: number, now: number): Promise<number> {
    return Number(await this.#run(SCRIPTS.counter, [key, by, expiresAt, now], "count"));
  }

  async enqueueUnique(item: QueueItem | ScheduledItem, key: string): Promise<string | null> {
    const eta = "eta" in item ? item.eta : "";
    const args = [key, item.id, item.name, item.priority, item.payload, eta, item.lane ?? DEFAULT_LANE];
    const holder = (await this.#run(SCRIPTS.unique, args, "enqueue")) as string | null;
    if (holder === null) this.#wake.hear("queue");
    return holder;
  }

  async enqueueDeduped(item: QueueItem | ScheduledItem, key: string, mode: "throttle" | "replace", until: number, now: number): Promise<DedupOutcome> {
    const eta = "eta" in item ? item.eta : "";
    const args = [key, mode, until, now, item.id, item.name, item.priority, item.payload, eta, item.lane ?? DEFAULT_LANE];
    const [kind, id] = (await this.#run(SCRIPTS.dedup, args, "enqueue")) as [string, string?];
    if (kind === "conflict") return { kind, holder: id || null };
    this.#wake.hear("queue");
    return kind === "merged" ? { kind, id: id! } : { kind: "stored" };
  }

  async acquireLock(key: string, owner: string, until: number, now: number): Promise<number | null> {
    const fence = await this.#run(SCRIPTS.locks, ["acquire", key, owner, until, now], "acquire lock");
    return fence === null ? null : Number(fence);
  }

  async renewLocks(keys: string[], owner: string, until: number): Promise<string[]> {
    if (keys.length === 0) return [];
    return ((await this.#run(SCRIPTS.locks, ["renew", owner, until, ...keys], "renew locks")) as string[]).map(String);
  }

  async releaseLock(key: string, owner: string | null): Promise<boolean> {
    return (await this.#run(SCRIPTS.locks, ["release", key, owner ?? ""], "release lock")) === 1;
  }

  async listLocks(now: number): Promise<LockInfo[]> {
    const flat = (await this.#run(SCRIPTS.locks, ["list", now], "list locks")) as string[];
    return chunks(flat, 4).map(([key, owner, until, fence]) => ({ key: key!, owner: owner!, until: Number(until), fence: Number(fence) }));
  }

  async purgeExpired(now: number, limit: number = PURGE_ALL): Promise<number> {
    return Number(await this.#run(SCRIPTS.purge, [now, purgeLimit(limit)], "purge expired entries"));
  }

  pendingCount(lane?: string): Promise<number> {
    return lane === undefined ? this.#count("ZCARD", "ready") : this.#countLane("ready", lane);
  }

  leasedCount(lane?: string): Promise<number> {
    return lane === undefined ? this.#count("ZCARD", "leased") : this.#countLane("leased", lane);
  }

  scheduledCount(lane?: string): Promise<number> {
    return lane === undefined ? this.#count("ZCARD", "schedule") : this.#countLane("scheduled", lane);
  }

  resultCount(): Promise<number> {
    return this.#count("HLEN", "results");
  }

  async listPending(limit: number, lane?: string): Promise<(QueueItem & { leased: boolean })[]> {
    const flat = (await this.#run(SCRIPTS.inspect, ["pending", limit, lane ?? ""], "list pending")) as Arg[];
    return chunks(flat, 6).map(([id, name, priority, payload, ln, leased]) => ({
      id: String(id), name: String(name), lane: String(ln), priority: Number(priority), payload: String(payload), leased: leased === 1,
    }));
  }

  async listScheduled(limit: number, lane?: string): Promise<ScheduledItem[]> {
    const flat = (await this.#run(SCRIPTS.inspect, ["scheduled", limit, lane ?? ""], "list scheduled")) as Arg[];
    return chunks(flat, 6).map(([id, name, priority, payload, ln, eta]) => ({
      id: String(id), name: String(name), lane: String(ln), priority: Number(priority), payload: String(payload), eta: Number(eta),
    }));
  }

  async flush(): Promise<void> {
    // One script: atomic, and nothing of this queue is left behind (the per-lane sets included).
    await this.#run(SCRIPTS.lanes, ["flush", DATA_KEYS], "flush");
  }

  /**
   * Resolves on a message on this queue's channel for `topic`, on a write by this instance, or
   * after `timeoutMs` (at most FALLBACK_WAIT_MS: a spurious wake-up is allowed, a hang is not).
   *
   * A change can land between the caller's last read and this call. Reads (lease, promoteDue,
   * getResult) note how many messages had been heard BEFORE they are sent; if more were heard
   * since, this returns at once. Messages published before the subscription took effect are
   * not heard at all: when it does take effect, callers who read before are woken to read again.
   */
  waitForChange(timeoutMs: number, topic: Topic = "queue"): Promise<void> {
    return this.#wake.wait(timeoutMs, topic);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
    this.#wake.close();
  }

  async #countLane(what: "ready" | "leased" | "scheduled", lane: string): Promise<number> {
    return Number(await this.#run(SCRIPTS.inspect, ["count", what, lane], "count"));
  }

  async #count(command: "ZCARD" | "HLEN", part: (typeof KEY_PARTS)[number]): Promise<number> {
    return Number(await this.#send(command, [this.#keys[KEY_PARTS.indexOf(part)]!], "count"));
  }

  async #send(command: string, args: string[], what: string): Promise<unknown> {
    const client = await this.#conn.client(what);
    try {
      return await client.send(command, args);
    } catch (err) {
      throw this.#failed(client, err, what);
    }
  }

  /** Run script `s` on this queue's keys (see evalScript); a failure becomes a StorageError. */
  async #run(s: Script, args: Arg[], what: string): Promise<unknown> {
    const client = await this.#conn.client(what);
    try {
      return await evalScript(client, s, this.#keys, args);
    } catch (err) {
      throw this.#failed(client, err, what);
    }
  }

  #failed(client: RedisClient, err: unknown, what: string): StorageError | DuplicateIdError {
    if (!client.connected) this.#conn.discard(client);
    return describeRedisError(err, this.url, what);
  }
}

function flatLeases(leases: LeaseRef[]): string[] {
  return leases.flatMap((l) => [l.id, l.token]);
}

/** [a, b, c, d] with width 2 gives [[a, b], [c, d]]: scripts return flat arrays of rows. */
function chunks<T>(flat: T[] | null, width: number): T[][] {
  const out: T[][] = [];
  if (!flat) return out;
  for (let i = 0; i + width <= flat.length; i += width) out.push(flat.slice(i, i + width));
  return out;
}

/** A fenced write of exactly one result and nothing else (the commit script's short form). */
function onlyOneResult(t: FencedWrite): boolean {
  return (
    t.results?.length === 1 &&
    !t.enqueue?.length &&
    !t.schedule?.length &&
    !t.putData?.length &&
    !t.deleteData?.length &&
    !t.releaseLocks?.length
  );
}

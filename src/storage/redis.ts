import type { RedisClient } from "bun";
import type { DuplicateIdError, StorageError } from "../errors";
import { ConfigurationError as LanesUnsupported } from "../errors";
import { touches } from "./_fence";
import { Connection, describeRedisError, openClient, redactUrl } from "./_redis-connection";
import { type Arg, DATA_KEYS, evalScript, KEY_PARTS, type Script, SCRIPTS } from "./_redis-scripts";
import { redisLocate } from "./_redis-locate";
import { Waiters } from "./_waiters";
import type { Topic } from "./_wake";
import type {
  CommitBatch, CommitReport, DedupOutcome, LeaseRef, LeasedItem, LockInfo, QueueItem, ResultItem, ScheduledItem, Storage,
} from "./types";
import { PURGE_ALL, purgeLimit } from "./types";

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
 * Longest single wait on pub/sub. A message can be lost (a dropped subscriber connection
 * between our onclose and the next subscribe): at worst it costs this long.
 */
const FALLBACK_WAIT_MS = 2_000;

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
  #channels: Record<Topic, string>;
  #conn: Connection;
  #sub: RedisClient | null = null;
  #subscribing: Promise<void> | null = null;
  #waiters: Record<Topic, Waiters> = { queue: new Waiters("queue"), results: new Waiters("results") };
  /** Messages heard per topic (pub/sub and our own writes). */
  #heard: Record<Topic, number> = { queue: 0, results: 0 };
  /** #heard as it was when the caller last read that topic; -1 before any read. */
  #looked: Record<Topic, number> = { queue: -1, results: -1 };
  #closed = false;

  constructor(options: RedisStorageOptions) {
    this.queue = options.queue;
    this.url = redactUrl(options.url);
    const prefix = options.prefix ?? "huey";
    this.#keys = KEY_PARTS.map((part) => `${prefix}:${options.queue}:${part}`);
    this.#channels = { queue: this.#keys[DATA_KEYS]!, results: this.#keys[DATA_KEYS + 1]! };
    this.#conn = new Connection(options.url, this.url);
  }

  async enqueue(items: QueueItem[]): Promise<void> {
    await this.#commit({ enqueue: items }, "enqueue");
  }

  async schedule(items: ScheduledItem[]): Promise<void> {
    await this.#commit({ schedule: items }, "schedule");
  }

  /**
   * Named queues (lanes) and pauses are not stored by this backend yet: a lease serves every task
   * (`filter.lanes` must be absent) and nothing can be paused.
   */
  async lease(max: number, leaseUntil: number, filter?: import("./types").LeaseFilter): Promise<LeasedItem[]> {
    if (filter?.lanes) throw new LanesUnsupported(`--queues / the consumer option "queues" is not supported on Redis storage yet: run the consumer without it`);
    this.#look("queue");
    // One token per call: it proves ownership of every item this call leased.
    const token = crypto.randomUUID();
    const flat = (await this.#run(SCRIPTS.lease, [max, leaseUntil, token], "lease")) as Arg[];
    return chunks(flat, 5).map(([id, name, priority, payload, leases]) => ({
      id: String(id), name: String(name), priority: Number(priority), payload: String(payload), token, leases: Number(leases),
    }));
  }

  async pauseLane(_lane: string, _until: number | null): Promise<void> {
    throw new LanesUnsupported("pausing a queue is not supported on Redis storage yet");
  }

  async resumeLane(_lane: string): Promise<boolean> {
    throw new LanesUnsupported("resuming a queue is not supported on Redis storage yet");
  }

  async listPaused(_now: number): Promise<import("./types").PausedLane[]> {
    return [];
  }

  async renew(leases: LeaseRef[], leaseUntil: number): Promise<string[]> {
    if (leases.length === 0) return [];
    const lost = (await this.#run(SCRIPTS.renew, [leaseUntil, ...flatLeases(leases)], "renew")) as Arg[] | null;
    return (lost ?? []).map(String);
  }

  async release(leases: LeaseRef[]): Promise<number> {
    if (leases.length === 0) return 0;
    const n = Number(await this.#run(SCRIPTS.release, flatLeases(leases), "release"));
    if (n) this.#hear("queue");
    return n;
  }

  async reclaimExpired(now: number): Promise<number> {
    const n = Number(await this.#run(SCRIPTS.reclaim, [now], "reclaim expired leases"));
    if (n) this.#hear("queue");
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
      list(b.enqueue, (it) => [it.id, it.name, it.priority, it.payload]);
      list(b.schedule, (it) => [it.id, it.name, it.priority, it.payload, it.eta]);
      list(b.putData, (d) => [d.key, d.value]);
      list(b.deleteData, (k) => [k]);
    };
    list(batch.ack, (a) => [a.id, a.token]);
    writes(batch);
    args.push(batch.tasks?.length ?? 0);
    for (const t of batch.tasks ?? []) {
      args.push(t.lease.id, t.lease.token);
      writes(t);
      list(t.releaseLocks, (l) => [l.key, l.owner]);
    }
    const lost = (await this.#run(SCRIPTS.commit, args, what)) as Arg[] | null;
    // Heard for a lost task's writes too: a spurious wake-up at worst.
    const t = touches(batch);
    if (t.queue) this.#hear("queue");
    if (t.results) this.#hear("results");
    return { lost: (lost ?? []).map(String) };
  }

  async promoteDue(now: number, limit: number): Promise<number> {
    this.#look("queue");
    const n = Number(await this.#run(SCRIPTS.promote, [now, limit], "promote scheduled tasks"));
    if (n) this.#hear("queue");
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
    this.#look("results");
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

  locate(id: string) { return redisLocate((s, args, what) => this.#run(s, args, what), id); }

  async hasTask(id: string): Promise<boolean> {
    return (await this.#run(SCRIPTS.data, ["has_task", id], "find task")) === 1;
  }

  async countData(prefix: string): Promise<number> {
    return Number(await this.#run(SCRIPTS.data, ["count", prefix], "count data"));
  }

  async listData(prefix: string, limit: number): Promise<{ key: string; value: string }[]> {
    if (limit <= 0) return [];
    const flat = (await this.#run(SCRIPTS.data, ["list", prefix, limit], "list data")) as string[];
    return chunks(flat, 2).map(([key, value]) => ({ key: key!, value: value! }));
  }

  async incr(key: string, by: number, expiresAt: number, now: number): Promise<number> {
    return Number(await this.#run(SCRIPTS.counter, [key, by, expiresAt, now], "count"));
  }

  async enqueueUnique(item: QueueItem | ScheduledItem, key: string): Promise<string | null> {
    const eta = "eta" in item ? item.eta : "";
    const args = [key, item.id, item.name, item.priority, item.payload, eta];
    const holder = (await this.#run(SCRIPTS.unique, args, "enqueue")) as string | null;
    if (holder === null) this.#hear("queue");
    return holder;
  }

  async enqueueDeduped(item: QueueItem | ScheduledItem, key: string, mode: "throttle" | "replace", until: number, now: number): Promise<DedupOutcome> {
    const eta = "eta" in item ? item.eta : "";
    const args = [key, mode, until, now, item.id, item.name, item.priority, item.payload, eta];
    const [kind, id] = (await this.#run(SCRIPTS.dedup, args, "enqueue")) as [string, string?];
    if (kind === "conflict") return { kind, holder: id || null };
    this.#hear("queue");
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

  pendingCount(): Promise<number> {
    return this.#count("ZCARD", "ready");
  }

  leasedCount(): Promise<number> {
    return this.#count("ZCARD", "leased");
  }

  scheduledCount(): Promise<number> {
    return this.#count("ZCARD", "schedule");
  }

  resultCount(): Promise<number> {
    return this.#count("HLEN", "results");
  }

  async listPending(limit: number): Promise<(QueueItem & { leased: boolean })[]> {
    const flat = (await this.#run(SCRIPTS.inspect, ["pending", limit], "list pending")) as Arg[];
    return chunks(flat, 5).map(([id, name, priority, payload, leased]) => ({
      id: String(id), name: String(name), priority: Number(priority), payload: String(payload), leased: leased === 1,
    }));
  }

  async listScheduled(limit: number): Promise<ScheduledItem[]> {
    const flat = (await this.#run(SCRIPTS.inspect, ["scheduled", limit], "list scheduled")) as Arg[];
    return chunks(flat, 5).map(([id, name, priority, payload, eta]) => ({
      id: String(id), name: String(name), priority: Number(priority), payload: String(payload), eta: Number(eta),
    }));
  }

  async flush(): Promise<void> {
    // One DEL of a fixed set of keys: atomic, and nothing of this queue is left behind.
    await this.#send("DEL", this.#keys.slice(0, DATA_KEYS), "flush");
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
    if (this.#closed) return Promise.resolve();
    const looked = this.#looked[topic];
    if (looked >= 0 && this.#heard[topic] > looked) {
      this.#looked[topic] = this.#heard[topic];
      return Promise.resolve();
    }
    const done = this.#waiters[topic].wait(Math.min(timeoutMs, FALLBACK_WAIT_MS));
    this.#listen();
    return done;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
    this.#sub?.close();
    this.#sub = null;
    for (const w of Object.values(this.#waiters)) w.wakeAll();
  }

  #look(topic: Topic): void {
    this.#looked[topic] = this.#heard[topic];
  }

  #hear(topic: Topic): void {
    this.#heard[topic]++;
    const w = this.#waiters[topic];
    if (w.size) w.wakeAll();
  }

  /** Open the subscriber connection unless it is open or opening. */
  #listen(): void {
    if (this.#sub || this.#subscribing) return;
    this.#subscribing = this.#subscribe()
      .catch(() => {
        // Unreachable server: the wait ends on its timer and the next read reports the error.
      })
      .finally(() => {
        this.#subscribing = null;
      });
  }

  async #subscribe(): Promise<void> {
    // No autoReconnect: Bun reconnects a subscriber without subscribing again (bun 1.4.5,
    // checked with CLIENT KILL), which would silence it. Instead onclose drops it and the next
    // wait subscribes on a new connection.
    const client = await openClient(this.#conn.rawUrl, this.url, false, "wait for changes");
    if (this.#closed) return client.close();
    client.onclose = () => {
      if (this.#sub !== client) return;
      this.#sub = null;
      this.#wakeReaders(); // they may have missed a message while we were away
    };
    const { queue, results } = this.#channels;
    try {
      await client.subscribe([queue, results], (_message, channel) => this.#hear(channel === queue ? "queue" : "results"));
    } catch (err) {
      client.close();
      throw err;
    }
    if (this.#closed) return client.close();
    this.#sub = client;
    this.#wakeReaders();
  }

  /** Changes before the subscription took effect went unheard: whoever read before must read again. */
  #wakeReaders(): void {
    for (const t of ["queue", "results"] as const) if (this.#looked[t] >= 0) this.#hear(t);
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

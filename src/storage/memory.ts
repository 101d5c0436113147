import { DuplicateIdError } from "../errors";
import { activePauses, lanesToServe, shareLease } from "./_lanes";
import { compareCodePoints } from "./_prefix";
import { locateRow } from "./_locate";
import { Waiters } from "./_waiters";
import { byLeaseOrder, dedupValue, parseDedupValue } from "./types";
import type {
  CommitBatch, CommitReport, DedupOutcome, FencedWrite, LeaseFilter, LeaseRef, LeasedItem, LocatedItem, LockInfo, PausedLane, QueueItem, ResultItem,
  ScheduledItem, Storage,
} from "./types";
import { DEFAULT_LANE, PURGE_ALL, purgeLimit } from "./types";

interface Row extends QueueItem {
  lane: string;
  seq: number;
  leasedUntil: number | null;
  token: string | null;
  leases: number;
}

/**
 * The reference Storage: plain maps in this thread. Used for tests and immediate mode. It is
 * not shared between threads or processes.
 */
export class MemoryStorage implements Storage {
  readonly kind = "memory";
  #rows = new Map<string, Row>();
  #schedule = new Map<string, ScheduledItem>();
  #results = new Map<string, { payload: string; expiresAt: number | null }>();
  #data = new Map<string, string>();
  #counters = new Map<string, { value: number; expiresAt: number }>();
  #locks = new Map<string, { owner: string; until: number; fence: number }>();
  /** The last fence handed out per lock key: never reset (not by release, purge or flush). */
  #fences = new Map<string, number>();
  #pauses = new Map<string, number | null>();
  #turn = 0;
  #seq = 0;
  #waiters = new Waiters();

  constructor(readonly queue: string) {}

  async enqueue(items: QueueItem[]): Promise<void> {
    this.#checkNew(items);
    for (const it of items) this.#insert(it);
    this.#changed();
  }

  async schedule(items: ScheduledItem[]): Promise<void> {
    this.#checkNew(items);
    for (const it of items) this.#schedule.set(it.id, { ...it });
    this.#changed();
  }

  async lease(max: number, leaseUntil: number, filter?: LeaseFilter): Promise<LeasedItem[]> {
    const token = crypto.randomUUID();
    const take = (lane: string | null, n: number): LeasedItem[] =>
      [...this.#rows.values()].filter((r) => r.leasedUntil === null && (lane === null || r.lane === lane)).sort(byLeaseOrder).slice(0, n).map((r) => {
        r.leasedUntil = leaseUntil;
        r.token = token;
        r.leases += 1;
        return { id: r.id, name: r.name, lane: r.lane, priority: r.priority, payload: r.payload, token, leases: r.leases };
      });
    if (!filter) return take(null, max);
    const paused = activePauses(await this.listPaused(filter.now), filter.now);
    const ready = () => [...new Set([...this.#rows.values()].filter((r) => r.leasedUntil === null).map((r) => r.lane))].sort();
    const items = shareLease(max, lanesToServe(filter, ready, paused, this.#turn++), take);
    return items.sort((a, b) => b.priority - a.priority || this.#rows.get(a.id)!.seq - this.#rows.get(b.id)!.seq);
  }

  async pauseLane(lane: string, until: number | null): Promise<void> {
    this.#pauses.set(lane, until);
  }

  async resumeLane(lane: string): Promise<boolean> {
    const had = this.#pauses.delete(lane);
    this.#changed();
    return had;
  }

  async listPaused(now: number): Promise<PausedLane[]> {
    return [...this.#pauses]
      .filter(([, until]) => until === null || until > now)
      .sort(([a], [b]) => compareCodePoints(a, b))
      .map(([lane, until]) => ({ lane, until }));
  }

  async renew(leases: LeaseRef[], leaseUntil: number): Promise<string[]> {
    const lost: string[] = [];
    for (const l of leases) {
      const r = this.#held(l);
      if (r) r.leasedUntil = leaseUntil;
      else lost.push(l.id);
    }
    return lost;
  }

  async release(leases: LeaseRef[], unstarted = false): Promise<number> {
    let n = 0;
    for (const l of leases) {
      const r = this.#held(l);
      if (r) {
        r.leasedUntil = null;
        r.token = null;
        if (unstarted) r.leases = Math.max(0, r.leases - 1);
        n++;
      }
    }
    if (n) this.#changed();
    return n;
  }

  async reclaimExpired(now: number): Promise<number> {
    let n = 0;
    for (const r of this.#rows.values()) {
      if (r.leasedUntil !== null && r.leasedUntil < now) {
        r.leasedUntil = null;
        r.token = null;
        n++;
      }
    }
    return n;
  }

  async commit(batch: CommitBatch): Promise<CommitReport> {
    // The fences are checked against the store as it is before any write.
    const held: FencedWrite[] = [];
    const lost: string[] = [];
    for (const t of batch.tasks ?? []) {
      if (this.#held(t.lease)) held.push(t);
      else lost.push(t.lease.id);
    }
    const parts = [batch, ...held];
    const acks = [...(batch.ack ?? []), ...held.map((t) => t.lease)];
    this.#checkNew(parts.flatMap((p) => [...(p.enqueue ?? []), ...(p.schedule ?? [])]), acks);
    for (const l of acks) if (this.#held(l)) this.#rows.delete(l.id);
    for (const p of parts) {
      for (const r of p.results ?? []) this.#results.set(r.id, { payload: r.payload, expiresAt: r.expiresAt ?? null });
      for (const it of p.enqueue ?? []) this.#insert(it);
      for (const it of p.schedule ?? []) this.#schedule.set(it.id, { ...it });
      for (const d of p.putData ?? []) this.#data.set(d.key, d.value);
      for (const k of p.deleteData ?? []) this.#data.delete(k);
    }
    for (const t of batch.tasks ?? []) for (const l of t.releaseLocks ?? []) this.#unlock(l.key, l.owner);
    this.#changed();
    return { lost };
  }

  async promoteDue(now: number, limit: number): Promise<number> {
    const due = [...this.#schedule.values()].filter((s) => s.eta <= now).sort((a, b) => a.eta - b.eta).slice(0, limit);
    for (const s of due) {
      this.#schedule.delete(s.id);
      this.#insert(s);
    }
    if (due.length) this.#changed();
    return due.length;
  }

  async nextEta(): Promise<number | null> {
    let min: number | null = null;
    for (const s of this.#schedule.values()) if (min === null || s.eta < min) min = s.eta;
    return min;
  }

  async putResult(item: ResultItem): Promise<void> {
    this.#results.set(item.id, { payload: item.payload, expiresAt: item.expiresAt ?? null });
    this.#changed();
  }

  async getResult(id: string, preserve: boolean, now: number): Promise<string | null> {
    const r = this.#results.get(id);
    if (!r) return null;
    if (r.expiresAt !== null && r.expiresAt <= now) {
      this.#results.delete(id);
      return null;
    }
    if (!preserve) this.#results.delete(id);
    return r.payload;
  }

  async deleteResult(id: string): Promise<boolean> {
    return this.#results.delete(id);
  }

  async putData(key: string, value: string): Promise<void> {
    this.#data.set(key, value);
  }

  async putIfEmpty(key: string, value: string): Promise<boolean> {
    if (this.#data.has(key)) return false;
    this.#data.set(key, value);
    return true;
  }

  async getData(key: string, preserve: boolean): Promise<string | null> {
    const v = this.#data.get(key) ?? null;
    if (!preserve) this.#data.delete(key);
    return v;
  }

  async deleteData(key: string): Promise<boolean> {
    return this.#data.delete(key);
  }

  async deleteDataIf(key: string, value: string): Promise<boolean> {
    return this.#data.get(key) === value && this.#data.delete(key);
  }

  async hasTask(id: string): Promise<boolean> {
    return this.#rows.has(id) || this.#schedule.has(id);
  }

  async locate(id: string): Promise<LocatedItem | null> {
    const r = this.#rows.get(id);
    return locateRow(id, r && { ...r, leased_until: r.leasedUntil }, this.#schedule.get(id));
  }

  async countData(prefix: string): Promise<number> {
    let n = 0;
    for (const k of this.#data.keys()) if (k.startsWith(prefix)) n++;
    return n;
  }

  async listData(prefix: string, limit: number, after?: string): Promise<{ key: string; value: string }[]> {
    return [...this.#data]
      .filter(([k]) => k.startsWith(prefix) && (after === undefined || compareCodePoints(k, after) > 0))
      .sort(([a], [b]) => compareCodePoints(a, b))
      .slice(0, limit)
      .map(([key, value]) => ({ key, value }));
  }

  async incr(key: string, by: number, expiresAt: number, now: number): Promise<number> {
    const c = this.#counters.get(key);
    const next = c && c.expiresAt > now ? { value: c.value + by, expiresAt: c.expiresAt } : { value: by, expiresAt };
    this.#counters.set(key, next);
    return next.value;
  }

  async enqueueUnique(item: QueueItem | ScheduledItem, key: string): Promise<string | null> {
    const holder = this.#data.get(key);
    if (holder !== undefined && (this.#rows.has(holder) || this.#schedule.has(holder))) return holder;
    if ("eta" in item) await this.schedule([item]);
    else await this.enqueue([item]);
    this.#data.set(key, item.id);
    return null;
  }

  async enqueueDeduped(item: QueueItem | ScheduledItem, key: string, mode: "throttle" | "replace", until: number, now: number): Promise<DedupOutcome> {
    const entry = parseDedupValue(this.#data.get(key));
    if (mode === "throttle") {
      if (entry && entry.until > now) return { kind: "merged", id: entry.id };
    } else {
      const pending = entry !== null && (this.#schedule.has(entry.id) || this.#rows.get(entry.id)?.token === null);
      if (pending && entry.id !== item.id) return { kind: "conflict", holder: entry.id };
      if (pending) {
        this.#schedule.delete(item.id);
        this.#rows.delete(item.id);
        this.#put(item);
        return { kind: "merged", id: item.id };
      }
      if (entry?.id === item.id) return { kind: "conflict", holder: null };
    }
    this.#checkNew([item]);
    this.#put(item);
    this.#data.set(key, dedupValue(until, item.id));
    return { kind: "stored" };
  }

  #put(item: QueueItem | ScheduledItem): void {
    if ("eta" in item) this.#schedule.set(item.id, { ...item });
    else this.#insert(item);
    this.#changed();
  }

  async acquireLock(key: string, owner: string, until: number, now: number): Promise<number | null> {
    const l = this.#locks.get(key);
    if (l && l.until > now && l.owner !== owner) return null;
    const fence = (this.#fences.get(key) ?? 0) + 1;
    this.#fences.set(key, fence);
    this.#locks.set(key, { owner, until, fence });
    return fence;
  }

  async renewLocks(keys: string[], owner: string, until: number): Promise<string[]> {
    const lost: string[] = [];
    for (const k of keys) {
      const l = this.#locks.get(k);
      if (l && l.owner === owner) l.until = until;
      else lost.push(k);
    }
    return lost;
  }

  async releaseLock(key: string, owner: string | null): Promise<boolean> {
    return this.#unlock(key, owner);
  }

  async listLocks(now: number): Promise<LockInfo[]> {
    return [...this.#locks]
      .filter(([, l]) => l.until > now)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, l]) => ({ key, owner: l.owner, until: l.until, fence: l.fence }));
  }

  async purgeExpired(now: number, limit: number = PURGE_ALL): Promise<number> {
    const max = purgeLimit(limit);
    const drop = <V>(map: Map<string, V>, expired: (v: V) => boolean): number => {
      let n = 0;
      for (const [k, v] of map) {
        if (n >= max) break;
        if (expired(v) && map.delete(k)) n++;
      }
      return n;
    };
    return (
      drop(this.#results, (r) => r.expiresAt !== null && r.expiresAt <= now) +
      drop(this.#counters, (c) => c.expiresAt <= now) +
      drop(this.#locks, (l) => l.until <= now)
    );
  }

  async pendingCount(lane?: string): Promise<number> {
    let n = 0;
    for (const r of this.#rows.values()) if (r.leasedUntil === null && (lane === undefined || r.lane === lane)) n++;
    return n;
  }

  async leasedCount(lane?: string): Promise<number> {
    let n = 0;
    for (const r of this.#rows.values()) if (r.leasedUntil !== null && (lane === undefined || r.lane === lane)) n++;
    return n;
  }

  async scheduledCount(lane?: string): Promise<number> {
    if (lane === undefined) return this.#schedule.size;
    let n = 0;
    for (const s of this.#schedule.values()) if ((s.lane ?? DEFAULT_LANE) === lane) n++;
    return n;
  }

  async resultCount(): Promise<number> {
    return this.#results.size;
  }

  async listPending(limit: number, lane?: string): Promise<(QueueItem & { leased: boolean })[]> {
    return [...this.#rows.values()].filter((r) => lane === undefined || r.lane === lane).sort(byLeaseOrder).slice(0, limit).map((r) => ({
      id: r.id, name: r.name, lane: r.lane, priority: r.priority, payload: r.payload, leased: r.leasedUntil !== null,
    }));
  }

  async listScheduled(limit: number, lane?: string): Promise<ScheduledItem[]> {
    return [...this.#schedule.values()]
      .filter((s) => lane === undefined || (s.lane ?? DEFAULT_LANE) === lane)
      .sort((a, b) => a.eta - b.eta)
      .slice(0, limit)
      .map((s) => ({ ...s, lane: s.lane ?? DEFAULT_LANE }));
  }

  async flush(): Promise<void> {
    this.#rows.clear();
    this.#schedule.clear();
    this.#results.clear();
    this.#data.clear();
    this.#counters.clear();
    this.#locks.clear();
    this.#pauses.clear();
  }

  waitForChange(timeoutMs: number): Promise<void> {
    return this.#waiters.wait(timeoutMs);
  }

  async close(): Promise<void> {
    this.#waiters.wakeAll();
  }

  #insert(it: QueueItem): void {
    this.#rows.set(it.id, {
      id: it.id, name: it.name, lane: it.lane ?? DEFAULT_LANE, priority: it.priority, payload: it.payload,
      seq: ++this.#seq, leasedUntil: null, token: null, leases: 0,
    });
  }

  #unlock(key: string, owner: string | null): boolean {
    const l = this.#locks.get(key);
    if (!l || (owner !== null && l.owner !== owner)) return false;
    this.#locks.delete(key);
    return true;
  }

  #held(l: LeaseRef): Row | undefined {
    const r = this.#rows.get(l.id);
    return r && r.token === l.token ? r : undefined;
  }

  /** Mirror SQL's unique ids: a batch with an id already present fails whole, before any write. */
  #checkNew(items: QueueItem[], acked: LeaseRef[] = []): void {
    const freed = new Set(acked.filter((l) => this.#held(l)).map((l) => l.id));
    const ids = new Set<string>();
    for (const it of items) {
      const taken = (this.#rows.has(it.id) && !freed.has(it.id)) || this.#schedule.has(it.id) || ids.has(it.id);
      if (taken) throw new DuplicateIdError(`a task with id ${it.id} is already queued or scheduled`);
      ids.add(it.id);
    }
  }

  #changed(): void {
    if (this.#waiters.size) this.#waiters.wakeAll();
  }
}


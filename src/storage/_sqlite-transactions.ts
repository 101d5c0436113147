import type { Database } from "bun:sqlite";
import { withHeld } from "./_fence";
import { ackSql, bySize, chunked, fencedAckSql, putResultsSql, rowInserts, seqAckSql, type Statements } from "./_sqlite-sql";
import { DEFAULT_LANE, dedupValue, parseDedupValue, type CommitBatch, type DedupOutcome, type FencedWrite, type LeaseRef, type QueueItem, type ScheduledItem } from "./types";

/**
 * The steps of SqliteStorage that take several statements, each one BEGIN IMMEDIATE transaction
 * on `db` for queue `q`: built once per open database.
 */
/** Leases per fenced-ack statement. */
export const FENCE_CHUNK = 128;
/** Thrown inside the fast commit when a fenced ack removed fewer rows than it named (a lease was lost). */
const SHORT_CHUNK = new Error("a fenced ack found a lease lost");

export function transactions(db: Database, s: Statements, q: string) {
  const rows = rowInserts(db, q);
  const seqAck = bySize(db, (n) => seqAckSql(n, false));
  const seqAckReturning = bySize(db, (n) => seqAckSql(n, true));
  /**
   * Each task's ack, fenced by its token. A lease that gave its row's seq is found by rowid, all the
   * leases of one token in one statement (a third of the cost of finding rows through the (queue, id)
   * index); any other by (queue, id, token). `kept` null: the fast path, where a statement that removed
   * fewer rows than it named throws SHORT_CHUNK; else each removed row's id is added to `kept`.
   */
  const fencedAcks = (tasks: FencedWrite[], kept: Set<string> | null): void => {
    const byToken = new Map<string, number[]>();
    const byId: LeaseRef[] = [];
    for (const t of tasks) {
      const l = t.lease;
      if (l.seq === undefined) {
        byId.push(l);
        continue;
      }
      const seqs = byToken.get(l.token);
      if (seqs) seqs.push(l.seq);
      else byToken.set(l.token, [l.seq]);
    }
    for (const [token, seqs] of byToken) {
      for (let i = 0; i < seqs.length; i += FENCE_CHUNK) {
        const end = Math.min(seqs.length, i + FENCE_CHUNK);
        const params: (string | number)[] = [token];
        for (let j = i; j < end; j++) params.push(seqs[j]!);
        if (kept === null) {
          if (seqAck(end - i).run(params).changes !== end - i) throw SHORT_CHUNK;
        } else {
          for (const row of seqAckReturning(end - i).values(params)) kept.add(row[0] as string);
        }
      }
    }
    for (let i = 0; i < byId.length; i += FENCE_CHUNK) {
      const end = Math.min(byId.length, i + FENCE_CHUNK);
      const params: string[] = [];
      for (let j = i; j < end; j++) params.push(q, byId[j]!.id, byId[j]!.token);
      if (kept === null) {
        if (db.query(ackSql(end - i)).run(...params).changes !== end - i) throw SHORT_CHUNK;
      } else {
        for (const row of db.query(fencedAckSql(end - i)).values(...params)) kept.add(row[0] as string);
      }
    }
  };
  const insertItem = (item: QueueItem | ScheduledItem) => {
    if ("eta" in item) s.insertScheduled.run(item.id, q, item.name, item.priority, item.eta, item.payload, item.lane ?? DEFAULT_LANE);
    else s.insert.run(q, item.id, item.name, item.priority, item.payload, item.lane ?? DEFAULT_LANE);
  };
  /**
   * One commit. The fence: each task's ack deletes its row only under its token, and its writes follow
   * only for those that held. `fast`: the common case, every lease held, needs no ids back: a chunk whose
   * DELETE removed all its rows is done, and a short one throws SHORT_CHUNK, which rolls the whole
   * transaction back; it is then run again with `fast` false, whose DELETEs say with RETURNING which
   * leases held (RETURNING on every chunk cost ~0.45 us a task; a savepoint per chunk spilled its
   * statement journal to a temp file, ~0.7 page writes a task).
   */
  const commitBody = (b: CommitBatch, fast: boolean): string[] => {
    const lost: string[] = [];
    let w: CommitBatch = b;
    if (b.tasks?.length) {
      const tasks = b.tasks;
      const kept: Set<string> | null = fast ? null : new Set();
      fencedAcks(tasks, kept);
      let held: FencedWrite[] = tasks;
      if (kept !== null) {
        held = [];
        for (const t of tasks) {
          if (kept.has(t.lease.id)) held.push(t);
          else lost.push(t.lease.id);
        }
      }
      for (const t of tasks) if (t.releaseLocks) for (const l of t.releaseLocks) s.unlock.run(q, l.key, l.owner);
      w = withHeld(b, held);
    }
    if (w.ack?.length) chunked(db, w.ack, ackSql, (o, l) => o.push(q, l.id, l.token));
    if (w.results?.length) chunked(db, w.results, putResultsSql, (o, r) => o.push(q, r.id, r.payload, r.expiresAt ?? null));
    if (w.enqueue?.length) rows.enqueue(w.enqueue);
    if (w.schedule?.length) rows.schedule(w.schedule);
    if (w.putData) for (const d of w.putData) s.putData.run(q, d.key, d.value);
    if (w.deleteData) for (const k of w.deleteData) s.deleteData.run(q, k);
    return lost;
  };
  const commitFast = db.transaction((b: CommitBatch) => commitBody(b, true)).immediate;
  const commitChecked = db.transaction((b: CommitBatch) => commitBody(b, false)).immediate;
  return {
    commit: (b: CommitBatch): string[] => {
      try {
        return commitFast(b);
      } catch (err) {
        if (err !== SHORT_CHUNK) throw err;
        return commitChecked(b);
      }
    },
    unique: db.transaction((item: QueueItem | ScheduledItem, key: string) => {
      const holder = s.peekData.get(q, key) as { value: string } | null;
      if (holder && s.taskExists.get(q, holder.value)) return holder.value;
      if ("eta" in item) s.insertScheduled.run(item.id, q, item.name, item.priority, item.eta, item.payload, item.lane ?? DEFAULT_LANE);
      else s.insert.run(q, item.id, item.name, item.priority, item.payload, item.lane ?? DEFAULT_LANE);
      s.putData.run(q, key, item.id);
      return null;
    }).immediate,
    dedup: db.transaction((item: QueueItem | ScheduledItem, key: string, mode: "throttle" | "replace", until: number, now: number): DedupOutcome => {
      const entry = parseDedupValue((s.peekData.get(q, key) as { value: string } | null)?.value);
      if (mode === "throttle") {
        if (entry && entry.until > now) return { kind: "merged", id: entry.id };
      } else {
        if (entry && entry.id !== item.id && s.isPending.get(q, entry.id)) return { kind: "conflict", holder: entry.id };
        if (entry && entry.id === item.id) {
          // Leased rows are never touched (token IS NULL): a running task is not modified.
          const taken = s.unscheduleId.run(q, item.id).changes + s.dequeuePending.run(q, item.id).changes;
          if (taken === 0) return { kind: "conflict", holder: null };
          insertItem(item);
          return { kind: "merged", id: item.id };
        }
      }
      insertItem(item);
      s.putData.run(q, key, dedupValue(until, item.id));
      return { kind: "stored" };
    }).immediate,
    // Take the lock, then bump its key's fence: one transaction, so a fence is only used by a
    // lock that was taken, and two acquisitions never share one.
    acquire: db.transaction((key: string, owner: string, until: number, now: number) => {
      if (s.acquireLock.run(q, key, owner, until, now).changes === 0) return null;
      return (s.bumpFence.get(q, key) as { fence: number }).fence;
    }).immediate,
    renewLocks: db.transaction((keys: string[], owner: string, until: number) =>
      keys.filter((k) => s.renewLock.run(until, q, k, owner).changes === 0),
    ).immediate,
    promote: db.transaction((now: number, limit: number) => {
      const moved = s.promote.run(q, now, limit).changes;
      if (moved) s.unschedule.run(q, now, limit);
      return moved;
    }).immediate,
  };
}

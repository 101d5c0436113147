import type { Database, Statement } from "bun:sqlite";
import { heldKey, withHeld } from "./_fence";
import { claimAckByIdSql, heldSeqs, seqDeleteSql, tighten, type ClaimRow, type ClaimStatements } from "./_sqlite-claims";
import { bySize, rowAckSql, rowInserts, type Statements } from "./_sqlite-sql";
import { DEFAULT_LANE, dedupValue, parseDedupValue, type CommitBatch, type DedupOutcome, type FencedWrite, type LeaseRef, type QueueItem, type ScheduledItem } from "./types";

/** Leases per fenced-ack statement. */
export const FENCE_CHUNK = 128;
/** Thrown inside the fast commit when a fenced ack removed fewer rows than it named (a lease was lost). */
const SHORT_CHUNK = new Error("a fenced ack found a lease lost");

/** The DELETEs by seq of an ack, each chunk size's prepared once: plain, and saying which rows went. */
export function seqDeletes(db: Database): { plain: (n: number) => Statement; returning: (n: number) => Statement } {
  return { plain: bySize(db, (n) => seqDeleteSql(n, false)), returning: bySize(db, (n) => seqDeleteSql(n, true)) };
}

/**
 * The ack of rows leased under `token`, named by seq (LeaseRef.seq): the token's claims are read once,
 * the rows they hold are deleted (FENCE_CHUNK a statement), and the claims' bounds are read again
 * (tighten). `kept` null, the fast path: false as soon as a named row is not held, or not deleted (the
 * caller rolls the transaction back); else each deleted row goes to `kept` (heldKey of the token and its id).
 */
export function ackHeldSeqs(c: ClaimStatements, del: ReturnType<typeof seqDeletes>, token: string, all: number[], kept: Set<string> | null): boolean {
  const claims = c.ofToken.all(token) as ClaimRow[];
  const seqs = heldSeqs(claims, all);
  if (kept === null && seqs.length !== all.length) return false;
  for (let i = 0; i < seqs.length; i += FENCE_CHUNK) {
    const end = Math.min(seqs.length, i + FENCE_CHUNK);
    const params: number[] = [];
    for (let j = i; j < end; j++) params.push(seqs[j]!);
    if (kept === null) {
      if (del.plain(end - i).run(params).changes !== end - i) return false;
    } else {
      for (const row of del.returning(end - i).values(params)) kept.add(heldKey(token, row[0] as string));
    }
  }
  if (claims.length) tighten(c, token, claims);
  return true;
}

/**
 * The steps of SqliteStorage that take several statements, each one BEGIN IMMEDIATE transaction
 * on `db` for queue `q`: built once per open database.
 */
export function transactions(db: Database, s: Statements, c: ClaimStatements, q: string) {
  const rows = rowInserts(db, q);
  const del = seqDeletes(db);
  const idAck = bySize(db, (n) => claimAckByIdSql(n, false));
  const idAckReturning = bySize(db, (n) => claimAckByIdSql(n, true));
  const rowAck = bySize(db, (n) => rowAckSql(n, false));
  const rowAckReturning = bySize(db, (n) => rowAckSql(n, true));
  /**
   * Acks by (queue, id, token): of a claim's rows (a lease that gave no seq), or of rows leased before
   * schema 8, which carry their token. Returns how many rows went; each removed row's id is added to
   * `kept` when given (heldKey).
   */
  const acksById = (refs: LeaseRef[], kept: Set<string> | null): number => {
    let n = 0;
    const byToken = new Map<string, string[]>();
    for (const l of refs) {
      const ids = byToken.get(l.token);
      if (ids) ids.push(l.id);
      else byToken.set(l.token, [l.id]);
    }
    for (const [token, ids] of byToken) {
      for (let i = 0; i < ids.length; i += FENCE_CHUNK) {
        const end = Math.min(ids.length, i + FENCE_CHUNK);
        const params: string[] = [token, q];
        for (let j = i; j < end; j++) params.push(ids[j]!);
        if (kept === null) n += idAck(end - i).run(params).changes;
        else {
          for (const row of idAckReturning(end - i).values(params)) {
            kept.add(heldKey(token, row[0] as string));
            n++;
          }
        }
      }
      tighten(c, token);
    }
    for (let i = 0; i < refs.length; i += FENCE_CHUNK) {
      const end = Math.min(refs.length, i + FENCE_CHUNK);
      const params: string[] = [];
      for (let j = i; j < end; j++) params.push(q, refs[j]!.id, refs[j]!.token);
      if (kept === null) n += rowAck(end - i).run(params).changes;
      else {
        for (const row of rowAckReturning(end - i).values(params)) {
          kept.add(heldKey(row[1] as string, row[0] as string));
          n++;
        }
      }
    }
    return n;
  };
  /**
   * Each task's ack, fenced by its token. A lease that gave its row's seq is found by rowid, all the
   * leases of one token in one statement (a third of the cost of finding rows through the (queue, id)
   * index); any other by (queue, id, token). `kept` null: the fast path, where a statement that removed
   * fewer rows than it named throws SHORT_CHUNK; else each removed row is added to `kept` (heldKey). Then
   * each claim that lost rows has its bounds read again (_sqlite-claims.ts, tighten).
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
    for (const [token, seqs] of byToken) if (!ackHeldSeqs(c, del, token, seqs, kept)) throw SHORT_CHUNK;
    if (byId.length && acksById(byId, kept) !== byId.length && kept === null) throw SHORT_CHUNK;
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
          if (kept.has(heldKey(t.lease.token, t.lease.id))) held.push(t);
          else lost.push(t.lease.id);
        }
      }
      for (const t of tasks) if (t.releaseLocks) for (const l of t.releaseLocks) s.unlock.run(q, l.key, l.owner);
      w = withHeld(b, held);
    }
    if (w.ack?.length) acksById(w.ack, null);
    if (w.results?.length) rows.results(w.results);
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

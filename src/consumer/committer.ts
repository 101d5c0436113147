// The committer: how outcomes reach storage. Behind one small interface, so the strategy is swapped and
// tested on its own: InlineCommitter writes each outcome as it comes (immediate mode, unit tests), and
// GroupCommitter gathers the outcomes of many tasks into one transaction (the consumer).
//
// Every outcome is a fenced write: applied with its ack, and only if the task's lease still holds, so a
// consumer that was paused past its lease writes nothing. A lock the task held is freed in the same
// transaction, so a caller that sees the result never finds the lock still held.
import type { SerializedError } from "../errors";
import { fencedWrite, type Plan } from "../plan";
import type { CommitBatch, Storage } from "../storage/types";

export interface PendingOutcome<T = unknown> {
  /** Whatever the owner needs back in onCommitted (the in-flight task). */
  task: T & { id: string; token: string };
  plan: Plan;
  error?: SerializedError;
  ms?: number;
  /** A lock it held, to free with the outcome. */
  lock?: { key: string; owner: string };
  /** A concurrency slot it held, to free with the outcome. */
  slot?: { key: string; owner: string };
}

export interface CommitterHost<T> {
  storage: Pick<Storage, "commit" | "hasTask">;
  /** Written: `lost` holds the ids whose lease was gone (nothing of theirs was written). */
  onCommitted(done: PendingOutcome<T>[], lost: Set<string>): Promise<void> | void;
  /** A write failed; it is tried again in `retryMs`. */
  onError(err: unknown, count: number, retryMs: number): void;
  /** How many tasks are leased and not yet reported (to judge whether waiting for more pays off). */
  inFlight(): number;
}

export interface Committer<T = unknown> {
  add(p: PendingOutcome<T>): void;
  /** Progress values to write with the next commit (key -> value). */
  progress(key: string, value: string): void;
  /** Drop a progress value not yet written (its task finished). */
  forgetProgress(key: string): void;
  /** Start a write of whatever is queued (group commit decides when, unless `now`). */
  schedule(now?: boolean): void;
  /** Resolves once everything queued before the call is written (or has failed and is queued again). */
  flush(): Promise<void>;
  /** Outcomes queued and not yet written. */
  readonly size: number;
  /** Hold a decision on when to write until a whole Worker report is queued. */
  batch(fn: () => void): void;
}

/** How long to wait before retrying a commit that failed (disk full, database locked). */
export const COMMIT_RETRY_MS = 1_000;
/** A group commit smaller than this waits up to 1 ms for more outcomes while many tasks are in flight. */
const GROUP_COMMIT_MIN = 32;

/** Build the one batch for these outcomes: each task's writes fenced by its lease (see fencedWrite). */
export function toBatch(pending: PendingOutcome[], progress: Map<string, string>): CommitBatch {
  const batch: CommitBatch = { tasks: pending.map((p) => fencedWrite(p.plan.batch, releasesOf(p))) };
  if (progress.size) batch.putData = [...progress].map(([key, value]) => ({ key, value }));
  return batch;
}

/** Commit, and survive a commit applied whose reply was lost: drop what is already stored, write the rest. */
async function commitOnce(storage: CommitterHost<unknown>["storage"], batch: CommitBatch): Promise<Set<string>> {
  try {
    return new Set((await storage.commit(batch)).lost);
  } catch (err) {
    if (!(err && typeof err === "object" && (err as { code?: unknown }).code === "HUEY_DUPLICATE_ID")) throw err;
    const stored = new Set<string>();
    for (const t of batch.tasks ?? []) {
      for (const it of [...(t.enqueue ?? []), ...(t.schedule ?? [])]) if (await storage.hasTask(it.id)) stored.add(it.id);
    }
    if (stored.size === 0) throw err;
    const tasks = (batch.tasks ?? []).map((t) => ({
      ...t,
      enqueue: t.enqueue?.filter((it) => !stored.has(it.id)),
      schedule: t.schedule?.filter((it) => !stored.has(it.id)),
    }));
    return new Set((await storage.commit({ ...batch, tasks })).lost);
  }
}

abstract class BaseCommitter<T> implements Committer<T> {
  protected pending: PendingOutcome<T>[] = [];
  protected prog = new Map<string, string>();
  protected writing: Promise<void> | null = null;
  #holding = false;
  constructor(protected host: CommitterHost<T>) {}
  get size(): number {
    return this.pending.length;
  }
  add(p: PendingOutcome<T>): void {
    this.pending.push(p);
    if (!this.#holding) this.schedule();
  }
  progress(key: string, value: string): void {
    this.prog.set(key, value);
    this.schedule();
  }
  forgetProgress(key: string): void {
    this.prog.delete(key);
  }
  batch(fn: () => void): void {
    this.#holding = true;
    try {
      fn();
    } finally {
      this.#holding = false;
    }
    if (this.pending.length) this.schedule();
  }
  abstract schedule(now?: boolean): void;
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.pending.length || this.prog.size) await this.write();
  }
  /** Write what is queued now; a failure puts it back and retries later. */
  protected write(): Promise<void> {
    if (this.writing) return this.writing;
    if (this.pending.length === 0 && this.prog.size === 0) return Promise.resolve();
    const pending = this.pending;
    const prog = this.prog;
    this.pending = [];
    this.prog = new Map();
    const run = (async () => {
      let lost: Set<string>;
      try {
        lost = await commitOnce(this.host.storage, toBatch(pending as PendingOutcome[], prog));
      } catch (err) {
        this.pending = pending.concat(this.pending);
        for (const [k, v] of prog) if (!this.prog.has(k)) this.prog.set(k, v);
        this.host.onError(err, pending.length, COMMIT_RETRY_MS);
        this.writing = null;
        setTimeout(() => this.schedule(true), COMMIT_RETRY_MS);
        return;
      }
      this.writing = null;
      await this.host.onCommitted(pending, lost);
      if (this.pending.length || this.prog.size) this.schedule();
    })();
    this.writing = run;
    return run;
  }
}

/** Writes each outcome as soon as it is added (in order): immediate mode and the consumer's unit tests. */
export class InlineCommitter<T = unknown> extends BaseCommitter<T> {
  schedule(): void {
    void this.write();
  }
}

/**
 * Group commit: when the consumer is busy and few outcomes wait, give other Workers' reports a
 * millisecond to join the same transaction; otherwise write after this turn of the event loop (the
 * reports read in it join), or, when every task in flight has its outcome here, as soon as the code
 * that queued it is done (a microtask: nothing can join, and a lone task's result waits for no turn).
 */
export class GroupCommitter<T = unknown> extends BaseCommitter<T> {
  #scheduled = false;
  schedule(now = false): void {
    if (this.#scheduled || this.writing) return;
    this.#scheduled = true;
    const run = () => {
      this.#scheduled = false;
      void this.write();
    };
    const others = this.host.inFlight() - this.pending.length;
    const busy = !now && this.pending.length < GROUP_COMMIT_MIN && others > GROUP_COMMIT_MIN;
    if (busy) setTimeout(run, 1);
    // Every task in flight has its outcome here: no report can join this commit, so it goes once the
    // code that queued it is done, without waiting for a turn of the event loop.
    else if (others <= 0) queueMicrotask(run);
    else setImmediate(run);
  }
}

/** The locks an outcome frees in its commit (its lock and its concurrency slot). */
function releasesOf(p: PendingOutcome<unknown>): { key: string; owner: string }[] | undefined {
  if (!p.lock && !p.slot) return undefined;
  return [p.lock, p.slot].filter((l): l is { key: string; owner: string } => l !== undefined);
}

// Maintenance: the consumer's periodic chores, each a small step with time as an argument. Renew the leases
// and locks of running tasks (and stop those whose lease was lost), reclaim expired leases, re-check
// pending chords, drop old dead letters, expired entries and ended deduplication windows, promote due scheduled tasks, enqueue periodic
// ticks, and check that the storage is still the one we opened.
import { KEYS, type DeadLetter } from "../message";
import { purgeTaskLogs } from "../task-log";
import { PeriodicScheduler, type PeriodicDef } from "../periodic";
import type { ChordSpec } from "../pipeline";
import type { Storage } from "../storage/types";
import { redactUrl } from "../storage/_redis-connection";
import { escapeControl } from "../_text";
import { heldLocks } from "./admission";
import { sweepDedupWindows, sweepRevokedMarkers } from "./dedup-sweep";
import type { Engine, Log } from "./engine";

/** Longest idle sleep between schedule checks; changes in storage wake the poller sooner. */
/** Scheduled tasks moved to the ready queue per promotion (one transaction). */
export const PROMOTE_BATCH = 1000;
export const MAX_IDLE_MS = 1_000;
/** How often expired dead letters, results, counters and locks are dropped. */
const RETENTION_EVERY_MS = 60_000;
/**
 * Expired entries deleted per purge statement: each is a short write transaction, so a million expired
 * results never hold the write lock (and stall the tasks' commits) for long.
 */
export const PURGE_BATCH = 1_000;
/**
 * Purge batches per retention round at most. What is left over is purged at the next maintenance round
 * (every lease/3) rather than waiting a whole minute, so the purge keeps up with a busy queue.
 */
export const PURGE_ROUNDS = 20;
/** Batches of the deduplication-window sweep per retention round (see dedup-sweep.ts). */
export const DEDUP_SWEEP_ROUNDS = 5;

export interface MaintenanceHost {
  storage: Storage;
  engine: Engine;
  log: Log;
  lease: number;
  /** ms, or null to keep no dead letters. */
  failedRetention: number | null;
  pendingChords(): Promise<ChordSpec[]>;
  completeChord(c: ChordSpec): Promise<void>;
  /** The storage is broken beyond repair (file replaced, WAL deleted): the consumer must exit. */
  fatal(reason: string): void;
}

/** How often running tasks are checked for a revocation while any run. */
export const REVOKE_CHECK_MS = 1_000;

export class Maintenance {
  nextMaintenance = 0;
  nextPromote = 0;
  nextPeriodic = Infinity;
  /** When running tasks are next checked for a revocation (more often than the lease renewal). */
  nextRevokeCheck = Infinity;
  #nextRetention = 0;
  /** Where the sweeps of ended deduplication windows and of spent revoked markers go on (a key), undefined: from the first. */
  #cursors: { dedup: string | undefined; revoked: string | undefined } = { dedup: undefined, revoked: undefined };
  #periodic: PeriodicScheduler | null = null;

  constructor(readonly h: MaintenanceHost) {}

  /** Periodic tasks to tick; `enqueue` stores one tick's task (a duplicate id means another did). */
  usePeriodic(defs: readonly PeriodicDef[], enqueue: (def: PeriodicDef, tickMs: number) => Promise<void>): void {
    if (defs.length === 0) return;
    this.#periodic = new PeriodicScheduler({ storage: this.h.storage, defs: [...defs], enqueue });
    this.nextPeriodic = 0;
  }

  /** When the loop must next run a chore. */
  nextDue(): number {
    return Math.min(this.nextPromote, this.nextMaintenance, this.nextPeriodic, this.h.engine.inflight.size ? this.nextRevokeCheck : Infinity);
  }

  /** Run whatever chores are due at `now`. */
  async run(now: number): Promise<void> {
    if (now >= this.nextMaintenance) await this.maintain(now);
    if (now >= this.nextPromote) await this.promote(now);
    if (now >= this.nextPeriodic) await this.tickPeriodic(now);
    if (this.h.engine.inflight.size === 0) this.nextRevokeCheck = now + REVOKE_CHECK_MS;
    else if (now >= this.nextRevokeCheck) {
      // A running task that is revoked gets its AbortSignal within REVOKE_CHECK_MS, not only at the
      // next renewal (a third of the lease: 10 s by default): one range read of the revocations.
      this.nextRevokeCheck = now + REVOKE_CHECK_MS;
      await this.h.engine.abortRevoked(now);
    }
  }

  async maintain(now: number): Promise<void> {
    const { storage, log } = this.h;
    this.nextMaintenance = now + Math.max(250, Math.floor(this.h.lease / 3));
    const problem = await storage.checkHealth?.();
    if (problem) return this.h.fatal(problem);
    await this.renew(now);
    const reclaimed = await storage.reclaimExpired(now);
    if (reclaimed > 0) log.warn(`${reclaimed} task(s) whose consumer stopped renewing their lease are ready again`);
    // Chords whose last member finished in a consumer that died before enqueuing the callback.
    for (const c of await this.h.pendingChords()) await this.h.completeChord(c);
    if (now >= this.#nextRetention) {
      const { purged, more } = await this.retain(now);
      this.#nextRetention = more ? 0 : now + RETENTION_EVERY_MS;
      if (purged > 0) log.debug(`dropped ${purged} expired result(s), counter(s), lock(s), ended deduplication window(s) and spent revoked marker(s)${more ? "; more next round" : ""}`);
    }
  }

  /**
   * One retention round: old dead letters, then expired results, counters and locks, then expired
   * task-log records (src/task-log.ts), in batches of PURGE_BATCH, at most PURGE_ROUNDS of each, then
   * ended deduplication windows and the spent markers of revoked tasks (DEDUP_SWEEP_ROUNDS batches of
   * each, going on where the last round stopped).
   * `more`: it stopped with entries possibly left.
   */
  async retain(now: number): Promise<{ purged: number; more: boolean }> {
    await this.dropOldDeadLetters(now);
    let purged = 0;
    let more = true;
    for (let round = 0; round < PURGE_ROUNDS; round++) {
      const n = await this.h.storage.purgeExpired(now, PURGE_BATCH);
      purged += n;
      if (n < PURGE_BATCH) {
        more = false;
        break;
      }
    }
    // Task-log records (key-value data, which has no expiry of its own): by their expiry index, 2 keys each.
    let logsLeft = true;
    for (let round = 0; round < PURGE_ROUNDS; round++) {
      const n = await purgeTaskLogs(this.h.storage, now, PURGE_BATCH / 2);
      purged += n;
      if (n < PURGE_BATCH / 2) {
        logsLeft = false;
        break;
      }
    }
    let sweptAll = true;
    for (const [sweep, cursor] of [[sweepDedupWindows, "dedup"], [sweepRevokedMarkers, "revoked"]] as const) {
      let done = false;
      for (let round = 0; round < DEDUP_SWEEP_ROUNDS && !done; round++) {
        const r = await sweep(this.h.storage, now, this.#cursors[cursor]);
        purged += r.deleted;
        this.#cursors[cursor] = r.cursor;
        done = r.cursor === undefined;
      }
      if (!done) sweptAll = false;
    }
    return { purged, more: more || logsLeft || !sweptAll };
  }

  /** Renew running tasks' leases and locks; a task whose lease or lock is gone is stopped. */
  async renew(now: number): Promise<void> {
    const { storage, engine } = this.h;
    if (engine.inflight.size === 0) return;
    const live = [...engine.inflight.values()].filter((t) => !t.lost);
    const refs = live.map(({ id, token }) => ({ id, token }));
    const lost = await storage.renew(refs, now + this.h.lease);
    // Only where the entry still runs under the lease renewed: one leased again meanwhile goes on under its new one.
    const renewed = new Map(refs.map((r) => [r.id, r.token]));
    const gone = lost.filter((id) => engine.inflight.get(id)?.token === renewed.get(id));
    if (gone.length) engine.loseLeases(gone, "its lease was lost (this consumer was paused or cut off past its lease)");
    for (const t of live) {
      const held = heldLocks(t);
      if (held.length === 0 || t.lost) continue;
      // Lock and slot share the owner (the task's id and lease token).
      const gone = await storage.renewLocks(held.map((l) => l.key), held[0]!.owner, now + this.h.lease);
      if (gone.length) engine.loseLeases([t.id], `its lock "${gone[0]}" was lost`);
    }
    await engine.abortRevoked(now);
  }

  /**
   * Move one batch of due scheduled tasks to the ready queue. When a full batch moved, more may be
   * due: promote again on the loop's next turn, after it has leased, so the first of a million
   * tasks that come due at once runs after one batch, not after all of them. Returns how many moved.
   */
  async promote(now: number): Promise<number> {
    const storage = this.h.storage;
    // A read first: promoteDue is a write transaction, not worth taking when nothing is due.
    let next = await storage.nextEta();
    let moved = 0;
    if (next !== null && next <= now) {
      moved = await storage.promoteDue(now, PROMOTE_BATCH);
      if (moved === PROMOTE_BATCH) {
        this.nextPromote = now;
        return moved;
      }
      next = await storage.nextEta();
    }
    this.nextPromote = next === null ? now + MAX_IDLE_MS : Math.min(next, now + MAX_IDLE_MS);
    return moved;
  }

  /** Enqueue the periodic ticks that are due and claimed by us; sleep until the next tick. */
  async tickPeriodic(now: number): Promise<void> {
    const p = this.#periodic!;
    const report = await p.tick(now);
    for (const t of report.enqueued) this.h.log.debug(`periodic ${t.def.name}: tick ${new Date(t.tickMs).toISOString()} enqueued`);
    for (const f of report.failed) {
      this.h.log.error(`periodic ${f.def.name}: could not enqueue its tick (tried again next time): ${f.error instanceof Error ? f.error.message : String(f.error)}`);
    }
    const wait = p.msUntilNextTick(now);
    this.nextPeriodic = wait === null ? Infinity : now + Math.max(1, wait);
  }

  /** Dead letters are keyed by time-ordered id: drop those older than the retention. */
  async dropOldDeadLetters(now: number): Promise<void> {
    const keep = this.h.failedRetention;
    if (keep === null) return;
    const rows = await this.h.storage.listData(KEYS.failed, 500);
    const old = rows.filter((r) => (JSON.parse(r.value) as DeadLetter).failedAt < now - keep).map((r) => r.key);
    if (old.length) await this.h.storage.commit({ deleteData: old });
  }
}

/** Where a storage keeps its data, for the startup line: " at /abs/app.db", " at redis://…" (password hidden). */
export function storageWhere(storage: Storage): string {
  const s = storage as unknown as { filename?: unknown; url?: unknown };
  if (typeof s.filename === "string") return ` at ${escapeControl(s.filename)}`;
  if (typeof s.url === "string") return ` at ${escapeControl(redactUrl(s.url))}`;
  return "";
}

// Ended deduplication windows: the key-value entries `dedup:...` that enqueueDeduped sets (value
// `<window end>:<task id>`) and nothing else removes; and the markers revoked tasks leave
// (`revoked-done:...`) once their time is over. Maintenance sweeps them in bounded batches,
// through the Storage interface only, so every backend with a compare-and-delete gets it.
//
// An entry may go once its window has ended (a grace of a minute more, for clock skew between the
// producers' machines and the consumer's) AND its task is no longer queued, scheduled or leased:
// - throttle only looks at the window end, so an ended one acts as no entry at all;
// - replace (and debounce) merges into the named task while it is pending, whatever the window:
//   that entry must stay; once its task is gone, the next call stores a fresh task and overwrites
//   the entry anyway, so dropping it changes nothing.
// (The entry does not say its mode, so both rules apply to every entry: a throttle entry whose task
// is still queued waits for a later sweep, which changes nothing either.)
//
// The race: a producer may set the entry again between our read and our delete. The delete is a
// compare-and-delete on the value we read (`deleteDataIf`): a producer's write always changes the
// value (a new window end, and for a stored task a new id), so its live window is never deleted.
import { KEYS } from "../message";
import { compareCodePoints } from "../storage/_prefix";
import { parseDedupValue, type Storage } from "../storage/types";

/** Entries read per batch (each ended one costs a hasTask and a delete). */
export const DEDUP_SWEEP_BATCH = 200;
/**
 * How long past its end a window is kept: a producer whose clock is behind the consumer's still
 * throttles into it, so clock skew between machines up to this much cannot let a second task in.
 */
export const DEDUP_SWEEP_GRACE_MS = 60_000;

/**
 * What to do with one entry at `now`: "keep" while its window is open (and DEDUP_SWEEP_GRACE_MS after),
 * "check" (its task, by id) after that, "drop" for a value that is not a window (enqueueDeduped
 * treats it as absent).
 */
export function dedupEntryState(value: string, now: number): { state: "keep" } | { state: "check"; id: string } | { state: "drop" } {
  const entry = parseDedupValue(value);
  if (entry === null) return { state: "drop" };
  return entry.until + DEDUP_SWEEP_GRACE_MS > now ? { state: "keep" } : { state: "check", id: entry.id };
}

/**
 * One batch: up to `limit` entries after `cursor` (a key; undefined: from the first). Returns how many
 * were deleted and the cursor for the next batch, undefined once the end of the entries was reached.
 */
export type Sweep = (storage: Storage, now: number, cursor: string | undefined, limit?: number) => Promise<{ deleted: number; cursor: string | undefined }>;

export const sweepDedupWindows: Sweep = (storage, now, cursor, limit = DEDUP_SWEEP_BATCH) =>
  sweepKeys(storage, KEYS.dedup, cursor, limit, async (value) => {
    const s = dedupEntryState(value, now);
    if (s.state === "keep") return false;
    return !(s.state === "check" && (await storage.hasTask(s.id)));
  });

/**
 * Markers of revoked tasks (KEYS.revokedDone, see planSkip), which say "revoked" for as long as the task's
 * result would have been kept: one whose time is over, or that is unreadable, goes. A marker kept for
 * good (until null: no result expiry) stays. One batch, as sweepDedupWindows.
 */
export const sweepRevokedMarkers: Sweep = (storage, now, cursor, limit = DEDUP_SWEEP_BATCH) =>
  sweepKeys(storage, KEYS.revokedDone, cursor, limit, async (value) => {
    let until: unknown;
    try {
      until = (JSON.parse(value) as { until?: unknown }).until;
    } catch {
      return true;
    }
    return until !== null && !(typeof until === "number" && until > now);
  });

/**
 * Up to `limit` entries under `prefix` after `cursor`; each one `drop` says yes to is deleted if its value
 * is still the one read (a writer's new value wins). The next cursor is undefined at the end.
 */
async function sweepKeys(
  storage: Storage,
  prefix: string,
  cursor: string | undefined,
  limit: number,
  drop: (value: string) => Promise<boolean>,
): Promise<{ deleted: number; cursor: string | undefined }> {
  const rows = await storage.listData(prefix, limit, cursor);
  let deleted = 0;
  for (const r of rows) {
    // A storage that ignored the cursor would return the same page for ever: start over next time.
    if (cursor !== undefined && compareCodePoints(r.key, cursor) <= 0) return { deleted, cursor: undefined };
    if ((await drop(r.value)) && (await storage.deleteDataIf(r.key, r.value))) deleted++;
  }
  return { deleted, cursor: rows.length < limit ? undefined : rows[rows.length - 1]!.key };
}

// How a lease with a LeaseFilter splits its `max` between lanes: the same rule on every backend.
import type { LeasedItem, LeaseFilter, PausedLane } from "./types";

/** One lane to serve and the most it may still take in this call. */
export interface LaneWant {
  lane: string;
  cap: number;
}

/**
 * The lanes a filtered lease serves, rotated by `turn` so that no lane is always first when `max` is
 * smaller than the lanes served (a lease of 1 item takes from each lane in turn).
 */
export function lanesToServe(filter: LeaseFilter, ready: () => string[], paused: ReadonlySet<string>, turn: number): LaneWant[] {
  const spec = filter.lanes;
  const all = spec ? Object.keys(spec).sort() : ready();
  const out: LaneWant[] = [];
  for (const lane of all) {
    if (paused.has(lane)) continue;
    const cap = spec ? spec[lane]! : Infinity;
    if (cap > 0) out.push({ lane, cap });
  }
  if (out.length < 2) return out;
  const k = turn % out.length;
  return [...out.slice(k), ...out.slice(0, k)];
}

/**
 * Take up to `max` items across `lanes`, fairly: in rounds, each lane still able to give gets an equal
 * share of what is left (at most its cap); a lane that gives less than it was asked for is empty and
 * drops out, and what it left goes to the others in the next round. The plan asks for `[lane, n]`
 * and is told how many items it got: shareLease() and shareLeaseAsync() run it with their `take`.
 */
function* shareRounds(max: number, lanes: LaneWant[]): Generator<[string, number], void, number> {
  let taken = 0;
  let open = lanes.map((l) => ({ ...l }));
  while (taken < max && open.length > 0) {
    const share = Math.ceil((max - taken) / open.length);
    const next: LaneWant[] = [];
    for (const l of open) {
      const n = Math.min(share, l.cap, max - taken);
      if (n <= 0) break;
      const got: number = yield [l.lane, n];
      taken += got;
      l.cap -= got;
      if (got === n && l.cap > 0) next.push(l);
    }
    open = next;
  }
}

/** `take(lane, n)` leases up to `n` items of one lane in priority order. */
export function shareLease(max: number, lanes: LaneWant[], take: (lane: string, n: number) => LeasedItem[]): LeasedItem[] {
  const out: LeasedItem[] = [];
  const plan = shareRounds(max, lanes);
  for (let step = plan.next(); !step.done; ) {
    const got = take(...step.value);
    out.push(...got);
    step = plan.next(got.length);
  }
  return out;
}

/** shareLease() for a backend whose `take` is asynchronous (run inside one transaction by the caller). */
export async function shareLeaseAsync(
  max: number, lanes: LaneWant[], take: (lane: string, n: number) => Promise<LeasedItem[]>,
): Promise<LeasedItem[]> {
  const out: LeasedItem[] = [];
  const plan = shareRounds(max, lanes);
  for (let step = plan.next(); !step.done; ) {
    const got = await take(...step.value);
    out.push(...got);
    step = plan.next(got.length);
  }
  return out;
}

/** The pauses in effect at `now`. */
export function activePauses(pauses: PausedLane[], now: number): Set<string> {
  return new Set(pauses.filter((p) => p.until === null || p.until > now).map((p) => p.lane));
}

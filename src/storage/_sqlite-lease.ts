// SqliteStorage's lease: one statement per named queue (lane), no transaction around it. Each lane's
// `UPDATE ... RETURNING` checks that lane's pause itself, so a pause holds at once for every process; the
// fair share across lanes is planned from a read of the lanes with ready items (see README, architecture).
import type { Database } from "bun:sqlite";
import { lanesToServe, shareLease } from "./_lanes";
import type { Statements } from "./_sqlite-sql";
import { byLeaseOrder, type LeaseFilter, type LeasedItem } from "./types";

const NO_PAUSES: ReadonlySet<string> = new Set();
/** How long a read of the lanes with ready items serves the lease's fair-share plan. */
const LANES_TTL_MS = 50;
/** How many leases one read of the lanes serves at most. */
const LANES_REUSE = 8;

type Row = LeasedItem & { seq: number };

export class SqliteLeaser {
  readonly #s: Statements;
  readonly #queue: string;
  readonly #anyTx: (max: number, leaseUntil: number, token: string) => Row[];
  /** The lanes that had ready items when last read (epoch ms, filter time), for the fair-share plan. */
  #lanes: { at: number; lanes: string[]; uses: number; full: boolean } | null = null;
  #turn = 0;

  constructor(db: Database, s: Statements, queue: string) {
    this.#s = s;
    this.#queue = queue;
    // Without a filter: every lane, paused or not, highest priority first across lanes. The index is
    // per lane: merge the lanes' heads, then lease from each lane as many as it gave the merge.
    this.#anyTx = db.transaction((max: number, leaseUntil: number, token: string) => {
      const heads: { lane: string; priority: number; seq: number }[] = [];
      for (const lane of this.#readLanes()) heads.push(...(s.laneHeads.all(queue, lane, max) as typeof heads));
      heads.sort(byLeaseOrder);
      const per = new Map<string, number>();
      for (const h of heads.slice(0, max)) per.set(h.lane, (per.get(h.lane) ?? 0) + 1);
      const out: Row[] = [];
      for (const [lane, n] of per) out.push(...(s.leaseLaneAny.all(leaseUntil, token, queue, n, lane) as Row[]));
      return out;
    }).immediate;
  }

  /** Up to `max` rows leased under `token` (in no particular order; each has its `seq`). */
  lease(max: number, leaseUntil: number, token: string, filter?: LeaseFilter): Row[] {
    if (!filter) return this.#anyTx(max, leaseUntil, token);
    // The lanes are read first: a lane that ran dry or is paused gives nothing, and the fair-share plan
    // hands its share to the others.
    const lanes = lanesToServe(filter, () => this.#readyLanes(filter.now), NO_PAUSES, this.#turn++);
    const take = (lane: string, n: number) => this.#s.leaseLane.all(leaseUntil, token, this.#queue, n, lane, filter.now) as Row[];
    const got = lanes.length === 1 ? take(lanes[0]!.lane, Math.min(max, lanes[0]!.cap)) : (shareLease(max, lanes, take) as Row[]);
    if (got.length < max && this.#lanes) this.#lanes.full = false;
    return got;
  }

  #readLanes(): string[] {
    return (this.#s.readyLanes.all(this.#queue) as { lane: string }[]).map((r) => r.lane);
  }

  /**
   * The lanes with ready items. The walk costs about as much as leasing 8 tasks, so a read serves the
   * next leases while each of them is full (a backlog), for at most LANES_REUSE leases and LANES_TTL_MS
   * (filter time): a lane that got its first task meanwhile waits at most that long for its share. A
   * short lease (the lanes ran dry) and an empty read are never reused, so a task enqueued into an
   * idle queue is leased at once.
   */
  #readyLanes(now: number): string[] {
    const c = this.#lanes;
    if (c && c.full && c.uses < LANES_REUSE && now >= c.at && now - c.at < LANES_TTL_MS) {
      c.uses++;
      return c.lanes;
    }
    const lanes = this.#readLanes();
    this.#lanes = lanes.length ? { at: now, lanes, uses: 0, full: true } : null;
    return lanes;
  }
}

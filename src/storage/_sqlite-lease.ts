// SqliteStorage's lease: one BEGIN IMMEDIATE transaction that reads each served lane's first ready rows
// no claim holds and claims them (see _sqlite-claims.ts). Each lane's read checks that lane's pause
// itself, so a pause holds at once for every process; the fair share across lanes is planned from a
// read of the lanes with ready items (see README, architecture).
import type { Database } from "bun:sqlite";
import { lanesToServe, shareLease } from "./_lanes";
import { claimRuns, takeHead, type ClaimStatements, type HeadRow } from "./_sqlite-claims";
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
  readonly #c: ClaimStatements;
  readonly #queue: string;
  readonly #tx: (max: number, leaseUntil: number, token: string, filter: LeaseFilter | undefined, after: ((got: number) => void) | undefined) => Row[];
  /** The lanes that had ready items when last read (epoch ms, filter time), for the fair-share plan. */
  #lanes: { at: number; lanes: string[]; uses: number; full: boolean } | null = null;
  #turn = 0;

  constructor(db: Database, s: Statements, c: ClaimStatements, queue: string) {
    this.#s = s;
    this.#c = c;
    this.#queue = queue;
    this.#tx = db.transaction((max: number, leaseUntil: number, token: string, filter: LeaseFilter | undefined, after: ((got: number) => void) | undefined) => {
      const rows = filter ? this.#filtered(max, leaseUntil, token, filter) : this.#any(max, leaseUntil, token);
      after?.(rows.length);
      return rows;
    }).immediate;
  }

  /**
   * Up to `max` rows leased under `token` (in no particular order; each has its `seq`). `after` runs
   * inside the same transaction, told how many rows were leased (to read more in the same step).
   */
  lease(max: number, leaseUntil: number, token: string, filter?: LeaseFilter, after?: (got: number) => void): Row[] {
    return this.#tx(max, leaseUntil, token, filter, after);
  }

  #filtered(max: number, leaseUntil: number, token: string, filter: LeaseFilter): Row[] {
    // The lanes are read first: a lane that ran dry or is paused gives nothing, and the fair-share plan
    // hands its share to the others.
    const lanes = lanesToServe(filter, () => this.#readyLanes(filter.now), NO_PAUSES, this.#turn++);
    const take = (lane: string, n: number) => {
      const runs: number[] = [];
      return this.#claim(takeHead(this.#c, this.#queue, lane, n, filter.now, true, runs), runs, leaseUntil, token);
    };
    const got = lanes.length === 1 ? take(lanes[0]!.lane, Math.min(max, lanes[0]!.cap)) : (shareLease(max, lanes, take) as Row[]);
    if (got.length < max && this.#lanes) this.#lanes.full = false;
    return got;
  }

  /**
   * Without a filter: every lane, paused or not, highest priority first across lanes. The index is per
   * lane: merge the lanes' heads, then claim from each lane what it gave the merge (a prefix of its head).
   */
  #any(max: number, leaseUntil: number, token: string): Row[] {
    const heads: { row: HeadRow; run: number; priority: number; seq: number }[] = [];
    for (const lane of this.#readLanes()) {
      const runs: number[] = [];
      const rows = takeHead(this.#c, this.#queue, lane, max, 0, false, runs);
      for (let i = 0; i < rows.length; i++) heads.push({ row: rows[i]!, run: runs[i]!, priority: rows[i]!.priority, seq: rows[i]!.seq });
    }
    heads.sort(byLeaseOrder);
    const byLane = new Map<string, { rows: HeadRow[]; runs: number[] }>();
    for (const h of heads.slice(0, max)) {
      let l = byLane.get(h.row.lane);
      if (!l) byLane.set(h.row.lane, (l = { rows: [], runs: [] }));
      l.rows.push(h.row);
      l.runs.push(h.run);
    }
    const out: Row[] = [];
    for (const l of byLane.values()) out.push(...this.#claim(l.rows, l.runs, leaseUntil, token));
    return out;
  }

  /** Claim `rows` (a lane's from takeHead, in lease order, with its `runs`) under `token`; they become the lease's items. */
  #claim(rows: HeadRow[], runs: number[], leaseUntil: number, token: string): Row[] {
    if (rows.length === 0) return [];
    claimRuns(this.#c, rows, runs, this.#queue, token, leaseUntil);
    const out = rows as unknown as Row[];
    for (const r of out) {
      r.token = token;
      r.leases += 1;
    }
    return out;
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

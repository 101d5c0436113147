// SqliteStorage's claims (schema 8, sql/0008_claims.sql): a lease holds its rows with one row of `claims`
// per (lane, priority) run of them instead of rewriting each leased row, which was the most expensive
// step of a drain (an UPDATE rebuilds and rewrites each row: ~3-4 us a task of the main thread's ~8).
//
// A claim holds the rows of its (queue, lane, priority) with leased_until NULL and seq in [lo, hi]. The
// rules that make that exact:
// - claims never overlap: a lease reads each priority's ready rows in the gaps between the lane's claims
//   (takeHead), and claims what it took from each gap apart;
// - [lo, hi] stays tight (lo and hi are rows the claim holds: after each ack and release the bounds are
//   read again, and a claim that holds nothing is deleted), so the largest seq of the table is never
//   below a live claim's hi, and a row inserted later (seq one past the largest) is never inside one;
// - the token fences: an ack deletes a row only while a claim of its token holds it.
// A renewal or a release of some of a claim's rows cuts it into runs (each row keeps its own deadline).
// `leases` on a row counts the leases that ended without an ack: a claim adds one to each row it held
// when it expires (reclaimExpired), and so does the release of a row whose task started; the lease
// reports leases + 1 (this lease included), as before.
import type { Database } from "bun:sqlite";

/** `r` (a row of queue) is held by claim `c`. */
export function heldBy(r: string, c: string): string {
  return `${c}.queue = ${r}.queue AND ${c}.lane = ${r}.lane AND ${c}.priority = ${r}.priority AND ${c}.lo <= ${r}.seq AND ${c}.hi >= ${r}.seq AND ${r}.leased_until IS NULL`;
}

/** `r` (a row of queue) is held by some claim: one seek on claims_range. */
export function claimedSql(r: string): string {
  return `EXISTS (SELECT 1 FROM claims AS c WHERE ${heldBy(r, "c")})`;
}

/** The until of the claim that holds `r` (a row of queue), or NULL: one seek on claims_range. */
export function claimUntilSql(r: string): string {
  return `(SELECT c.until FROM claims AS c WHERE ${heldBy(r, "c")})`;
}

/** The rows claims hold, as `q`, joined to their claim `c` (the claims bounded by `where`, on c). */
export function claimedRowsSql(cols: string, where: string): string {
  return `SELECT ${cols} FROM claims AS c JOIN queue AS q ON q.seq BETWEEN c.lo AND c.hi
            AND q.queue = c.queue AND q.lane = c.lane AND q.priority = c.priority AND q.leased_until IS NULL
          WHERE ${where}`;
}

/** What a lease reads of a row: the LeasedItem's columns; `leases` before this lease. */
export type HeadRow = { seq: number; id: string; name: string; lane: string; priority: number; payload: string; leases: number };

/** Lane ?2 of queue ?1 is paused at ?4 (a null ?4: never, for a lease without a filter). */
const PAUSED = "EXISTS (SELECT 1 FROM pauses WHERE queue = ?1 AND lane = ?2 AND ?4 IS NOT NULL AND (until IS NULL OR until > ?4))";

export function claimStatements(db: Database) {
  const q = (sql: string) => db.prepare(sql);
  // The bounds of what a claim still holds, between lo and hi: read after an ack or a release.
  const bounds = `(SELECT min(r.seq) FROM queue AS r WHERE r.seq BETWEEN ?1 AND ?2 AND r.queue = ?3 AND r.lane = ?4 AND r.priority = ?5 AND r.leased_until IS NULL) AS lo,
                  (SELECT max(r.seq) FROM queue AS r WHERE r.seq BETWEEN ?1 AND ?2 AND r.queue = ?3 AND r.lane = ?4 AND r.priority = ?5 AND r.leased_until IS NULL) AS hi`;
  return {
    /** A lane no claim holds rows of: its first ?3 ready rows in lease order, unless paused at ?4 (?4 null: no check). */
    head: q(
      `SELECT seq, id, name, lane, priority, payload, leases FROM queue WHERE queue = ?1 AND lane = ?2 AND leased_until IS NULL AND NOT ${PAUSED}
       ORDER BY priority DESC, seq LIMIT ?3`,
    ),
    /** The highest priority of a lane's ready rows, unless paused at ?4 (null: no check): one seek on queue_lane_ready. */
    topPriority: q(`SELECT max(priority) AS p FROM queue WHERE queue = ?1 AND lane = ?2 AND leased_until IS NULL AND NOT ${PAUSED}`),
    nextPriority: q("SELECT max(priority) AS p FROM queue WHERE queue = ?1 AND lane = ?2 AND leased_until IS NULL AND priority < ?3"),
    /** A lane's ready rows of one priority with seq between ?4 and ?5 (exclusive), in seq order: one range of queue_lane_ready. */
    gap: q(
      `SELECT seq, id, name, lane, priority, payload, leases FROM queue
       WHERE queue = ?1 AND lane = ?2 AND leased_until IS NULL AND priority = ?3 AND seq > ?4 AND seq < ?5 ORDER BY seq LIMIT ?6`,
    ),
    /**
     * The same, past the rows small claims hold inside the range: a row is held when the first claim of its
     * (queue, lane, priority) that ends at or after it starts at or before it (claims never overlap): one
     * seek on claims_range a row walked.
     */
    gapFree: q(
      `SELECT seq, id, name, lane, priority, payload, leases FROM queue AS r
       WHERE queue = ?1 AND lane = ?2 AND leased_until IS NULL AND priority = ?3 AND seq > ?4 AND seq < ?5
         AND NOT coalesce((SELECT c.lo <= r.seq FROM claims AS c WHERE c.queue = ?1 AND c.lane = ?2 AND c.priority = ?3 AND c.hi >= r.seq ORDER BY c.hi LIMIT 1), 0)
       ORDER BY seq LIMIT ?6`,
    ),
    /** The claims of a lane, in lease order. */
    laneClaims: q("SELECT priority, lo, hi FROM claims WHERE queue = ? AND lane = ? ORDER BY priority DESC, lo"),
    insert: q("INSERT INTO claims (token, queue, lane, priority, lo, hi, until) VALUES (?, ?, ?, ?, ?, ?, ?)"),
    /** The claims of a token. */
    ofToken: q("SELECT rowid AS id, queue, lane, priority, lo, hi, until FROM claims WHERE token = ?"),
    bounds: q(`SELECT ${bounds}`),
    setBounds: q("UPDATE claims SET lo = ?2, hi = ?3 WHERE rowid = ?1"),
    drop: q("DELETE FROM claims WHERE rowid = ?"),
    /** The row of a task and the claim of `token` that holds it, if any. */
    holder: q(
      `SELECT r.seq, r.lane, r.priority, c.rowid AS claim, c.lo, c.hi, c.until FROM queue AS r JOIN claims AS c ON c.token = ?3 AND ${heldBy("r", "c")}
       WHERE r.queue = ?1 AND r.id = ?2`,
    ),
    renew: q("UPDATE claims SET until = ?2 WHERE rowid = ?1"),
    /** The rows a claim holds, in seq order. */
    members: q(
      "SELECT seq FROM queue WHERE seq BETWEEN ?1 AND ?2 AND queue = ?3 AND lane = ?4 AND priority = ?5 AND leased_until IS NULL ORDER BY seq",
    ),
    countStarted: q("UPDATE queue SET leases = leases + 1 WHERE seq = ?"),
    /** Every row an expired claim holds counts one more lease; then the claims go. */
    reclaimRows: q(`UPDATE queue SET leases = leases + 1 WHERE seq IN (${claimedRowsSql("q.seq", "c.queue = ?1 AND c.until < ?2")})`),
    reclaim: q("DELETE FROM claims WHERE queue = ?1 AND until < ?2"),
    /** Claimed rows, counted: of a queue, of one lane. */
    count: q(claimedRowsSql("count(*) AS n", "c.queue = ?1")),
    countLane: q(claimedRowsSql("count(*) AS n", "c.queue = ?1 AND c.lane = ?2")),
  };
}

export type ClaimStatements = ReturnType<typeof claimStatements>;

/**
 * The acks of `n` rows by seq, those a token's claims were found to hold (heldSeqs): bound as the seqs.
 * `returning`: say which rows it removed (the checked path).
 */
export function seqDeleteSql(n: number, returning: boolean): string {
  return `DELETE FROM queue WHERE seq IN (${Array(n).fill("?").join(", ")})${returning ? " RETURNING id" : ""}`;
}

/**
 * Of `seqs` (rows leased under one token), those its claims still hold: a seq inside one of the token's
 * claims is that lease's row (no other row can have it: a claim's rows leave it only by an ack, which
 * deletes them, or a release, which splits the claim around the row; and no row is inserted inside a
 * live claim). A claim that expired and was reclaimed is gone, and its rows are lost to this token.
 */
export function heldSeqs(claims: readonly ClaimRow[], seqs: number[]): number[] {
  if (claims.length === 1) {
    const { lo, hi } = claims[0]!;
    return seqs.every((x) => x >= lo && x <= hi) ? seqs : seqs.filter((x) => x >= lo && x <= hi);
  }
  return seqs.filter((x) => claims.some((c) => x >= c.lo && x <= c.hi));
}

/** The same by (queue, id), for a lease given without its seq: bound as the token, the queue, then the ids. */
export function claimAckByIdSql(n: number, returning: boolean): string {
  return `DELETE FROM queue WHERE queue = ?2 AND id IN (${Array.from({ length: n }, (_, i) => `?${i + 3}`).join(", ")})
            AND EXISTS (SELECT 1 FROM claims AS c WHERE c.token = ?1 AND ${heldBy("queue", "c")})${returning ? " RETURNING id" : ""}`;
}

/**
 * After rows of `token` left its claims (acked, released): read each claim's bounds again, and delete
 * those that hold nothing. Keeps [lo, hi] tight (see the top of this file).
 */
export function tighten(s: ClaimStatements, token: string, claims = s.ofToken.all(token) as ClaimRow[]): void {
  for (const c of claims) {
    const b = s.bounds.get(c.lo, c.hi, c.queue, c.lane, c.priority) as { lo: number | null; hi: number | null };
    if (b.lo === null || b.hi === null) s.drop.run(c.id);
    else if (b.lo !== c.lo || b.hi !== c.hi) s.setBounds.run(c.id, b.lo, b.hi);
  }
}

export type ClaimRow = { id: number; queue: string; lane: string; priority: number; lo: number; hi: number; until: number };

/**
 * Renew the rows `seqs` of claim `claim` to `until`. All of them (the consumer renews every task it
 * holds at once): the claim's until. Some: the claim is split into runs of renewed and other rows, so
 * each row keeps its own deadline.
 */
export function renewRows(s: ClaimStatements, token: string, claim: ClaimRow, seqs: Set<number>, until: number): void {
  const members = membersOf(s, claim);
  if (members.every((m) => seqs.has(m))) {
    s.renew.run(claim.id, until);
    return;
  }
  recut(s, token, claim, members, (m) => (seqs.has(m) ? until : claim.until));
}

/**
 * Take the rows `seqs` out of claim `claim` (released: ready again); the rows it keeps stay claimed, as
 * runs around the released ones.
 */
export function releaseRows(s: ClaimStatements, token: string, claim: ClaimRow, seqs: Set<number>): void {
  recut(s, token, claim, membersOf(s, claim), (m) => (seqs.has(m) ? null : claim.until));
}

function membersOf(s: ClaimStatements, c: ClaimRow): number[] {
  return (s.members.all(c.lo, c.hi, c.queue, c.lane, c.priority) as { seq: number }[]).map((r) => r.seq);
}

/**
 * Replace `claim` by one claim per run of its `members` (in seq order) that share an until: `until(m)`,
 * null for a row that leaves the claim. Each run's bounds are rows it holds, so the claims stay tight.
 */
function recut(s: ClaimStatements, token: string, claim: ClaimRow, members: number[], until: (m: number) => number | null): void {
  s.drop.run(claim.id);
  let start = 0;
  for (let i = 1; i <= members.length; i++) {
    const u = until(members[start]!);
    if (i < members.length && until(members[i]!) === u) continue;
    if (u !== null) s.insert.run(token, claim.queue, claim.lane, claim.priority, members[start]!, members[i - 1]!, u);
    start = i;
  }
}

/**
 * Internal settings (not exported by the package). `skipSpan`: a claim whose seq range spans at least this
 * many is seeked past by a lease (a range read ends before it, the next starts after it); smaller ones are
 * walked inside one read (gapFree). The model test runs with 1 (every claim seeked past), 4, and 64.
 */
export const claimTuning = { skipSpan: 64 };

/**
 * A lane's first `n` ready rows that no claim holds, in lease order (priority, then seq), unless it is
 * paused at `now` (`pauseCheck`). The lane's large claims cut each priority's ready rows into segments,
 * each read as one range of queue_lane_ready, so the rows that consumers hold in big leases (at the head
 * of the lane) are seeked past, not walked. Small claims (a long-running task left alone in its claim
 * once the others of its lease were acked; claimTuning.skipSpan) are walked past inside the segment's
 * read, one claims_range seek a row: a statement per claim made a lease cost 16 ms with 1,000 such
 * tasks in flight, against 0.6 ms with none. `runs` gets each row's run number: a new claim must span
 * no other, so a run ends at a segment's end and at each small claim between two rows it read.
 */
export function takeHead(s: ClaimStatements, queue: string, lane: string, n: number, now: number, pauseCheck: boolean, runs: number[]): HeadRow[] {
  if (n <= 0) return [];
  const pausedAt = pauseCheck ? now : null;
  const claims = s.laneClaims.all(queue, lane) as { priority: number; lo: number; hi: number }[];
  if (claims.length === 0) {
    // Nothing of the lane is held (an idle queue, or a first lease): one read, a run per priority.
    const rows = s.head.all(queue, lane, n, pausedAt) as HeadRow[];
    let run = 0;
    for (let i = 0; i < rows.length; i++) runs.push(i > 0 && rows[i]!.priority !== rows[i - 1]!.priority ? ++run : run);
    return rows;
  }
  const skipSpan = claimTuning.skipSpan;
  const out: HeadRow[] = [];
  let run = 0;
  let p = (s.topPriority.get(queue, lane, null, pausedAt) as { p: number | null }).p;
  while (p !== null && out.length < n) {
    const priority = p;
    let from = -Infinity;
    /** The small claims between `from` and the next large one, in seq order. */
    let small: { lo: number; hi: number }[] = [];
    const read = (to: number) => {
      if (out.length >= n) return;
      const rows = (small.length ? s.gapFree : s.gap).all(queue, lane, priority, from, to, n - out.length) as HeadRow[];
      let k = 0;
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i]!;
        // A small claim between the previous row and this one ends the run.
        let cut = false;
        while (k < small.length && small[k]!.hi < r.seq) {
          if (i > 0) cut = true;
          k++;
        }
        if (cut) run++;
        runs.push(run);
        out.push(r);
      }
      if (rows.length) run++;
      small = [];
    };
    for (const c of claims) {
      if (c.priority !== priority) continue;
      if (c.hi - c.lo + 1 < skipSpan) {
        small.push(c);
        continue;
      }
      read(c.lo);
      from = c.hi;
    }
    read(Infinity);
    p = (s.nextPriority.get(queue, lane, priority) as { p: number | null }).p;
  }
  return out;
}

/**
 * Claim `rows` (a lane's, from takeHead, in lease order: all of them or a prefix; `runs` as it gave
 * them) under `token`: one claim per run.
 */
export function claimRuns(s: ClaimStatements, rows: HeadRow[], runs: number[], queue: string, token: string, until: number): void {
  let start = 0;
  for (let i = 1; i <= rows.length; i++) {
    if (i < rows.length && runs[i] === runs[start]) continue;
    const first = rows[start]!;
    s.insert.run(token, queue, first.lane, first.priority, first.seq, rows[i - 1]!.seq, until);
    start = i;
  }
}

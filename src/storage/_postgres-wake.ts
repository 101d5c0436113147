import type { SQL } from "bun";
import type { PgConnection } from "./_postgres-connection";
import type { Db } from "./_postgres-sql";
import { Waiters } from "./_waiters";
import type { Topic } from "./_wake";

const TOPICS: Topic[] = ["queue", "results"];
/**
 * A wait that started before the LISTEN was acknowledged may have missed a notification sent
 * in between: such a wait ends after at most this long, so the caller looks again.
 */
const UNCOVERED_WAIT_MS = 100;

/**
 * The wake-ups of one PostgresStorage: waiters per topic, woken by LISTEN on a channel per
 * topic and by this instance's own writes, and the NOTIFY that every notifying write sends.
 */
export class PgWake {
  // Wake-ups: one channel per topic; a notification bumps its topic's generation.
  readonly channels: Record<Topic, string>;
  /** Sent as the NOTIFY payload so this instance can ignore its own notifications (it wakes locally). */
  readonly self = crypto.randomUUID();
  #conn: PgConnection;
  #waiters: Record<Topic, Waiters> = { queue: new Waiters("queue"), results: new Waiters("results") };
  readonly gen: Record<Topic, number> = { queue: 0, results: 0 };
  /** The generation at the caller's last read that found nothing; -1 before any. */
  readonly seen: Record<Topic, number> = { queue: -1, results: -1 };
  #listening: Promise<void> | null = null;
  /** True once LISTEN was acknowledged: from then on every foreign write wakes us. */
  #listenAcked = false;
  /** Notifying writes of this instance under way, per topic (see notifying). */
  #writing: Record<Topic, number> = { queue: 0, results: 0 };
  /** The coalesced NOTIFY under way per topic, and whether another must follow it. */
  #pending: Record<Topic, Promise<void> | null> = { queue: null, results: null };
  #again: Record<Topic, boolean> = { queue: false, results: false };

  /** `key` names the schema and queue whose channels these are. */
  constructor(conn: PgConnection, key: string) {
    this.#conn = conn;
    this.channels = { queue: channelName(key, "queue"), results: channelName(key, "results") };
  }

  /** waitForChange of an open storage. */
  wait(timeoutMs: number, topic: Topic): Promise<void> {
    // Until the LISTEN is acknowledged notifications do not reach us, so such a wait is cut short
    // and the caller looks again soon: a short poll while starting, or while the server is down.
    const covered = this.#listenAcked;
    if (!covered) this.#listen();
    // A notification that came after the caller's last empty read must not be slept through.
    if (this.seen[topic] !== -1 && this.seen[topic] !== this.gen[topic]) {
      this.seen[topic] = this.gen[topic];
      return Promise.resolve();
    }
    this.seen[topic] = this.gen[topic];
    if (covered) return this.#waiters[topic].wait(timeoutMs);
    return this.#waiters[topic].wait(Math.min(timeoutMs, UNCOVERED_WAIT_MS), "poll");
  }

  /** Wake every waiter; resolves once the coalesced NOTIFYs under way have gone out. */
  async close(): Promise<void> {
    for (const topic of TOPICS) this.#waiters[topic].wakeAll();
    // Let notifications of committed writes go out before the pool closes.
    await Promise.all(TOPICS.map((topic) => this.#pending[topic]));
  }

  /**
   * LISTEN on both topics' channels, once: Bun keeps one dedicated connection for it, reconnects
   * it when it drops and re-subscribes. A failure is not memoised; the next wait tries again.
   */
  #listen(): void {
    this.#listening ??= (async () => {
      const { sql } = await this.#conn.connect("listen");
      let acks = 0;
      for (const topic of TOPICS) {
        await sql.listen(
          this.channels[topic],
          (payload) => {
            // Our own writes already woke this instance (#wakeLocal).
            if (payload !== this.self) this.#notified(topic);
          },
          () => {
            // The first acks are the subscriptions; a later one follows a reconnect, and
            // notifications sent while the connection was down are lost: wake everyone.
            if (++acks > TOPICS.length) for (const t of TOPICS) this.#notified(t);
          },
        );
      }
      this.#listenAcked = true;
    })().catch(() => {
      // Server down or closing: waits stay short; the caller's next query reports the error.
      this.#listening = null;
    });
  }

  #notified(topic: Topic): void {
    this.gen[topic]++;
    this.#waiters[topic].wakeAll();
  }

  /**
   * Our own writes wake this instance at once, without the round trip through NOTIFY; counted
   * like a notification so a caller between its read and its wait does not sleep through them.
   */
  #wakeLocal(topic: Topic): void {
    this.#notified(topic);
  }

  /**
   * Run a write that waiters elsewhere care about, then have it NOTIFY `topics`; resolves with the
   * rows it changed (0: no notification).
   *
   * Measured (PostgreSQL 15, synchronous_commit=on): a transaction that notifies holds a global
   * lock through its commit's WAL flush, so 8 concurrent insert+NOTIFY statements ran at ~900/s
   * against ~7,000/s for plain inserts. So a write notifies in its own statement (one round
   * trip) only when no other notifying write of this instance is under way; overlapping writes
   * leave it to one coalesced NOTIFY sent after they commit (#notifyLater).
   */
  async notifying(what: string, topics: Topic[], write: (db: Db, notify: boolean) => Promise<number>): Promise<number> {
    const solo = topics.every((topic) => this.#writing[topic] === 0);
    for (const topic of topics) this.#writing[topic]++;
    let n: number;
    try {
      n = await this.#conn.run(what, (db) => write(db, solo));
    } finally {
      for (const topic of topics) this.#writing[topic]--;
    }
    if (n > 0) {
      for (const topic of topics) {
        this.#wakeLocal(topic);
        if (!solo) this.#notifyLater(topic);
      }
    }
    return n;
  }

  /** {@link notifying} for one data-modifying statement ending in `RETURNING 1`. */
  writeAndNotify(what: string, topic: Topic, write: (db: Db) => SQL.Query<unknown>): Promise<number> {
    return this.notifying(what, [topic], async (db, notify) => {
      const [row] = await db.sql`
        WITH w AS (${write(db)})
        SELECT (SELECT count(*)::int FROM w) AS n,
               (SELECT pg_notify(${this.channels[topic]}, ${this.self}) FROM w WHERE ${notify} LIMIT 1) IS NULL AS _`;
      return Number(row!.n);
    });
  }

  /**
   * NOTIFY `topic` after writes that have committed. One at a time per topic: requests made
   * while one is under way are served by a single NOTIFY sent after it. Best effort: a lost
   * notification costs waiters elsewhere their timeout, never correctness.
   */
  #notifyLater(topic: Topic): void {
    if (this.#pending[topic]) {
      this.#again[topic] = true;
      return;
    }
    this.#pending[topic] = (async () => {
      try {
        do {
          this.#again[topic] = false;
          const { sql } = await this.#conn.connect("notify");
          await sql`SELECT pg_notify(${this.channels[topic]}, ${this.self})`;
        } while (this.#again[topic] && !this.#conn.closed);
      } catch {
        // server gone: the next regular query reports it
      } finally {
        // Same synchronous step as the loop's last check: no request can fall in between.
        this.#pending[topic] = null;
      }
    })();
  }
}

/**
 * NOTIFY channels are database-wide identifiers (at most 63 bytes), and a queue name can be any
 * string: hash schema, queue and topic into a short lowercase name.
 */
function channelName(key: string, topic: Topic): string {
  const hash = new Bun.CryptoHasher("sha256").update(`${key}\n${topic}`).digest("hex").slice(0, 32);
  return `huey_${topic}_${hash}`;
}

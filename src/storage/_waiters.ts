/**
 * How a wait ended: woken by news of a change ("changed": an event, a message, a notification,
 * or a re-check right after one), by a periodic safety check that found a change ("poll"), or by
 * its own timer ("timeout").
 */
export type WakeReason = "changed" | "poll" | "timeout";

/**
 * How waits of this thread ended, per label (the topic: "queue", "results"), over the thread's
 * life. Internal (not exported by the package): tests and debugging use it to tell a wake-up that
 * worked from one that fell back to a timer.
 */
export const wakeStats: Record<string, Record<WakeReason, number>> = {};

/** A set of pending waits that can all be woken at once; each also ends by itself on a timer. */
export class Waiters {
  #waiting = new Set<(reason: WakeReason) => void>();
  #stats: Record<WakeReason, number>;

  /** @param label what the waits are for, as counted in {@link wakeStats} */
  constructor(label = "any") {
    this.#stats = wakeStats[label] ??= { changed: 0, poll: 0, timeout: 0 };
  }

  get size(): number {
    return this.#waiting.size;
  }

  /**
   * Resolves when woken or after `timeoutMs`; how it ended is counted in {@link wakeStats}, the
   * timer as `onTimer` (a short wait that stands in for a poll counts as "poll").
   */
  wait(timeoutMs: number, onTimer: WakeReason = "timeout"): Promise<void> {
    return new Promise((resolve) => {
      const done = (reason: WakeReason) => {
        clearTimeout(timer);
        this.#waiting.delete(done);
        this.#stats[reason]++;
        resolve();
      };
      const timer = setTimeout(() => done(onTimer), Math.max(0, timeoutMs));
      this.#waiting.add(done);
    });
  }

  wakeAll(reason: WakeReason = "changed"): void {
    for (const done of [...this.#waiting]) done(reason);
  }
}

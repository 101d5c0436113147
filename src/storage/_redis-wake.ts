// RedisStorage's wake-ups: waiters per topic, woken by pub/sub messages on the queue's channels
// and by this instance's own writes.
import type { RedisClient } from "bun";
import { openClient } from "./_redis-connection";
import { Waiters } from "./_waiters";
import type { Topic } from "./_wake";

/**
 * Longest single wait on pub/sub. A message can be lost (a dropped subscriber connection
 * between our onclose and the next subscribe): at worst it costs this long.
 */
const FALLBACK_WAIT_MS = 2_000;

export class RedisWake {
  #sub: RedisClient | null = null;
  #subscribing: Promise<void> | null = null;
  #waiters: Record<Topic, Waiters> = { queue: new Waiters("queue"), results: new Waiters("results") };
  /** Messages heard per topic (pub/sub and our own writes). */
  #heard: Record<Topic, number> = { queue: 0, results: 0 };
  /** #heard as it was when the caller last read that topic; -1 before any read. */
  #looked: Record<Topic, number> = { queue: -1, results: -1 };
  #closed = false;

  /** `rawUrl` connects, `shownUrl` (password masked) goes into messages. */
  constructor(
    readonly channels: Record<Topic, string>,
    readonly rawUrl: string,
    readonly shownUrl: string,
  ) {}

  /** Called before a read of `topic` is sent: what is heard from now on is news to the reader. */
  look(topic: Topic): void {
    this.#looked[topic] = this.#heard[topic];
  }

  /** A change of `topic` (a message, or a write of this instance): wake its waiters. */
  hear(topic: Topic): void {
    this.#heard[topic]++;
    const w = this.#waiters[topic];
    if (w.size) w.wakeAll();
  }

  /** See RedisStorage.waitForChange. */
  wait(timeoutMs: number, topic: Topic): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const looked = this.#looked[topic];
    if (looked >= 0 && this.#heard[topic] > looked) {
      this.#looked[topic] = this.#heard[topic];
      return Promise.resolve();
    }
    const done = this.#waiters[topic].wait(Math.min(timeoutMs, FALLBACK_WAIT_MS));
    this.#listen();
    return done;
  }

  close(): void {
    this.#closed = true;
    this.#sub?.close();
    this.#sub = null;
    for (const w of Object.values(this.#waiters)) w.wakeAll();
  }

  /** Open the subscriber connection unless it is open or opening. */
  #listen(): void {
    if (this.#sub || this.#subscribing) return;
    this.#subscribing = this.#subscribe()
      .catch(() => {
        // Unreachable server: the wait ends on its timer and the next read reports the error.
      })
      .finally(() => {
        this.#subscribing = null;
      });
  }

  async #subscribe(): Promise<void> {
    // No autoReconnect: Bun reconnects a subscriber without subscribing again (bun 1.4.5,
    // checked with CLIENT KILL), which would silence it. Instead onclose drops it and the next
    // wait subscribes on a new connection.
    const client = await openClient(this.rawUrl, this.shownUrl, false, "wait for changes");
    if (this.#closed) return client.close();
    client.onclose = () => {
      if (this.#sub !== client) return;
      this.#sub = null;
      this.#wakeReaders(); // they may have missed a message while we were away
    };
    const { queue, results } = this.channels;
    try {
      await client.subscribe([queue, results], (_message, channel) => this.hear(channel === queue ? "queue" : "results"));
    } catch (err) {
      client.close();
      throw err;
    }
    if (this.#closed) return client.close();
    this.#sub = client;
    this.#wakeReaders();
  }

  /** Changes before the subscription took effect went unheard: whoever read before must read again. */
  #wakeReaders(): void {
    for (const t of ["queue", "results"] as const) if (this.#looked[t] >= 0) this.hear(t);
  }
}

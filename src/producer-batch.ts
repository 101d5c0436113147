// Producer-side group commit: the plain calls a process makes in one turn of the event loop share one
// transaction. `await Promise.all(users.map((u) => send(u)))` stores its 100 calls in one commit instead
// of 100 (one fsync instead of 100 on `synchronous: "FULL"`, one round trip on PostgreSQL), and each call
// still resolves only once its task is stored. A call awaited alone is a batch of one, stored at once.
import type { QueueItem, ScheduledItem, Storage } from "./storage/types";

/** The most calls one commit takes; more in the same turn go in the next. */
export const CALL_BATCH_MAX = 1_000;

interface Waiting {
  item: QueueItem | ScheduledItem;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class CallBatch {
  #waiting: Waiting[] = [];
  #scheduled = false;

  constructor(private readonly storage: () => Storage) {}

  /** Store `item` (ready, or scheduled when it has an eta) with the other calls of this turn. */
  add(item: QueueItem | ScheduledItem): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // A microtask runs after the synchronous part of every call made in this turn has added its item.
        queueMicrotask(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    this.#scheduled = false;
    while (this.#waiting.length > 0) {
      const calls = this.#waiting.splice(0, CALL_BATCH_MAX);
      try {
        await store(this.storage(), calls.map((c) => c.item));
        for (const c of calls) c.resolve();
      } catch (err) {
        if (calls.length === 1 || !isDuplicateId(err)) {
          for (const c of calls) c.reject(err);
          continue;
        }
        // All or none: one call's duplicate id would fail the others. Store them one by one, so only
        // the call whose id is taken fails.
        for (const c of calls) {
          try {
            await store(this.storage(), [c.item]);
            c.resolve();
          } catch (e) {
            c.reject(e);
          }
        }
      }
    }
  }
}

function store(storage: Storage, items: (QueueItem | ScheduledItem)[]): Promise<unknown> {
  const ready: QueueItem[] = [];
  const later: ScheduledItem[] = [];
  for (const it of items) ("eta" in it ? later : ready).push(it as ScheduledItem);
  if (later.length === 0) return storage.enqueue(ready);
  if (ready.length === 0) return storage.schedule(later);
  return storage.commit({ enqueue: ready, schedule: later });
}

function isDuplicateId(err: unknown): boolean {
  return !!err && typeof err === "object" && (err as { code?: unknown }).code === "HUEY_DUPLICATE_ID";
}

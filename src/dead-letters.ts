// The dead-letter store: tasks that failed for good, kept under "failed:<id>" with their payload.
import { ConfigurationError } from "./errors";
import { KEYS, readMessage, toQueueItem, type DeadLetter, type Message } from "./message";
import { DEFAULT_LANE, type Storage } from "./storage/types";

/** A dead letter as huey.failed() returns it: with the named queue its task ran in. */
export type FailedTask = DeadLetter & { queue: string };

/**
 * The queue of a dead letter's task. A dead letter keeps the message as it was (`payload`), which names
 * its queue (absent: "default"), so every dead letter ever written knows it; nothing more is stored.
 */
export function deadLetterQueue(dl: DeadLetter): string {
  try {
    return readMessage(dl.payload).queue ?? DEFAULT_LANE;
  } catch {
    return DEFAULT_LANE;
  }
}

function withQueue(dl: DeadLetter): FailedTask {
  return { ...dl, queue: deadLetterQueue(dl) };
}

/**
 * Dead letters in key order (time-ordered ids: oldest first), at most `limit`; of one queue when
 * `queue` is given. Filtering reads pages that grow fourfold until `limit` match or none are left.
 */
export async function listFailed(storage: Storage, limit: number, queue?: string): Promise<FailedTask[]> {
  if (queue === undefined) return (await storage.listData(KEYS.failed, limit)).map((r) => withQueue(JSON.parse(r.value) as DeadLetter));
  for (let page = Math.max(limit, 1000); ; page = Math.min(page * 4, Number.MAX_SAFE_INTEGER)) {
    const rows = await storage.listData(KEYS.failed, page);
    const hits = rows.map((r) => withQueue(JSON.parse(r.value) as DeadLetter)).filter((d) => d.queue === queue);
    if (hits.length >= limit || rows.length < page || page === Number.MAX_SAFE_INTEGER) return hits.slice(0, limit);
  }
}

/** How many dead letters there are; of one queue when `queue` is given (that reads them all). */
export async function countFailed(storage: Storage, queue?: string): Promise<number> {
  if (queue === undefined) return storage.countData(KEYS.failed);
  return (await listFailed(storage, Number.MAX_SAFE_INTEGER, queue)).length;
}

/** Enqueue a failed task again (same id, `retriesOf` its task) and drop its dead letter; returns the payload. */
export async function retryFailed(storage: Storage, id: string, retriesOf: (name: string) => number): Promise<string> {
  const raw = await storage.getData(KEYS.failed + id, true);
  if (raw === null) throw new ConfigurationError(`no failed task with id ${JSON.stringify(id)} (see huey.failed())`);
  const dl = JSON.parse(raw) as DeadLetter;
  const m = readMessage(dl.payload);
  const again: Message = { ...m, retries: retriesOf(m.name), attempt: 1, expires: undefined };
  if (m.at !== undefined) again.at = Date.now();
  const item = toQueueItem(again, Number.MAX_SAFE_INTEGER);
  await storage.deleteResult(id);
  await storage.commit({ enqueue: [item], deleteData: [KEYS.failed + id] });
  return item.payload;
}

/**
 * Drop one dead letter, or all of them (of one queue when `queue` is given), 1000 per transaction;
 * returns how many were dropped.
 */
export async function purgeFailed(storage: Storage, id?: string, onProgress?: (purged: number) => void, queue?: string): Promise<number> {
  if (id !== undefined) return (await storage.deleteData(KEYS.failed + id)) ? 1 : 0;
  let n = 0;
  if (queue !== undefined) {
    // The others stay, so the pages cannot simply restart at the first key: list this queue's once.
    const keys = (await listFailed(storage, Number.MAX_SAFE_INTEGER, queue)).map((d) => KEYS.failed + d.id);
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      await storage.commit({ deleteData: batch });
      n += batch.length;
      onProgress?.(n);
    }
    return n;
  }
  for (;;) {
    const rows = await storage.listData(KEYS.failed, 1000);
    if (rows.length === 0) return n;
    await storage.commit({ deleteData: rows.map((r) => r.key) });
    n += rows.length;
    onProgress?.(n);
  }
}

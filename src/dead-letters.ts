// The dead-letter store: tasks that failed for good, kept under "failed:<id>" with their payload.
import { ConfigurationError } from "./errors";
import { KEYS, readMessage, toQueueItem, type DeadLetter, type Message } from "./message";
import type { Storage } from "./storage/types";

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

/** Drop one dead letter, or all of them, 1000 per transaction; returns how many were dropped. */
export async function purgeFailed(storage: Storage, id?: string, onProgress?: (purged: number) => void): Promise<number> {
  if (id !== undefined) return (await storage.deleteData(KEYS.failed + id)) ? 1 : 0;
  let n = 0;
  for (;;) {
    const rows = await storage.listData(KEYS.failed, 1000);
    if (rows.length === 0) return n;
    await storage.commit({ deleteData: rows.map((r) => r.key) });
    n += rows.length;
    onProgress?.(n);
  }
}

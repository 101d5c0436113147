// Chords: a callback enqueued once every member succeeded. Members record the chord in their message; the
// chord is also recorded as pending, so a consumer dying between the last member and the callback cannot
// lose it: consumers re-check pending chords.
import { KEYS, toQueueItem, type Message } from "./message";
import { stageMessage, type ChordSpec, type StageTaskOptions } from "./pipeline";
import { decode } from "./serializer";
import type { Storage } from "./storage/types";

export interface ChordHost {
  storage: Storage;
  maxPayloadSize: number;
  /** The callback task's options, when registered here. */
  options(name: string): StageTaskOptions | undefined;
  /** Told when the callback was stored (the "enqueued" signal). */
  onEnqueued?(m: Message): void;
}

/**
 * When every member has succeeded, enqueue the callback. Safe to repeat: `enqueueUnique` keeps a second
 * check from enqueuing it again while it is queued or running, and a callback that already ran has its
 * result stored. The pending record goes last, once the callback is enqueued (or can never be: a member
 * failed, and so did the callback).
 */
export async function completeChord(h: ChordHost, c: ChordSpec, now = Date.now()): Promise<void> {
  const { storage } = h;
  const raws = await Promise.all(c.members.map((id) => storage.getResult(id, true, now)));
  if (raws.some((r) => r === null)) return;
  const values: unknown[] = [];
  let failed = false;
  for (const raw of raws) {
    const r = decode<{ ok: boolean; value?: unknown }>(raw!);
    if (!r.ok) failed = true; // the failed member already failed the callback
    values.push(r.value);
  }
  if (!failed && (await storage.getResult(c.callback.id, true, now)) === null) {
    const prev: Message = { v: 1, id: c.id, name: "", args: [], priority: 0, retries: 0, retryDelay: 0, attempt: 1 };
    const m = stageMessage(c.callback, values, prev, h.options(c.callback.name), now);
    m.unique = KEYS.chord + c.id; // removed when the callback finishes
    const holder = await storage.enqueueUnique(toQueueItem(m, h.maxPayloadSize), m.unique);
    if (holder === null) h.onEnqueued?.(m);
  }
  await storage.deleteData(KEYS.chordPending + c.id);
}

/** Chords whose callback may not be enqueued yet. */
export async function pendingChords(storage: Storage, limit = 100): Promise<ChordSpec[]> {
  const rows = await storage.listData(KEYS.chordPending, limit);
  return rows.map((r) => JSON.parse(r.value) as ChordSpec);
}

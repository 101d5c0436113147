import type { CommitBatch, FencedWrite } from "./types";

/** The unfenced writes of `b` (acks included) followed by those of the `held` tasks (their acks left out). */
export function withHeld(b: CommitBatch, held: FencedWrite[]): Required<Omit<CommitBatch, "tasks">> {
  const out: Required<Omit<CommitBatch, "tasks">> = {
    ack: b.ack ?? [], results: [...(b.results ?? [])], enqueue: [...(b.enqueue ?? [])], schedule: [...(b.schedule ?? [])],
    putData: [...(b.putData ?? [])], deleteData: [...(b.deleteData ?? [])],
  };
  for (const t of held) {
    if (t.results) out.results.push(...t.results);
    if (t.enqueue) out.enqueue.push(...t.enqueue);
    if (t.schedule) out.schedule.push(...t.schedule);
    if (t.putData) out.putData.push(...t.putData);
    if (t.deleteData) out.deleteData.push(...t.deleteData);
  }
  return out;
}

/** True when the batch (or one of its tasks) writes results, resp. queue or schedule items. */
export function touches(b: CommitBatch): { results: boolean; queue: boolean } {
  let results = !!b.results?.length;
  let queue = !!(b.enqueue?.length || b.schedule?.length);
  for (const t of b.tasks ?? []) {
    results ||= !!t.results?.length;
    queue ||= !!(t.enqueue?.length || t.schedule?.length);
  }
  return { results, queue };
}

/**
 * A lease that held, as a commit's checked path keeps it: its token and id together, for one commit may
 * name one id twice, under a lease that was lost (reclaimed, the task leased again) and under the new one.
 */
export function heldKey(token: string, id: string): string {
  return `${token}\u0000${id}`;
}

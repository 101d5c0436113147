// The dashboard's paged lists: queued, running, scheduled, done (results) and failed (dead letters), each
// a bounded query. The Storage contract lists only "the first N" (no offset, no search, no results list,
// no task by id), so this file pages within a window of the first WINDOW items; SQLite reads its tables
// directly instead (sqlite-lists.ts), with LIMIT/OFFSET and the indexes the consumer uses.
import { deadLetterQueue } from "../dead-letters";
import type { Huey } from "../huey";
import { KEYS, type DeadLetter } from "../message";
import { readMessage } from "../message";
import type { QueueItem } from "../storage/types";
import { decode } from "../serializer";
import { ApiError } from "./errors";

/** How far into a list a backend without offsets can page (and search). */
export const WINDOW = 10_000;

export interface ListQuery {
  limit: number;
  offset: number;
  /** Search: an exact id, or part of the task name. */
  q: string | null;
  /** One named queue (lane) only. */
  queue: string | null;
}

export interface Page<T> {
  items: T[];
  offset: number;
  limit: number;
  /** True when there are items after this page. */
  more: boolean;
  /** All items of this list (without search) when the storage can count them cheaply, else null. */
  total: number | null;
  /** Set when the list is incomplete or unsupported on this storage: say so on the page. */
  note?: string;
}

export interface TaskRow {
  id: string;
  name: string;
  queue: string;
  priority: number;
  args: unknown[];
  attempt: number;
  retries: number;
  /** Scheduled only: when it becomes ready (epoch ms). */
  eta?: number;
  /** Running only: when its lease runs out (epoch ms), if known. */
  leasedUntil?: number | null;
}

export interface DoneRow {
  id: string;
  ok: boolean;
  /** The value (ok) or null. */
  value: unknown;
  error: { name: string; message: string; stack?: string; code?: string } | null;
  /** When the stored result expires (epoch ms), null for never, undefined when unknown. */
  expiresAt?: number | null;
}

/** A dead letter, with the named queue its task ran in (from its stored message). */
export interface FailedRow extends Omit<DeadLetter, "payload"> {
  queue: string;
}

export type TaskState = "queued" | "running" | "scheduled";

export interface FoundTask {
  state: TaskState;
  row: TaskRow;
  /** The stored message, decoded (JSON): options such as retryDelay, expires, pipeline stages. */
  message: Record<string, unknown> | null;
}

/** Tasks per named queue (lane), and the totals. */
export interface LaneCounts {
  queue: string;
  queued: number;
  running: number;
  scheduled: number;
}

export interface Counts {
  queued: number;
  running: number;
  scheduled: number;
  /** The lanes given, and (SQLite) every lane that holds tasks, by name. */
  lanes: LaneCounts[];
}

export interface Lists {
  /** The counts of the overview and of the lists' totals; `lanes`: the queues the registered tasks use. */
  counts(lanes: string[]): Promise<Counts>;
  /** The `total` of these three is left null: the API fills it from counts(). */
  queued(q: ListQuery): Promise<Page<TaskRow>>;
  running(q: ListQuery): Promise<Page<TaskRow>>;
  scheduled(q: ListQuery): Promise<Page<TaskRow>>;
  done(q: ListQuery, now: number): Promise<Page<DoneRow>>;
  failed(q: ListQuery): Promise<Page<FailedRow>>;
  /** A queued, running or scheduled task by id, or null. */
  find(id: string): Promise<FoundTask | null>;
  close(): void;
}

/** A stored item as a row: its message decoded (never evaluated); the bare columns if it does not decode. */
export function taskRow(it: QueueItem, extra: { eta?: number; leasedUntil?: number | null } = {}): { row: TaskRow; message: Record<string, unknown> | null } {
  let message: Record<string, unknown> | null = null;
  let args: unknown[] = [];
  let attempt = 1;
  let retries = 0;
  try {
    const m = readMessage(it.payload);
    message = m as unknown as Record<string, unknown>;
    args = m.args;
    attempt = m.attempt;
    retries = m.retries;
  } catch {
    // an unreadable payload still shows its columns
  }
  return { row: { id: it.id, name: it.name, queue: it.lane ?? "default", priority: it.priority, args, attempt, retries, ...extra }, message };
}

export function matches(q: string | null, id: string, name: string): boolean {
  return q === null || id === q || name.includes(q);
}

export function deadLetterRow(raw: string): FailedRow | null {
  try {
    const dl = decode<DeadLetter>(raw);
    const { payload: _payload, ...rest } = dl;
    return { ...rest, queue: deadLetterQueue(dl) };
  } catch {
    return null;
  }
}

/** The Storage contract's lists, paged within the first WINDOW items. */
export class ContractLists implements Lists {
  readonly #huey: Huey;
  constructor(huey: Huey) {
    this.#huey = huey;
  }

  #window(q: ListQuery): number {
    if (q.offset + q.limit > WINDOW) {
      throw new ApiError(400, `the ${this.#huey.storage.kind} storage lists only the first ${WINDOW} items: use an offset below ${WINDOW - q.limit}, or search`);
    }
    return WINDOW;
  }

  #page<T>(all: T[], q: ListQuery, total: number | null, truncated: boolean): Page<T> {
    const items = all.slice(q.offset, q.offset + q.limit);
    const page: Page<T> = { items, offset: q.offset, limit: q.limit, more: all.length > q.offset + q.limit, total };
    if (truncated) page.note = `searched the first ${WINDOW} items only (the ${this.#huey.storage.kind} storage cannot search)`;
    return page;
  }

  async counts(lanes: string[]): Promise<Counts> {
    const s = this.#huey.storage;
    const [queued, running, scheduled] = await Promise.all([s.pendingCount(), s.leasedCount(), s.scheduledCount()]);
    const per =
      lanes.length === 1 && lanes[0] === "default"
        ? [{ queue: "default", queued, running, scheduled }]
        : await Promise.all(
            lanes.map(async (lane) => {
              const [a, b, c] = await Promise.all([s.pendingCount(lane), s.leasedCount(lane), s.scheduledCount(lane)]);
              return { queue: lane, queued: a, running: b, scheduled: c };
            }),
          );
    return { queued, running, scheduled, lanes: per };
  }

  async #pending(q: ListQuery, leased: boolean): Promise<Page<TaskRow>> {
    const n = this.#window(q);
    const items = await this.#huey.storage.listPending(n, q.queue ?? undefined);
    const kept = items.filter((it) => it.leased === leased && matches(q.q, it.id, it.name));
    // Decode only the page's messages, not the whole window's.
    return this.#rows(this.#page(kept, q, null, q.q !== null && items.length === n), (it) => taskRow(it).row);
  }

  #rows<T, R>(page: Page<T>, row: (it: T) => R): Page<R> {
    return { ...page, items: page.items.map(row) };
  }

  queued(q: ListQuery): Promise<Page<TaskRow>> {
    return this.#pending(q, false);
  }

  running(q: ListQuery): Promise<Page<TaskRow>> {
    return this.#pending(q, true);
  }

  async scheduled(q: ListQuery): Promise<Page<TaskRow>> {
    const n = this.#window(q);
    const s = this.#huey.storage;
    const items = await s.listScheduled(n, q.queue ?? undefined);
    const kept = items.filter((it) => matches(q.q, it.id, it.name));
    return this.#rows(this.#page(kept, q, null, q.q !== null && items.length === n), (it) => taskRow(it, { eta: it.eta }).row);
  }

  async done(q: ListQuery, now: number): Promise<Page<DoneRow>> {
    // No listing of results in the contract: only a lookup by id.
    const total = await this.#huey.storage.resultCount();
    const items: DoneRow[] = [];
    if (q.q !== null) {
      const raw = await this.#huey.storage.getResult(q.q, true, now);
      if (raw !== null) items.push(doneRow(q.q, raw));
    }
    return {
      items,
      offset: q.offset,
      limit: q.limit,
      more: false,
      total,
      note: `the ${this.#huey.storage.kind} storage cannot list results: search for a task id to see its result`,
    };
  }

  async failed(q: ListQuery): Promise<Page<FailedRow>> {
    const n = this.#window(q);
    const s = this.#huey.storage;
    const raw = await s.listData(KEYS.failed, n);
    const rows = raw
      .map((r) => deadLetterRow(r.value))
      .filter((r): r is FailedRow => r !== null && matches(q.q, r.id, r.name) && (q.queue === null || r.queue === q.queue));
    const total = q.q === null && q.queue === null ? await s.countData(KEYS.failed) : null;
    return this.#page(rows, q, total, (q.q !== null || q.queue !== null) && raw.length === n);
  }

  async find(id: string): Promise<FoundTask | null> {
    const it = await this.#huey.storage.locate(id);
    if (it === null) return null;
    const { row, message } = taskRow(it, it.where === "scheduled" ? { eta: it.eta! } : it.where === "leased" ? { leasedUntil: it.leasedUntil! } : {});
    return { state: it.where === "scheduled" ? "scheduled" : it.where === "leased" ? "running" : "queued", row, message };
  }

  close(): void {}
}

/** A stored result as a row (ok value or failure). */
export function doneRow(id: string, raw: string, expiresAt?: number | null): DoneRow {
  let stored: { ok?: boolean; value?: unknown; error?: DoneRow["error"] } = {};
  try {
    stored = decode<typeof stored>(raw);
  } catch {
    stored = { ok: false, error: { name: "Error", message: "the stored result is not valid JSON" } };
  }
  const row: DoneRow = { id, ok: stored.ok === true, value: stored.ok === true ? (stored.value ?? null) : null, error: stored.ok === true ? null : (stored.error ?? null) };
  if (expiresAt !== undefined) row.expiresAt = expiresAt;
  return row;
}

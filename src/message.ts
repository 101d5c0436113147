import { PayloadTooLargeError } from "./errors";
import { decode, encode, isPlainChild } from "./serializer";
import type { ChordSpec, StageSpec } from "./pipeline";
import type { TaskInfo } from "./signals";
import type { QueueItem } from "./storage/types";

/**
 * One task invocation as stored. Versioned: a queue outlives any one build, so readers must
 * accept every version they find (only v1 exists).
 */
export interface Message {
  v: 1;
  id: string;
  name: string;
  /**
   * Epoch ms at which this call became ready to run: when it was enqueued, or its eta (a retry: when
   * it is due). Kept before `args` in the JSON, so readyAt() finds it without decoding. Absent in
   * messages of older builds (their queue wait is not measured).
   */
  at?: number;
  args: unknown[];
  priority: number;
  /** The named queue (lane) it runs in; absent means "default". */
  queue?: string;
  /** Retries left. */
  retries: number;
  /** Delay before each retry, ms. */
  retryDelay: number;
  /** 1 on the first run. */
  attempt: number;
  /** Retry delay multiplier per attempt (exponential backoff); absent means 1. */
  backoff?: number;
  /** Fraction (0..1) by which a retry delay is randomised. */
  jitter?: number;
  /** Cap on the retry delay, ms. */
  maxDelay?: number;
  /** Epoch ms after which the task is skipped instead of run. */
  expires?: number;
  /** The key-value entry that keeps this task unique; removed when it finishes. */
  unique?: string;
  /** The next pipeline stage: enqueued with this task's result as its first argument. */
  then?: StageSpec;
  /** Enqueued with the error if this task fails for good. */
  onError?: StageSpec;
  /** This task (or its pipeline's last stage) is a member of this chord. */
  chord?: ChordSpec;
}

/** What a finished task leaves in the result store. */
export type StoredResult =
  | { ok: true; value: unknown }
  | { ok: false; name: string; error: { name: string; message: string; stack?: string; code?: string }; attempts: number };

/** A task that failed for good, as kept in the dead-letter store. */
export interface DeadLetter {
  id: string;
  name: string;
  args: unknown[];
  error: { name: string; message: string; stack?: string; code?: string };
  attempts: number;
  failedAt: number;
  /** The message as it was, to enqueue again. */
  payload: string;
}

/** Key-value prefixes the library uses; user keys of huey.put() live under "kv:". */
export const KEYS = {
  user: "kv:",
  failed: "failed:",
  progress: "progress:",
  revokedId: "revoked:id:",
  revokedTask: "revoked:task:",
  /** A task a consumer skipped as revoked: `{ at, until }` (not under "revoked:", which consumers read as revocations). */
  revokedDone: "revoked-done:",
  unique: "unique:",
  dedup: "dedup:",
  rate: "rate:",
  chord: "chord:",
  chordPending: "chord-pending:",
  /** A task's log and timeline, one record per attempt: `tasklog:<id>#<attempt, 4 digits>` (src/task-log.ts). */
  taskLog: "tasklog:",
  /** The expiry index of those records: `tasklog-exp:<expiry, 15 digits>:<record key>`. */
  taskLogExpiry: "tasklog-exp:",
} as const;

/**
 * The `at` of a stored message (see Message.at) without decoding it, or NaN when it has none. JSON
 * escapes every quote inside a string, so `,"at":` before the first `,"args":` is the key itself.
 */
export function readyAt(payload: string): number {
  const args = payload.indexOf(',"args":');
  if (args < 0) return NaN;
  const i = payload.lastIndexOf(',"at":', args);
  if (i < 0) return NaN;
  let n = 0;
  let j = i + 6;
  for (; j < args; j++) {
    const c = payload.charCodeAt(j) - 48;
    if (c < 0 || c > 9) break;
    n = n * 10 + c;
  }
  return j === i + 6 ? NaN : n;
}

export function newTaskId(): string {
  return Bun.randomUUIDv7();
}

/** Serialise a message; throws SerializationError / PayloadTooLargeError in the caller. */
export function toQueueItem(m: Message, maxPayloadSize: number): QueueItem {
  const payload = encode(m, `${m.name}() message`, { args: `${m.name}() arguments` });
  checkSize(payload, `the payload of task ${m.name}`, maxPayloadSize);
  return { id: m.id, name: m.name, priority: m.priority, payload, lane: m.queue ?? "default" };
}

/**
 * toQueueItem() of a message fresh from buildMessage() (its `at` and `unique` may be set after):
 * every field but args is a string or a finite number buildMessage() checked, so only args is
 * walked. The payload is the same text.
 */
export function builtQueueItem(m: Message, maxPayloadSize: number): QueueItem {
  const payload = isPlainChild(m.args) ? JSON.stringify(m) : encode(m, `${m.name}() message`, { args: `${m.name}() arguments` });
  if (payload.length * 3 > maxPayloadSize) checkSize(payload, `the payload of task ${m.name}`, maxPayloadSize);
  return { id: m.id, name: m.name, priority: m.priority, payload, lane: m.queue ?? "default" };
}

export function checkSize(payload: string, what: string, limit: number): void {
  // Length in UTF-16 units is a lower bound of the UTF-8 size: only measure when it may matter.
  if (payload.length * 3 > limit) {
    const bytes = Buffer.byteLength(payload, "utf8");
    if (bytes > limit) throw new PayloadTooLargeError(what, bytes, limit);
  }
}

export function readMessage(payload: string): Message {
  const m = decode<Message>(payload);
  if (!m || typeof m !== "object" || m.v !== 1 || typeof m.name !== "string" || !Array.isArray(m.args)) {
    throw new TypeError(`not a bun-huey task message: ${payload.slice(0, 120)}`);
  }
  return m;
}

/** readMessage(), or null for a payload that cannot be read (introspection shows what it can). */
export function tryReadMessage(payload: string): Message | null {
  try {
    return readMessage(payload);
  } catch {
    return null;
  }
}

/** What signal handlers and listings show of a stored item; the bare columns if its payload is unreadable. */
export function itemInfo(it: QueueItem): TaskInfo {
  try {
    return taskInfo(readMessage(it.payload));
  } catch {
    return { id: it.id, name: it.name, args: [], priority: it.priority, retries: 0, attempt: 1 };
  }
}

export function taskInfo(m: Message): TaskInfo {
  return { id: m.id, name: m.name, args: m.args, priority: m.priority, retries: m.retries, attempt: m.attempt };
}

// Turning a call into a stored message: its id, options, eta and unique key. Pure but for the clock,
// which is an argument.
import { ConfigurationError } from "./errors";
import { builtQueueItem, KEYS, newTaskId, type Message } from "./message";
import type { QueueItem, ScheduledItem } from "./storage/types";
import { checkQueueName, whole } from "./task-options";
import type { ResolvedTaskOptions, ScheduleOptions } from "./task";
import { checkEpochMs, fromNow, toEpochMs, toMs } from "./_time";

export function checkId(id: unknown, where: string): string {
  if (typeof id !== "string" || id.trim() === "" || id.length > 200) {
    throw new ConfigurationError(`${where}: id must be a non-empty string of at most 200 characters, got ${JSON.stringify(id)}`);
  }
  return id;
}

/** The message for one call of task `name` with per-call settings `s`. */
export function buildMessage(name: string, o: ResolvedTaskOptions, args: unknown[], s: ScheduleOptions, now: number): Message {
  // Each setting is checked only when given; `${name}.schedule()` is built only then.
  const m: Message = {
    v: 1,
    id: s.id !== undefined ? checkId(s.id, `${name}.schedule()`) : newTaskId(),
    name,
    at: now,
    args,
    priority: s.priority !== undefined ? whole(name, "priority", s.priority, -Infinity) : o.priority,
    retries: s.retries !== undefined ? whole(name, "retries", s.retries, 0) : o.retries,
    retryDelay: s.retryDelay !== undefined ? toMs(s.retryDelay, `${name}.schedule() retryDelay`) : o.retryDelay,
    attempt: 1,
  };
  const queue = s.queue !== undefined ? checkQueueName(s.queue, `${name}.schedule() queue`) : o.queue;
  if (queue !== "default") m.queue = queue;
  if (o.retryBackoff !== 1) m.backoff = o.retryBackoff;
  if (o.retryJitter) m.jitter = o.retryJitter;
  if (o.retryMaxDelay !== null) m.maxDelay = o.retryMaxDelay;
  if (s.expires !== undefined) {
    const where = `${name}.schedule() expires`;
    m.expires = s.expires instanceof Date ? toEpochMs(s.expires, where) : fromNow(s.expires, where, now);
  } else if (o.expires !== null) {
    m.expires = checkEpochMs(now + o.expires, `task "${name}": expires`);
  }
  return m;
}

/** When a call with `delay` or `eta` becomes ready; undefined for now. */
export function etaOf(name: string, s: ScheduleOptions, now: number): number | undefined {
  if (s.delay !== undefined && s.eta !== undefined) {
    throw new ConfigurationError(`${name}.schedule(args, options): give "delay" or "eta", not both`);
  }
  if (s.eta !== undefined) return toEpochMs(s.eta, `${name}.schedule() eta`);
  if (s.delay !== undefined) return fromNow(s.delay, `${name}.schedule() delay`, now);
  return undefined;
}

/** The key-value key that keeps a unique task unique, or undefined for a task that is not. */
export function uniqueKey(name: string, o: ResolvedTaskOptions, args: unknown[]): string | undefined {
  if (!o.unique) return undefined;
  return `${KEYS.unique}${name}:${callKey(name, o.unique, args)}`;
}

/** The key-value key of a deduplication window's call, or undefined for a task without one. */
export function dedupKey(name: string, o: ResolvedTaskOptions, args: unknown[]): string | undefined {
  if (!o.dedup) return undefined;
  return `${KEYS.dedup}${name}:${callKey(name, o.dedup.key, args)}`;
}

function callKey(name: string, fn: (...args: any[]) => string, args: unknown[]): string {
  let key: unknown;
  try {
    key = fn(...args);
  } catch (err) {
    throw new ConfigurationError(`task "${name}": the unique key function threw: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (typeof key !== "string") {
    throw new ConfigurationError(`task "${name}": the unique key function must return a string, got ${typeof key}`);
  }
  return key;
}

/** One call of a bulk enqueue: the task's name and options, its arguments, and its own settings. */
export interface BulkCall {
  name: string;
  options: ResolvedTaskOptions;
  args: unknown[];
  schedule: ScheduleOptions;
}

/** The stored items of a bulk enqueue, split into ready ones and ones for later, in call order. */
export interface BulkItems {
  ready: QueueItem[];
  later: ScheduledItem[];
  messages: Message[];
  /** For each call, in order, its item. */
  items: QueueItem[];
}

/** Build every call's message and item; the first bad call throws, naming its place in the list. */
export function buildBulk(calls: BulkCall[], now: number, maxPayloadSize: number): BulkItems {
  const out: BulkItems = { ready: [], later: [], messages: [], items: [] };
  // Calls sharing one settings object (map) resolve its eta once.
  let lastSettings: ScheduleOptions | null = null;
  let lastName = "";
  let eta: number | undefined;
  for (let i = 0; i < calls.length; i++) {
    const c = calls[i]!;
    try {
      if (c.schedule !== lastSettings || c.name !== lastName) {
        eta = etaOf(c.name, c.schedule, now);
        lastSettings = c.schedule;
        lastName = c.name;
      }
      const m = buildMessage(c.name, c.options, c.args, c.schedule, now);
      if (eta !== undefined) m.at = eta;
      const item = builtQueueItem(m, maxPayloadSize);
      out.messages.push(m);
      out.items.push(item);
      if (eta === undefined) out.ready.push(item);
      else out.later.push({ id: item.id, name: item.name, priority: item.priority, payload: item.payload, eta });
    } catch (err) {
      if (calls.length > 1 && err instanceof Error) err.message = `call ${i + 1} of ${calls.length} (${c.name}): ${err.message}`;
      throw err;
    }
  }
  return out;
}

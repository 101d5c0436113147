// Checking what a request asks for: paging parameters, JSON bodies and enqueue options. Every mistake
// is an ApiError (4xx) whose message says what to send instead.
import type { ScheduleOptions } from "../task";
import { ApiError } from "./errors";
import type { ListQuery } from "./lists";

export const MAX_LIMIT = 500;
export const DEFAULT_LIMIT = 50;
/** SQLite's OFFSET walks the rows it skips: far enough for any page a person reads, bounded for the server. */
export const MAX_OFFSET = 1_000_000;
/** The largest JSON body accepted (an enqueue's arguments). */
export const MAX_BODY = 1_048_576;

function wholeParam(url: URL, name: string, dflt: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") return dflt;
  if (!/^\d+$/.test(raw)) throw new ApiError(400, `${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) throw new ApiError(400, `${name} must be from ${min} to ${max}, got ${n}`);
  return n;
}

function textParam(url: URL, name: string): string | null {
  const raw = url.searchParams.get(name);
  if (raw === null) return null;
  const t = raw.trim();
  if (t.length > 200) throw new ApiError(400, `${name} must be at most 200 characters`);
  return t === "" ? null : t;
}

/** ?limit=50&offset=0&q=TEXT&queue=NAME */
export function listQuery(url: URL): ListQuery {
  return {
    limit: wholeParam(url, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
    offset: wholeParam(url, "offset", 0, 0, MAX_OFFSET),
    q: textParam(url, "q"),
    queue: textParam(url, "queue"),
  };
}

/** The request's JSON body as an object ({} when empty). */
export async function jsonBody(req: Request): Promise<Record<string, unknown>> {
  const text = await req.text();
  if (text.length > MAX_BODY) throw new ApiError(413, `the body is larger than ${MAX_BODY} bytes`);
  if (text.trim() === "") return {};
  const type = req.headers.get("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) throw new ApiError(415, `send the body as JSON with "Content-Type: application/json" (got ${JSON.stringify(type || "none")})`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, `the body is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new ApiError(400, "the body must be a JSON object such as {\"task\": \"add\", \"args\": [1, 2]}");
  return value as Record<string, unknown>;
}

/** Only these keys (a typo is an error, not an ignored field). */
export function onlyKeys(body: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(body)) {
    if (!allowed.includes(k)) throw new ApiError(400, `${what}: unknown field ${JSON.stringify(k)}; known fields: ${allowed.join(", ")}`);
  }
}

export function stringField(body: Record<string, unknown>, name: string, what: string, required: true): string;
export function stringField(body: Record<string, unknown>, name: string, what: string, required?: false): string | undefined;
export function stringField(body: Record<string, unknown>, name: string, what: string, required = false): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) {
    if (required) throw new ApiError(400, `${what}: "${name}" is required`);
    return undefined;
  }
  if (typeof v !== "string" || v === "") throw new ApiError(400, `${what}: "${name}" must be a non-empty string, got ${JSON.stringify(v)}`);
  if (v.length > 1000) throw new ApiError(400, `${what}: "${name}" must be at most 1000 characters`);
  return v;
}

export function boolField(body: Record<string, unknown>, name: string, what: string): boolean | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw new ApiError(400, `${what}: "${name}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** A duration: milliseconds (a number) or a string such as "5s"; the library checks the string. */
function durationField(v: unknown, name: string): number | string {
  if (typeof v === "number" && Number.isFinite(v) && v >= 0) return v;
  if (typeof v === "string" && v.trim() !== "") return v;
  throw new ApiError(400, `enqueue: option "${name}" must be milliseconds or a duration string such as "5s", got ${JSON.stringify(v)}`);
}

/** A time: epoch ms or an ISO 8601 string. */
export function timeField(v: unknown, name: string, what: string): number {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "") {
    const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
    if (Number.isFinite(t)) return t;
  }
  throw new ApiError(400, `${what}: "${name}" must be epoch milliseconds or an ISO date such as "2030-01-01T00:00:00Z", got ${JSON.stringify(v)}`);
}

export const ENQUEUE_OPTIONS = ["delay", "eta", "priority", "queue", "retries", "retryDelay", "expires", "id"] as const;

/** The enqueue options a client may set, checked; the library checks the values further (durations, queues). */
export function enqueueOptions(raw: unknown): ScheduleOptions {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new ApiError(400, `enqueue: "options" must be an object such as {"delay": "5s"}, got ${JSON.stringify(raw)}`);
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(ENQUEUE_OPTIONS as readonly string[]).includes(k)) throw new ApiError(400, `enqueue: unknown option ${JSON.stringify(k)}; known options: ${ENQUEUE_OPTIONS.join(", ")}`);
  }
  if (o.delay !== undefined && o.eta !== undefined) throw new ApiError(400, `enqueue: give "delay" or "eta", not both`);
  const out: ScheduleOptions = {};
  if (o.delay !== undefined) out.delay = durationField(o.delay, "delay") as ScheduleOptions["delay"];
  if (o.eta !== undefined) out.eta = timeField(o.eta, "eta", "enqueue: option");
  if (o.priority !== undefined) {
    if (!Number.isSafeInteger(o.priority)) throw new ApiError(400, `enqueue: option "priority" must be a whole number, got ${JSON.stringify(o.priority)}`);
    out.priority = o.priority as number;
  }
  if (o.retries !== undefined) {
    if (!Number.isSafeInteger(o.retries) || (o.retries as number) < 0) throw new ApiError(400, `enqueue: option "retries" must be a whole number of 0 or more, got ${JSON.stringify(o.retries)}`);
    out.retries = o.retries as number;
  }
  if (o.retryDelay !== undefined) out.retryDelay = durationField(o.retryDelay, "retryDelay") as ScheduleOptions["retryDelay"];
  if (o.expires !== undefined) {
    // A duration from now, or an ISO date.
    if (typeof o.expires === "string" && /^\d{4}-\d\d-\d\d/.test(o.expires)) out.expires = new Date(timeField(o.expires, "expires", "enqueue: option"));
    else out.expires = durationField(o.expires, "expires") as ScheduleOptions["expires"];
  }
  if (o.queue !== undefined) {
    if (typeof o.queue !== "string" || o.queue === "") throw new ApiError(400, `enqueue: option "queue" must be a queue name, got ${JSON.stringify(o.queue)}`);
    out.queue = o.queue;
  }
  if (o.id !== undefined) {
    if (typeof o.id !== "string" || o.id === "" || o.id.length > 200) throw new ApiError(400, `enqueue: option "id" must be a string of 1 to 200 characters`);
    out.id = o.id;
  }
  return out;
}

import { SerializationError } from "./errors";

/**
 * Values cross threads, processes and builds as JSON. Only values that come back the same are
 * accepted: null, booleans, finite numbers, strings, arrays, plain objects, Dates and `undefined`.
 * Anything else (functions, class instances, Map/Set, BigInt, NaN, cycles) is rejected in the
 * caller with the path of the bad value, so a task never receives something other than it was sent.
 * Dates and `undefined` are written as small tagged objects `{"$huey": ...}`.
 */

const TAG = "$huey";

/**
 * Encode `value` to a JSON string. `what` prefixes paths in errors, e.g. "the result of add()".
 * `labels` names top-level keys instead, e.g. { args: "add() arguments" } gives paths such as
 * "add() arguments[1].when".
 */
export function encode(value: unknown, what: string, labels?: Record<string, string>): string {
  // The common case in one walk that allocates nothing; anything odd (a bad value, a cycle, or a
  // tree deeper than FAST_DEPTH) is walked again by check(), which names the path in its error.
  const quick = scan(value, 0);
  if (quick === PLAIN) return JSON.stringify(value);
  if (quick === TAGS) return JSON.stringify(tagged(value));
  let needsTags: boolean;
  if (labels && value && typeof value === "object" && !Array.isArray(value)) {
    needsTags = false;
    for (const [k, v] of Object.entries(value)) if (check(v, labels[k] ?? `${what}.${k}`, new Set())) needsTags = true;
  } else {
    needsTags = check(value, what, new Set());
  }
  return needsTags ? JSON.stringify(tagged(value)) : JSON.stringify(value);
}

/**
 * True when `v`, one level down in the value being encoded, is plain JSON (no Dates, no
 * `undefined`, nothing encode() refuses): encode() of an object whose other values are all strings
 * and finite numbers is then JSON.stringify() of it, without walking those.
 */
export function isPlainChild(v: unknown): boolean {
  return scan(v, 1) === PLAIN;
}

const PLAIN = 0;
const TAGS = 1;
const SLOW = 2;
/** Deeper than this, scan() leaves the walk to check(), which detects cycles. */
const FAST_DEPTH = 64;

/** What check() would find, without paths or a cycle set: PLAIN, TAGS, or SLOW (ask check()). */
function scan(v: unknown, depth: number): number {
  switch (typeof v) {
    case "string":
    case "boolean":
      return PLAIN;
    case "number":
      return Number.isFinite(v) ? PLAIN : SLOW;
    case "undefined":
      return TAGS;
    case "object":
      break;
    default:
      return SLOW;
  }
  if (v === null) return PLAIN;
  if (depth >= FAST_DEPTH) return SLOW;
  let out = PLAIN;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const r = scan(v[i], depth + 1);
      if (r === SLOW) return SLOW;
      out |= r;
    }
    return out;
  }
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? SLOW : TAGS;
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return SLOW;
  for (const key in v) {
    if (key === TAG) return SLOW;
    const r = scan((v as Record<string, unknown>)[key], depth + 1);
    if (r === SLOW) return SLOW;
    out |= r;
  }
  return out;
}

export function decode<T = unknown>(text: string): T {
  const value = JSON.parse(text);
  return text.includes(`"${TAG}"`) ? (untag(value) as T) : (value as T);
}

/** Walks the value; returns true when it holds Dates or `undefined` that need tagging. */
function check(v: unknown, path: string, seen: Set<object>): boolean {
  switch (typeof v) {
    case "string":
    case "boolean":
      return false;
    case "number":
      if (!Number.isFinite(v)) throw bad(path, `${v} is not a finite number`, "pass null or a string instead");
      return false;
    case "undefined":
      return true;
    case "bigint":
      throw bad(path, "a BigInt cannot be stored as JSON", "pass it as a string (value.toString())");
    case "function":
      throw bad(path, "a function cannot be stored", "tasks receive data only; pass a task name or a value");
    case "symbol":
      throw bad(path, "a Symbol cannot be stored", "pass a string");
  }
  if (v === null) return false;
  const obj = v as object;
  if (obj instanceof Date) {
    if (Number.isNaN(obj.getTime())) throw bad(path, "an invalid Date cannot be stored", "pass a valid Date");
    return true;
  }
  if (seen.has(obj)) throw bad(path, "the value refers to itself (a cycle)", "pass a tree of plain values");
  seen.add(obj);
  let tags = false;
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) if (check(obj[i], `${path}[${i}]`, seen)) tags = true;
  } else {
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      const kind = (obj as { constructor?: { name?: string } }).constructor?.name || "class instance";
      throw bad(path, `a ${kind} cannot be stored as JSON without losing its type`, "pass a plain object or array");
    }
    for (const key of Object.keys(obj)) {
      if (key === TAG) throw bad(`${path}.${key}`, `the key "${TAG}" is reserved`, "rename the key");
      if (check((obj as Record<string, unknown>)[key], `${path}.${key}`, seen)) tags = true;
    }
  }
  seen.delete(obj);
  return tags;
}

function bad(path: string, problem: string, fix: string): SerializationError {
  return new SerializationError(`${path}: ${problem}; ${fix}`);
}

function tagged(v: unknown): unknown {
  if (v === undefined) return { [TAG]: "undefined" };
  if (v === null || typeof v !== "object") return v;
  if (v instanceof Date) return { [TAG]: "date", v: v.toISOString() };
  if (Array.isArray(v)) return v.map(tagged);
  // fromEntries defines own properties: an own "__proto__" key stays a key (`out[k] = ...` would
  // set the prototype of `out` instead, and JSON.stringify would then drop it).
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, tagged(x)]));
}

function untag(v: unknown): unknown {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(untag);
  const o = v as Record<string, unknown>;
  if (Object.hasOwn(o, TAG)) {
    if (o[TAG] === "date") return new Date(o.v as string);
    if (o[TAG] === "undefined") return undefined;
  }
  // defineProperty, not `o[k] = ...`: an own "__proto__" key (JSON.parse makes one) must stay an
  // own data property and never reach the prototype setter.
  for (const k of Object.keys(o)) {
    Object.defineProperty(o, k, { value: untag(o[k]), writable: true, enumerable: true, configurable: true });
  }
  return o;
}

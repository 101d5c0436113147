// Task options: defaults under what the user gave, checked, frozen (resolveTaskOptions).
import { ConfigurationError } from "./errors";
import { editDistance } from "./_text";
import type { ResolvedHueyOptions } from "./huey";
import { encode } from "./serializer";
import { DEDUP_MODES, type Dedup, type ResolvedTaskOptions, type TaskOptions } from "./task";
import { toMs, type Duration } from "./_time";

export function whole(task: string, option: string, v: unknown, min: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    throw new ConfigurationError(`task "${task}": ${option} must be a whole number${min > -Infinity ? ` of ${min} or more` : ""}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function optionalMs(task: string, option: string, v: Duration | undefined): number | null {
  return v === undefined ? null : toMs(v, `task "${task}": ${option}`);
}

/** Every TaskOptions key (the type makes this list complete: a key added to TaskOptions must be added here). */
const KNOWN: Record<keyof TaskOptions, true> = {
  priority: true, retries: true, retryDelay: true, retryBackoff: true, retryJitter: true, retryMaxDelay: true,
  results: true, storeNone: true, resultTtl: true, expires: true, timeout: true, context: true, unique: true,
  rateLimit: true, lock: true, lockRetry: true, concurrency: true, queue: true,
};

function checkKnown(name: string, o: object): void {
  for (const key of Object.keys(o)) {
    if (Object.hasOwn(KNOWN, key)) continue;
    const known = Object.keys(KNOWN);
    const near = known
      .map((k) => ({ k, d: k.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key, k) }))
      .sort((x, y) => x.d - y.d)[0]!;
    const hint = near.d <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean "${near.k}"?)` : `; the options are ${known.join(", ")}`;
    throw new ConfigurationError(`task "${name}": unknown option ${JSON.stringify(key)}${hint}`);
  }
}

export function resolveTaskOptions(name: string, o: TaskOptions, huey: ResolvedHueyOptions): ResolvedTaskOptions {
  if (!o || typeof o !== "object" || Array.isArray(o)) {
    throw new ConfigurationError(`task "${name}": options must be an object such as { retries: 3 }, got ${JSON.stringify(o)}`);
  }
  checkKnown(name, o);
  const backoff = o.retryBackoff ?? 1;
  if (typeof backoff !== "number" || !Number.isFinite(backoff) || backoff < 1) {
    throw new ConfigurationError(`task "${name}": retryBackoff must be a number of 1 or more (a factor), got ${JSON.stringify(o.retryBackoff)}`);
  }
  const jitter = o.retryJitter ?? 0;
  if (typeof jitter !== "number" || !(jitter >= 0 && jitter <= 1)) {
    throw new ConfigurationError(`task "${name}": retryJitter must be a fraction from 0 to 1, got ${JSON.stringify(o.retryJitter)}`);
  }
  const dedup = typeof o.unique === "object" && o.unique !== null ? resolveDedup(name, o.unique) : null;
  if (o.unique !== undefined && !dedup && typeof o.unique !== "boolean" && typeof o.unique !== "function") {
    throw new ConfigurationError(`task "${name}": unique must be true, false, a function of the arguments returning a key, or { ttl, mode, key? }`);
  }
  let rateLimit: ResolvedTaskOptions["rateLimit"] = null;
  if (o.rateLimit !== undefined) {
    const r = o.rateLimit;
    if (!r || typeof r !== "object") throw new ConfigurationError(`task "${name}": rateLimit must be { limit, per }`);
    const limit = whole(name, "rateLimit.limit", r.limit, 1);
    const per = toMs(r.per, `task "${name}": rateLimit.per`);
    if (per <= 0) throw new ConfigurationError(`task "${name}": rateLimit.per must be longer than 0, got ${JSON.stringify(r.per)}`);
    if (r.key !== undefined && typeof r.key !== "function") {
      throw new ConfigurationError(`task "${name}": rateLimit.key must be a function of the arguments`);
    }
    rateLimit = Object.freeze({ limit, per, key: r.key ?? null });
  }
  // keys: a lock may be a key function; concurrency limits.
  const lockKey = typeof o.lock === "function" ? o.lock : null;
  if (o.lock !== undefined && lockKey === null) checkLockKey(o.lock, `task "${name}": lock`);
  const concurrency = resolveConcurrency(name, o.concurrency);
  if (o.lockRetry !== undefined && o.lock === undefined) {
    throw new ConfigurationError(`task "${name}": lockRetry needs a lock option`);
  }
  const timeout = optionalMs(name, "timeout", o.timeout);
  if (timeout === 0) throw new ConfigurationError(`task "${name}": timeout must be longer than 0`);
  return Object.freeze({
    queue: checkQueueName(o.queue ?? "default", `task "${name}": queue`),
    priority: whole(name, "priority", o.priority ?? 0, -Infinity),
    retries: whole(name, "retries", o.retries ?? 0, 0),
    retryDelay: toMs(o.retryDelay ?? 0, `task "${name}": retryDelay`),
    retryBackoff: backoff,
    retryJitter: jitter,
    retryMaxDelay: optionalMs(name, "retryMaxDelay", o.retryMaxDelay),
    results: o.results ?? huey.results,
    storeNone: o.storeNone ?? true,
    resultTtl: o.resultTtl === undefined ? huey.resultTtl : o.resultTtl === false ? null : optionalMs(name, "resultTtl", o.resultTtl),
    expires: optionalMs(name, "expires", o.expires),
    timeout,
    context: o.context ?? false,
    unique: o.unique === true ? argsKey(name) : typeof o.unique === "function" ? o.unique : false,
    dedup,
    rateLimit,
    lock: lockKey ? name : ((o.lock as string | undefined) ?? null),
    lockKey,
    concurrency,
    lockRetry: optionalMs(name, "lockRetry", o.lockRetry),
  });
}

/** A named queue: a short name of letters, digits and ._:- (it is typed on command lines). */
export function checkQueueName(q: unknown, where: string): string {
  if (typeof q !== "string" || !/^[A-Za-z0-9._:-]{1,100}$/.test(q)) {
    throw new ConfigurationError(`${where}: a queue name must be 1 to 100 letters, digits or . _ : -, got ${JSON.stringify(q)}`);
  }
  return q;
}

export function checkLockKey(key: unknown, where: string): asserts key is string {
  if (typeof key !== "string" || key.trim() === "") {
    throw new ConfigurationError(`${where}: a lock key must be a non-empty string, got ${JSON.stringify(key)}`);
  }
}

// keys: concurrency limits.
function resolveConcurrency(name: string, c: TaskOptions["concurrency"]): ResolvedTaskOptions["concurrency"] {
  if (c === undefined) return null;
  if (!c || typeof c !== "object") throw new ConfigurationError(`task "${name}": concurrency must be { limit, key? }`);
  const limit = whole(name, "concurrency.limit", c.limit, 1);
  if (c.key !== undefined && typeof c.key !== "function") {
    throw new ConfigurationError(`task "${name}": concurrency.key must be a function of the arguments returning a key`);
  }
  return Object.freeze({ limit, key: c.key ?? null });
}

function argsKey(name: string): (...args: unknown[]) => string {
  return (...args: unknown[]) => encode(args, `task "${name}" unique key`);
}

// dedup: deduplication windows (unique: { ttl, mode, key? }).
function resolveDedup(name: string, d: Dedup): ResolvedTaskOptions["dedup"] {
  if (!(DEDUP_MODES as readonly unknown[]).includes(d.mode)) {
    throw new ConfigurationError(`task "${name}": unique.mode must be one of ${DEDUP_MODES.map((m) => `"${m}"`).join(", ")}, got ${JSON.stringify(d.mode)}`);
  }
  if (d.ttl === undefined) throw new ConfigurationError(`task "${name}": unique.ttl is required with unique.mode (a duration such as "30s" or 30000)`);
  const ttl = toMs(d.ttl, `task "${name}": unique.ttl`);
  if (ttl <= 0) throw new ConfigurationError(`task "${name}": unique.ttl must be longer than 0, got ${JSON.stringify(d.ttl)}`);
  if (d.key !== undefined && typeof d.key !== "function") {
    throw new ConfigurationError(`task "${name}": unique.key must be a function of the arguments returning a key`);
  }
  return Object.freeze({ key: d.key ?? argsKey(name), ttl, mode: d.mode });
}

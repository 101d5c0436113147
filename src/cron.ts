/**
 * Schedules for periodic tasks: pure functions of time, no timers.
 *
 * Two ways to write one:
 * - `crontab({ minute: "0", hour: "3" })`: Huey's fields. Every field must match (day AND dayOfWeek), as in
 *   Huey, whose crontab() tests each field in turn; 0 and 7 are Sunday.
 * - a cron string, "0 3 * * *" (5 fields, second 0) or "*\/5 * * * * *" (6 fields, seconds first), optionally
 *   `{ cron, timezone }`. It means what crontab(5) and croner say: when both day-of-month and day-of-week are
 *   restricted, either one matching is enough (Vixie cron's OR); prefix the weekday with "+" ("0 0 13 * +FRI")
 *   to require both. Someone pasting a line from a crontab gets what that line did there.
 *
 * Ticks are whole seconds on the wall clock of the schedule's timezone (the process's local time unless one is
 * given): "*\/5 * * * * *" ticks at :00, :05, ... whenever the consumer started. Around DST changes we follow
 * croner: a time that does not exist (spring forward) runs at the first instant after the gap, a wall time that
 * happens twice (fall back) runs once, at its first occurrence.
 *
 * croner is used only through `new Cron(pattern, { paused: true })` and its pure methods: with no function
 * and `paused`, it starts no timer.
 */
import { Cron, type CronOptions } from "croner";
import { ConfigurationError } from "./errors";

export interface Schedule {
  /** The first tick strictly after `epochMs`, or null if there is none (croner stops at year 9999). */
  nextAfter(epochMs: number): number | null;
  /** True when the second containing `epochMs` is a tick. */
  matches(epochMs: number): boolean;
  /** The newest `limit` ticks t with `after < t <= upTo`, oldest first. */
  ticksBetween(after: number, upTo: number, limit: number): number[];
  /** For listings: `"0 3 * * *" in Europe/Berlin`. */
  describe(): string;
  /** The IANA timezone of the wall clock, or undefined for the process's local time. */
  readonly timezone: string | undefined;
}

/** Huey's crontab() fields. Each takes "*", "n", "m-n", "*\/n", "m-n/s" or a comma list of those. */
export interface CrontabFields {
  /** 0-59. @default "0" */
  second?: string | number;
  /** 0-59. @default "*" */
  minute?: string | number;
  /** 0-23. @default "*" */
  hour?: string | number;
  /** Day of the month, 1-31. @default "*" */
  day?: string | number;
  /** 1-12. @default "*" */
  month?: string | number;
  /** 0-6 with 0 = Sunday; 7 is Sunday too (as in Huey and cron). @default "*" */
  dayOfWeek?: string | number;
  /** IANA timezone whose wall clock the fields describe. @default the process's local time */
  timezone?: string;
}

/** What `periodicTask()` accepts as its schedule. */
export type ScheduleSpec = Schedule | string | { cron: string; timezone?: string };

const FIELDS = {
  second: { min: 0, max: 59, fallback: "0" },
  minute: { min: 0, max: 59, fallback: "*" },
  hour: { min: 0, max: 23, fallback: "*" },
  day: { min: 1, max: 31, fallback: "*" },
  month: { min: 1, max: 12, fallback: "*" },
  dayOfWeek: { min: 0, max: 7, fallback: "*" },
} as const;
type FieldName = keyof typeof FIELDS;
const FIELD_ORDER = Object.keys(FIELDS) as FieldName[];

const SYNTAX = `each field takes "*", "n", "m-n", "*/n", "m-n/s" or a comma list of those, such as "0,30"`;
const PIECE = /^(?:(\*)|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/;

/**
 * Huey's crontab(): a schedule from cron fields, all of which must match. Throws ConfigurationError naming
 * the field and the value.
 */
export function crontab(fields: CrontabFields = {}): Schedule {
  for (const key of Object.keys(fields)) {
    if (!(key in FIELDS) && key !== "timezone") {
      throw new ConfigurationError(
        `crontab(): unknown field "${key}"; the fields are ${FIELD_ORDER.join(", ")} and timezone`,
      );
    }
  }
  const given: string[] = [];
  const parts = FIELD_ORDER.map((name) => {
    const raw = fields[name];
    if (raw !== undefined) given.push(`${name}: ${JSON.stringify(String(raw))}`);
    return expandField(name, raw ?? FIELDS[name].fallback);
  });
  const timezone = fields.timezone;
  if (timezone !== undefined) checkTimezone(timezone, "crontab()");
  const description = `crontab({ ${given.join(", ")} })`.replace("{  }", "{}");
  // domAndDow: Huey requires every field to match, day and dayOfWeek included.
  const schedule = new CronSchedule(parts.join(" "), { domAndDow: true, mode: "6-part" }, description, timezone);
  return checkRuns(schedule, "crontab()");
}

/**
 * Turn what the user passed to `periodicTask()` into a Schedule, validated now (at definition time) so a typo
 * fails when the module loads, not at 3 am. `defaultTimezone` applies to strings and to crontab() results
 * that did not choose a timezone.
 */
export function parseSchedule(spec: ScheduleSpec, taskName: string, defaultTimezone?: string): Schedule {
  const where = `periodic task "${taskName}"`;
  if (spec instanceof CronSchedule) {
    if (spec.timezone !== undefined || defaultTimezone === undefined) return spec;
    return checkRuns(spec.inTimezone(defaultTimezone, where), where);
  }
  if (isSchedule(spec)) return spec;
  let expr: unknown;
  let timezone: unknown;
  if (typeof spec === "string") {
    expr = spec;
    timezone = defaultTimezone;
  } else if (spec && typeof spec === "object" && "cron" in spec) {
    expr = spec.cron;
    timezone = spec.timezone ?? defaultTimezone;
  }
  if (typeof expr !== "string" || (timezone !== undefined && typeof timezone !== "string")) {
    throw new ConfigurationError(
      `${where}: the schedule must be crontab({...}), a cron string such as "0 3 * * *" or "*/5 * * * * *", ` +
        `or { cron, timezone }; got ${describeValue(spec)}`,
    );
  }
  const fields = expr.trim().split(/\s+/);
  // "@daily" and friends are croner nicknames; anything else must have 5 or 6 fields. Checked here because
  // croner would read an ISO date string as a one-off run.
  if (!(fields.length === 1 && fields[0]!.startsWith("@")) && fields.length !== 5 && fields.length !== 6) {
    throw new ConfigurationError(
      `${where}: cron expression "${expr}" has ${fields.length} field(s); use 5 (minute hour day month ` +
        `dayOfWeek, e.g. "0 3 * * *") or 6 with seconds first (e.g. "*/5 * * * * *")`,
    );
  }
  if (timezone !== undefined) checkTimezone(timezone, where);
  let schedule: CronSchedule;
  try {
    schedule = new CronSchedule(expr.trim(), { mode: "5-or-6-parts" }, `"${expr.trim()}"`, timezone);
  } catch (err) {
    throw new ConfigurationError(`${where}: invalid cron expression "${expr}": ${(err as Error).message}`, {
      cause: err,
    });
  }
  return checkRuns(schedule, where);
}

/** Compute one run now: croner reports a timezone it cannot use only then, and a pattern may never match. */
function checkRuns(schedule: Schedule, where: string): Schedule {
  let next: number | null;
  try {
    next = schedule.nextAfter(Date.now());
  } catch (err) {
    throw new ConfigurationError(`${where}: cannot compute the runs of ${schedule.describe()}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (next === null) {
    throw new ConfigurationError(`${where}: ${schedule.describe()} never matches a date (check day, month and dayOfWeek)`);
  }
  return schedule;
}

/** A croner pattern with the few operations the scheduler needs. */
class CronSchedule implements Schedule {
  readonly #cron: Cron;
  readonly #pattern: string;
  readonly #options: CronOptions;
  readonly #description: string;
  readonly timezone: string | undefined;
  /** The last nextAfter() answer: any query in [from, next) has the same answer. */
  #memo: { from: number; next: number } | null = null;

  constructor(pattern: string, options: CronOptions, description: string, timezone: string | undefined) {
    this.#pattern = pattern;
    this.#options = options;
    this.#description = description;
    this.timezone = timezone;
    // paused and no function: croner starts no timer. A UTC clock is given as an offset: the same answers,
    // about 15x faster than croner's Intl-based timezone conversion (~20 vs ~350 µs a call, measured).
    const clock = timezone === undefined ? {} : isUtc(timezone) ? { utcOffset: 0 } : { timezone };
    this.#cron = new Cron(pattern, { ...options, ...clock, paused: true });
  }

  /** The same pattern on another wall clock (crontab() results take Huey's default timezone). */
  inTimezone(timezone: string, where: string): CronSchedule {
    checkTimezone(timezone, where);
    return new CronSchedule(this.#pattern, this.#options, this.#description, timezone);
  }

  nextAfter(epochMs: number): number | null {
    const memo = this.#memo;
    if (memo && epochMs >= memo.from && epochMs < memo.next) return memo.next;
    // croner drops the milliseconds and answers strictly after that whole second, so after epochMs too.
    let next = this.#run(epochMs);
    // Never go backwards: croner's nextRuns()/previousRuns() repeat a tick at a DST gap (10.0.1). Plain
    // nextRun() was not seen doing it, but a repeated tick would loop the scheduler, so guard anyway.
    for (let i = 0; next !== null && next <= epochMs && i < 10; i++) next = this.#run(Math.max(next, epochMs) + 1000);
    if (next !== null && next <= epochMs) next = null;
    if (next !== null) this.#memo = { from: epochMs, next };
    return next;
  }

  matches(epochMs: number): boolean {
    const second = Math.floor(epochMs / 1000) * 1000;
    // Defined through nextAfter() so both always agree (croner's match() says yes to a repeated wall time
    // that nextRun() skips).
    return this.nextAfter(second - 1) === second;
  }

  ticksBetween(after: number, upTo: number, limit: number): number[] {
    if (limit < 1 || upTo <= after) return [];
    // The usual case, a wake-up at each tick, is a walk of one or two steps.
    const out: number[] = [];
    let t = after;
    for (let i = 0; i < limit + WALK_SLACK; i++) {
      const next = this.nextAfter(t);
      if (next === null || next > upTo) return out.slice(-limit);
      out.push(next);
      t = next;
    }
    // Many ticks in the window (a long stall or downtime; with a timezone each step costs ~0.35 ms): jump
    // close to the end. previousRuns() is only a hint of where to start (it repeats ticks at DST gaps); the
    // walk forward, the same nextAfter() as everywhere else, decides.
    const hints = this.#cron.previousRuns(limit + 2, new Date(Math.floor(upTo / 1000) * 1000 + 1000));
    const oldest = hints.at(-1)?.getTime();
    const start = oldest === undefined ? t : Math.max(t, oldest - 1000);
    const tail = this.#walk(start, upTo, limit);
    if (tail.length >= limit) return tail;
    // The window was short after all, or the hint started too late (not seen): walk on from where we stopped.
    return [...out, ...(start === t ? tail : this.#walk(t, upTo, limit))].slice(-limit);
  }

  describe(): string {
    return `${this.#description} in ${this.timezone ?? "local time"}`;
  }

  #run(epochMs: number): number | null {
    return this.#cron.nextRun(new Date(epochMs))?.getTime() ?? null;
  }

  /** The newest `limit` ticks in (after, upTo], walking forward; gives up after MAX_WALK steps. */
  #walk(after: number, upTo: number, limit: number): number[] {
    const out: number[] = [];
    let t = after;
    for (let i = 0; i < MAX_WALK; i++) {
      const next = this.nextAfter(t);
      if (next === null || next > upTo) break;
      out.push(next);
      if (out.length > limit) out.shift();
      t = next;
    }
    return out;
  }
}

/** Steps walked forward before jumping to the end of a long window. */
const WALK_SLACK = 8;
/** A bound on any forward walk, so a bug can cost time but never hang the consumer. */
const MAX_WALK = 100_000;

function isSchedule(x: unknown): x is Schedule {
  const s = x as Partial<Schedule> | null;
  return !!s && typeof s === "object" && typeof s.nextAfter === "function" && typeof s.matches === "function" &&
    typeof s.ticksBetween === "function" && typeof s.describe === "function";
}

function isUtc(timezone: string): boolean {
  return /^(?:Etc\/)?(?:UTC|GMT|Zulu|UCT|Universal)$/i.test(timezone);
}

/** Intl knows the IANA database; croner itself only fails on the first computation, so ask Intl first. */
function checkTimezone(timezone: string, where: string): void {
  try {
    if (typeof timezone !== "string" || timezone.trim() === "") throw new RangeError("empty");
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
  } catch (err) {
    throw new ConfigurationError(
      `${where}: unknown timezone ${JSON.stringify(timezone)}; use an IANA name such as "UTC" or "Europe/Berlin"`,
      { cause: err },
    );
  }
}

/** Validate one crontab() field and return it as a croner field: "*" or an explicit sorted list. */
function expandField(name: FieldName, raw: string | number): string {
  const { min, max } = FIELDS[name];
  const range = name === "dayOfWeek" ? "0-7 (0 and 7 are Sunday)" : `${min}-${max}`;
  const value = typeof raw === "number" ? String(raw) : raw;
  const fail = (why: string): never => {
    throw new ConfigurationError(
      `crontab(): ${name} ${JSON.stringify(raw)} ${why}; ${name} takes ${range}, and ${SYNTAX}`,
    );
  };
  if (typeof value !== "string") return fail("is not a string or a number");
  if (value.trim() === "*") return "*";
  const values = new Set<number>();
  for (const piece of value.split(",")) {
    const m = PIECE.exec(piece.trim());
    if (!m) return fail(piece.trim() === "" ? "has an empty part" : `is not valid at "${piece.trim()}"`);
    const [, star, lo, hi, step] = m;
    const from = star ? min : Number(lo);
    // "n/s" alone is rejected, as croner does: write "n-max/s" or "*/s".
    const to = star ? max : hi !== undefined ? Number(hi) : step !== undefined ? fail(`needs a range before "/"`) : from;
    const by = step === undefined ? 1 : Number(step);
    if (from < min || to > max) fail("is out of range");
    if (from > to) fail(`has a range that runs backwards (${from}-${to})`);
    if (by < 1 || by > max - min + 1) fail(`has a step of ${by}; a step must be 1-${max - min + 1}`);
    // 7 is another name for Sunday.
    for (let v = from; v <= to; v += by) values.add(name === "dayOfWeek" ? v % 7 : v);
  }
  return [...values].sort((a, b) => a - b).join(",");
}

function describeValue(x: unknown): string {
  try {
    return typeof x === "function" ? "a function" : JSON.stringify(x) ?? String(x);
  } catch {
    return String(x);
  }
}

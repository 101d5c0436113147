import { describe, expect, test } from "bun:test";
import { crontab, parseSchedule, type Schedule, type ScheduleSpec } from "../../src/cron";
import { ConfigurationError } from "../../src/errors";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The next `n` ticks strictly after `from`, as ISO strings. */
function nextTicks(schedule: Schedule, from: string, n: number): (string | null)[] {
  const out: (string | null)[] = [];
  let t: number | null = at(from);
  for (let i = 0; i < n && t !== null; i++) {
    t = schedule.nextAfter(t);
    out.push(iso(t));
  }
  return out;
}

// 2024-01-01 is a Monday.
const FROM = "2024-01-01T00:00:00Z";

describe("crontab()", () => {
  test.each<[string, Parameters<typeof crontab>[0], string[]]>([
    ["defaults: every minute at second 0", {}, ["2024-01-01T00:01:00.000Z", "2024-01-01T00:02:00.000Z", "2024-01-01T00:03:00.000Z"]],
    ["*/n minutes", { minute: "*/15" }, ["2024-01-01T00:15:00.000Z", "2024-01-01T00:30:00.000Z", "2024-01-01T00:45:00.000Z", "2024-01-01T01:00:00.000Z"]],
    ["a fixed time", { minute: "0", hour: "3" }, ["2024-01-01T03:00:00.000Z", "2024-01-02T03:00:00.000Z"]],
    ["numbers", { minute: 5, hour: 1 }, ["2024-01-01T01:05:00.000Z", "2024-01-02T01:05:00.000Z"]],
    ["a list and a range", { minute: "0,30", hour: "9-10" }, ["2024-01-01T09:00:00.000Z", "2024-01-01T09:30:00.000Z", "2024-01-01T10:00:00.000Z", "2024-01-01T10:30:00.000Z", "2024-01-02T09:00:00.000Z"]],
    ["a range with a step", { minute: "0", hour: "8-18/4" }, ["2024-01-01T08:00:00.000Z", "2024-01-01T12:00:00.000Z", "2024-01-01T16:00:00.000Z", "2024-01-02T08:00:00.000Z"]],
    ["seconds", { second: "*/20" }, ["2024-01-01T00:00:20.000Z", "2024-01-01T00:00:40.000Z", "2024-01-01T00:01:00.000Z"]],
    ["dayOfWeek 0 is Sunday", { minute: "0", hour: "0", dayOfWeek: "0" }, ["2024-01-07T00:00:00.000Z", "2024-01-14T00:00:00.000Z"]],
    ["dayOfWeek 7 is Sunday too", { minute: "0", hour: "0", dayOfWeek: "7" }, ["2024-01-07T00:00:00.000Z", "2024-01-14T00:00:00.000Z"]],
    ["dayOfWeek 5-7 is Friday to Sunday", { minute: "0", hour: "0", dayOfWeek: "5-7" }, ["2024-01-05T00:00:00.000Z", "2024-01-06T00:00:00.000Z", "2024-01-07T00:00:00.000Z", "2024-01-12T00:00:00.000Z"]],
    ["day AND dayOfWeek must both match (Friday the 13th)", { minute: "0", hour: "0", day: "13", dayOfWeek: "5" }, ["2024-09-13T00:00:00.000Z", "2024-12-13T00:00:00.000Z"]],
    ["*/n months count from January", { minute: "0", hour: "0", day: "1", month: "*/3" }, ["2024-04-01T00:00:00.000Z", "2024-07-01T00:00:00.000Z", "2024-10-01T00:00:00.000Z", "2025-01-01T00:00:00.000Z"]],
    ["*/n days count from the 1st", { minute: "0", hour: "0", day: "*/10" }, ["2024-01-11T00:00:00.000Z", "2024-01-21T00:00:00.000Z", "2024-01-31T00:00:00.000Z", "2024-02-01T00:00:00.000Z"]],
  ])("%s", (_, fields, expected) => {
    expect(nextTicks(crontab({ ...fields, timezone: "UTC" }), FROM, expected.length)).toEqual(expected);
  });

  test("describe() names the fields that were given and the clock", () => {
    expect(crontab({ minute: "0", hour: 3 }).describe()).toBe('crontab({ minute: "0", hour: "3" }) in local time');
    expect(crontab({ timezone: "Europe/Berlin" }).describe()).toBe("crontab({}) in Europe/Berlin");
  });
});

describe("cron strings", () => {
  test.each<[string, ScheduleSpec, string, string[]]>([
    ["5 fields mean second 0", "0 3 * * *", FROM, ["2024-01-01T03:00:00.000Z", "2024-01-02T03:00:00.000Z"]],
    ["6 fields have seconds first", "*/5 * * * * *", "2024-01-01T00:00:02.345Z", ["2024-01-01T00:00:05.000Z", "2024-01-01T00:00:10.000Z", "2024-01-01T00:00:15.000Z"]],
    ["6 fields, a fixed second", "30 0 12 * * *", FROM, ["2024-01-01T12:00:30.000Z", "2024-01-02T12:00:30.000Z"]],
    ["day and weekday both restricted: either matches (cron's OR)", "0 0 13 * FRI", FROM, ["2024-01-05T00:00:00.000Z", "2024-01-12T00:00:00.000Z", "2024-01-13T00:00:00.000Z", "2024-01-19T00:00:00.000Z"]],
    ["+ on the weekday asks for both", "0 0 13 * +FRI", FROM, ["2024-09-13T00:00:00.000Z", "2024-12-13T00:00:00.000Z"]],
    ["only the weekday restricted", "0 0 * * MON", FROM, ["2024-01-08T00:00:00.000Z", "2024-01-15T00:00:00.000Z"]],
    ["nicknames", "@hourly", FROM, ["2024-01-01T01:00:00.000Z", "2024-01-01T02:00:00.000Z"]],
    ["{ cron, timezone }", { cron: "0 9 * * *", timezone: "Europe/Berlin" }, FROM, ["2024-01-01T08:00:00.000Z", "2024-01-02T08:00:00.000Z"]],
  ])("%s", (_, spec, from, expected) => {
    const schedule = parseSchedule(spec, "t", "UTC");
    expect(nextTicks(schedule, from, expected.length)).toEqual(expected);
  });

  test("ticks fall on the wall clock, strictly after the given time", () => {
    const s = parseSchedule("*/5 * * * * *", "t", "UTC");
    expect(iso(s.nextAfter(at("2024-01-01T00:00:05.000Z")))).toBe("2024-01-01T00:00:10.000Z");
    expect(iso(s.nextAfter(at("2024-01-01T00:00:04.999Z")))).toBe("2024-01-01T00:00:05.000Z");
    expect(s.matches(at("2024-01-01T00:00:05.000Z"))).toBe(true);
    expect(s.matches(at("2024-01-01T00:00:05.730Z"))).toBe(true);
    expect(s.matches(at("2024-01-01T00:00:06.000Z"))).toBe(false);
  });

  test("the default timezone applies to strings and to crontab() without one", () => {
    const winter = "2024-01-01T00:00:00Z";
    expect(nextTicks(parseSchedule("0 3 * * *", "t", "Europe/Berlin"), winter, 1)).toEqual(["2024-01-01T02:00:00.000Z"]);
    expect(nextTicks(parseSchedule(crontab({ minute: "0", hour: "3" }), "t", "Europe/Berlin"), winter, 1)).toEqual([
      "2024-01-01T02:00:00.000Z",
    ]);
    const own = crontab({ minute: "0", hour: "3", timezone: "UTC" });
    expect(parseSchedule(own, "t", "Europe/Berlin")).toBe(own);
    expect(parseSchedule({ cron: "0 3 * * *", timezone: "UTC" }, "t", "Europe/Berlin").timezone).toBe("UTC");
  });

  test("describe()", () => {
    expect(parseSchedule("*/5 * * * * *", "t", "UTC").describe()).toBe('"*/5 * * * * *" in UTC');
  });
});

describe("Europe/Berlin across DST", () => {
  // 2024-03-31 02:00 CET -> 03:00 CEST (UTC+1 -> UTC+2); 2024-10-27 03:00 CEST -> 02:00 CET.
  test.each<[string, string, string, string[]]>([
    ["daily 09:00 keeps the wall clock", "0 9 * * *", "2024-03-30T00:00:00Z", ["2024-03-30T08:00:00.000Z", "2024-03-31T07:00:00.000Z", "2024-04-01T07:00:00.000Z"]],
    ["hourly over the spring gap: no repeat, no stall", "0 * * * *", "2024-03-30T23:30:00Z", ["2024-03-31T00:00:00.000Z", "2024-03-31T01:00:00.000Z", "2024-03-31T02:00:00.000Z"]],
    ["02:30 does not exist in spring: it runs right after the gap", "30 2 * * *", "2024-03-30T00:00:00Z", ["2024-03-30T01:30:00.000Z", "2024-03-31T01:30:00.000Z", "2024-04-01T00:30:00.000Z"]],
    ["02:30 happens twice in autumn: it runs once", "30 2 * * *", "2024-10-26T00:00:00Z", ["2024-10-26T00:30:00.000Z", "2024-10-27T00:30:00.000Z", "2024-10-28T01:30:00.000Z"]],
  ])("%s", (_, cron, from, expected) => {
    const schedule = parseSchedule({ cron, timezone: "Europe/Berlin" }, "t");
    expect(nextTicks(schedule, from, expected.length)).toEqual(expected);
  });
});

describe("ticksBetween()", () => {
  test("the newest ticks of a window, oldest first", () => {
    const s = parseSchedule("*/5 * * * * *", "t", "UTC");
    const t0 = at(FROM);
    expect(s.ticksBetween(t0, t0 + 20_000, 10)).toEqual([5, 10, 15, 20].map((x) => t0 + x * 1000));
    expect(s.ticksBetween(t0, t0 + 20_000, 2)).toEqual([t0 + 15_000, t0 + 20_000]);
    expect(s.ticksBetween(t0 + 20_000, t0 + 24_999, 10)).toEqual([]);
    expect(s.ticksBetween(t0, t0 + 20_000, 0)).toEqual([]);
  });

  test("any window and limit agree with walking tick by tick", () => {
    const s = parseSchedule("*/5 * * * * *", "t", "UTC");
    const t0 = at(FROM);
    for (const limit of [1, 2, 5, 9, 20]) {
      for (let ticks = 0; ticks <= 40; ticks++) {
        const upTo = t0 + ticks * 5_000 + 1_234;
        const all = Array.from({ length: ticks }, (_, i) => t0 + (i + 1) * 5_000);
        expect(s.ticksBetween(t0, upTo, limit)).toEqual(all.slice(-limit));
      }
    }
  });

  test("a long window jumps to its end instead of walking it", () => {
    const s = parseSchedule("* * * * * *", "t", "UTC");
    const t0 = at(FROM);
    // 20 years of seconds (6e8 ticks): walking it could never finish within the test's timeout.
    const span = 20 * 365 * 86_400_000;
    const ticks = s.ticksBetween(t0, t0 + span + 500, 100);
    expect(ticks).toEqual(Array.from({ length: 100 }, (_, i) => t0 + span - (99 - i) * 1000));
  });

  test.each([
    ["0 * * * *", "2024-03-25T00:00:00Z", "2024-03-31T03:30:00Z"],
    ["*/20 * * * *", "2024-10-20T00:00:00Z", "2024-10-27T02:10:00Z"],
  ])("a long window across DST agrees with walking it (%s)", (cron, from, to) => {
    const s = parseSchedule({ cron, timezone: "Europe/Berlin" }, "t");
    const walked: number[] = [];
    for (let t = s.nextAfter(at(from)); t !== null && t <= at(to); t = s.nextAfter(t)) walked.push(t);
    expect(s.ticksBetween(at(from), at(to), 12)).toEqual(walked.slice(-12));
    expect(new Set(walked).size).toBe(walked.length);
  });
});

describe("bad schedules throw ConfigurationError naming what is wrong", () => {
  test.each<[string, () => unknown, RegExp]>([
    ["a minute out of range", () => parseSchedule("61 * * * *", "nightly"), /periodic task "nightly": invalid cron expression "61 \* \* \* \*"/],
    ["too few fields", () => parseSchedule("* * *", "nightly"), /periodic task "nightly": cron expression "\* \* \*" has 3 field\(s\); use 5/],
    ["seven fields", () => parseSchedule("0 0 0 1 1 * 2030", "nightly"), /periodic task "nightly".*has 7 field/],
    ["an ISO date (croner would run it once)", () => parseSchedule("2024-01-23T00:00:00", "nightly"), /periodic task "nightly".*has 1 field/],
    ["a step of 0 in a string", () => parseSchedule("*/0 * * * *", "nightly"), /periodic task "nightly": invalid cron expression/],
    ["a date that never comes", () => parseSchedule("0 0 30 2 *", "nightly"), /periodic task "nightly": "0 0 30 2 \*" in local time never matches/],
    ["an unknown timezone", () => parseSchedule({ cron: "* * * * *", timezone: "Mars/Base" }, "nightly"), /periodic task "nightly": unknown timezone "Mars\/Base"; use an IANA name/],
    ["an unknown default timezone", () => parseSchedule("* * * * *", "nightly", "Mars/Base"), /periodic task "nightly": unknown timezone "Mars\/Base"/],
    ["not a schedule", () => parseSchedule(42 as never, "nightly"), /periodic task "nightly": the schedule must be crontab\(\{\.\.\.\}\), a cron string .*; got 42/],
    ["crontab step 0", () => crontab({ minute: "*/0" }), /crontab\(\): minute "\*\/0" has a step of 0; a step must be 1-60/],
    ["crontab hour 25", () => crontab({ hour: "25" }), /crontab\(\): hour "25" is out of range; hour takes 0-23, and each field takes "\*", "n", "m-n"/],
    ["crontab dayOfWeek 8", () => crontab({ dayOfWeek: "8" }), /crontab\(\): dayOfWeek "8" is out of range; dayOfWeek takes 0-7 \(0 and 7 are Sunday\)/],
    ["crontab day 0", () => crontab({ day: "0" }), /crontab\(\): day "0" is out of range; day takes 1-31/],
    ["crontab month 13", () => crontab({ month: 13 }), /crontab\(\): month 13 is out of range; month takes 1-12/],
    ["crontab backwards range", () => crontab({ minute: "50-10" }), /crontab\(\): minute "50-10" has a range that runs backwards/],
    ["crontab empty list item", () => crontab({ minute: "1,,2" }), /crontab\(\): minute "1,,2" has an empty part/],
    ["crontab garbage", () => crontab({ minute: "every" }), /crontab\(\): minute "every" is not valid at "every"/],
    ["crontab n/s without a range", () => crontab({ minute: "5/5" }), /crontab\(\): minute "5\/5" needs a range before "\/"/],
    ["crontab names", () => crontab({ dayOfWeek: "MON" }), /crontab\(\): dayOfWeek "MON" is not valid/],
    ["crontab a misspelt field", () => crontab({ day_of_week: "1" } as never), /crontab\(\): unknown field "day_of_week"; the fields are second, minute, hour, day, month, dayOfWeek and timezone/],
    ["crontab unknown timezone", () => crontab({ timezone: "Mars/Base" }), /crontab\(\): unknown timezone "Mars\/Base"/],
    ["crontab never matches", () => crontab({ day: "31", month: "2" }), /crontab\(\): crontab\(\{ day: "31", month: "2" \}\) in local time never matches a date/],
  ])("%s", (_, make, message) => {
    let caught: unknown;
    try {
      make();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigurationError);
    expect((caught as ConfigurationError).code).toBe("HUEY_CONFIGURATION");
    expect((caught as Error).message).toMatch(message);
  });
});

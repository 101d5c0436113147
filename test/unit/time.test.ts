import { describe, expect, test } from "bun:test";
import { ConfigurationError } from "../../src/errors";
import { checkEpochMs, fromNow, toEpochMs, toMs, type Duration } from "../../src/_time";

describe("toMs: durations", () => {
  test.each<[Duration, number]>([
    ["500ms", 500],
    ["5s", 5_000],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["1d", 86_400_000],
    ["1.5s", 1_500],
    ["250", 250],
    [" 5 s", 5_000],
    // Whitespace after the unit is ignored at runtime (a value from a config file), not admitted by the type.
    [" 5 s " as Duration, 5_000],
    ["1e3ms", 1_000],
    [".5s", 500],
    ["+2.m", 120_000],
    ["-0s", 0],
    [0, 0],
    [250, 250],
    [1.4, 1],
    ["0s", 0],
  ])("%p is %p ms", (input, ms) => {
    expect(toMs(input, "retryDelay")).toBe(ms);
  });

  test.each<[unknown]>([[-1], ["abc"], [NaN], [Infinity], ["-5s"], ["-1e3"], ["5x"], [""], [" s"], ["."], ["0x10s"], ["5 seconds"], ["5sec"], ["1_000ms"], ["5s5"], [null], [{}]])(
    "%p is rejected with the option name in the message",
    (input) => {
      let err: unknown;
      try {
        toMs(input as number, "retryDelay");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigurationError);
      expect((err as ConfigurationError).code).toBe("HUEY_CONFIGURATION");
      expect((err as Error).message).toStartWith("retryDelay must be");
    },
  );
});

describe("toEpochMs", () => {
  test("a Date or epoch ms", () => {
    expect(toEpochMs(new Date(1234), "eta")).toBe(1234);
    expect(toEpochMs(5678, "eta")).toBe(5678);
  });

  test.each([[NaN], [new Date("nope")], [Infinity]])("%p is rejected, naming the option", (v) => {
    expect(() => toEpochMs(v as number, "schedule() eta")).toThrow(/^schedule\(\) eta must be a Date or epoch milliseconds/);
  });
});

describe("times no Date can hold (|epoch ms| > 8.64e15) are rejected, saying the range", () => {
  test.each<[Duration]>([[1e300], [8.64e15 + 1], ["99999999999999999d"]])("toMs(%p)", (v) => {
    expect(() => toMs(v, "delay")).toThrow(/^delay must be at most 8\.64e15 milliseconds/);
  });

  test("toMs accepts exactly 8.64e15", () => {
    expect(toMs(8.64e15, "delay")).toBe(8.64e15);
  });

  test.each<[number | Date]>([[8.64e15 + 1], [-8.64e15 - 1], [1e300]])("toEpochMs(%p)", (v) => {
    expect(() => toEpochMs(v, "eta")).toThrow(/^eta must come to a time from -8\.64e15 to 8\.64e15 epoch milliseconds/);
  });

  test("toEpochMs accepts the ends of the range", () => {
    expect(toEpochMs(8.64e15, "eta")).toBe(8.64e15);
    expect(toEpochMs(-8.64e15, "eta")).toBe(-8.64e15);
  });

  test("fromNow: now plus the duration, rejected once the sum leaves the range", () => {
    expect(fromNow("5s", "delay", 1_000)).toBe(6_000);
    expect(fromNow(8.64e15 - 1_000, "delay", 1_000)).toBe(8.64e15);
    expect(() => fromNow(8.64e15, "delay", 1)).toThrow(/^delay must come to a time from -8\.64e15 to 8\.64e15.*got 8640000000000000 from now/);
    expect(() => fromNow(1e300, "delay")).toThrow(ConfigurationError);
  });

  test("checkEpochMs rejects NaN and Infinity", () => {
    expect(() => checkEpochMs(NaN, "x")).toThrow(ConfigurationError);
    expect(() => checkEpochMs(Infinity, "x")).toThrow(ConfigurationError);
    expect(checkEpochMs(0, "x")).toBe(0);
  });
});

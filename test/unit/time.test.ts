import { describe, expect, test } from "bun:test";
import { ConfigurationError } from "../../src/errors";
import { toEpochMs, toMs } from "../../src/_time";

describe("toMs: durations", () => {
  test.each<[string | number, number]>([
    ["500ms", 500],
    ["5s", 5_000],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["1d", 86_400_000],
    ["1.5s", 1_500],
    ["250", 250],
    [" 5 s ", 5_000],
    [0, 0],
    [250, 250],
    [1.4, 1],
    ["0s", 0],
  ])("%p is %p ms", (input, ms) => {
    expect(toMs(input, "retryDelay")).toBe(ms);
  });

  test.each<[unknown]>([[-1], ["abc"], [NaN], [Infinity], ["-5s"], ["5x"], [""], ["5 seconds"], [null], [{}]])(
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

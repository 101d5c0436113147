// The consumer's options as resolved from what was given: the prefetch default is shared by the Workers.
import { describe, expect, test } from "bun:test";
import { DEFAULT_PREFETCH, DEFAULT_PREFETCH_MIN, resolveConsumerOptions } from "../../src/consumer/options";

describe("consumer options: prefetch", () => {
  test("by default the pool shares DEFAULT_PREFETCH, each Worker at least DEFAULT_PREFETCH_MIN", () => {
    const of = (workers: number) => resolveConsumerOptions({ workers }).prefetch;
    expect(of(1)).toBe(DEFAULT_PREFETCH);
    expect(of(0)).toBe(DEFAULT_PREFETCH); // the consumer's own thread is one pool
    expect(of(2)).toBe(DEFAULT_PREFETCH / 2);
    expect(of(4)).toBe(DEFAULT_PREFETCH / 4);
    expect(of(3)).toBe(Math.floor(DEFAULT_PREFETCH / 3));
    expect(of(64)).toBe(DEFAULT_PREFETCH_MIN);
    expect(resolveConsumerOptions().prefetch).toBe(DEFAULT_PREFETCH); // one Worker by default
  });

  test("a prefetch given is each Worker's, whatever the number of Workers", () => {
    expect(resolveConsumerOptions({ workers: 4, prefetch: 1000 }).prefetch).toBe(1000);
    expect(resolveConsumerOptions({ workers: 1, prefetch: 0 }).prefetch).toBe(0);
    expect(() => resolveConsumerOptions({ prefetch: -1 })).toThrow();
  });
});

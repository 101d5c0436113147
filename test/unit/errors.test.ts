// serializeError describes whatever a task threw, and never throws itself.
import { describe, expect, test } from "bun:test";
import { hasCode, RetryTask, serializeError } from "../../src/errors";
import { errorWithBadMessage, hostileProxy } from "../fixtures/hostile-fixture";

class CodedError extends Error {
  override name = "CodedError";
  code = "E_CUSTOM";
}

describe("serializeError: ordinary values", () => {
  test("an Error: name, message, stack, code", () => {
    const e = new CodedError("boom");
    expect(serializeError(e)).toEqual({ name: "CodedError", message: "boom", stack: e.stack!, code: "E_CUSTOM" });
  });

  test("a numeric code becomes a string; a HueyError keeps its code", () => {
    expect(serializeError(Object.assign(new Error("x"), { code: 42 })).code).toBe("42");
    expect(serializeError(new RetryTask()).code).toBe("HUEY_RETRY");
  });

  test.each<[string, unknown, { name: string; message: string }]>([
    ["a string", "plain text", { name: "NonError", message: "plain text" }],
    ["a number", 42, { name: "NonError", message: "42" }],
    ["undefined", undefined, { name: "NonError", message: "undefined" }],
    ["null", null, { name: "NonError", message: "null" }],
    ["a plain object", { a: 1 }, { name: "NonError", message: '{"a":1}' }],
    ["an error-like object", { name: "Custom", message: "m" }, { name: "Custom", message: "m" }],
    ["a BigInt", 10n, { name: "NonError", message: "10" }],
    ["a Symbol", Symbol("s"), { name: "NonError", message: "Symbol(s)" }],
  ])("%s", (_, value, expected) => {
    expect(serializeError(value)).toMatchObject(expected);
  });
});

describe("serializeError never throws, and says what it could", () => {
  test("a Proxy whose every trap throws", () => {
    expect(serializeError(hostileProxy())).toEqual({
      name: "NonError",
      message: "a Proxy object was thrown instead of an Error; reading it threw: Error: the proxy refuses",
    });
  });

  test("a revoked Proxy", () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const out = serializeError(proxy);
    expect(out.name).toBe("NonError");
    expect(out.message).toStartWith("a Proxy object was thrown instead of an Error; reading it threw: TypeError:");
  });

  test("a Proxy around an Error whose traps pass through: its message, said to be a Proxy", () => {
    expect(serializeError(new Proxy(new TypeError("inner"), {}))).toEqual({ name: "TypeError", message: "inner (thrown as a Proxy)" });
  });

  test("an Error whose message and stack getters throw", () => {
    expect(serializeError(errorWithBadMessage())).toEqual({ name: "Error", message: "(reading its message threw: Error: message getter exploded)" });
  });

  test("an Error whose name and code getters throw", () => {
    const e = new Error("kept");
    Object.defineProperty(e, "name", { get() { throw new Error("no name"); } });
    Object.defineProperty(e, "code", { get() { throw new Error("no code"); } });
    expect(serializeError(e)).toMatchObject({ name: "Error", message: "kept" });
  });

  test("an Error whose message getter throws something whose toString throws", () => {
    const nasty = { toString() { throw new Error("no string"); } };
    const e = new Error("x");
    Object.defineProperty(e, "message", { get() { throw nasty; } });
    expect(serializeError(e)).toEqual({ name: "Error", message: expect.stringMatching(/^\(reading its message threw: (\[object Object\]|a value of type object that cannot be printed)\)$/), stack: expect.any(String) });
  });

  test("an object whose toJSON and toString throw", () => {
    const o = { toJSON() { throw new Error("no json"); }, toString() { throw new Error("no string"); } };
    expect(serializeError(o)).toEqual({ name: "NonError", message: "[object Object]" });
  });

  test("an object whose message getter throws", () => {
    const o = { get message(): string { throw new Error("no"); } };
    expect(() => serializeError(o)).not.toThrow();
  });

  test("a cyclic object", () => {
    const o: Record<string, unknown> = {};
    o.self = o;
    expect(serializeError(o)).toEqual({ name: "NonError", message: "[object Object]" });
  });

  test("an object without a prototype", () => {
    const o = Object.create(null) as object;
    expect(serializeError(o)).toEqual({ name: "NonError", message: "{}" });
  });

  test("hasCode on a hostile Proxy is false, not a throw", () => {
    expect(hasCode(hostileProxy(), "HUEY_RETRY")).toBe(false);
  });

  test("every result is made of strings (it crosses threads and is stored as JSON)", () => {
    for (const v of [hostileProxy(), errorWithBadMessage(), Symbol("x"), 1n, () => 1]) {
      const out = serializeError(v);
      for (const x of Object.values(out)) expect(typeof x).toBe("string");
      expect(JSON.parse(JSON.stringify(out))).toEqual(out);
    }
  });
});

import { describe, expect, test } from "bun:test";
import { SerializationError } from "../../src/errors";
import { decode, encode } from "../../src/serializer";

const roundTrip = <T>(v: T): T => decode<T>(encode(v, "args"));

describe("encode/decode round trips", () => {
  test.each([
    ["null", null],
    ["a string", "héllo ✓"],
    ["a string that looks like the tag", "$huey"],
    ["numbers", [0, -1, 1.5, Number.MAX_SAFE_INTEGER]],
    ["booleans", [true, false]],
    ["an empty object", {}],
    ["an object without a prototype", Object.assign(Object.create(null), { a: 1 })],
    ["nested plain values", { a: [1, { b: [null, "x", { c: true }] }], d: { e: { f: [] } } }],
  ])("%s", (_, v) => {
    expect(roundTrip(v)).toEqual(v);
  });

  test("Dates, at any depth, come back as Dates", () => {
    const d = new Date("2026-01-02T03:04:05.678Z");
    const out = roundTrip({ at: d, list: [d, { deeper: [d] }] });
    expect(out.at).toBeInstanceOf(Date);
    expect(out.at.getTime()).toBe(d.getTime());
    expect(out.list[0]).toEqual(d);
    expect((out.list[1] as { deeper: Date[] }).deeper[0]).toEqual(d);
  });

  test("undefined comes back as undefined: alone, in arrays, and as an object value (key kept)", () => {
    expect(roundTrip(undefined)).toBeUndefined();
    expect(roundTrip([1, undefined, 3])).toStrictEqual([1, undefined, 3]);
    const o = roundTrip({ a: undefined, b: 1 });
    expect(o).toStrictEqual({ a: undefined, b: 1 });
    expect("a" in o).toBe(true);
    expect(roundTrip({ nested: { list: [undefined, { x: undefined }] } })).toStrictEqual({ nested: { list: [undefined, { x: undefined }] } });
  });

  test("task arguments as the message holds them: mixed tagged and plain values", () => {
    const args = [new Date(0), undefined, { when: new Date(1), n: 2 }, "s"];
    expect(roundTrip(args)).toStrictEqual(args);
  });

  test("plain values are written as plain JSON (no tags)", () => {
    expect(encode({ a: [1, "x"] }, "args")).toBe('{"a":[1,"x"]}');
  });

  test("the same object twice (not a cycle) is accepted", () => {
    const shared = { x: 1 };
    expect(roundTrip([shared, shared, { shared }])).toEqual([{ x: 1 }, { x: 1 }, { shared: { x: 1 } }]);
  });
});

describe("an own __proto__ key round-trips as a key, polluting no prototype", () => {
  // JSON.parse makes an own "__proto__" data property, as does a parsed request body.
  const withProto = (extra: Record<string, unknown>) =>
    Object.assign(JSON.parse('{"__proto__": {"polluted": true, "n": 1}}'), extra) as Record<string, unknown>;
  const check = (out: Record<string, unknown>) => {
    expect(Object.hasOwn(out, "__proto__")).toBe(true);
    expect(Object.getOwnPropertyDescriptor(out, "__proto__")?.value).toEqual({ polluted: true, n: 1 });
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect((out as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  };

  test.each<[string, Record<string, unknown>]>([
    ["alone (plain JSON)", {}],
    ["beside a Date", { at: new Date(5) }],
    ["beside undefined", { gone: undefined }],
  ])("%s", (_, extra) => {
    const out = roundTrip([withProto(extra)])[0]!;
    check(out);
    for (const [k, v] of Object.entries(extra)) expect(out[k]).toStrictEqual(v);
  });

  test("nested, with tagged values inside it and beside it", () => {
    const inner = JSON.parse('{"__proto__": {"d": null, "u": null}}');
    inner.__proto__.d = new Date(7);
    inner.__proto__.u = undefined;
    const out = roundTrip({ outer: inner, when: new Date(9) }) as { outer: Record<string, unknown>; when: Date };
    expect(Object.hasOwn(out.outer, "__proto__")).toBe(true);
    const value = Object.getOwnPropertyDescriptor(out.outer, "__proto__")!.value as { d: Date; u: undefined };
    expect(value.d).toEqual(new Date(7));
    expect("u" in value && value.u === undefined).toBe(true);
    expect(Object.getPrototypeOf(out.outer)).toBe(Object.prototype);
    expect(out.when).toEqual(new Date(9));
  });

  test("a stored __proto__ holding a tag-shaped value does not reach the prototype", () => {
    const out = decode<Record<string, unknown>[]>('[{"__proto__": {"$huey": "date", "v": "1970-01-01T00:00:00.010Z"}}, {"$huey": "undefined"}]');
    expect(Object.getOwnPropertyDescriptor(out[0], "__proto__")?.value).toEqual(new Date(10));
    expect(Object.getPrototypeOf(out[0])).toBe(Object.prototype);
  });
});

describe("encode rejects values that would not come back the same, naming the path", () => {
  class Point {
    constructor(
      public x: number,
      public y: number,
    ) {}
  }
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const cyclicInArray: unknown[] = [];
  cyclicInArray.push({ back: cyclicInArray });

  test.each<[string, unknown, string, RegExp]>([
    ["a function", [1, { cb: () => 1 }], "args[1].cb", /function/],
    ["a Map", { m: new Map([[1, 2]]) }, "args.m", /Map/],
    ["a Set", [new Set([1])], "args[0]", /Set/],
    ["a class instance", { p: new Point(1, 2) }, "args.p", /Point/],
    ["a BigInt", [{ n: 10n }], "args[0].n", /BigInt/],
    ["NaN", { score: NaN }, "args.score", /NaN is not a finite number/],
    ["Infinity", [Infinity], "args[0]", /Infinity is not a finite number/],
    ["a cycle", cyclic, "args.self", /cycle/],
    ["a cycle through an array", cyclicInArray, "args[0].back", /cycle/],
    ["a Symbol", { s: Symbol("x") }, "args.s", /Symbol/],
    ["an invalid Date", { d: new Date("nope") }, "args.d", /invalid Date/],
    ["the reserved key", { $huey: 1 }, "args.$huey", /reserved/],
  ])("%s", (_, value, path, problem) => {
    let err: unknown;
    try {
      encode(value, "args");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SerializationError);
    const e = err as SerializationError;
    expect(e.code).toBe("HUEY_SERIALIZATION");
    expect(e.message.startsWith(`${path}: `)).toBe(true);
    expect(e.message).toMatch(problem);
  });
});

describe("depth", () => {
  const nest = (depth: number, leaf: unknown): unknown => {
    let v: unknown = leaf;
    for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { k: v };
    return v;
  };
  test("a tree deeper than the quick walk still round-trips, tags and all", () => {
    for (const leaf of [1, new Date(5), undefined]) {
      const v = nest(200, leaf);
      expect(decode(encode(v, "args"))).toEqual(v);
    }
  });
  test("a bad value deep in a tree is named by its whole path", () => {
    expect(() => encode(nest(3, () => 1), "args")).toThrow(/^args\.k\[0\]\.k: a function/);
    expect(() => encode(nest(100, NaN), "args")).toThrow(/NaN is not a finite number/);
  });
});

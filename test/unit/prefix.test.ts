// Prefix scan bounds for the key-value store (src/storage/_prefix.ts).
import { describe, expect, test } from "bun:test";
import { compareCodePoints, prefixEnd } from "../../src/storage/_prefix";

describe("prefixEnd", () => {
  test.each<[string, string | null]>([
    ["failed:", "failed;"],
    ["a", "b"],
    ["\uffff", "\u{10000}"],
    ["x\u{1F600}", "x\u{1F601}"],
    ["\ud7ff", "\ue000"], // past the surrogate range
    ["a\u{10FFFF}", "b"], // carries
    ["a\u{10FFFF}\u{10FFFF}", "b"],
    ["\u{10FFFF}", null],
    ["", null],
  ])("%j -> %j", (prefix, end) => {
    expect(prefixEnd(prefix)).toBe(end);
  });

  test("every key starting with the prefix is below the end, in UTF-8 byte order", () => {
    const bytes = (s: string) => Buffer.from(s, "utf8");
    for (const prefix of ["failed:", "p\uffff", "p\u{1F600}", "p\u{10FFFF}"]) {
      const end = prefixEnd(prefix)!;
      for (const rest of ["", "a", "\uffff", "\u{1F600}", "\u{10FFFF}\u{10FFFF}"]) {
        expect(Buffer.compare(bytes(prefix + rest), bytes(end))).toBe(-1);
      }
    }
  });
});

describe("compareCodePoints", () => {
  test("sorts as UTF-8 bytes do (emoji after U+FFFF), unlike `<` on strings", () => {
    const keys = ["\u{1F600}", "\uffff", "a", "\u{10FFFF}", "\ue000", "", "a\u{1F600}", "a\uffff"];
    const byBytes = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect([...keys].sort(compareCodePoints)).toEqual(byBytes);
    expect(byBytes).toEqual(["", "a", "a\uffff", "a\u{1F600}", "\ue000", "\uffff", "\u{1F600}", "\u{10FFFF}"]);
    expect("\u{1F600}" < "\uffff").toBe(true); // what the old comparison did
  });
});

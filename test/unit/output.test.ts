// The CLI's shared output: task data printed in tables or JSON never carries a control character
// to the terminal (OSC 8 links, OSC 52 clipboard writes, cursor moves, forged lines).
import { describe, expect, test } from "bun:test";
import { formatArgs, formatTime, formatWhen, inert, jsonText, stripAnsi, style, table, truncate } from "../../src/cli/_output";

const OSC_LINK = "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07";
const HOSTILE = `a\nb\r\tc ${OSC_LINK} \x1b[2J\x1b[1A \u009b31m \x7f \u2028 \u202e`;
/** Any control character (C0, DEL, C1) or line separator / bidi override. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
/** What a table may hold: only style's own colour codes and the newlines between rows. */
const OWN = /\x1b\[(?:1|2|22|31|32|33|36|39)m/g;

describe("inert", () => {
  test("escapes every control character of task data", () => {
    expect(inert(HOSTILE)).toBe("a\\nb\\r\\tc \\x1b]8;;https://evil.example\\x07click\\x1b]8;;\\x07 \\x1b[2J\\x1b[1A \\x9b31m \\x7f \\u2028 \\u202e");
    expect(inert(HOSTILE)).not.toMatch(CONTROL);
  });
});

describe("table", () => {
  test("a cell with control characters: escaped, one line per row, columns aligned on the escaped text", () => {
    const t = table(["ID", "ERROR"], [[HOSTILE, "x"], ["id2", OSC_LINK]]);
    const lines = stripAnsi(t).split("\n");
    expect(lines).toHaveLength(3);
    expect(t.replace(OWN, "").replace(/\n/g, "")).not.toMatch(CONTROL);
    expect(lines[1]).toBe(`${inert(HOSTILE)}  x`);
    expect(lines[2]).toBe(`id2${" ".repeat(inert(HOSTILE).length - 3)}  ${inert(OSC_LINK)}`);
  });

  test("style's own colours are kept; anything else inside a styled cell is escaped", () => {
    const t = table(["NAME"], [[style.cyan(`task${OSC_LINK}`)], [style.red("\x1b[31mfake red\x1b[5m")]]);
    const rows = t.split("\n");
    expect(rows[1]).toBe(`\x1b[36mtask${inert(OSC_LINK)}\x1b[39m`);
    // Task data holding one of style's own codes is only cosmetic; other SGR codes (blink) are escaped.
    expect(rows[2]).toBe("\x1b[31m\x1b[31mfake red\\x1b[5m\x1b[39m");
    expect(t.replace(OWN, "").replace(/\n/g, "")).not.toMatch(CONTROL);
  });

  test("what commands do: inert() before styling leaves no code of the data at all", () => {
    const t = table(["NAME"], [[style.cyan(inert("\x1b[31mred"))]]);
    expect(t.split("\n")[1]).toBe("\x1b[36m\\x1b[31mred\x1b[39m");
  });
});

describe("JSON output", () => {
  test("JSON.stringify escapes C0 (newline, ESC) itself; jsonText also escapes DEL, C1, U+2028/9 and bidi controls", () => {
    const v = { error: HOSTILE };
    expect(JSON.stringify(v)).not.toMatch(/[\u0000-\u001f]/);
    expect(JSON.stringify(v)).toMatch(/[\u007f-\u009f]/); // what JSON.stringify leaves
    const j = jsonText(v, 2);
    expect(j.replace(/\n/g, "")).not.toMatch(CONTROL);
    expect(JSON.parse(j)).toEqual(v);
  });

  test("formatArgs: escaped JSON, cut to the width", () => {
    const s = formatArgs([HOSTILE], 1_000);
    expect(s).not.toMatch(CONTROL);
    expect(JSON.parse(s)).toEqual([HOSTILE]);
    expect(truncate(formatArgs([HOSTILE], 12), 12)).toHaveLength(12);
  });
});

describe("times", () => {
  test("a stored time no Date can hold prints as its number, not a RangeError", () => {
    expect(formatTime(Date.UTC(2030, 0, 2, 3, 4, 5, 600))).toBe("2030-01-02 03:04:05Z");
    expect(formatTime(1e300)).toBe("1e+300 (epoch ms, out of range)");
    expect(stripAnsi(formatWhen(8.64e15 + 1, 0))).toStartWith("8640000000000001 (epoch ms, out of range) (in ");
  });
});

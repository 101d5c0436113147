// The consumer's log: task data in a message can neither forge a line nor reach the terminal.
import { describe, expect, test } from "bun:test";
import { Logger } from "../../src/consumer/logger";
import { escapeControl, inertJson } from "../../src/_text";

const TIMESTAMPED = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO |WARN |ERROR) /;

function capture(level: "debug" | "info" = "info", format: "text" | "json" = "text") {
  const out: string[] = [];
  const log = new Logger(level, format, (s) => void out.push(s));
  return {
    log,
    text: () => {
      log.flush();
      return out.join("");
    },
  };
}

const FORGED = "boom\n2026-01-01T00:00:00.000Z INFO  send 123 complete in 1ms";

describe("escapeControl", () => {
  test.each<[string, string]>([
    ["plain text, é ✓ 😀", "plain text, é ✓ 😀"],
    ["a\nb", "a\\nb"],
    ["a\r\nb", "a\\r\\nb"],
    ["tab\there", "tab\\there"],
    ["\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"],
    ["\x1b]8;;https://evil.example\x07link\x1b]8;;\x07", "\\x1b]8;;https://evil.example\\x07link\\x1b]8;;\\x07"],
    ["\x1b]52;c;aGk=\x1b\\", "\\x1b]52;c;aGk=\\x1b\\"],
    ["nul\x00 del\x7f", "nul\\x00 del\\x7f"],
    ["c1 csi\u009b31m nel\u0085", "c1 csi\\x9b31m nel\\x85"],
    ["ls\u2028ps\u2029", "ls\\u2028ps\\u2029"],
    ["bidi \u202eevil\u202c \u2066x\u2069", "bidi \\u202eevil\\u202c \\u2066x\\u2069"],
  ])("%j", (input, expected) => {
    expect(escapeControl(input)).toBe(expected);
  });

  test("the same string when there is nothing to escape", () => {
    const s = "task send 01JABC complete in 3ms";
    expect(escapeControl(s)).toBe(s);
  });
});

describe("text format", () => {
  test("a newline in a message cannot forge a line: one entry, one line", () => {
    const c = capture();
    c.log.error(`send 1 failed: Error: ${FORGED}`);
    const lines = c.text().split("\n").filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(TIMESTAMPED);
    expect(lines[0]).toEndWith("ERROR send 1 failed: Error: boom\\n2026-01-01T00:00:00.000Z INFO  send 123 complete in 1ms");
  });

  test("ESC, OSC and other controls in a message are escaped, never written raw", () => {
    const c = capture();
    c.log.warn("x \x1b]0;title\x07 \x1b[2J \r \u009b \u2028 y");
    const out = c.text();
    expect(out).toEndWith("WARN  x \\x1b]0;title\\x07 \\x1b[2J \\r \\x9b \\u2028 y\n");
    expect(out.slice(0, -1)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
  });

  test("a stack (detail) follows as indented continuation lines, each escaped, none timestamped", () => {
    const c = capture("debug");
    const stack = `Error: ${FORGED}\n    at task (tasks.ts:3:9)\n\x1b[31m    at evil\x1b[0m`;
    c.log.error("send 1 failed: Error: boom", { task: "send" }, stack);
    const lines = c.text().split("\n");
    expect(lines.at(-1)).toBe(""); // ends with a newline
    expect(lines.slice(0, -1)).toEqual([
      expect.stringMatching(TIMESTAMPED),
      "    Error: boom",
      "    2026-01-01T00:00:00.000Z INFO  send 123 complete in 1ms",
      "        at task (tasks.ts:3:9)",
      "    \\x1b[31m    at evil\\x1b[0m",
    ]);
    // Only the entry's own first line starts with a timestamp.
    expect(lines.filter((l) => TIMESTAMPED.test(l))).toHaveLength(1);
    expect(lines.slice(1, -1).every((l) => l.startsWith("    "))).toBe(true);
  });

  test("no detail: nothing after the entry's line", () => {
    const c = capture();
    c.log.info("one");
    expect(c.text().split("\n")).toEqual([expect.stringMatching(/INFO  one$/), ""]);
  });
});

describe("JSON format", () => {
  test("one line per entry whatever the message holds, and the same text back when parsed", () => {
    const c = capture("debug", "json");
    const msg = `send 1 failed: Error: ${FORGED} \x1b]8;;x\x07 \u009b \u2028 \u202e`;
    c.log.error(msg, { task: "send", id: "1" }, "Error: boom\n    at x");
    const out = c.text();
    expect(out.split("\n")).toHaveLength(2);
    expect(out.slice(0, -1)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202e]/);
    const entry = JSON.parse(out);
    expect(entry).toEqual({ time: expect.any(String), level: "error", msg, task: "send", id: "1", detail: "Error: boom\n    at x" });
  });

  test("inertJson keeps the JSON value", () => {
    const v = { s: "a\u0085b\u2029c\u007f" };
    const j = inertJson(JSON.stringify(v));
    expect(j).toBe('{"s":"a\\u0085b\\u2029c\\u007f"}');
    expect(JSON.parse(j)).toEqual(v);
  });
});

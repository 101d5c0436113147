// The Worker report's columns: every outcome comes back as it went in, in order, plain successes included.
import { describe, expect, test } from "bun:test";
import { addDone, doneColumns, doneOutcome, packReport, packRun, packStrings, unpackReport, unpackRun, unpackStrings } from "../../src/consumer/protocol";
import type { Outcome } from "../../src/executor";

describe("Worker report columns", () => {
  test("plain successes and other outcomes read back in order, with their RunInfo where one was given", () => {
    const d = doneColumns();
    const plain: Outcome = { kind: "ok", result: '{"ok":true,"value":1}', ttl: 60_000 };
    const noResult: Outcome = { kind: "ok", result: null };
    const unique: Outcome = { kind: "ok", result: null, unique: "u:key" };
    const failed: Outcome = { kind: "error", error: { name: "Error", message: "boom" } };
    addDone(d, "a", plain, 1.5, undefined);
    addDone(d, "b", noResult, 2, undefined);
    addDone(d, "c", failed, 3, { attempt: 2, retries: 1, context: false });
    addDone(d, "d", unique, 4, undefined);
    expect(d.ids).toEqual(["a", "b", "c", "d"]);
    expect(d.ms).toEqual([1.5, 2, 3, 4]);
    expect(d.outcomes).toEqual([0, 0, failed, unique]);
    expect(doneOutcome(d, 0)).toEqual({ kind: "ok", result: '{"ok":true,"value":1}', ttl: 60_000 });
    expect(doneOutcome(d, 1)).toEqual({ kind: "ok", result: null, ttl: null });
    expect(doneOutcome(d, 2)).toBe(failed);
    expect(doneOutcome(d, 3)).toBe(unique);
    expect(d.runs).toEqual([0, 0, { attempt: 2, retries: 1, context: false }, 0]);
  });

  test("no RunInfo: no runs column", () => {
    const d = doneColumns();
    addDone(d, "a", { kind: "ok", result: null }, 1, undefined);
    expect(d.runs).toBeUndefined();
  });
});

describe("packed strings: the columns of a message as one string", () => {
  test("columns read back as they went in: empty strings, nulls, non-ASCII and astral characters included", () => {
    const a = ["", "plain", "é and ü", "😀 a surrogate pair", ""];
    const b = [null, "{\"v\":1}", "", null];
    const p = packStrings([a, b, []]);
    expect(typeof p.text).toBe("string");
    expect(p.lens).toBeInstanceOf(Int32Array);
    expect(unpackStrings(p, [5, 4, 0])).toEqual([a, b, []]);
    expect(unpackStrings(packStrings([]), [])).toEqual([]);
  });

  test("sizes that do not match what was packed are an error, not a silent misread", () => {
    const p = packStrings([["a", "b"], ["c"]]);
    expect(() => unpackStrings(p, [1, 1])).toThrow(/do not match/);
    expect(() => unpackStrings(p, [2, 2])).toThrow();
  });

  test("a run message's ids and payloads, and a report's started ids, finished ids and results, survive a structured clone", () => {
    const ids = ["a", "b", "ç"];
    const payloads = ['{"v":1,"id":"a"}', '{"v":1,"id":"b"}', '{"v":1,"id":"ç","args":["日本"]}'];
    expect(unpackRun(structuredClone(packRun(ids, payloads)))).toEqual({ ids, payloads });
    const d = doneColumns();
    const failed: Outcome = { kind: "error", error: { name: "Error", message: "boom" } };
    addDone(d, "a", { kind: "ok", result: '{"ok":true,"value":"x"}', ttl: 5 }, 1, undefined);
    addDone(d, "b", failed, 2, { attempt: 1, retries: 0, context: false });
    const back = unpackReport(structuredClone(packReport(["c", "a"], d)));
    expect(back.started).toEqual(["c", "a"]);
    expect(back.done).toEqual(d);
    expect(doneOutcome(back.done, 0)).toEqual({ kind: "ok", result: '{"ok":true,"value":"x"}', ttl: 5 });
    expect(doneOutcome(back.done, 1)).toEqual(failed);
  });
});

// The Worker report's columns: every outcome comes back as it went in, in order, plain successes included.
import { describe, expect, test } from "bun:test";
import { addDone, decodeReport, decodeRun, doneColumns, doneOutcome, encodeReport, encodeRun, packStrings, unpackStrings, WIRE_TASKS } from "../../src/consumer/protocol";
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

  test("a run message's ids, payloads and fences, and a report's started ids, finished ids and results, survive a structured clone", () => {
    const ids = ["a", "b", "ç"];
    // Payloads with the header's own characters (";", "|", ",") and digits: the header ends at the first ";".
    const payloads = ['{"v":1,"id":"a;1|2,3"}', '{"v":1,"id":"b"}', '{"v":1,"id":"ç","args":["日本",";"]}'];
    const run = encodeRun(ids, payloads, null);
    expect(typeof run).toBe("string");
    expect(decodeRun(structuredClone(run))).toEqual({ ids, payloads, fences: null });
    expect(decodeRun(encodeRun(ids, payloads, [3, null, 12]))).toEqual({ ids, payloads, fences: [3, null, 12] });
    expect(decodeRun(encodeRun([], [], null))).toEqual({ ids: [], payloads: [], fences: null });
    const d = doneColumns();
    const failed: Outcome = { kind: "error", error: { name: "Error", message: "boom" } };
    addDone(d, "a", { kind: "ok", result: '{"ok":true,"value":"x;|,"}', ttl: 5 }, 1.25, undefined);
    addDone(d, "b", failed, 2, { attempt: 1, retries: 0, context: false });
    const report = encodeReport(["c", "a"], d);
    expect(typeof report).toBe("object"); // not every task a plain success: the object
    const back = decodeReport(structuredClone(report));
    expect(back.started).toEqual(["c", "a"]);
    expect(back.done).toEqual(d);
    expect(doneOutcome(back.done, 0)).toEqual({ kind: "ok", result: '{"ok":true,"value":"x;|,"}', ttl: 5 });
    expect(doneOutcome(back.done, 1)).toEqual(failed);
  });

  test("a batch of more than WIRE_TASKS tasks goes as the object (a drain's lease of 512), and reads back the same", () => {
    const n = WIRE_TASKS + 1;
    const ids = Array.from({ length: n }, (_, i) => `id-${i}`);
    const payloads = ids.map((id) => `{"v":1,"id":"${id}"}`);
    const few = encodeRun(ids.slice(0, WIRE_TASKS), payloads.slice(0, WIRE_TASKS), null);
    expect(typeof few).toBe("string");
    const many = encodeRun(ids, payloads, ids.map((_, i) => (i % 2 ? i : null)));
    expect(typeof many).toBe("object");
    expect(decodeRun(structuredClone(many))).toEqual({ ids, payloads, fences: ids.map((_, i) => (i % 2 ? i : null)) });
    const d = doneColumns();
    for (const id of ids) addDone(d, id, { kind: "ok", result: "1", ttl: undefined }, 1, undefined);
    const report = encodeReport([], d);
    expect(typeof report).toBe("object");
    expect(decodeReport(structuredClone(report))).toEqual({ started: [], done: d });
  });

  test("a report of plain successes goes as one string, and reads back the same; so does one of starts alone", () => {
    const d = doneColumns();
    addDone(d, "a", { kind: "ok", result: '{"ok":true,"value":"x;|,"}', ttl: 5 }, 0.123456789012345, undefined);
    addDone(d, "ç", { kind: "ok", result: '{"ok":true}', ttl: undefined }, 1e-7, undefined);
    addDone(d, "c", { kind: "ok", result: "", ttl: 0 }, 3, undefined);
    const wire = encodeReport(["s1"], d);
    expect(typeof wire).toBe("string");
    expect(decodeReport(structuredClone(wire))).toEqual({ started: ["s1"], done: d });
    const startsOnly = encodeReport(["x", "y"], doneColumns());
    expect(typeof startsOnly).toBe("string");
    expect(decodeReport(startsOnly)).toEqual({ started: ["x", "y"], done: doneColumns() });
    // RunInfo for a plain success (the consumer logs at info): the object, with its runs.
    const withRuns = doneColumns();
    addDone(withRuns, "a", { kind: "ok", result: "1" }, 1, { attempt: 1, retries: 0, context: false });
    const obj = encodeReport([], withRuns);
    expect(typeof obj).toBe("object");
    expect(decodeReport(obj).done).toEqual(withRuns);
  });
});

// The Worker report's columns: every outcome comes back as it went in, in order, plain successes included.
import { describe, expect, test } from "bun:test";
import { addDone, doneColumns, doneOutcome } from "../../src/consumer/protocol";
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

// Signals: every handler sees the signals in the order they were emitted, whatever another handler awaits.
import { expect, test } from "bun:test";
import { Signals, type TaskInfo } from "../../src/signals";

const info = (id: string): TaskInfo => ({ id, name: "t", args: [], priority: 0, retries: 0, attempt: 1 });

test("a handler that awaits does not hold back the next handler, nor reorder what it sees", async () => {
  const signals = new Signals();
  let releaseFirst!: () => void;
  const firstHeld = new Promise<void>((r) => (releaseFirst = r));
  const slowSaw: string[] = [];
  const fastSaw: string[] = [];
  // Connected first: holds its first call until released, returns at once for the others.
  signals.connect(["complete"], async (_s, t) => {
    slowSaw.push(t.id);
    if (t.id === "a") await firstHeld;
  });
  signals.connect(["complete"], (_s, t) => void fastSaw.push(t.id));
  const a = signals.emit("complete", info("a"));
  const b = signals.emit("complete", info("b"));
  await b;
  expect(fastSaw).toEqual(["a", "b"]);
  releaseFirst();
  await a;
  expect(slowSaw).toEqual(["a", "b"]);
});

test("a handler that throws or rejects is reported and the others still run", async () => {
  const reported: string[] = [];
  const signals = new Signals((err) => reported.push(String((err as Error).message)));
  const saw: string[] = [];
  signals.connect([], () => {
    throw new Error("sync boom");
  });
  signals.connect([], async () => {
    throw new Error("async boom");
  });
  signals.connect([], (s) => void saw.push(s));
  await signals.emit("error", info("x"));
  expect(saw).toEqual(["error"]);
  expect(reported.toSorted()).toEqual(["async boom", "sync boom"]);
});

// When the consumer's checkpoint Worker checkpoints (src/storage/_sqlite-checkpointer.ts): the
// decision, with the WAL's state and the time as arguments.
import { describe, expect, test } from "bun:test";
import { checkpointDue, DEEP_IDLE_MS, MIN_FRAMES, nextLookMs, QUIET_MS } from "../../src/storage/_sqlite-checkpointer";

describe("checkpointDue", () => {
  test("a small WAL that changed lately waits: a checkpoint now would put an fsync into the next commit", () => {
    expect(checkpointDue(1, 0, MIN_FRAMES, QUIET_MS)).toBe(false);
    expect(checkpointDue(MIN_FRAMES - 1, QUIET_MS - 1, MIN_FRAMES, QUIET_MS)).toBe(false);
  });
  test("a WAL of MIN_FRAMES uncopied frames is checkpointed at once", () => {
    expect(checkpointDue(MIN_FRAMES, 0, MIN_FRAMES, QUIET_MS)).toBe(true);
  });
  test("a quiet WAL is checkpointed whatever its size; an empty one never", () => {
    expect(checkpointDue(1, QUIET_MS, MIN_FRAMES, QUIET_MS)).toBe(true);
    expect(checkpointDue(0, 10 * QUIET_MS, MIN_FRAMES, QUIET_MS)).toBe(false);
  });
  test("an unreadable WAL-index checkpoints, as before", () => {
    expect(checkpointDue(null, 0, MIN_FRAMES, QUIET_MS)).toBe(true);
  });
});

describe("nextLookMs", () => {
  const t = { busy: 5, idle: 100, deep: DEEP_IDLE_MS, quiet: QUIET_MS, minFrames: MIN_FRAMES };
  test("a WAL that changed is looked at again soon", () => {
    expect(nextLookMs(true, 0, 0, t)).toBe(5);
    expect(nextLookMs(true, MIN_FRAMES, 0, t)).toBe(5);
  });
  test("a small WAL waiting for its quiet checkpoint sleeps until the quiet deadline", () => {
    expect(nextLookMs(false, 1, 0, t)).toBe(QUIET_MS);
    expect(nextLookMs(false, MIN_FRAMES - 1, QUIET_MS - 500, t)).toBe(500);
    expect(nextLookMs(false, 1, QUIET_MS - 1, t)).toBe(100); // never sooner than the idle pace
  });
  test("a checkpoint that could not copy everything is tried again at the idle pace", () => {
    expect(nextLookMs(false, 1, 10 * QUIET_MS, t)).toBe(100);
    expect(nextLookMs(false, MIN_FRAMES, 0, t)).toBe(100);
  });
  test("an unreadable WAL-index keeps the idle pace (it checkpoints at every look)", () => {
    expect(nextLookMs(false, null, 10 * QUIET_MS, t)).toBe(100);
  });
  test("a WAL with everything copied waits the deep-idle time", () => {
    expect(nextLookMs(false, 0, QUIET_MS, t)).toBe(DEEP_IDLE_MS);
    expect(nextLookMs(false, 0, 0, t)).toBe(DEEP_IDLE_MS);
  });
});

// When the consumer's checkpoint Worker checkpoints (src/storage/_sqlite-checkpointer.ts): the
// decision, with the WAL's state and the time as arguments.
import { describe, expect, test } from "bun:test";
import { checkpointDue, MIN_FRAMES, QUIET_MS } from "../../src/storage/_sqlite-checkpointer";

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

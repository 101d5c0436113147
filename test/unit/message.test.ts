import { describe, expect, test } from "bun:test";
import { buildBulk, buildMessage } from "../../src/enqueue";
import { PayloadTooLargeError, SerializationError } from "../../src/errors";
import { builtQueueItem, readMessage, readyAt, toQueueItem } from "../../src/message";
import { resolveHueyOptions } from "../../src/options";
import type { ScheduleOptions } from "../../src/task";
import { resolveTaskOptions } from "../../src/task-options";

// builtQueueItem() walks only a fresh message's args: it must give what toQueueItem() gives.
const huey = resolveHueyOptions({ name: "t" });
const plain = resolveTaskOptions("send", {}, huey);
const full = resolveTaskOptions("send", { queue: "mail", retries: 3, retryDelay: "1s", retryBackoff: 2, retryJitter: 0.5, retryMaxDelay: "1m", expires: "1h" }, huey);
const NOW = 1_700_000_000_000;

describe("builtQueueItem gives the item toQueueItem gives", () => {
  test.each<[string, unknown[]]>([
    ["plain args", [1, "two", { three: [3] }, null, true]],
    ["no args", []],
    ["a Date", [new Date(5), { at: new Date(6) }]],
    ["undefined", [undefined, { u: undefined }]],
    ["a tree deeper than the quick walk", [JSON.parse(`${"[".repeat(100)}1${"]".repeat(100)}`)]],
  ])("%s", (_, args) => {
    for (const o of [plain, full]) {
      for (const s of [{}, { priority: 5, id: "x-1", queue: "other", expires: "5m" }] as ScheduleOptions[]) {
        const m = buildMessage("send", o, args, s, NOW);
        m.unique = "unique:send:k";
        const item = builtQueueItem(m, huey.maxPayloadSize);
        expect(item).toEqual(toQueueItem(m, huey.maxPayloadSize));
        expect(readMessage(item.payload)).toEqual(readMessage(toQueueItem(m, huey.maxPayloadSize).payload));
        expect(readyAt(item.payload)).toBe(NOW);
      }
    }
  });

  test.each<[string, unknown[], string]>([
    ["a function", [1, { cb: () => 1 }], "send() arguments[1].cb: "],
    ["NaN", [NaN], "send() arguments[0]: "],
    ["a class instance", [new Map()], "send() arguments[0]: "],
    ["the reserved key", [{ $huey: 1 }], "send() arguments[0].$huey: "],
  ])("the same error for %s, naming its path", (_, args, prefix) => {
    const m = buildMessage("send", plain, args, {}, NOW);
    let err: unknown;
    try {
      builtQueueItem(m, huey.maxPayloadSize);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SerializationError);
    expect((err as Error).message.startsWith(prefix)).toBe(true);
    expect(() => toQueueItem(m, huey.maxPayloadSize)).toThrow((err as Error).message);
  });

  test("a payload over maxPayloadSize throws PayloadTooLargeError; at the limit it is stored", () => {
    const m = buildMessage("send", plain, ["x".repeat(1000)], {}, NOW);
    const size = Buffer.byteLength(toQueueItem(m, Infinity).payload);
    expect(() => builtQueueItem(m, size - 1)).toThrow(PayloadTooLargeError);
    expect(builtQueueItem(m, size).payload.length).toBe(size);
    // Multi-byte characters count in UTF-8 bytes.
    const wide = buildMessage("send", plain, ["é".repeat(1000)], {}, NOW);
    const wideSize = Buffer.byteLength(toQueueItem(wide, Infinity).payload);
    expect(() => builtQueueItem(wide, wideSize - 1)).toThrow(PayloadTooLargeError);
  });

  test("buildBulk names the bad call and its path", () => {
    const calls = [
      { name: "send", options: plain, args: [1], schedule: {} },
      { name: "send", options: plain, args: [{ when: new Date(NaN) }], schedule: {} },
    ];
    expect(() => buildBulk(calls, NOW, huey.maxPayloadSize)).toThrow(/^call 2 of 2 \(send\): send\(\) arguments\[0\]\.when: an invalid Date/);
  });
});

// Huey registration and enqueueing on memory storage (no consumer).
import { describe, expect, spyOn, test } from "bun:test";
import { ConfigurationError, DuplicateTaskError, PayloadTooLargeError, UnknownTaskError } from "../../src/errors";
import { Huey, MemoryHuey } from "../../src/huey";
import { internalsOf } from "../../src/_internals";
import { readMessage } from "../../src/message";
import { MemoryStorage } from "../../src/storage/memory";
import type { TaskOptions } from "../../src/task";

let n = 0;
const fresh = (o: { maxPayloadSize?: number } = {}) => new MemoryHuey({ name: `unit-${++n}`, ...o });

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a throw");
}

describe("task option validation", () => {
  test.each<[string, TaskOptions, string]>([
    ["retries -1", { retries: -1 }, "retries"],
    ["retries 1.5", { retries: 1.5 }, "retries"],
    ["retries NaN", { retries: NaN }, "retries"],
    ["priority 1.5", { priority: 1.5 }, "priority"],
    ["priority Infinity", { priority: Infinity }, "priority"],
    ['retryDelay "abc"', { retryDelay: "abc" as never }, "retryDelay"],
    ["retryDelay -1", { retryDelay: -1 }, "retryDelay"],
    ["retryBackoff 0.5", { retryBackoff: 0.5 }, "retryBackoff"],
    ["retryJitter 2", { retryJitter: 2 }, "retryJitter"],
    ["timeout 0", { timeout: 0 }, "timeout"],
    ["rateLimit of 0", { rateLimit: { limit: 0, per: "1s" } }, "rateLimit.limit"],
    ["rateLimit per 0", { rateLimit: { limit: 5, per: 0 } }, "rateLimit.per"],
    ['rateLimit per "soon"', { rateLimit: { limit: 5, per: "soon" as never } }, "rateLimit.per"],
    ["expires -5", { expires: -5 }, "expires"],
    ["an empty lock key", { lock: "" }, "lock"],
    ["lockRetry without lock", { lockRetry: "1s" }, "lockRetry"],
    ['unique "yes"', { unique: "yes" as never }, "unique"],
  ])("%s: ConfigurationError naming the task and the option", (_, options, option) => {
    const err = thrown(() => fresh().task("send_email", options, () => 1));
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as ConfigurationError).code).toBe("HUEY_CONFIGURATION");
    expect(err.message).toContain('task "send_email"');
    expect(err.message).toContain(option);
  });

  test("valid options are resolved with defaults and frozen", () => {
    const t = fresh().task("t", { retries: 3, retryDelay: "2s", priority: -5 }, () => 1);
    expect(t.options).toMatchObject({ retries: 3, retryDelay: 2_000, priority: -5, results: true, retryBackoff: 1 });
    expect(Object.isFrozen(t.options)).toBe(true);
  });

  test("a name and a function are required", () => {
    const huey = fresh();
    expect(thrown(() => huey.task("", () => 1))).toBeInstanceOf(ConfigurationError);
    expect(thrown(() => huey.task("x", {} as never))).toBeInstanceOf(ConfigurationError);
  });

  test("Huey options: name and maxPayloadSize", () => {
    expect(thrown(() => new Huey({ name: "" }))).toBeInstanceOf(ConfigurationError);
    expect(thrown(() => new Huey({ name: "x", maxPayloadSize: 10 })).message).toContain("maxPayloadSize");
  });
});

describe("task names", () => {
  test("a duplicate task name throws DuplicateTaskError", () => {
    const huey = fresh();
    huey.task("send", () => 1);
    const err = thrown(() => huey.task("send", () => 2));
    expect(err).toBeInstanceOf(DuplicateTaskError);
    expect((err as DuplicateTaskError).code).toBe("HUEY_DUPLICATE_TASK");
    expect(err.message).toContain('"send"');
    expect(huey.taskNames()).toEqual(["send"]);
  });

  test("the same name on two Hueys is fine; enqueueing another Huey's task is not", async () => {
    const a = fresh();
    const b = fresh();
    a.task("send", () => 1);
    const bSend = b.task("send", () => 2);
    await expect(a.enqueueMany([[bSend, []]])).rejects.toBeInstanceOf(ConfigurationError);
  });

  test("enqueueing something that is not a registered task: UnknownTaskError", async () => {
    const huey = fresh();
    await expect(huey.enqueueMany([[{ taskName: "ghost" } as never, []]])).rejects.toBeInstanceOf(UnknownTaskError);
  });
});

describe("enqueueing", () => {
  test("a call enqueues one message with the task's settings", async () => {
    const huey = fresh();
    const send = huey.task("send", { retries: 2, retryDelay: "1s", priority: 7 }, (to: string) => to);
    const r = await send("a@b.c");
    const [item] = await huey.storage.listPending(10);
    expect(item).toMatchObject({ id: r.id, name: "send", priority: 7, leased: false });
    expect(readMessage(item!.payload)).toEqual({
      v: 1, id: r.id, name: "send", args: ["a@b.c"], priority: 7, retries: 2, retryDelay: 1_000, attempt: 1, at: expect.any(Number),
    });
    expect(await r.get()).toBeUndefined();
  });

  test("enqueueMany and task.map write all calls in one storage call", async () => {
    const storage = new MemoryStorage("many");
    const huey = new Huey({ name: "many", storage });
    const enqueue = spyOn(storage, "enqueue");
    const add = huey.task("add", (a: number, b: number) => a + b);
    const neg = huey.task("neg", (a: number) => -a);
    const seen: string[] = [];
    huey.signal("enqueued", (_, t) => void seen.push(t.id));

    const group = await huey.enqueueMany([
      [add, [1, 2]],
      [neg, [3]],
      [add, [4, 5]],
    ]);
    expect(enqueue).toHaveBeenCalledTimes(1);
    expect(enqueue.mock.calls[0]![0].map((it) => it.name)).toEqual(["add", "neg", "add"]);
    expect(group.length).toBe(3);
    expect(seen).toEqual([...group].map((r) => r.id));

    const mapped = await add.map([
      [1, 1],
      [2, 2],
    ]);
    expect(enqueue).toHaveBeenCalledTimes(2);
    expect(mapped.length).toBe(2);
    expect(await huey.pendingCount()).toBe(5);
  });

  test("enqueueMany rejects every call when one is bad: nothing is enqueued", async () => {
    const huey = fresh();
    const add = huey.task("add", (a: unknown) => a);
    await expect(
      huey.enqueueMany([
        [add, [1]],
        [add, [() => 1]],
      ]),
    ).rejects.toMatchObject({ code: "HUEY_SERIALIZATION", message: expect.stringContaining("[0]") });
    expect(await huey.pendingCount()).toBe(0);
  });

  test("arguments over maxPayloadSize: PayloadTooLargeError, nothing enqueued", async () => {
    const huey = fresh({ maxPayloadSize: 1_024 });
    const store = huey.task("store", (s: string) => s.length);
    const err = await store("x".repeat(2_000)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err).toMatchObject({ code: "HUEY_PAYLOAD_TOO_LARGE", limit: 1_024 });
    expect((err as Error).message).toContain("maxPayloadSize");
    expect(await huey.pendingCount()).toBe(0);
    // Just under the limit is fine.
    await store("x".repeat(800));
    expect(await huey.pendingCount()).toBe(1);
  });

  test("multi-byte text is measured in UTF-8 bytes", async () => {
    const huey = fresh({ maxPayloadSize: 1_024 });
    const store = huey.task("store", (s: string) => s.length);
    // 400 characters, 1,200 bytes.
    await expect(store("€".repeat(400))).rejects.toBeInstanceOf(PayloadTooLargeError);
  });

  test("schedule() needs at most one of delay and eta; bad values name the option", async () => {
    const huey = fresh();
    const t = huey.task("t", () => 1);
    await expect(t.schedule([], { delay: "1s", eta: Date.now() })).rejects.toBeInstanceOf(ConfigurationError);
    await expect(t.schedule([], { delay: "soon" as never })).rejects.toThrow(/t\.schedule\(\) delay/);
    const at = Date.now() + 60_000;
    await t.schedule([], { eta: new Date(at) });
    expect((await huey.scheduled()).map((s) => s.eta)).toEqual([at]);
  });
});

describe("delay, eta and expires that no Date can hold are rejected at the call", () => {
  const RANGE = /8\.64e15/;
  test.each<[string, Record<string, unknown>, RegExp]>([
    ["delay 1e300", { delay: 1e300 }, /t\.schedule\(\) delay/],
    ["delay 8.64e15 (now + it is past the range)", { delay: 8.64e15 }, /t\.schedule\(\) delay/],
    ["eta 8.64e15 + 1", { eta: 8.64e15 + 1 }, /t\.schedule\(\) eta/],
    ["eta -8.64e15 - 1", { eta: -8.64e15 - 1 }, /t\.schedule\(\) eta/],
    ["eta NaN", { eta: NaN }, /t\.schedule\(\) eta/],
    ["expires 1e300", { expires: 1e300 }, /t\.schedule\(\) expires/],
    ["expires 8.64e15", { expires: 8.64e15 }, /t\.schedule\(\) expires/],
  ])("schedule() with %s: ConfigurationError, nothing stored", async (_, options, where) => {
    const huey = fresh();
    const t = huey.task("t", () => 1);
    const err = (await t.schedule([], options).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err.message).toMatch(where);
    if (!/NaN/.test(_)) expect(err.message).toMatch(RANGE);
    expect(await huey.scheduled()).toEqual([]);
    expect(await huey.pending()).toEqual([]);
  });

  test("a task option expires that no Date can hold fails at the call", async () => {
    const huey = fresh();
    const t = huey.task("t", { expires: 8.64e15 }, () => 1);
    await expect(t()).rejects.toThrow(/task "t": expires must come to a time from -8\.64e15/);
    expect(() => huey.task("u", { expires: 1e300 }, () => 1)).toThrow(/expires must be at most 8\.64e15/);
  });

  test("the largest eta a Date holds is accepted", async () => {
    const huey = fresh();
    const t = huey.task("t", () => 1);
    await t.schedule([], { eta: 8.64e15 });
    expect((await huey.scheduled()).map((s) => s.eta)).toEqual([8.64e15]);
  });

  test("pipelines: a stage delay or eta out of range fails at enqueue", async () => {
    const huey = fresh();
    const a = huey.task("a", (x: number) => x);
    await expect(huey.enqueue(a.s(1).with({ delay: 1e300 }))).rejects.toThrow(/a\.s\(\) delay must be at most 8\.64e15/);
    await expect(huey.enqueue(a.s(1).with({ delay: 8.64e15 }))).rejects.toThrow(/a\.s\(\) delay must come to a time/);
    await expect(huey.enqueue(a.s(1).then(a).with({ delay: 8.64e15 }))).rejects.toThrow(/a\.s\(\) delay must come to a time/);
    await expect(huey.enqueue(a.s(1).then(a).with({ eta: 8.64e15 + 1 }))).rejects.toThrow(/a\.s\(\) eta must come to a time/);
    expect(await huey.scheduled()).toEqual([]);
    expect(await huey.pending()).toEqual([]);
  });

  test("result.reschedule() and revoke({ until }) reject them too", async () => {
    const huey = fresh();
    const t = huey.task("t", () => 1);
    const r = await t();
    await expect(r.reschedule({ delay: 1e300 })).rejects.toThrow(/reschedule\(\) delay must be at most 8\.64e15/);
    await expect(r.reschedule({ eta: 8.64e15 + 1 })).rejects.toThrow(/reschedule\(\) eta must come to a time from -8\.64e15/);
    await expect(t.revoke({ until: 8.64e15 + 1 })).rejects.toThrow(/revoke\(\) until must come to a time from -8\.64e15/);
    await expect(huey.revokeById(r.id, { until: new Date(8.64e15 + 1) })).rejects.toThrow(/revoke\(\) until/);
    expect(await t.isRevoked()).toBe(false);
    expect(await huey.isRevokedId(r.id)).toBe(false);
  });
});

describe("unique tasks and the result store", () => {
  test("a unique key function that throws: ConfigurationError at the call, naming the task, nothing enqueued", async () => {
    const huey = fresh();
    const t = huey.task("sync_user", { unique: (id: number) => { if (id < 0) throw new Error("negative id"); return String(id); } }, (id: number) => id);
    const err = (await t(-1).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err.message).toContain('task "sync_user"');
    expect(err.message).toContain("negative id");
    expect(await huey.pendingCount()).toBe(0);
  });

  test("a unique key function: equal keys share one queued task, other keys do not", async () => {
    const huey = fresh();
    const t = huey.task("sync_user", { unique: (id: number) => String(id) }, (id: number, _note: string) => id);
    const a = await t(1, "first");
    const b = await t(1, "second");
    const c = await t(2, "first");
    expect(b.id).toBe(a.id);
    expect(c.id).not.toBe(a.id);
    expect(await huey.pendingCount()).toBe(2);
  });

  test("results: false stores nothing; storeNone: false skips undefined and null only", async () => {
    const huey = new Huey({ name: "r", immediate: true });
    const noResults = huey.task("no_results", { results: false }, () => 1);
    const skipNone = huey.task("skip_none", { storeNone: false }, (x: unknown) => x);
    await noResults();
    await skipNone(undefined);
    await skipNone(null);
    const kept = await skipNone(0);
    expect(await huey.resultCount()).toBe(1);
    expect(await kept.get()).toBe(0);
  });
});

describe("hooks", () => {
  test("each hook registration returns an unregister function", async () => {
    const huey = new Huey({ name: "hooks", immediate: true });
    const seen: string[] = [];
    const offPre = huey.preExecute((t) => void seen.push(`pre:${t.name}`));
    const offPost = huey.postExecute((t) => void seen.push(`post:${t.name}`));
    const t = huey.task("t", () => 1);
    await t();
    offPre();
    offPost();
    await t();
    expect(seen).toEqual(["pre:t", "post:t"]);
    const offStart = huey.onStartup(() => {});
    const offStop = huey.onShutdown(() => {});
    expect([internalsOf(huey).registry.hooks.startup.length, internalsOf(huey).registry.hooks.shutdown.length]).toEqual([1, 1]);
    offStart();
    offStop();
    expect([internalsOf(huey).registry.hooks.startup.length, internalsOf(huey).registry.hooks.shutdown.length]).toEqual([0, 0]);
  });
});

describe("withLock", () => {
  test("hands fn the lock's fencing token, a new and larger one on each acquisition; a held lock throws", async () => {
    const huey = fresh();
    const first = await huey.withLock("k", async (fence) => {
      await expect(huey.withLock("k", () => "inner")).rejects.toMatchObject({ code: "HUEY_LOCKED" });
      expect((await huey.locks()).map((l) => [l.key, l.fence])).toEqual([["k", fence]]);
      return fence;
    });
    const second = await huey.withLock("k", (fence) => fence);
    expect(first).toBeNumber();
    expect(second).toBeGreaterThan(first);
    expect(await huey.isLocked("k")).toBe(false);
  });
});

describe("unknown task options", () => {
  test("are a ConfigurationError at definition time, naming the task, the key and the nearest option", () => {
    const huey = new Huey({ name: "unknown-options", immediate: true });
    const opts = { timeot: "5s" } as unknown as TaskOptions;
    expect(() => huey.task("x", opts, () => 1)).toThrow(new ConfigurationError('task "x": unknown option "timeot" (did you mean "timeout"?)'));
    expect(() => huey.task("y", { retires: 3 } as unknown as TaskOptions, () => 1)).toThrow('task "y": unknown option "retires" (did you mean "retries"?)');
    expect(() => huey.task("z", { zzzzzzzz: 1 } as unknown as TaskOptions, () => 1)).toThrow(/task "z": unknown option "zzzzzzzz"; the options are priority, retries/);
    expect(huey.taskNames()).toEqual([]);
  });
});

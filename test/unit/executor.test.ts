// The executor: execute() classifies one run; planOutcome() turns the outcome into storage writes
// and signals. Time (`now`) and randomness (`rand`) are arguments: no clock, no sleeping.
import { describe, expect, test } from "bun:test";
import { CancelExecution, RetryTask, serializeError } from "../../src/errors";
import { execute, fencedWrite, planLocked, planOutcome, retryDelay, type Outcome, type Plan, type RunnableTask } from "../../src/executor";
import { readMessage, toQueueItem, type Message } from "../../src/message";
import type { TaskContext } from "../../src/task";
import { LazyAbort } from "../../src/consumer/pool";

const NOW = 1_700_000_000_000;
const TOKEN = "lease-token";

function message(over: Partial<Message> = {}): Message {
  // `at` (when it became ready) before args, as buildMessage() stores it.
  return { v: 1, id: "task-1", name: "send", at: NOW - 5_000, args: ["a@b.c", 2], priority: 5, retries: 0, retryDelay: 0, attempt: 1, ...over };
}

function lease(m: Message) {
  return { id: m.id, token: TOKEN, payload: toQueueItem(m, 1 << 20).payload };
}

const ack = (m: Message) => [{ id: m.id, token: TOKEN }];

/** The plan with empty write lists dropped: `results: []` and no `results` mean the same writes. */
function writes(plan: Plan): Plan {
  const batch = Object.fromEntries(Object.entries(plan.batch).filter(([, v]) => !Array.isArray(v) || v.length > 0));
  return { ...plan, batch };
}
const boom = { name: "CodedError", message: "boom", stack: "CodedError: boom\n    at x", code: "E_CUSTOM" };

describe("planOutcome", () => {
  test("ok: ack and store the result; signal complete", () => {
    const m = message();
    const plan = planOutcome(lease(m), { kind: "ok", result: '{"ok":true,"value":3}' }, NOW, { keepFailed: true });
    expect(writes(plan)).toEqual({
      batch: {
        ack: ack(m),
        results: [{ id: m.id, payload: '{"ok":true,"value":3}', expiresAt: null }],
      },
      signals: ["complete"],
    });
  });

  test("ok with a result TTL: the result expires at now + ttl", () => {
    const m = message();
    const plan = planOutcome(lease(m), { kind: "ok", result: '{"ok":true,"value":1}', ttl: 60_000 }, NOW, { keepFailed: true });
    expect(plan.batch.results).toEqual([{ id: m.id, payload: '{"ok":true,"value":1}', expiresAt: NOW + 60_000 }]);
  });

  test("ok without a stored result: ack only", () => {
    const m = message();
    const plan = planOutcome(lease(m), { kind: "ok", result: null }, NOW, { keepFailed: true });
    expect(writes(plan)).toEqual({ batch: { ack: ack(m) }, signals: ["complete"] });
  });

  test("error with retries left: scheduled at now + retryDelay, retries - 1, attempt + 1; signals error, retrying, then scheduled", () => {
    const m = message({ retries: 2, retryDelay: 1_000 });
    const plan = planOutcome(lease(m), { kind: "error", error: boom }, NOW, { keepFailed: true });
    const next = { ...m, retries: 1, attempt: 2, at: NOW + 1_000 }; // ready again at its eta
    const item = toQueueItem(next, 1 << 20);
    expect(writes(plan)).toEqual({
      batch: { ack: ack(m), schedule: [{ ...item, eta: NOW + 1_000 }] },
      signals: ["error", "retrying"],
      also: [{ signal: "scheduled", payload: item.payload }],
      retryAt: NOW + 1_000,
    });
    expect(readMessage(plan.batch.schedule![0]!.payload)).toEqual(next);
  });

  test("error with retries left and no delay: enqueued again at once (signal enqueued, as Huey's requeue)", () => {
    const m = message({ retries: 1 });
    const plan = planOutcome(lease(m), { kind: "error", error: boom }, NOW, { keepFailed: true });
    const item = toQueueItem({ ...m, retries: 0, attempt: 2, at: NOW }, 1 << 20); // ready again now
    expect(writes(plan)).toEqual({
      batch: { ack: ack(m), enqueue: [item] },
      signals: ["error", "retrying"],
      also: [{ signal: "enqueued", payload: item.payload }],
      retryAt: NOW,
    });
  });

  test("final error: the error is stored as the result and kept as a dead letter", () => {
    const m = message({ attempt: 3 });
    const plan = planOutcome(lease(m), { kind: "error", error: boom }, NOW, { keepFailed: true });
    const stored = { ok: false, name: "send", error: boom, attempts: 3 };
    const deadLetter = { id: m.id, name: "send", args: m.args, error: boom, attempts: 3, failedAt: NOW, payload: lease(m).payload };
    expect(writes(plan)).toEqual({
      batch: {
        ack: ack(m),
        results: [{ id: m.id, payload: JSON.stringify(stored) }],
        putData: [{ key: "failed:task-1", value: JSON.stringify(deadLetter) }],
        deleteData: ["progress:task-1"],
      },
      signals: ["error"],
    });
  });

  test("final error without dead letters: stored error only", () => {
    const m = message();
    const plan = planOutcome(lease(m), { kind: "error", error: boom }, NOW, { keepFailed: false });
    expect(plan.batch.putData).toBeUndefined();
    expect(plan.batch.results).toEqual([{ id: m.id, payload: JSON.stringify({ ok: false, name: "send", error: boom, attempts: 1 }) }]);
    expect(plan.signals).toEqual(["error"]);
  });

  test("noRetry: fails for good whatever retries are left", () => {
    const m = message({ retries: 5 });
    const plan = planOutcome(lease(m), { kind: "error", error: boom }, NOW, { keepFailed: false, noRetry: true });
    expect(plan.signals).toEqual(["error"]);
    expect(plan.batch.enqueue ?? plan.batch.schedule).toBeUndefined();
  });

  test.each([0, 3])("RetryTask with %i retries left: retried without consuming a retry", (retries) => {
    const m = message({ retries, retryDelay: 500 });
    const outcome: Outcome = { kind: "retry", error: serializeError(new RetryTask()) };
    const plan = planOutcome(lease(m), outcome, NOW, { keepFailed: true });
    const item = toQueueItem({ ...m, retries, attempt: 2, at: NOW + 500 }, 1 << 20);
    // Not an error: no "error" signal (Huey emits none for RetryTask either).
    expect(writes(plan)).toEqual({
      batch: { ack: ack(m), schedule: [{ ...item, eta: NOW + 500 }] },
      signals: ["retrying"],
      also: [{ signal: "scheduled", payload: item.payload }],
      retryAt: NOW + 500,
    });
  });

  test("RetryTask with its own delay or eta wins over retryDelay", () => {
    const m = message({ retryDelay: 500 });
    const err = serializeError(new RetryTask());
    expect(planOutcome(lease(m), { kind: "retry", delay: 2_000, error: err }, NOW, { keepFailed: true }).retryAt).toBe(NOW + 2_000);
    expect(planOutcome(lease(m), { kind: "retry", eta: NOW + 7_000, error: err }, NOW, { keepFailed: true }).retryAt).toBe(NOW + 7_000);
    // delay 0: back in the ready queue at once.
    const now0 = planOutcome(lease(m), { kind: "retry", delay: 0, error: err }, NOW, { keepFailed: true });
    expect(now0.batch.enqueue).toHaveLength(1);
  });

  test.each<[string, ConstructorParameters<typeof RetryTask>[0], RegExp]>([
    ["delay 1e300", { delay: 1e300 }, /RetryTask delay must be 0 or more milliseconds that come to a time within 8\.64e15/],
    ["delay 8.64e15 (past the range from now)", { delay: 8.64e15 }, /RetryTask delay/],
    ["delay -1", { delay: -1 }, /RetryTask delay/],
    ["delay NaN", { delay: NaN }, /RetryTask delay/],
    ["eta 8.64e15 + 1", { eta: 8.64e15 + 1 }, /RetryTask eta must be a Date or epoch milliseconds from -8\.64e15 to 8\.64e15/],
    ["eta an invalid Date", { eta: new Date(NaN) }, /RetryTask eta/],
    ["eta Infinity", { eta: Infinity }, /RetryTask eta/],
  ])("new RetryTask({ %s }) throws a ConfigurationError that says the range", (_, options, problem) => {
    let err: unknown;
    try {
      new RetryTask(options);
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe("HUEY_CONFIGURATION");
    expect((err as Error).message).toMatch(problem);
  });

  test("RetryTask accepts the ends of the range", () => {
    expect(new RetryTask({ eta: 8.64e15 }).eta).toBe(8.64e15);
    expect(new RetryTask({ eta: new Date(-8.64e15) }).eta).toBe(-8.64e15);
    expect(new RetryTask({ delay: 0 }).delay).toBe(0);
  });

  test("a task that throws RetryTask with an eta no Date holds fails with the ConfigurationError, not a retry", async () => {
    const task: RunnableTask = { fn: () => { throw new RetryTask({ eta: 1e300 }); }, options: { priority: 0, retries: 0, retryDelay: 0 }, storeResult: true, storeNone: false, resultTtl: null, context: false };
    const out = await execute(lease(message()).payload, { lookup: () => task, maxPayloadSize: 1 << 20 });
    expect(out.kind).toBe("error");
    expect((out as { error: { code?: string; message: string } }).error.code).toBe("HUEY_CONFIGURATION");
  });

  test("cancel: acked, nothing stored; cancel with retry: enqueued again", () => {
    const m = message({ retries: 0 });
    const error = serializeError(new CancelExecution());
    expect(writes(planOutcome(lease(m), { kind: "cancel", retry: false, error }, NOW, { keepFailed: true }))).toEqual({
      batch: { ack: ack(m), deleteData: ["progress:task-1"] },
      signals: ["canceled"],
    });
    const again = planOutcome(lease(m), { kind: "cancel", retry: true, error }, NOW, { keepFailed: true });
    expect(again.signals).toEqual(["canceled", "retrying"]);
    expect(again.batch.enqueue).toHaveLength(1);
  });

  test("expired: acked, signal expired", () => {
    const m = message();
    expect(writes(planOutcome(lease(m), { kind: "expired" }, NOW, { keepFailed: true }))).toEqual({
      batch: { ack: ack(m), deleteData: ["progress:task-1"] },
      signals: ["expired"],
    });
  });

  test("signals in `before` come first", () => {
    const m = message({ retries: 1 });
    expect(planOutcome(lease(m), { kind: "error", error: boom }, NOW, { keepFailed: true, before: ["timeout"] }).signals).toEqual([
      "timeout",
      "error",
      "retrying",
    ]);
  });

  test("ok with a next pipeline stage: stored with the result; signal enqueued (scheduled when delayed) about the stage", () => {
    const m = message();
    const stage = toQueueItem(message({ id: "stage-2", name: "store" }), 1 << 20);
    const plan = planOutcome(lease(m), { kind: "ok", result: null, next: stage }, NOW, { keepFailed: true });
    expect(writes(plan)).toEqual({
      batch: { ack: ack(m), enqueue: [stage] },
      signals: ["complete"],
      also: [{ signal: "enqueued", payload: stage.payload }],
    });
    const later = planOutcome(lease(m), { kind: "ok", result: null, next: { ...stage, eta: NOW + 50 } }, NOW, { keepFailed: true });
    expect(writes(later)).toEqual({
      batch: { ack: ack(m), schedule: [{ ...stage, eta: NOW + 50 }] },
      signals: ["complete"],
      also: [{ signal: "scheduled", payload: stage.payload }],
    });
  });

  test("final error with an .error() stage: the stage is enqueued (signal enqueued about it), with its own task's options", () => {
    const onError = { id: "on-error-1", name: "report", args: [] };
    const m = message({ onError });
    const reportOptions = { priority: 9, retries: 2, retryDelay: 100, retryBackoff: 3, retryJitter: 0.25, retryMaxDelay: 5_000, expires: null };
    const plan = planOutcome(lease(m), { kind: "error", error: boom }, NOW, {
      keepFailed: false,
      lookup: (name) => (name === "report" ? reportOptions : undefined),
    });
    const stage = readMessage(plan.batch.enqueue![0]!.payload);
    expect(stage).toEqual({
      v: 1, id: "on-error-1", name: "report", at: NOW, args: [boom], priority: 9, retries: 2, retryDelay: 100, attempt: 1,
      backoff: 3, jitter: 0.25, maxDelay: 5_000,
    });
    expect(plan.signals).toEqual(["error"]);
    expect(plan.also).toEqual([{ signal: "enqueued", payload: plan.batch.enqueue![0]!.payload }]);
  });

  test("a unique task's key (reported by the worker) is dropped when it finishes", () => {
    const m = message({ unique: "unique:send:k" });
    const plan = planOutcome(lease(m), { kind: "ok", result: null, unique: "unique:send:k" }, NOW, { keepFailed: true });
    expect(plan.batch.deleteData).toEqual(["unique:send:k"]);
  });

  test("a task that reported progress has its progress entry dropped when it finishes", () => {
    const m = message();
    const plan = planOutcome(lease(m), { kind: "ok", result: null }, NOW, { keepFailed: true, hadProgress: true });
    expect(plan.batch.deleteData).toEqual(["progress:task-1"]);
  });
});

describe("planLocked: a run that found its task's lock held", () => {
  const locked = (m: Message) => ({ ...lease(m), name: m.name, priority: m.priority });

  test("with lockRetry: put back for later without using a retry; signal locked", () => {
    const m = message({ retries: 2 });
    expect(writes(planLocked(locked(m), "k", 250, NOW))).toEqual({
      batch: { ack: ack(m), schedule: [{ id: m.id, name: m.name, priority: m.priority, payload: lease(m).payload, eta: NOW + 250 }] },
      signals: ["locked"],
      retryAt: NOW + 250,
    });
  });

  test("with retries left: retried like a failed run, with the task's retry delay and backoff (as in Huey); signals locked, retrying, scheduled", () => {
    const m = message({ retries: 2, retryDelay: 100, backoff: 4, attempt: 2 });
    const plan = planLocked(locked(m), "k", null, NOW);
    const item = toQueueItem({ ...m, retries: 1, attempt: 3, at: NOW + 400 }, 1 << 20);
    expect(writes(plan)).toEqual({
      batch: { ack: ack(m), schedule: [{ ...item, eta: NOW + 400 }] },
      signals: ["locked", "retrying"],
      also: [{ signal: "scheduled", payload: item.payload }],
      retryAt: NOW + 400,
    });
  });

  test("no retries left: fails for good with TaskLockedError (no dead letter); signal locked only, as in Huey", () => {
    const m = message({ retries: 0, then: { id: "stage-2", name: "store", args: [] } });
    const plan = planLocked(locked(m), "k", null, NOW);
    const results = plan.batch.results!.map((r) => ({ id: r.id, ...JSON.parse(r.payload) }));
    expect(results[0]).toMatchObject({ id: m.id, ok: false, name: "send", error: { name: "TaskLockedError", code: "HUEY_LOCKED" }, attempts: 1 });
    expect(results[0].error.message).toContain('"k"');
    expect(results[1]).toMatchObject({ id: "stage-2", ok: false, error: { code: "HUEY_PIPELINE_STOPPED" } });
    expect(plan.batch.putData).toBeUndefined();
    expect(plan.signals).toEqual(["locked"]);
  });
});

describe("retryDelay: backoff, cap and jitter", () => {
  test.each<[Partial<Message>, number, number]>([
    [{ retryDelay: 100, attempt: 1 }, 0.5, 100],
    [{ retryDelay: 100, attempt: 3, backoff: 2 }, 0.5, 400],
    [{ retryDelay: 100, attempt: 5, backoff: 2, maxDelay: 1_000 }, 0.5, 1_000],
    [{ retryDelay: 100, attempt: 1, jitter: 0.5 }, 0.75, 125],
    [{ retryDelay: 100, attempt: 1, jitter: 0.5 }, 0, 50],
  ])("%j with rand %p: %p ms", (over, r, ms) => {
    expect(retryDelay(message(over), () => r)).toBe(ms);
  });

  test("a backoff that outgrows any Date stops at the end of the Date range (never Infinity or NaN)", () => {
    for (const jitter of [undefined, 0.5]) {
      const m = message({ retries: 3, retryDelay: 1_000, attempt: 2_000, backoff: 2, jitter });
      expect(retryDelay(m, () => 0.5)).toBe(8.64e15);
      const plan = planOutcome(lease(m), { kind: "error", error: boom }, NOW, { keepFailed: true, rand: () => 0.5 });
      expect(plan.retryAt).toBe(8.64e15);
      expect(plan.batch.schedule![0]!.eta).toBe(8.64e15);
    }
  });

  test("a scheduled retry uses it, with `rand` passed in", () => {
    const m = message({ retries: 3, retryDelay: 100, attempt: 2, backoff: 3, jitter: 0.1 });
    const plan = planOutcome(lease(m), { kind: "error", error: boom }, NOW, { keepFailed: true, rand: () => 0.5 });
    expect(plan.retryAt).toBe(NOW + 300);
  });
});

describe("execute", () => {
  const task = (fn: (...args: any[]) => unknown, over: Partial<RunnableTask> = {}): RunnableTask => ({
    fn,
    options: { priority: 0, retries: 0, retryDelay: 0 },
    storeResult: true,
    storeNone: true,
    resultTtl: null,
    context: false,
    ...over,
  });
  const run = (m: Message, t: RunnableTask | undefined, extra: { now?: number; maxPayloadSize?: number } = {}) =>
    execute(lease(m).payload, { lookup: (n) => (n === m.name ? t : undefined), maxPayloadSize: extra.maxPayloadSize ?? 1 << 20, now: extra.now });

  test("ok: the value, encoded as a stored result", async () => {
    const out = await run(message({ args: [2, 3] }), task((a: number, b: number) => a + b));
    expect(out).toEqual({ kind: "ok", result: '{"ok":true,"value":5}', ttl: null });
  });

  test("an async task's value", async () => {
    const out = await run(message({ args: [] }), task(async () => ({ at: new Date(0) })));
    expect(out.kind).toBe("ok");
  });

  test("a thrown error keeps name, message, stack and code", async () => {
    class CodedError extends Error {
      override name = "CodedError";
      code = "E_CUSTOM";
    }
    const out = await run(
      message(),
      task(() => {
        throw new CodedError("nope");
      }),
    );
    expect(out.kind).toBe("error");
    const error = (out as { error: { name: string; message: string; stack?: string; code?: string } }).error;
    expect(error).toMatchObject({ name: "CodedError", message: "nope", code: "E_CUSTOM" });
    expect(error.stack).toContain("nope");
  });

  test("a thrown Proxy whose traps throw, or an Error whose message getter throws: an error outcome, never a throw", async () => {
    const { hostileProxy, errorWithBadMessage } = await import("../fixtures/hostile-fixture");
    const seen: Error[] = [];
    const hooks = { pre: [], post: [(_: unknown, __: unknown, e: Error | undefined) => void seen.push(e!)] };
    for (const thrown of [hostileProxy(), errorWithBadMessage()]) {
      const t = task(() => {
        throw thrown;
      });
      const out = await execute(lease(message()).payload, { lookup: () => t, maxPayloadSize: 1 << 20, hooks });
      expect(out.kind).toBe("error");
      expect((out as { error: { message: string } }).error.message).toMatch(/the proxy refuses|message getter exploded/);
    }
    // The post hook got an Error for the Proxy and the thrown Error itself.
    expect(seen[0]).toBeInstanceOf(Error);
    expect(seen[0]!.message).toMatch(/^a Proxy object was thrown/);
    expect(seen[1]).toBeInstanceOf(Error);
  });

  test("something thrown that is not an Error", async () => {
    const out = await run(
      message(),
      task(() => {
        throw "just a string";
      }),
    );
    expect(out).toEqual({ kind: "error", error: { name: "NonError", message: "just a string" } });
  });

  test("RetryTask and CancelExecution are classified by code", async () => {
    const retry = await run(
      message(),
      task(() => {
        throw new RetryTask({ delay: 250 });
      }),
    );
    expect(retry).toMatchObject({ kind: "retry", delay: 250 });
    // As a plain object with the code (a copy from another thread or build).
    const cancel = await run(
      message(),
      task(() => {
        throw Object.assign(new Error("stop"), { code: "HUEY_CANCEL", retry: true });
      }),
    );
    expect(cancel).toMatchObject({ kind: "cancel", retry: true });
    expect((await run(message(), task(() => Promise.reject(new CancelExecution())))).kind).toBe("cancel");
  });

  test("an unknown task name is an error outcome, not a throw", async () => {
    expect(await run(message({ name: "nobody" }), undefined)).toMatchObject({ kind: "error", error: { code: "HUEY_UNKNOWN_TASK" } });
  });

  test("a result that cannot be stored fails the task with SerializationError", async () => {
    const out = await run(message(), task(() => new Map()));
    expect(out).toMatchObject({ kind: "error", error: { name: "SerializationError", code: "HUEY_SERIALIZATION" } });
  });

  test("a result over maxPayloadSize fails the task with PayloadTooLargeError", async () => {
    const out = await run(message(), task(() => "x".repeat(5_000)), { maxPayloadSize: 1_000 });
    expect(out).toMatchObject({ kind: "error", error: { name: "PayloadTooLargeError", code: "HUEY_PAYLOAD_TOO_LARGE" } });
  });

  test("results off, or storeNone off with nothing returned: no stored result", async () => {
    expect(await run(message(), task(() => 1, { storeResult: false }))).toEqual({ kind: "ok", result: null });
    expect(await run(message(), task(() => undefined, { storeNone: false }))).toEqual({ kind: "ok", result: null });
    expect(await run(message(), task(() => undefined))).toEqual({ kind: "ok", result: '{"ok":true,"value":{"$huey":"undefined"}}', ttl: null });
  });

  test("a pipeline stage's value is stored even with results or storeNone off: the next stage and the caller need it", async () => {
    const then = { id: "stage-2", name: "store", args: [] };
    const next = task(() => 1);
    const runWith = (m: Message, t: RunnableTask) =>
      execute(lease(m).payload, { lookup: (n) => (n === m.name ? t : n === "store" ? next : undefined), maxPayloadSize: 1 << 20, now: NOW });
    const undef = '{"ok":true,"value":{"$huey":"undefined"}}';
    expect(await runWith(message({ then }), task(() => undefined, { storeNone: false }))).toMatchObject({ kind: "ok", result: undef });
    expect(await runWith(message({ then }), task(() => undefined, { storeResult: false, storeNone: false }))).toMatchObject({ kind: "ok", result: undef });
    // A chord member's result is what the chord's callback gets.
    const chord = { id: "chord-1", members: ["task-1"], callback: { id: "cb", name: "sum", args: [] } };
    expect(await runWith(message({ chord }), task(() => undefined, { storeResult: false, storeNone: false }))).toMatchObject({ kind: "ok", result: undef, chord });
  });

  test("the next pipeline stage carries its own task's retry options (delay, backoff, jitter, cap, expiry)", async () => {
    const then = { id: "stage-2", name: "store", args: ["x"], delay: 30 };
    const store: RunnableTask = {
      ...task(() => 1),
      options: { priority: 4, retries: 2, retryDelay: 200, retryBackoff: 4, retryJitter: 0.1, retryMaxDelay: 10_000, expires: 60_000 },
    };
    const out = await execute(lease(message({ then })).payload, {
      lookup: (n) => (n === "send" ? task(() => 7) : n === "store" ? store : undefined),
      maxPayloadSize: 1 << 20,
      now: NOW,
    });
    const next = (out as { next: { payload: string; eta: number } }).next;
    expect(next.eta).toBe(NOW + 30);
    const stage = readMessage(next.payload);
    expect(stage).toEqual({
      v: 1, id: "stage-2", name: "store", at: NOW + 30, args: [7, "x"], priority: 4, retries: 2, retryDelay: 200, attempt: 1,
      backoff: 4, jitter: 0.1, maxDelay: 10_000, expires: NOW + 60_000,
    });
    // Its retries come 200 and then 800 ms after its failures (they came 200 and 200 apart when backoff was lost).
    const first = planOutcome({ id: stage.id, token: TOKEN, payload: next.payload }, { kind: "error", error: boom }, NOW, { keepFailed: false, rand: () => 0.5 });
    expect(first.retryAt).toBe(NOW + 200);
    const again = planOutcome({ id: stage.id, token: TOKEN, payload: first.batch.schedule![0]!.payload }, { kind: "error", error: boom }, NOW, {
      keepFailed: false,
      rand: () => 0.5,
    });
    expect(again.retryAt).toBe(NOW + 800);
  });

  test("expires is checked against the `now` passed in", async () => {
    const m = message({ expires: NOW });
    let ran = 0;
    const t = task(() => ++ran);
    expect(await run(m, t, { now: NOW + 1 })).toEqual({ kind: "expired" });
    expect(ran).toBe(0);
    expect((await run(m, t, { now: NOW })).kind).toBe("ok");
    expect(ran).toBe(1);
  });

  test("a context task gets its context first", async () => {
    let seen: TaskContext | null = null;
    const out = await run(
      message({ args: [4], attempt: 2, retries: 1 }),
      task(
        (ctx: TaskContext, x: number) => {
          seen = ctx;
          return x * 2;
        },
        { context: true },
      ),
    );
    expect(out).toMatchObject({ kind: "ok", result: '{"ok":true,"value":8}' });
    expect(seen!).toMatchObject({ id: "task-1", name: "send", attempt: 2, retries: 1 });
    expect(seen!.signal.aborted).toBe(false);
  });
});

describe("fencedWrite", () => {
  test("a plan's writes under its one lease, with the locks to free", () => {
    const m = message({ retries: 1 });
    const plan = planOutcome(lease(m), { kind: "error", error: boom }, NOW, { keepFailed: true });
    expect(fencedWrite(plan.batch, [{ key: "L", owner: m.id }])).toEqual({
      lease: { id: m.id, token: TOKEN },
      enqueue: plan.batch.enqueue!,
      releaseLocks: [{ key: "L", owner: m.id }],
    });
  });

  test("a batch that does not ack exactly one lease is refused", () => {
    expect(() => fencedWrite({ results: [] })).toThrow(/exactly one lease/);
    expect(() => fencedWrite({ ack: [{ id: "a", token: "t" }, { id: "b", token: "t" }] })).toThrow(/exactly one lease/);
  });
});

describe("LazyAbort: a task's AbortController, made when its signal is asked for", () => {
  test("an abort before the signal is made gives a signal already aborted, with the first reason", () => {
    const a = new LazyAbort();
    a.abort("first");
    a.abort("second");
    const s = a.signal;
    expect(s.aborted).toBe(true);
    expect(s.reason).toBe("first");
    expect(a.signal).toBe(s);
  });

  test("an abort after the signal is made fires its listeners once", () => {
    const a = new LazyAbort();
    const s = a.signal;
    expect(s.aborted).toBe(false);
    const seen: unknown[] = [];
    s.addEventListener("abort", () => seen.push(s.reason));
    a.abort("timeout");
    a.abort("again");
    expect(seen).toEqual(["timeout"]);
  });

  test("execute asks for it only for a context task", async () => {
    let asked = 0;
    const signal = () => (asked++, new AbortController().signal);
    const tasks: Record<string, RunnableTask> = {
      plain: { fn: () => 1, context: false, storeResult: true, storeNone: false, resultTtl: null } as unknown as RunnableTask,
      ctx: { fn: (c: TaskContext) => c.signal.aborted, context: true, storeResult: true, storeNone: false, resultTtl: null } as unknown as RunnableTask,
    };
    const run = (name: string) => execute(toQueueItem(message({ name }), 1 << 20).payload, { lookup: (n) => tasks[n], maxPayloadSize: 1 << 20, signal });
    expect((await run("plain")).kind).toBe("ok");
    expect(asked).toBe(0);
    expect(await run("ctx")).toMatchObject({ kind: "ok", result: JSON.stringify({ ok: true, value: false }) });
    expect(asked).toBe(1);
  });
});

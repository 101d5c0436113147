// Huey in immediate mode: every task runs in this thread the moment it is called.
import { describe, expect, test } from "bun:test";
import { CancelExecution, ConfigurationError, RetryTask, TaskFailedError } from "../../src/errors";
import { Huey } from "../../src/huey";
import type { SignalName } from "../../src/signals";

let n = 0;
function immediate() {
  const huey = new Huey({ name: `immediate-${++n}`, immediate: true });
  const seen: [SignalName, string][] = [];
  const errors: (Error | undefined)[] = [];
  huey.signal([], (signal, task, error) => {
    seen.push([signal, task.name]);
    errors.push(error);
  });
  return { huey, signals: () => seen.map(([s]) => s), named: () => seen.map(([s, name]) => `${s}:${name}`), errors };
}

class CodedError extends Error {
  override name = "CodedError";
  code = "E_CUSTOM";
}

describe("Huey immediate mode", () => {
  test("a task runs when called; Result.get returns its value without blocking", async () => {
    const { huey, signals } = immediate();
    const calls: number[][] = [];
    const add = huey.task("add", (a: number, b: number) => {
      calls.push([a, b]);
      return a + b;
    });
    const r = await add(2, 3);
    expect(calls).toEqual([[2, 3]]);
    expect(await r.get()).toBe(5);
    expect(await r.ready()).toBe(true);
    expect(signals()).toEqual(["enqueued", "executing", "complete"]);
    expect(await huey.pendingCount()).toBe(0);
  });

  test("an async task's value, and values that need tags (Date, undefined)", async () => {
    const { huey } = immediate();
    const later = huey.task("later", async (d: Date) => ({ next: new Date(d.getTime() + 1), none: undefined }));
    const r = await later(new Date(1000));
    expect(await r.get()).toStrictEqual({ next: new Date(1001), none: undefined });
  });

  test("retries run at once, whatever retryDelay says", async () => {
    const { huey, signals } = immediate();
    let runs = 0;
    const flaky = huey.task("flaky", { retries: 2, retryDelay: "1h" }, () => {
      if (++runs < 3) throw new Error(`failure ${runs}`);
      return runs;
    });
    const r = await flaky();
    expect(await r.get()).toBe(3);
    // As in Huey: each failed run emits error, then retrying, then enqueued for the stored retry.
    const retry = ["executing", "error", "retrying", "enqueued"] as const;
    expect(signals()).toEqual(["enqueued", ...retry, ...retry, "executing", "complete"]);
    expect(await huey.scheduledCount()).toBe(0);
  });

  test("a task that fails for good: get() throws TaskFailedError with the error's name, message, stack and code", async () => {
    const { huey, signals, errors } = immediate();
    const charge = huey.task("charge", { retries: 1 }, (amount: number): number => {
      throw new CodedError(`declined: ${amount}`);
    });
    const r = await charge(42);
    const err = await r.get().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TaskFailedError);
    const f = err as TaskFailedError;
    expect(f.code).toBe("HUEY_TASK_FAILED");
    expect(f.taskId).toBe(r.id);
    expect(f.taskName).toBe("charge");
    expect(f.attempts).toBe(2);
    expect(f.error).toMatchObject({ name: "CodedError", message: "declined: 42", code: "E_CUSTOM" });
    expect(f.error.stack).toContain("declined: 42");
    expect(signals()).toEqual(["enqueued", "executing", "error", "retrying", "enqueued", "executing", "error"]);
    expect(errors[2]).toMatchObject({ message: "declined: 42" }); // the first run's error
    expect(errors.at(-1)).toMatchObject({ message: "declined: 42", code: "E_CUSTOM" });
    // Kept as a dead letter.
    expect((await huey.failed()).map((d) => [d.id, d.attempts])).toEqual([[r.id, 2]]);
  });

  test("RetryTask runs the task again even with retries 0", async () => {
    const { huey, signals } = immediate();
    let runs = 0;
    const again = huey.task("again", () => {
      if (++runs === 1) throw new RetryTask({ delay: 60_000 });
      return runs;
    });
    expect(await (await again()).get()).toBe(2);
    expect(signals()).toEqual(["enqueued", "executing", "retrying", "enqueued", "executing", "complete"]);
  });

  test("CancelExecution: the run stops, nothing is stored", async () => {
    const { huey, signals } = immediate();
    const cancel = huey.task("cancel", (): number => {
      throw new CancelExecution();
    });
    const r = await cancel();
    expect(await r.get()).toBeUndefined();
    expect(signals()).toEqual(["enqueued", "executing", "canceled"]);
  });

  test("a scheduled task stays in the schedule", async () => {
    const { huey, signals } = immediate();
    let ran = false;
    const later = huey.task("later", () => (ran = true));
    const r = await later.schedule([], { delay: "1m" });
    expect(ran).toBe(false);
    expect(await r.get()).toBeUndefined();
    expect(await huey.scheduledCount()).toBe(1);
    expect(signals()).toEqual(["scheduled"]);
  });

  test("a signal handler that throws does not change the outcome", async () => {
    const { huey, signals } = immediate();
    const reported: string[] = [];
    huey.signals.setErrorReporter((err, signal) => reported.push(`${signal}: ${(err as Error).message}`));
    huey.signal("executing", () => {
      throw new Error("handler boom");
    });
    const one = huey.task("one", () => 1);
    expect(await (await one()).get()).toBe(1);
    expect(signals()).toEqual(["enqueued", "executing", "complete"]);
    expect(reported).toEqual(["executing: handler boom"]);
  });

  test("task.map and enqueueMany run every call, values in order", async () => {
    const { huey, signals } = immediate();
    const add = huey.task("add", (a: number, b: number) => a + b);
    const twice = huey.task("twice", (a: number) => a * 2);
    const group = await add.map([
      [1, 2],
      [3, 4],
    ]);
    expect(await group.get()).toEqual([3, 7]);
    const mixed = await huey.enqueueMany<number>([
      [add, [5, 5]],
      [twice, [21]],
    ]);
    expect(await mixed.get()).toEqual([10, 42]);
    expect(signals().filter((s) => s === "complete")).toHaveLength(4);
  });

  test("a pipeline: each later stage emits enqueued when it is stored", async () => {
    const { huey, named } = immediate();
    const fetch = huey.task("fetch", (n: number) => n);
    const double = huey.task("double", (n: number) => n * 2);
    const group = await huey.enqueue(fetch.s(21).then(double));
    expect(await group.get()).toEqual([21, 42]);
    expect(named()).toEqual(["enqueued:fetch", "executing:fetch", "complete:fetch", "enqueued:double", "executing:double", "complete:double"]);
  });

  test("a chord's callback emits enqueued when it is stored, after the last member completed", async () => {
    const { huey, named } = immediate();
    const one = huey.task("one", (n: number) => n);
    const sum = huey.task("sum", (xs: number[]) => xs.reduce((a, b) => a + b, 0));
    expect(await (await huey.chord([one.s(1), one.s(2)], sum)).get()).toBe(3);
    expect(named().slice(-4)).toEqual(["complete:one", "enqueued:sum", "executing:sum", "complete:sum"]);
  });

  test("a pipeline whose caller waits for a results: false task is refused when enqueued, saying what to change", async () => {
    const { huey } = immediate();
    const fetch = huey.task("fetch", (n: number) => n);
    const quiet = huey.task("quiet", { results: false }, (n: number) => n);
    const sum = huey.task("sum", (xs: number[]) => xs.reduce((a, b) => a + b, 0));
    const quietSum = huey.task("quiet-sum", { results: false }, (xs: number[]) => xs.length);
    const refused = async (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e);
    const last = await refused(huey.enqueue(fetch.s(1).then(quiet)));
    expect(last).toBeInstanceOf(ConfigurationError);
    expect((last as Error).message).toBe(
      'task "quiet" has results: false, but it is the last stage of a pipeline: get() on what huey.enqueue(), group() or chord() ' +
        'returns waits for its result, which would never be stored. Remove results: false from task "quiet" (or set results: true ' +
        'on it, if the Huey has results: false), or run it with a plain call quiet(...) when you need no result.',
    );
    expect(await refused(huey.enqueue(quiet.s(1)))).toBeInstanceOf(ConfigurationError);
    expect(await refused(huey.group([fetch.s(1), fetch.s(2).then(quiet)]))).toBeInstanceOf(ConfigurationError);
    expect(((await refused(huey.chord([fetch.s(1)], quietSum))) as Error).message).toContain("it is a chord's callback");
    expect(await huey.pendingCount()).toBe(0); // nothing was stored
    // A stage before the last, and a chord member, pass their result on: stored whatever results says.
    expect(await (await huey.enqueue(quiet.s(4).then(fetch))).get()).toEqual([4, 4]);
    expect(await (await huey.chord([quiet.s(1), fetch.s(2).then(quiet)], sum)).get()).toBe(3);
  });

  test("a pipeline stage with storeNone: false that returns nothing still stores it (the stage after it may not have run yet)", async () => {
    const { huey } = immediate();
    const nothing = huey.task("nothing", { storeNone: false }, () => undefined);
    const after = huey.task("after", (x: unknown) => x === undefined);
    const group = await huey.enqueue(nothing.s().then(after));
    expect(await group.at(0)!.ready()).toBe(true);
    expect(await group.get()).toEqual([undefined, true]);
  });

  test("an .error() task runs with its own task's options (here: retries)", async () => {
    const { huey, named } = immediate();
    let reports = 0;
    const fail = huey.task("fail", (): number => {
      throw new Error("nope");
    });
    const report = huey.task("report", { retries: 1 }, (err: { message: string }) => {
      if (++reports === 1) throw new Error("report failed once");
      return `reported ${err.message}`;
    });
    await huey.enqueue(fail.s().error(report));
    expect(reports).toBe(2);
    expect(named()).toEqual([
      "enqueued:fail", "executing:fail", "error:fail", "enqueued:report",
      "executing:report", "error:report", "retrying:report", "enqueued:report", "executing:report", "complete:report",
    ]);
  });

  test("callLocal runs the function in place, without the queue or signals", async () => {
    const { huey, signals } = immediate();
    const add = huey.task("add", (a: number, b: number) => a + b);
    expect(add.callLocal(1, 2)).toBe(3);
    expect(signals()).toEqual([]);
  });

  test("callLocal of a context task passes a context, then the caller's arguments", async () => {
    const { huey } = immediate();
    const ctxTask = huey.task("ctx", { context: true }, (ctx, x: number) => [typeof ctx?.signal, ctx?.name, x]);
    expect(await (await ctxTask(5)).get()).toEqual(["object", "ctx", 5]);
    // The type says callLocal(x: number); the context must not swallow the first argument.
    expect(ctxTask.callLocal(5)).toEqual(["object", "ctx", 5]);
  });
});

// Immediate mode runs through the consumer's engine: the same admission as a consumer.
describe("immediate mode applies what a consumer applies", () => {
  test("revoke({ once: true }) skips exactly one of the calls that follow", async () => {
    const { huey } = immediate();
    const runs: number[] = [];
    const t = huey.task("t", (i: number) => void runs.push(i));
    await t.revoke({ once: true });
    for (let i = 0; i < 5; i++) await t(i);
    expect(runs).toEqual([1, 2, 3, 4]);
  });

  test("a locked task finds its lock held: TaskLockedError, signal locked", async () => {
    const { huey, signals } = immediate();
    const t = huey.task("t", { lock: "L" }, () => 1);
    const r = await huey.withLock("L", () => t());
    await expect(r.get()).rejects.toThrow(/lock "L"/);
    expect(signals()).toEqual(["enqueued", "locked"]);
    expect(await (await t()).get()).toBe(1); // free again
    expect(await huey.locks()).toEqual([]);
  });

  test("a rate limit holds the calls over it in the schedule", async () => {
    const { huey, signals } = immediate();
    const t = huey.task("t", { rateLimit: { limit: 1, per: "1h" } }, () => 1);
    expect(await (await t()).get()).toBe(1);
    const second = await t();
    expect(await second.get()).toBeUndefined();
    expect(await huey.scheduledCount()).toBe(1);
    expect(signals().slice(3)).toEqual(["enqueued", "rate-limited"]);
  });

  test("an expired task is skipped, and unique keys are freed when a task finishes", async () => {
    const { huey } = immediate();
    const runs: string[] = [];
    const u = huey.task("u", { unique: true }, (k: string) => void runs.push(k));
    await u("a");
    await u("a");
    expect(runs).toEqual(["a", "a"]);
    const e = huey.task("e", () => void runs.push("e"));
    await e.schedule([], { expires: new Date(Date.now() - 1_000) });
    expect(runs).toEqual(["a", "a"]);
  });
});

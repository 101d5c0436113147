// Type tests: what task() infers. Checked by `bunx tsc --noEmit -p .` (every `@ts-expect-error`
// must hit an error); the test below also runs the calls that compile, in immediate mode.
import { expect, expectTypeOf, test } from "bun:test";
import { Huey, type Duration, type Result, type ResultGroup, type Signature, type TaskContext, type TaskDef } from "../../src/index";

const huey = new Huey({ name: "types", immediate: true });

const add = huey.task("add", (a: number, b: number) => a + b);
const greet = huey.task("greet", { retries: 1 }, async (name: string, excited?: boolean) => `hi ${name}${excited ? "!" : ""}`);
const nothing = huey.task("nothing", () => {});
const withCtx = huey.task("ctx", { context: true }, (ctx: TaskContext, n: number) => ctx.attempt + n);
const dated = huey.task("dated", (d: Date) => ({ when: d, tags: ["a"] }));

const len = huey.task("len", (s: string) => s.length);
const sum = huey.task("sum", (xs: number[], plus: number = 0) => xs.reduce((a, b) => a + b, plus));
const pair = huey.task("pair", (xs: [number, string]) => `${xs[0]}${xs[1]}`);
const none = huey.task("none", () => 1);
const report = huey.task("report", (err: { message: string }) => err.message);

async function pipelineTypes(): Promise<void> {
  // Each stage's result types the next; enqueue gives every stage's value.
  const sig = add.s(1, 2).then(add, 3).then(withCtx);
  expectTypeOf(sig).toEqualTypeOf<Signature<number, [number, number, number]>>();
  const g = await huey.enqueue(sig);
  expectTypeOf(await g.get({ blocking: true })).toEqualTypeOf<[number, number, number]>();
  expectTypeOf(await g.get()).toEqualTypeOf<[number | undefined, number | undefined, number | undefined]>();
  expectTypeOf(g.results[2]).toEqualTypeOf<Result<number>>();
  const anySig: Signature = sig;
  const numSig: Signature<number> = sig;
  void anySig, numSig;
  // group: a typed tuple of the last stages' results.
  const gr = await huey.group([add.s(1, 2), greet.s("x").then(len), dated.s(new Date())]);
  expectTypeOf(await gr.get({ blocking: true })).toEqualTypeOf<[number, number, { when: Date; tags: string[] }]>();
  // chord: the callback's first parameter takes that tuple.
  expectTypeOf(await huey.chord([add.s(1, 2), add.s(3, 4)], sum, 10)).toEqualTypeOf<Result<number>>();
  expectTypeOf(await huey.chord([add.s(1, 2), greet.s("x")], pair)).toEqualTypeOf<Result<string>>();
  add.s(1, 2).error(report).with({ delay: "5s", priority: 1 });
  expectTypeOf(await (await add(1, 2)).get({ blocking: true })).toEqualTypeOf<number>();
  await add.schedule([1, 2], { delay: "1.5m", retryDelay: 250, expires: "1d" });
  const durations: Duration[] = [0, 250, "250", "500ms", "5s", "1.5m", "2h", "1d", " 5 s"];
  void durations;
}

async function pipelinesMustNotCompile(): Promise<void> {
  // @ts-expect-error the previous result (a number) does not fit len's string parameter
  add.s(1, 2).then(len);
  // @ts-expect-error an extra argument of the wrong type
  add.s(1, 2).then(add, "3");
  // @ts-expect-error a missing extra argument
  add.s(1, 2).then(add);
  // @ts-expect-error one extra argument too many
  add.s(1, 2).then(add, 3, 4);
  // @ts-expect-error a task without parameters cannot take the previous result
  add.s(1, 2).then(none);
  // @ts-expect-error an .error() task gets the error, not a string
  add.s(1, 2).error(len);
  // @ts-expect-error the chord's results are [number, string], not number[]
  await huey.chord([add.s(1, 2), greet.s("x")], sum);
  // @ts-expect-error the chord callback's extra argument is a number
  await huey.chord([add.s(1, 2)], sum, "10");
  // @ts-expect-error a Signature<number> is not a Signature<string>
  const s: Signature<string> = add.s(1, 2);
  // @ts-expect-error not a duration
  await add.schedule([1, 2], { delay: "5 seconds" });
  // @ts-expect-error not a duration
  huey.task("bad-duration", { timeout: "5sec" }, () => 1);
  // @ts-expect-error unknown schedule option
  await add.schedule([1, 2], { dealy: "1s" });
  const options = { retries: 1, timeot: "5s" } as const;
  // @ts-expect-error unknown option in a variable (no excess property check there)
  huey.task("bad-var", options, () => 1);
  const perCall = { delay: "1s", dealy: 3 } as const;
  // @ts-expect-error unknown schedule option in a variable
  await add.schedule([1, 2], perCall);
  // @ts-expect-error unknown stage option
  add.s(1, 2).with({ dealy: "1s" });
  // @ts-expect-error a blocking get() of a group is the tuple, without undefined
  const t: [string] = await (await huey.group([add.s(1, 2)])).get({ blocking: true });
  void s, t;
}

async function typeChecks(): Promise<void> {
  // Arguments and result are inferred.
  expectTypeOf(add).toEqualTypeOf<TaskDef<[a: number, b: number], number>>();
  expectTypeOf(await add(1, 2)).toEqualTypeOf<Result<number>>();
  expectTypeOf(await (await add(1, 2)).get()).toEqualTypeOf<number | undefined>();
  // An async task's Result holds the awaited value.
  expectTypeOf(await greet("a")).toEqualTypeOf<Result<string>>();
  await greet("a", true);
  expectTypeOf(await nothing()).toEqualTypeOf<Result<void>>();
  expectTypeOf(await (await dated(new Date())).get()).toEqualTypeOf<{ when: Date; tags: string[] } | undefined>();
  // The context is not passed by callers.
  expectTypeOf(await withCtx(1)).toEqualTypeOf<Result<number>>();
  expectTypeOf(await add.map([[1, 2]])).toEqualTypeOf<ResultGroup<number>>();
  expectTypeOf(add.callLocal(1, 2)).toEqualTypeOf<number>();
  expectTypeOf(greet.callLocal("x")).toEqualTypeOf<Promise<string>>();
}

/** Calls that must not compile; never run. */
async function mustNotCompile(): Promise<void> {
  // @ts-expect-error a string where a number goes
  await add("1", 2);
  // @ts-expect-error a missing argument
  await add(1);
  // @ts-expect-error one argument too many
  await add(1, 2, 3);
  // @ts-expect-error the result is a number, not a string
  const s: Result<string> = await add(1, 2);
  // @ts-expect-error schedule takes the arguments as a tuple
  await add.schedule(1, { delay: "1s" });
  // @ts-expect-error wrong types inside the tuple
  await add.schedule(["1", 2], { delay: "1s" });
  // @ts-expect-error map takes argument tuples
  await add.map([1, 2]);
  // @ts-expect-error callers never pass the context
  await withCtx({} as TaskContext, 1);
  // @ts-expect-error the second argument is optional but typed
  await greet("a", "yes");
  // @ts-expect-error unknown option
  huey.task("bad", { retires: 3 }, () => 1);
  void s;
}

test("the type-checked calls also run", async () => {
  await typeChecks();
  await pipelineTypes();
  expect(typeof mustNotCompile).toBe("function");
  expect(typeof pipelinesMustNotCompile).toBe("function");
  expect(await (await add(1, 2)).get()).toBe(3);
  expect(await (await greet("bo", true)).get()).toBe("hi bo!");
});

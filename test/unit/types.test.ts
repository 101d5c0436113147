// Type tests: what task() infers. Checked by `bunx tsc --noEmit -p .` (every `@ts-expect-error`
// must hit an error); the test below also runs the calls that compile, in immediate mode.
import { expect, expectTypeOf, test } from "bun:test";
import { Huey, type Result, type ResultGroup, type TaskContext, type TaskDef } from "../../src/index";

const huey = new Huey({ name: "types", immediate: true });

const add = huey.task("add", (a: number, b: number) => a + b);
const greet = huey.task("greet", { retries: 1 }, async (name: string, excited?: boolean) => `hi ${name}${excited ? "!" : ""}`);
const nothing = huey.task("nothing", () => {});
const withCtx = huey.task("ctx", { context: true }, (ctx: TaskContext, n: number) => ctx.attempt + n);
const dated = huey.task("dated", (d: Date) => ({ when: d, tags: ["a"] }));

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
  expect(typeof mustNotCompile).toBe("function");
  expect(await (await add(1, 2)).get()).toBe(3);
  expect(await (await greet("bo", true)).get()).toBe("hi bo!");
});

import { ConfigurationError, type SerializedError } from "./errors";
import { newTaskId, type Message } from "./message";
import type { AnyTaskDef, KnownOptions, ParamsAfterFirst, TaskTaking, TaskTakingOnly } from "./task";
import { fromNow, toEpochMs, type Duration } from "./_time";

/** When and how a stage runs. */
export interface StageOptions {
  /** Run this long after the stage before it finished (or after enqueueing, for the first stage). */
  delay?: Duration | undefined;
  /** Run at this time (Date or epoch ms). */
  eta?: Date | number | undefined;
  priority?: number | undefined;
}

/**
 * A stage as stored inside the message of the stage before it. Ids are fixed at enqueue time, so
 * the caller's ResultGroup knows every stage's id before any has run, and a stage enqueued twice
 * (a crash between commit and ack) collides on its id instead of running twice.
 */
export interface StageSpec {
  id: string;
  name: string;
  /** Extra arguments, after the previous stage's result. */
  args: unknown[];
  priority?: number;
  delay?: number;
  then?: StageSpec;
  /** Runs with the error (name, message, stack, code) if this stage fails for good. */
  onError?: StageSpec;
}

/** Chord bookkeeping carried by each member: when all are done, the callback runs with all results. */
export interface ChordSpec {
  id: string;
  members: string[];
  callback: StageSpec;
}

interface Stage {
  task: AnyTaskDef;
  args: unknown[];
  options: StageOptions;
  onError: AnyTaskDef | null;
}

/** Type only: the key of a Signature's phantom property (no such value exists at runtime). */
declare const TYPES: unique symbol;

/**
 * A task call not yet enqueued: `fetch.s(123).then(transform, 5).then(store)`. Each stage's
 * result is the next stage's first argument; extra arguments follow it.
 *
 * `R` is the last stage's result and `S` the result of every stage, in order (what the values
 * of `huey.enqueue(sig)` are): `fetch.s(123).then(transform, 5)` is a `Signature<number, [number, number]>`.
 * `.then()` accepts a task only if the previous result fits its first parameter and the extra
 * arguments fit the rest, as a call `task(result, ...extraArgs)` would.
 */
export class Signature<R = unknown, S extends unknown[] = unknown[]> {
  /** Type only, never set: what the stages return. */
  declare readonly [TYPES]?: { result: R; stages: S };
  readonly stages: readonly Stage[];

  constructor(stages: Stage[]) {
    this.stages = stages;
  }

  static of<R>(task: AnyTaskDef, args: unknown[]): Signature<R, [R]> {
    return new Signature([{ task, args, options: {}, onError: null }]);
  }

  /** Run `task(result, ...extraArgs)` once this pipeline's last stage succeeds. */
  then<P extends unknown[], R2>(task: TaskTaking<R, P, R2>, ...extraArgs: ParamsAfterFirst<P>): Signature<Awaited<R2>, [...S, Awaited<R2>]> {
    checkTask(task, ".then()");
    return new Signature([...this.stages, { task: task as AnyTaskDef, args: extraArgs, options: {}, onError: null }]);
  }

  /** Run `task(error)` if the last stage so far fails for good (after its own retries); it gets the error only. */
  error<P extends unknown[], R2>(task: TaskTakingOnly<[error: SerializedError], P, R2>): Signature<R, S> {
    checkTask(task, ".error()");
    const stages = [...this.stages];
    stages[stages.length - 1] = { ...stages[stages.length - 1]!, onError: task as AnyTaskDef };
    return new Signature(stages);
  }

  /** Delay, eta or priority for the last stage so far. */
  with<const O extends StageOptions>(options: KnownOptions<O, StageOptions>): Signature<R, S> {
    if (options.delay !== undefined && options.eta !== undefined) {
      throw new ConfigurationError(`${this.stages.at(-1)!.task.taskName}.s().with(): give "delay" or "eta", not both`);
    }
    const stages = [...this.stages];
    const last = stages[stages.length - 1]!;
    stages[stages.length - 1] = { ...last, options: { ...last.options, ...options } };
    return new Signature(stages);
  }

  get taskName(): string {
    return this.stages[0]!.task.taskName;
  }
}

/** A signature of any result. */
export type AnySignature = Signature<any, any[]>;

/** The last stage's result of a signature. */
export type ResultOf<Sig> = Sig extends Signature<infer R, any[]> ? R : never;

/** The last stage's result of each signature: what `huey.group(sigs)` gives and a chord's callback gets. */
export type ResultsOf<Sigs extends readonly AnySignature[]> = { -readonly [K in keyof Sigs]: ResultOf<Sigs[K]> };

function checkTask(task: unknown, where: string): asserts task is AnyTaskDef {
  const t = task as AnyTaskDef | undefined;
  if (typeof t !== "function" || typeof t.taskName !== "string") {
    throw new ConfigurationError(`${where} needs a task made by huey.task(), got ${typeof task === "function" ? "a plain function" : JSON.stringify(task)}`);
  }
}

/**
 * The stored form of stages 1.. of a signature (stage 0 becomes the message itself). A chord
 * member's last result goes to the chord's callback (the executor stores it whatever its task's
 * `results` says, as it does for every stage before the last); otherwise the last stage's result
 * is what get() on the returned Results waits for, so its task must store results.
 */
export function specsOf(sig: Signature, chordMember = false): { first: { id: string; eta?: number | undefined }; ids: string[]; then?: StageSpec; onError?: StageSpec } {
  if (!chordMember) checkStoresResult(sig.stages.at(-1)!.task, sig.stages.length > 1 ? "the last stage of a pipeline" : "a signature enqueued on its own or in a group");
  const ids = sig.stages.map(() => newTaskId());
  let then: StageSpec | undefined;
  for (let i = sig.stages.length - 1; i >= 1; i--) {
    const s = sig.stages[i]!;
    then = {
      id: ids[i]!,
      name: s.task.taskName,
      args: s.args,
      ...stageTiming(s),
      ...(then ? { then } : {}),
      ...(s.onError ? { onError: errorSpec(s.onError) } : {}),
    };
  }
  const s0 = sig.stages[0]!;
  const eta = s0.options.eta !== undefined ? toEpochMs(s0.options.eta, `${s0.task.taskName}.s() eta`) : s0.options.delay !== undefined ? fromNow(s0.options.delay, `${s0.task.taskName}.s() delay`) : undefined;
  return { first: { id: ids[0]!, eta }, ids, then, onError: s0.onError ? errorSpec(s0.onError) : undefined };
}

function stageTiming(s: Stage): { priority?: number; delay?: number } {
  const out: { priority?: number; delay?: number } = {};
  if (s.options.priority !== undefined) out.priority = s.options.priority;
  if (s.options.delay !== undefined) {
    // The stage keeps the duration; fromNow checks that the time it comes to fits a Date.
    const now = Date.now();
    out.delay = fromNow(s.options.delay, `${s.task.taskName}.s() delay`, now) - now;
  }
  if (s.options.eta !== undefined) out.delay = Math.max(0, toEpochMs(s.options.eta, `${s.task.taskName}.s() eta`) - Date.now());
  return out;
}

/** The stored form of a chord's callback: its result is the chord's, so its task must store results. */
export function callbackSpec(task: AnyTaskDef, args: unknown[]): StageSpec {
  checkStoresResult(task, "a chord's callback");
  return { id: newTaskId(), name: task.taskName, args };
}

/**
 * A task with `results: false` where the caller's get() waits for its result would leave that
 * get() waiting until its timeout: refuse it when enqueuing, saying what to change.
 */
function checkStoresResult(task: AnyTaskDef, role: string): void {
  if (task.options.results) return;
  const name = task.taskName;
  throw new ConfigurationError(
    `task "${name}" has results: false, but it is ${role}: get() on what huey.enqueue(), group() or chord() returns waits for ` +
      `its result, which would never be stored. Remove results: false from task "${name}" (or set results: true on it, if ` +
      `the Huey has results: false), or run it with a plain call ${name}(...) when you need no result.`,
  );
}

function errorSpec(task: AnyTaskDef): StageSpec {
  return { id: newTaskId(), name: task.taskName, args: [] };
}

/**
 * The options of a stage's task that its message carries, as a task's ResolvedTaskOptions has
 * them (the optional ones default to: no backoff, jitter, cap or expiry).
 */
export interface StageTaskOptions {
  priority: number;
  /** The stage's named queue. @default "default" */
  queue?: string;
  retries: number;
  /** ms */
  retryDelay: number;
  retryBackoff?: number;
  retryJitter?: number;
  /** ms, or null for no cap. */
  retryMaxDelay?: number | null;
  /** ms after the stage is stored, or null. */
  expires?: number | null;
  /** How long its stored result (also a failure) is kept, ms; null keeps it until read. */
  resultTtl?: number | null;
}

/** For a stage whose task is not registered here: no retries. */
const UNKNOWN_TASK: StageTaskOptions = { priority: 0, retries: 0, retryDelay: 0 };

/**
 * The message of the stage `spec`, given what ran before it (`prev`) and its first argument,
 * stored at `now`. It runs with its own task's options, as if that task had been called.
 */
export function stageMessage(spec: StageSpec, first: unknown, prev: Message, task: StageTaskOptions | undefined, now: number): Message {
  const o = task ?? UNKNOWN_TASK;
  const m: Message = {
    v: 1,
    id: spec.id,
    name: spec.name,
    args: [first, ...spec.args],
    priority: spec.priority ?? o.priority,
    retries: o.retries,
    retryDelay: o.retryDelay,
    attempt: 1,
    at: now,
  };
  if (o.queue !== undefined && o.queue !== "default") m.queue = o.queue;
  if (o.retryBackoff !== undefined && o.retryBackoff !== 1) m.backoff = o.retryBackoff;
  if (o.retryJitter) m.jitter = o.retryJitter;
  if (o.retryMaxDelay !== undefined && o.retryMaxDelay !== null) m.maxDelay = o.retryMaxDelay;
  if (o.expires !== undefined && o.expires !== null) m.expires = now + o.expires;
  if (spec.then) m.then = spec.then;
  if (spec.onError) m.onError = spec.onError;
  if (prev.chord) m.chord = prev.chord;
  return m;
}

/** The stages after `m` that will now never run (an earlier stage failed or was skipped), and its chord's callback. */
export function downstream(m: Message): { id: string; name: string }[] {
  const out: { id: string; name: string }[] = [];
  for (let s = m.then; s; s = s.then) out.push({ id: s.id, name: s.name });
  if (m.chord) out.push({ id: m.chord.callback.id, name: m.chord.callback.name });
  return out;
}

// What the consumer and Workers need of a Huey that is not the user's API. Kept off the class (a WeakMap
// filled by the Huey constructor) so `Huey` shows users only what is theirs.
import type { Hooks, RunnableTask } from "./executor";
import type { PeriodicDef } from "./periodic";
import type { ChordSpec } from "./pipeline";
import type { Result } from "./result";
import type { SignalName, TaskInfo } from "./signals";
import type { QueueItem } from "./storage/types";
import type { AnyTaskDef, ResolvedTaskOptions } from "./task";

/** A registered task, as the consumer and Workers see it. */
export interface Registered extends RunnableTask {
  name: string;
  options: ResolvedTaskOptions;
  def: AnyTaskDef;
}

export interface Registry {
  lookup(name: string): Registered | undefined;
  readonly periodic: readonly PeriodicDef[];
  /** Hooks run by Workers around each task, and on Worker start and stop. */
  readonly hooks: Hooks & { startup: (() => unknown)[]; shutdown: (() => unknown)[] };
  /** Workers forward signals to the consumer's main thread instead of emitting them. */
  forwardSignals(fn: ((signal: SignalName, task: TaskInfo) => void) | null): void;
}

export interface HueyInternals {
  registry: Registry;
  /** After a chord member's result is stored: enqueue the callback once every member succeeded. */
  completeChord(c: ChordSpec): Promise<void>;
  /** Chords whose callback may not be enqueued yet (consumers re-check them). */
  pendingChords(limit?: number): Promise<ChordSpec[]>;
  /** Enqueue a copy of a stored message under a new id, at `eta`. */
  requeueCopy(payload: string, eta: number): Promise<Result<any>>;
  /** The stored item for one call of a registered task (unique tasks refused, naming `where`). */
  itemFor(def: AnyTaskDef, args: readonly unknown[], where: string): QueueItem;
}

const table = new WeakMap<object, HueyInternals>();

export function setInternals(huey: object, i: HueyInternals): void {
  table.set(huey, i);
}

export function internalsOf(huey: object): HueyInternals {
  const i = table.get(huey);
  if (!i) throw new TypeError("not a Huey of this copy of bun-huey");
  return i;
}

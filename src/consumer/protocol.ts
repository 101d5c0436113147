import type { SerializedError } from "../errors";
import type { Outcome } from "../executor";
import type { SignalName, TaskInfo } from "../signals";
import type { RunInfo } from "./pool";

/** Messages the consumer's main thread sends to a Worker. */
export type HostMessage =
  /** `runInfo`: report every task's RunInfo (the consumer logs at info), not only those of context tasks, retries and failures. */
  | { type: "init"; file: string; instance: string | null; maxPayloadSize: number; concurrency: number; timeout: number | null; runInfo?: boolean }
  /**
   * Tasks to run, as columns (one array per field: cheaper to clone than an object per task). `fences`:
   * each task's lock fence (null: none), absent when no task has one.
   */
  | { type: "run"; ids: string[]; payloads: string[]; fences?: (number | null)[] }
  /** Fire the AbortSignal of a running task (timeout, revoke, shutdown). */
  | { type: "abort"; id: string; reason: string }
  /** Stop taking tasks: hand back the ones not started; once idle, run onShutdown hooks and say "stopped". */
  | { type: "stop" }
  /** Hand back the tasks not started yet (another Worker ran dry): answered with "returned". */
  | { type: "give-back" };

/** Messages a Worker sends back. */
export type WorkerMessage =
  | { type: "ready"; tasks: string[] }
  | { type: "load-error"; error: SerializedError }
  /** Started and finished tasks since the last report, in one message. */
  | { type: "report"; started: string[]; done: DoneColumns }
  | { type: "returned"; ids: string[] }
  | { type: "stopped" }
  | { type: "progress"; id: string; value: string }
  | { type: "signal"; signal: SignalName; task: TaskInfo }
  /** A task in this Worker blocks on the result of `child` (the consumer checks it can run). */
  | { type: "waiting"; child: string; running: string[] };

/**
 * Finished tasks as columns, in the order they finished (cheaper to clone than objects per task). A plain
 * success (an "ok" outcome with no next stage, chord or unique key) is 0 in `outcomes`, its result and ttl
 * in `results` and `ttls`; any other outcome is in `outcomes` itself. `runs`: each task's RunInfo (0 for
 * none), absent when no task has one.
 */
export interface DoneColumns {
  ids: string[];
  ms: number[];
  outcomes: (Outcome | 0)[];
  results: (string | null)[];
  ttls: (number | null)[];
  runs?: (RunInfo | 0)[];
}

/** An empty DoneColumns to fill. */
export function doneColumns(): DoneColumns {
  return { ids: [], ms: [], outcomes: [], results: [], ttls: [] };
}

/** Add one finished task to `d`. */
export function addDone(d: DoneColumns, id: string, outcome: Outcome, ms: number, run: RunInfo | undefined): void {
  const plain = outcome.kind === "ok" && outcome.next === undefined && outcome.chord === undefined && outcome.unique === undefined;
  if (run !== undefined && d.runs === undefined) d.runs = d.ids.map(() => 0);
  d.ids.push(id);
  d.ms.push(ms);
  d.outcomes.push(plain ? 0 : outcome);
  d.results.push(plain ? outcome.result : null);
  d.ttls.push(plain ? (outcome.ttl ?? null) : null);
  if (d.runs !== undefined) d.runs.push(run ?? 0);
}

/** Entry `i` of `d`'s outcome (a plain success is rebuilt from its columns). */
export function doneOutcome(d: DoneColumns, i: number): Outcome {
  const o = d.outcomes[i]!;
  return o === 0 ? { kind: "ok", result: d.results[i]!, ttl: d.ttls[i]! } : o;
}

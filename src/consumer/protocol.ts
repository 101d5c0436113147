import type { SerializedError } from "../errors";
import type { Outcome } from "../executor";
import type { SignalName, TaskInfo } from "../signals";
import type { RunInfo } from "./pool";

/** Messages the consumer's main thread sends to a Worker. */
export type HostMessage =
  /** `runInfo`: report every task's RunInfo (the consumer logs at info), not only those of context tasks, retries and failures. */
  | { type: "init"; file: string; instance: string | null; maxPayloadSize: number; concurrency: number; timeout: number | null; runInfo?: boolean }
  /**
   * Tasks to run: their ids, then their payloads, packed into one string (see PackedStrings). `fences`:
   * each task's lock fence (null: none), absent when no task has one.
   */
  | { type: "run"; strings: PackedStrings; fences?: (number | null)[] }
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
  /** Started and finished tasks since the last report, in one message (see packReport). */
  | ReportMessage
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

/**
 * Columns of strings as one string and their lengths (UTF-16 units; -1 for null). Cloning a string
 * for postMessage costs most the first time that string is sent, per string: one string for a
 * message of 245 tasks instead of 490 cut a Worker round trip from ~1.2 to ~0.6 us a task of the
 * main thread's CPU (bench: ping-pong of fresh ids and payloads).
 */
export interface PackedStrings {
  text: string;
  lens: Int32Array;
}

/** Pack columns of strings (null allowed) into one PackedStrings, column after column. */
export function packStrings(columns: readonly (readonly (string | null)[])[]): PackedStrings {
  let total = 0;
  for (const c of columns) total += c.length;
  const lens = new Int32Array(total);
  const parts: string[] = [];
  let k = 0;
  for (const c of columns) {
    for (const v of c) {
      if (v === null) lens[k++] = -1;
      else {
        lens[k++] = v.length;
        parts.push(v);
      }
    }
  }
  return { text: parts.join(""), lens };
}

/** The columns of `p`, of the given sizes (which must add up to all it holds). */
export function unpackStrings(p: PackedStrings, sizes: readonly number[]): (string | null)[][] {
  const out: (string | null)[][] = [];
  let k = 0;
  let at = 0;
  for (const n of sizes) {
    const col: (string | null)[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const len = p.lens[k++]!;
      if (len < 0) col[i] = null;
      else {
        col[i] = p.text.substring(at, at + len);
        at += len;
      }
    }
    out.push(col);
  }
  if (k !== p.lens.length || at !== p.text.length) throw new Error(`unpackStrings: the sizes ${sizes.join("+")} do not match ${p.lens.length} packed strings`);
  return out;
}

/** Ids and payloads of tasks to run, as a "run" message's strings. */
export function packRun(ids: readonly string[], payloads: readonly string[]): PackedStrings {
  return packStrings([ids, payloads]);
}

/** The ids and payloads of a "run" message. */
export function unpackRun(p: PackedStrings): { ids: string[]; payloads: string[] } {
  const n = p.lens.length >> 1;
  const [ids, payloads] = unpackStrings(p, [n, n]) as string[][];
  return { ids: ids!, payloads: payloads! };
}

/** A report on the wire: started ids, then finished ids, then their results, packed; the rest as columns. */
export interface ReportMessage {
  type: "report";
  strings: PackedStrings;
  started: number;
  done: Omit<DoneColumns, "ids" | "results">;
}

export function packReport(started: readonly string[], done: DoneColumns): ReportMessage {
  const { ids, results, ...rest } = done;
  return { type: "report", strings: packStrings([started, ids, results]), started: started.length, done: rest };
}

export function unpackReport(m: ReportMessage): { started: string[]; done: DoneColumns } {
  const n = m.done.ms.length;
  const [started, ids, results] = unpackStrings(m.strings, [m.started, n, n]);
  return { started: started as string[], done: { ...m.done, ids: ids as string[], results: results! } };
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

import type { SerializedError } from "../errors";
import type { Outcome } from "../executor";
import type { SignalName, TaskInfo } from "../signals";
import type { RunInfo } from "./pool";

/** Messages the consumer's main thread sends to a Worker. */
export type HostMessage =
  /** `runInfo`: report every task's RunInfo (the consumer logs at info), not only those of context tasks, retries and failures. */
  | { type: "init"; file: string; instance: string | null; maxPayloadSize: number; concurrency: number; timeout: number | null; runInfo?: boolean }
  /** Tasks to run (see encodeRun): a few as one string, more as an object with their strings packed. */
  | RunWire
  | RunMessage
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
  /** Started and finished tasks since the last report, in one message (see encodeReport). */
  | ReportMessage
  | ReportWire
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
  lens: ArrayLike<number>;
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

/*
 * The two messages of every task, "run" and a plain report, go as one string each: a Worker round
 * trip of one task after an idle gap took 0.17 ms with strings both ways against 0.28 ms with these
 * objects (their text, an Int32Array of lengths and number columns; bun 1.4.5 here, medians of 140),
 * a tenth of a millisecond of an idle consumer's latency. The string is a header of decimal numbers
 * (no ";" in it), a ";", then the packed text. Only messages of up to WIRE_TASKS tasks go so: for a
 * large batch the header's numbers cost more than the clone of the object's Int32Array and columns,
 * and a drain (batches of up to 512) kept the objects.
 */
export const WIRE_TASKS = 16;

/** A "run" message of more than WIRE_TASKS tasks: ids then payloads packed; `fences` absent when no task has one. */
export interface RunMessage {
  type: "run";
  strings: PackedStrings;
  fences?: (number | null)[];
}

/** A "run" message: "R", the lengths (ids, then payloads), "|" and the fences if any, ";", the text. */
export type RunWire = `R${string}`;
/** A report of plain successes only: "D", counts, ms, ttls and lengths, ";", the text. */
export type ReportWire = `D${string}`;

/** Tasks to run as a "run" message. `fences`: each task's lock fence (null: none), or null when no task has one. */
export function encodeRun(ids: readonly string[], payloads: readonly string[], fences: (number | null)[] | null): RunWire | RunMessage {
  const p = packStrings([ids, payloads]);
  if (ids.length > WIRE_TASKS) return fences === null ? { type: "run", strings: p } : { type: "run", strings: p, fences };
  const f = fences === null ? "" : `|${joinNullable(fences)}`;
  return `R${Array.prototype.join.call(p.lens, ",")}${f};${p.text}`;
}

/** The ids, payloads and fences (null: none) of a "run" message. */
export function decodeRun(m: RunWire | RunMessage): { ids: string[]; payloads: string[]; fences: (number | null)[] | null } {
  if (typeof m !== "string") {
    const n = m.strings.lens.length >> 1;
    const [ids, payloads] = unpackStrings(m.strings, [n, n]) as string[][];
    return { ids: ids!, payloads: payloads!, fences: m.fences ?? null };
  }
  const at = m.indexOf(";");
  if (m[0] !== "R" || at < 0) throw new Error("decodeRun: not a run message");
  const head = m.slice(1, at);
  const bar = head.indexOf("|");
  const lens = numbers(bar < 0 ? head : head.slice(0, bar));
  const n = lens.length >> 1;
  const fences = bar < 0 ? null : splitNullable(head.slice(bar + 1), n);
  const [ids, payloads] = unpackStrings({ text: m.slice(at + 1), lens }, [n, n]) as string[][];
  return { ids: ids!, payloads: payloads!, fences };
}

function numbers(list: string): number[] {
  return list === "" ? [] : list.split(",").map(Number);
}

/** Numbers or nulls as a header list (null: empty). */
function joinNullable(xs: readonly (number | null)[]): string {
  return xs.map((x) => (x === null ? "" : String(x))).join(",");
}

/** The `n` numbers or nulls of a joinNullable list ("" is one null when n is 1, none when n is 0). */
function splitNullable(list: string, n: number): (number | null)[] {
  return n === 0 ? [] : list.split(",").map((x) => (x === "" ? null : Number(x)));
}

/** A report on the wire: started ids, then finished ids, then their results, packed; the rest as columns. */
export interface ReportMessage {
  type: "report";
  strings: PackedStrings;
  started: number;
  done: Omit<DoneColumns, "ids" | "results">;
}

/**
 * A report: one string (ReportWire: "D", started and done counts, then ms, ttls and the lengths of
 * started ids, done ids and results, "|" between them, ";", the text) while it holds up to WIRE_TASKS
 * tasks and every finished one is a plain success without RunInfo; else the object.
 */
export function encodeReport(started: readonly string[], done: DoneColumns): ReportMessage | ReportWire {
  const { ids, results, ...rest } = done;
  const strings = packStrings([started, ids, results]);
  if (started.length + ids.length > WIRE_TASKS || done.runs !== undefined || done.outcomes.some((o) => o !== 0)) return { type: "report", strings, started: started.length, done: rest };
  return `D${started.length},${ids.length}|${done.ms.join(",")}|${joinNullable(done.ttls)}|${Array.prototype.join.call(strings.lens, ",")};${strings.text}`;
}

export function decodeReport(m: ReportMessage | ReportWire): { started: string[]; done: DoneColumns } {
  if (typeof m !== "string") {
    const n = m.done.ms.length;
    const [started, ids, results] = unpackStrings(m.strings, [m.started, n, n]);
    return { started: started as string[], done: { ...m.done, ids: ids as string[], results: results! } };
  }
  const at = m.indexOf(";");
  if (m[0] !== "D" || at < 0) throw new Error("decodeReport: not a report");
  const [counts, ms, ttls, lens] = m.slice(1, at).split("|") as [string, string, string, string];
  const [s, n] = numbers(counts) as [number, number];
  const [started, ids, results] = unpackStrings({ text: m.slice(at + 1), lens: numbers(lens) }, [s, n, n]);
  return {
    started: started as string[],
    done: {
      ids: ids as string[],
      ms: numbers(ms),
      outcomes: new Array<0>(n).fill(0),
      results: results!,
      ttls: splitNullable(ttls, n),
    },
  };
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

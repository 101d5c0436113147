import type { SerializedError } from "../errors";
import type { Outcome } from "../executor";
import type { SignalName, TaskInfo } from "../signals";
import type { RunInfo } from "./pool";

/** Messages the consumer's main thread sends to a Worker. */
export type HostMessage =
  /** `runInfo`: report every task's RunInfo (the consumer logs at info), not only those of context tasks, retries and failures. */
  | { type: "init"; file: string; instance: string | null; maxPayloadSize: number; concurrency: number; timeout: number | null; runInfo?: boolean }
  | { type: "run"; tasks: { id: string; payload: string; fence?: number }[] }
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
  | { type: "report"; started: string[]; done: { id: string; outcome: Outcome; ms: number; run?: RunInfo }[] }
  | { type: "returned"; ids: string[] }
  | { type: "stopped" }
  | { type: "progress"; id: string; value: string }
  | { type: "signal"; signal: SignalName; task: TaskInfo }
  /** A task in this Worker blocks on the result of `child` (the consumer checks it can run). */
  | { type: "waiting"; child: string; running: string[] };

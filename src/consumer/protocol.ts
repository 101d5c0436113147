import type { SerializedError } from "../errors";
import type { Outcome } from "../executor";
import type { SignalName, TaskInfo } from "../signals";

/** Messages the consumer's main thread sends to a Worker. */
export type HostMessage =
  | { type: "init"; file: string; instance: string | null; maxPayloadSize: number; concurrency: number }
  | { type: "run"; tasks: { id: string; payload: string }[] }
  /** Stop taking tasks: hand back the ones not started yet. */
  | { type: "stop" };

/** Messages a Worker sends back. */
export type WorkerMessage =
  | { type: "ready"; tasks: string[] }
  | { type: "load-error"; error: SerializedError }
  /** Started and finished tasks since the last report, in one message. */
  | { type: "report"; started: string[]; done: { id: string; outcome: Outcome; ms: number }[] }
  | { type: "returned"; ids: string[] }
  | { type: "signal"; signal: SignalName; task: TaskInfo };

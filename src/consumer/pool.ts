import { WORKER_URL } from "../_worker-url";
import type { HostMessage, WorkerMessage } from "./protocol";

/** One Bun Worker and the tasks it holds. */
export class WorkerSlot {
  readonly worker: Worker;
  /** Ids handed to this Worker and not yet reported done. */
  readonly held = new Set<string>();
  /** Ids the Worker reported as started. */
  readonly started = new Set<string>();
  ready = false;
  /**
   * Running estimate of this Worker's task duration in ms (EWMA). Starts pessimistic so the first
   * tasks are not queued behind one another before anything is known.
   */
  avgMs = 5;
  /** Set once the Worker is gone (terminated by us, crashed, or exited). */
  gone = false;
  /** Being replaced (--max-tasks): takes no new tasks. */
  retiring = false;
  /** Said "stopped": its onShutdown hooks ran. */
  stopped = false;
  tasksRun = 0;

  constructor(readonly index: number, onMessage: (slot: WorkerSlot, msg: WorkerMessage) => void, onGone: (slot: WorkerSlot, reason: string) => void) {
    // build.ts compiles worker-entry.ts as a second entrypoint; see _worker-url.ts for the path.
    // Bun gives a Worker the environment the process started with; pass the current one, so a
    // tasks file configured through process.env sees in each Worker what the main thread saw.
    this.worker = new Worker(WORKER_URL, { env: { ...process.env } } as WorkerOptions);
    this.worker.addEventListener("message", (e: MessageEvent<WorkerMessage>) => onMessage(this, e.data));
    // Always listen for error and close: without them a Worker that fails dies silently.
    this.worker.addEventListener("error", (e: ErrorEvent) => {
      const reason = e.message || String(e.error ?? "error");
      this.#gone(onGone, `uncaught error: ${reason}`);
    });
    this.worker.addEventListener("close", (e: Event) => {
      const code = (e as CloseEvent).code;
      this.#gone(onGone, `exited with code ${code ?? "unknown"}`);
    });
  }

  send(msg: HostMessage): void {
    if (!this.gone) this.worker.postMessage(msg);
  }

  terminate(): void {
    this.gone = true;
    this.worker.terminate();
  }

  #gone(onGone: (slot: WorkerSlot, reason: string) => void, reason: string): void {
    if (this.gone) return;
    this.gone = true;
    try {
      this.worker.terminate();
    } catch {
      /* already stopped */
    }
    onGone(this, reason);
  }
}

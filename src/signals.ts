/** Lifecycle signals, as in Huey. Handlers run once per event; one that throws is logged, never rethrown. */

export const SIGNALS = [
  "enqueued",
  "scheduled",
  "executing",
  "complete",
  "error",
  "retrying",
  "revoked",
  "expired",
  "locked",
  "canceled",
  "interrupted",
  "timeout",
  "rate-limited",
] as const;

export type SignalName = (typeof SIGNALS)[number];

/** What a signal handler learns of the task. */
export interface TaskInfo {
  id: string;
  name: string;
  args: unknown[];
  priority: number;
  /** Retries left. */
  retries: number;
  /** 1 on the first run, 2 on the first retry, ... */
  attempt: number;
}

export type SignalHandler = (signal: SignalName, task: TaskInfo, error?: Error) => void | Promise<void>;

export class Signals {
  #handlers = new Map<SignalName, Set<SignalHandler>>();
  #onHandlerError: (err: unknown, signal: SignalName) => void;

  constructor(onHandlerError?: (err: unknown, signal: SignalName) => void) {
    this.#onHandlerError =
      onHandlerError ?? ((err, signal) => console.error(`bun-huey: a "${signal}" signal handler threw:`, err));
  }

  /** Register `handler` for the named signals (all signals when `names` is empty); returns an unregister. */
  connect(names: readonly SignalName[], handler: SignalHandler): () => void {
    const list = names.length ? names : SIGNALS;
    for (const n of list) {
      if (!SIGNALS.includes(n)) {
        throw new TypeError(`unknown signal "${String(n)}"; known signals: ${SIGNALS.join(", ")}`);
      }
      let set = this.#handlers.get(n);
      if (!set) this.#handlers.set(n, (set = new Set()));
      set.add(handler);
    }
    return () => {
      for (const n of list) this.#handlers.get(n)?.delete(handler);
    };
  }

  has(signal: SignalName): boolean {
    return (this.#handlers.get(signal)?.size ?? 0) > 0;
  }

  setErrorReporter(fn: (err: unknown, signal: SignalName) => void): void {
    this.#onHandlerError = fn;
  }

  /**
   * Run every handler of `signal`, each called at once, in the order they were connected; waits for the
   * async ones together, swallows and reports their errors. No handler waits for another, so every
   * handler is called in the order the signals were emitted, whatever an earlier handler awaits.
   */
  async emit(signal: SignalName, task: TaskInfo, error?: Error): Promise<void> {
    const set = this.#handlers.get(signal);
    if (!set || set.size === 0) return;
    let pending: Promise<void>[] | null = null;
    for (const h of [...set]) {
      try {
        const out = h(signal, task, error);
        if (out && typeof (out as Promise<void>).then === "function") {
          (pending ??= []).push(Promise.resolve(out).catch((err) => this.#onHandlerError(err, signal)));
        }
      } catch (err) {
        this.#onHandlerError(err, signal);
      }
    }
    if (pending) await Promise.all(pending);
  }
}

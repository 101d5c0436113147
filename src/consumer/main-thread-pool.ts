// `huey run -w 0`: tasks run on the consumer's own thread, through the same engine, committer and
// admission as with Workers. No postMessage and no second copy of the tasks file: the fastest drain for
// short tasks. The trade-off (README): a timeout only fires the task's AbortSignal (no thread can be
// terminated, so a synchronous loop is never stopped), and a task that crashes the process, or blocks
// the event loop, stops the consumer with it (its lease then runs out and another consumer retries it).
import type { Registry } from "../_internals";
import { InlinePool, type PoolListener } from "./pool";
import { MAX_LEASE_BATCH } from "./engine";

/** Tasks leased ahead of the one running, at least: enough for full lease batches (the engine leases 32 to 512). */
const INLINE_PREFETCH = MAX_LEASE_BATCH;

export class MainThreadPool extends InlinePool {
  readonly stats = { workerRestarts: 0, recycled: 0 };
  /**
   * Lease once half the prefetch is free: tasks here finish as fast as the engine leases, so the
   * engine's minimum (32) made every lease 33 rows, and the per-statement cost dominated.
   */
  readonly minLease = INLINE_PREFETCH / 2;
  #hooks: Registry["hooks"];
  #shutdown: Promise<void> | null = null;
  #quiet = false;

  constructor(listener: PoolListener, registry: Registry, maxPayloadSize: number, concurrency: number, prefetch: number) {
    super(listener, { lookup: (n) => registry.lookup(n), maxPayloadSize, hooks: registry.hooks }, concurrency, Math.max(prefetch, INLINE_PREFETCH));
    this.#hooks = registry.hooks;
  }

  /** The tasks file's onStartup hooks, as each Worker runs them after loading it. */
  override async start(): Promise<void> {
    for (const fn of this.#hooks.startup) await fn();
  }

  /** Hand back the tasks not started, then run the onShutdown hooks (quiet() once they ran). */
  override stop(): void {
    super.stop();
    this.#shutdown ??= (async () => {
      for (const fn of this.#hooks.shutdown) {
        try {
          await fn();
        } catch (err) {
          this.listener.note("error", `an onShutdown hook threw: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      this.#quiet = true;
    })();
  }

  override quiet(): boolean {
    return this.#quiet;
  }
}

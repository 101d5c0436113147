// Immediate mode: the engine with an inline pool and an inline committer, run to completion in the caller.
// The same admission and outcome planning as the consumer (locks, rate limits, revocations, expiry,
// unique keys), so test mode cannot drift from production. Retries run at once; tasks scheduled for
// later stay scheduled.
import type { Signals } from "../signals";
import type { Storage } from "../storage/types";
import type { Registry } from "../_internals";
import type { ChordSpec } from "../pipeline";
import { InlineCommitter } from "./committer";
import { Engine, type InFlight, type Log } from "./engine";
import { InlinePool } from "./pool";

export interface ImmediateHost {
  storage: Storage;
  signals: Signals;
  registry: Registry;
  keepFailed: boolean;
  maxPayloadSize: number;
  completeChord(c: ChordSpec): Promise<void>;
}

/** Immediate mode never reclaims a lease: it only has to outlast one run. */
const LEASE_MS = 24 * 3600_000;

const quiet: Log = {
  enabled: () => false,
  debug: () => {},
  info: () => {},
  warn: (m) => console.warn(`bun-huey: ${m}`),
  error: (m) => console.error(`bun-huey: ${m}`),
};

/**
 * Run every ready task, one at a time, until none is left. Each call has its own engine, so a task that
 * enqueues (and waits for) another runs it inside its own run, as a direct call would.
 */
export async function drainImmediately(h: ImmediateHost): Promise<void> {
  const engine = new Engine(
    { storage: h.storage, signals: h.signals, lookup: (n) => h.registry.lookup(n), keepFailed: h.keepFailed, completeChord: (c) => h.completeChord(c) },
    { lease: LEASE_MS, maxLeases: Number.MAX_SAFE_INTEGER, unknownTaskDelay: 0, timeout: null, immediate: true },
    quiet,
  );
  const pool = new InlinePool(engine, { lookup: (n) => h.registry.lookup(n), maxPayloadSize: h.maxPayloadSize, hooks: h.registry.hooks });
  engine.pool = pool;
  engine.committer = new InlineCommitter<InFlight>({
    storage: h.storage,
    onCommitted: (done, lost) => engine.committed(done, lost),
    onError: (err) => quiet.error(`could not write an outcome (retrying): ${err instanceof Error ? err.message : String(err)}`),
    inFlight: () => engine.inflight.size,
  });
  for (;;) {
    const got = await engine.leaseAndDispatch(1, Date.now());
    await pool.whenIdle();
    await engine.committer.flush();
    await Promise.all(engine.emitted.splice(0));
    if (got === 0 && engine.inflight.size === 0) return;
  }
}

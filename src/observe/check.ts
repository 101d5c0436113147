// Health decisions for `huey status --check`: healthy, or one line saying why not. The decision is a pure
// function of what was read (tested with time as an argument); checkHealth reads and decides.
import type { Storage } from "../storage/types";
import { formatDuration as formatMs } from "../cli/_output";
import { lastMinutes, readConsumers, readOldestReady, readThroughput, type OldestReady } from "./read";

export interface HealthLimits {
  /** The oldest ready task may have waited at most this long (ms). */
  maxWait?: number;
  /** failed / (done + failed) over the last 5 minutes may be at most this (0..1). */
  maxFailedRate?: number;
}

export interface HealthInput {
  liveConsumers: number;
  oldest: OldestReady | null;
  /** Over the last 5 minutes, every consumer. */
  recent: { done: number; failed: number };
}

export type HealthVerdict = { ok: true } | { ok: false; reason: string };

/** The first problem found, in this order: no live consumer, a ready task waiting too long, too many failures. */
export function decideHealth(input: HealthInput, limits: HealthLimits): HealthVerdict {
  if (input.liveConsumers === 0) return { ok: false, reason: "no live consumer (no heartbeat within 3 intervals)" };
  const o = input.oldest;
  if (limits.maxWait !== undefined && o !== null && o.waitMs > limits.maxWait) {
    return { ok: false, reason: `the oldest ready task (${o.name} ${o.id}) has waited ${formatMs(o.waitMs)}, over --max-wait ${formatMs(limits.maxWait)}` };
  }
  const { done, failed } = input.recent;
  if (limits.maxFailedRate !== undefined && done + failed > 0) {
    const rate = failed / (done + failed);
    if (rate > limits.maxFailedRate) {
      return { ok: false, reason: `${failed} of ${done + failed} tasks failed over the last 5 minutes (${(rate * 100).toFixed(1)}%), over --max-failed-rate ${limits.maxFailedRate}` };
    }
  }
  return { ok: true };
}

/** Read what the decision needs and decide. */
export async function checkHealth(storage: Storage, now: number, limits: HealthLimits): Promise<HealthVerdict> {
  const [consumers, oldest, points] = await Promise.all([
    readConsumers(storage, now),
    limits.maxWait !== undefined ? readOldestReady(storage, now) : Promise.resolve(null),
    limits.maxFailedRate !== undefined ? readThroughput(storage, now, 5) : Promise.resolve([]),
  ]);
  return decideHealth({ liveConsumers: consumers.filter((c) => c.live).length, oldest, recent: lastMinutes(points, 5) }, limits);
}

/** A --max-failed-rate value: a number from 0 to 1, else null. */
export function parseRate(s: string): number | null {
  if (!/^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(s)) return null;
  const r = Number(s);
  return Number.isFinite(r) && r >= 0 && r <= 1 ? r : null;
}

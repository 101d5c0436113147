// Locks for code inside tasks (huey.withLock) and for operators (flushLocks). A lock is a lease: renewed
// while its holder runs, freed by expiry if the holder dies. Task locks (the `lock` option) are taken by
// the consumer's admission and freed in the commit of the task's outcome.
import { TaskLockedError } from "./errors";
import type { Storage } from "./storage/types";
import { checkLockKey } from "./task-options";
import { toMs, type Duration } from "./_time";

export async function withLock<T>(storage: Storage, key: string, fn: (fence: number) => T | Promise<T>, options: { lease?: Duration } = {}): Promise<T> {
  checkLockKey(key, "withLock()");
  const lease = toMs(options.lease ?? "30s", "withLock() lease");
  const owner = crypto.randomUUID();
  const fence = await storage.acquireLock(key, owner, Date.now() + lease, Date.now());
  if (fence === null) throw new TaskLockedError(key);
  const renew = setInterval(() => void storage.renewLocks([key], owner, Date.now() + lease).catch(() => {}), Math.max(100, lease / 3));
  (renew as { unref?: () => void }).unref?.();
  try {
    return await fn(fence);
  } finally {
    clearInterval(renew);
    await storage.releaseLock(key, owner);
  }
}

/** Free the named locks, or every lock when none is named; returns how many were freed. */
export async function flushLocks(storage: Storage, keys: string[]): Promise<number> {
  const names = keys.length ? keys : (await storage.listLocks(Number.MIN_SAFE_INTEGER)).map((l) => l.key);
  let n = 0;
  for (const k of names) if (await storage.releaseLock(k, null)) n++;
  return n;
}

// Shared test helpers: temporary files, waiting for conditions (never for time to pass).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "..");
export const FIXTURES = join(ROOT, "test", "fixtures");

const dirs: string[] = [];

/** A fresh temporary folder, removed after the run (see removeTempDirs). */
export function tempDir(prefix = "huey-test-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** A path for a fresh SQLite file. */
export function tempDb(name = "test.db"): string {
  return join(tempDir(), name);
}

/**
 * Remove every folder tempDir made (unless HUEY_KEEP_TMP is set). test/preload.ts runs it after the
 * last test file: `bun test` does not emit the process's "exit" event, where this used to run, and a
 * full run left about 350 MB of folders in the temporary directory each time.
 */
export function removeTempDirs(): void {
  if (process.env.HUEY_KEEP_TMP) return;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Wait until `cond` is truthy (checked every few ms), or fail after `timeoutMs` with `what`. */
export async function waitFor<T>(cond: () => T | Promise<T>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for: ${what}`);
    await Bun.sleep(5);
  }
}

/** Services (PostgreSQL, Redis): skip with a reason, or fail when HUEY_TEST_SERVICES=require. */
export function servicesRequired(): boolean {
  return process.env.HUEY_TEST_SERVICES === "require";
}

/**
 * Wait until just after a wall-clock second starts. Rate limits count in fixed windows when a
 * task is dispatched, and tests bucket tasks by when they ran: starting early in a window keeps a
 * task dispatched at a window's very end from running (and being counted) in the next one.
 */
export async function startOfSecond(): Promise<void> {
  await waitFor(() => Date.now() % 1000 < 50, "the start of a second", 5_000);
}

/**
 * How this thread's storage waits ended while `fn` ran, summed over topics: woken by a change, by a
 * safety poll, or by their own timer. A test that a wake-up works waits longer than it may take, so
 * only a wake-up (or a poll) can end the wait, and checks that no timer did.
 */
export async function wakesDuring(fn: () => Promise<unknown>): Promise<{ changed: number; poll: number; timeout: number }> {
  const { wakeStats } = await import("../src/storage/_waiters");
  const total = () => {
    const t = { changed: 0, poll: 0, timeout: 0 };
    for (const s of Object.values(wakeStats)) {
      t.changed += s.changed;
      t.poll += s.poll;
      t.timeout += s.timeout;
    }
    return t;
  };
  const before = total();
  await fn();
  const after = total();
  return { changed: after.changed - before.changed, poll: after.poll - before.poll, timeout: after.timeout - before.timeout };
}

import { closeSync, fchmodSync, futimesSync, openSync, realpathSync, watch, type FSWatcher } from "node:fs";
import { resolve } from "node:path";
import { Waiters, type WakeReason } from "./_waiters";

/** What a waiter waits for: new ready work (pollers), or new results (blocking result reads). */
export type Topic = "queue" | "results";
const TOPICS: Topic[] = ["queue", "results"];

/**
 * Internal settings (not exported by the package). `safetyPollMs`: how often an idle waiter
 * re-checks while file events work, only a safety net; tests lengthen it to prove that wake-ups
 * arrive without it.
 */
export const wakeTuning = { safetyPollMs: 250 };
/** How often it re-checks when there are no file events (no watcher could be made). */
const NO_EVENTS_POLL_MS = 25;
/**
 * Re-checks after each event, past Bun's window for merging file events (see #onEvent). The
 * window is ~2 ms on an idle machine and stretches under load, hence the later ones.
 */
const RECHECKS_MS = [2, 8, 25];
/** Checks right after a watcher is made, while Bun may not have armed it yet. */
const ARMING_CHECKS_MS = [1, 3, 6, 12, 25];
/** Shortest gap between two touches of one wake file (a touch is ~2 µs; bursts of commits need one). */
const TOUCH_EVERY_MS = 1;

/** The BroadcastChannel that carries one database's wake-ups between the threads of a process. */
function channelName(base: string): string {
  let path: string;
  try {
    path = realpathSync(base);
  } catch {
    path = resolve(base);
  }
  return `bun-huey-wake:${path}`;
}

function touchFile(fd: number): void {
  try {
    const now = Date.now() / 1000;
    futimesSync(fd, now, now);
  } catch {
    /* waiters elsewhere fall back to polling */
  }
}

/** Open a wake file for touching; create it with exactly `mode` (umask aside) when missing. */
function openWakeFile(path: string, mode: number): number {
  let fd: number;
  try {
    fd = openSync(path, "ax", mode);
  } catch (err) {
    if ((err as { code?: string }).code === "EEXIST") return openSync(path, "a");
    throw err;
  }
  try {
    fchmodSync(fd, mode);
  } catch {
    /* a file system without modes: it stays as created */
  }
  return fd;
}

/**
 * Cross-process wake-ups for a file database, without polling fast.
 *
 * SQLite writes its WAL with pwrite, which Bun's fs.watch does not report (it reports attribute
 * changes and closes), so the WAL cannot be watched. Instead a writer touches a small file per
 * topic (`<db>-wake-queue`, `<db>-wake-results`; futimes, about 2 µs) after committing, and
 * waiters keep one fs.watch on each topic's file.
 *
 * An event wakes every waiter of its topic, whatever it finds: waiters re-read, so a spurious
 * wake costs one read, while deciding by a version number shared with other readers of the
 * connection once let one reader's read "use up" the change another was waiting for. Topics are
 * separate files because Bun merges an event into one that came less than ~2 ms before it, and a
 * producer's own enqueue touch would then swallow the consumer's result touch. A merged event is
 * caught by re-checks shortly after each event, which compare `changed()` (PRAGMA data_version,
 * seen only by this object) with what they saw before.
 *
 * Threads of one process (the consumer's main thread and its Workers, or several storages on one
 * file) also hear each other through a BroadcastChannel named after the file: a message per
 * announced commit, which Bun neither drops nor merges, so a task in a Worker that blocks on a
 * result committed by the main thread wakes within a fraction of a millisecond instead of
 * depending on file events. The file touch still goes out for other processes.
 */
export class FileWake {
  #waiters = new Map<Topic, Waiters>(TOPICS.map((t) => [t, new Waiters(t)]));
  #fds = new Map<Topic, number>();
  #watchers = new Map<Topic, FSWatcher>();
  #pollTimer: ReturnType<typeof setInterval> | null = null;
  #recheck: ReturnType<typeof setTimeout> | null = null;
  #recheckStep = 0;
  #touchedAt = new Map<Topic, number>();
  #trailing = new Map<Topic, ReturnType<typeof setTimeout>>();
  #channel: BroadcastChannel | null = null;
  #closed = false;

  /**
   * @param base the database path; null for none (in-memory: in-thread wake-ups only)
   * @param changed true when another connection committed since this object's last look
   * @param mode permissions of a wake file this creates (the database file's, as SQLite does
   *   for -wal and -shm); an existing one keeps its own
   */
  constructor(
    readonly base: string | null,
    readonly changed: () => boolean,
    writable: boolean,
    mode = 0o600,
  ) {
    if (base === null) return;
    try {
      const channel = new BroadcastChannel(channelName(base));
      channel.onmessage = (e: MessageEvent) => {
        const w = this.#waiters.get(e.data as Topic);
        if (w?.size) w.wakeAll();
      };
      // Never keeps a process or Worker alive by itself (fs.watch is persistent: false too).
      (channel as { unref?: () => void }).unref?.();
      this.#channel = channel;
    } catch {
      // no BroadcastChannel: file events alone
    }
    if (!writable) return;
    for (const t of TOPICS) {
      try {
        this.#fds.set(t, openWakeFile(`${base}-wake-${t}`, mode));
      } catch {
        // read-only folder: waiters elsewhere fall back to polling
      }
    }
  }

  /**
   * After a commit: wake waiters of this thread, and those of other threads (channel message)
   * and processes (file touch). At most one announcement per millisecond per topic; one asked
   * for sooner is made at the end of that millisecond, so the last commit of a burst is always
   * announced.
   */
  touch(topic: Topic): void {
    const w = this.#waiters.get(topic)!;
    if (w.size) w.wakeAll();
    if (this.#channel === null && !this.#fds.has(topic)) return;
    const now = performance.now();
    const last = this.#touchedAt.get(topic) ?? -Infinity;
    if (now - last >= TOUCH_EVERY_MS) {
      this.#touchedAt.set(topic, now);
      this.#announce(topic);
    } else if (!this.#trailing.has(topic)) {
      const t = setTimeout(() => {
        this.#trailing.delete(topic);
        this.#touchedAt.set(topic, performance.now());
        if (!this.#closed) this.#announce(topic);
      }, TOUCH_EVERY_MS);
      this.#trailing.set(topic, t);
    }
  }

  wait(topic: Topic, timeoutMs: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const done = this.#waiters.get(topic)!.wait(timeoutMs);
    this.#watch(topic);
    return done.then(() => {
      // Only the poll stops here: the re-checks after an event must run out even when the waiter
      // they woke has not waited again yet (it re-reads first). Cancelling them lost the wake-up
      // for a change whose file event Bun had merged into the one that woke it.
      if (this.#waiting() === 0) this.#stopPoll();
    });
  }

  close(): void {
    this.#closed = true;
    this.#stopTimers();
    // Announce the last commits now rather than dropping their trailing touch.
    for (const [topic, t] of this.#trailing) {
      clearTimeout(t);
      this.#announce(topic);
    }
    this.#trailing.clear();
    if (this.#channel) safely(() => this.#channel!.close());
    this.#channel = null;
    for (const w of this.#watchers.values()) safely(() => w.close());
    for (const fd of this.#fds.values()) safely(() => closeSync(fd));
    this.#watchers.clear();
    this.#fds.clear();
    this.#wakeAll();
  }

  #waiting(): number {
    let n = 0;
    for (const w of this.#waiters.values()) n += w.size;
    return n;
  }

  #announce(topic: Topic): void {
    const fd = this.#fds.get(topic);
    if (fd !== undefined) touchFile(fd);
    if (this.#channel) safely(() => this.#channel!.postMessage(topic));
  }

  #wakeAll(reason: WakeReason = "changed"): void {
    for (const w of this.#waiters.values()) if (w.size) w.wakeAll(reason);
  }

  #poll = (): void => this.#check("poll");

  /**
   * Wake everyone if another connection committed since the last look. `always`: look even while
   * nobody waits, so that later looks compare with what is stored now.
   */
  #check = (reason: WakeReason = "changed", always = false): void => {
    if (this.#closed || (!always && this.#waiting() === 0)) return;
    let changed = false;
    try {
      changed = this.changed();
    } catch {
      return; // the next regular operation reports storage errors
    }
    if (changed) this.#wakeAll(reason);
  };

  /**
   * Bun merges a file event that follows another within ~2 ms into the first (measured: 20 touches
   * in pairs 1 ms apart gave 12 events), so the change behind a merged event may land after the
   * delivered one was checked: check once more a little later.
   *
   * The look right after the event runs even when the event woke every waiter: a woken waiter
   * re-reads after it, so the re-checks must compare with what is stored now. Skipped (as it was
   * while nobody waited), the first re-check found the very change the event announced and woke
   * the waiter again: a consumer made an empty lease about 2 ms into the task it had just leased,
   * on the thread that was to read the task's report.
   */
  #onEvent = (_event: string, file: string | null): void => {
    const topic = TOPICS.find((t) => file?.endsWith(`wake-${t}`));
    if (topic) {
      const w = this.#waiters.get(topic)!;
      if (w.size) w.wakeAll();
    } else {
      this.#wakeAll(); // no file name in the event: wake everyone
    }
    this.#check("changed", true);
    // Restart the series of re-checks from the first step.
    if (this.#recheck) clearTimeout(this.#recheck);
    this.#recheckStep = 0;
    this.#scheduleRecheck();
  };

  #scheduleRecheck(): void {
    const delay = RECHECKS_MS[this.#recheckStep];
    if (delay === undefined) {
      this.#recheck = null;
      return;
    }
    const prev = this.#recheckStep === 0 ? 0 : RECHECKS_MS[this.#recheckStep - 1]!;
    this.#recheck = setTimeout(() => {
      this.#recheckStep++;
      this.#check("changed");
      this.#scheduleRecheck();
    }, delay - prev);
  }

  #watch(topic: Topic): void {
    this.#armWatcher(topic);
    if (!this.#pollTimer) {
      const every = this.#watchers.has(topic) ? wakeTuning.safetyPollMs : NO_EVENTS_POLL_MS;
      this.#pollTimer = setInterval(this.#poll, every);
      (this.#pollTimer as { unref?: () => void }).unref?.();
    }
  }

  #armWatcher(topic: Topic): void {
    // One watcher per topic for the life of the storage: Bun arms a new watch asynchronously,
    // so a watcher made per wait misses commits of its first milliseconds.
    if (this.base === null || this.#watchers.has(topic)) return;
    try {
      const w = watch(`${this.base}-wake-${topic}`, { persistent: false }, this.#onEvent);
      w.on("error", () => {
        safely(() => w.close());
        this.#watchers.delete(topic);
      });
      this.#watchers.set(topic, w);
      // Bun arms the watch asynchronously: cover its first milliseconds with a few checks.
      for (const ms of ARMING_CHECKS_MS) {
        const t = setTimeout(() => this.#check("changed"), ms);
        (t as { unref?: () => void }).unref?.();
      }
    } catch {
      // no such file (nobody writable opened the database yet) or no file events: poll
    }
  }

  #stopPoll(): void {
    if (this.#pollTimer) clearInterval(this.#pollTimer);
    this.#pollTimer = null;
  }

  #stopTimers(): void {
    this.#stopPoll();
    if (this.#recheck) clearTimeout(this.#recheck);
    this.#recheck = null;
  }
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    /* already closed */
  }
}

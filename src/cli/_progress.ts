// A progress bar on stderr, drawn only when stderr is a terminal: piped output never sees it.

export interface Progress {
  /** Set how much is done (same unit as `total`); redraws at most every 100 ms. */
  update(done: number, count?: number): void;
  /** Erase the bar (before printing other lines to the same terminal); the next update redraws it. */
  clear(): void;
  /** Erase the bar for good. */
  finish(): void;
}

const NONE: Progress = { update() {}, clear() {}, finish() {} };

/**
 * `total`: the amount of work (bytes of a file, tasks), or null when unknown (a pipe). `count` is
 * shown next to the bar as "N tasks" with a rate.
 */
export function createProgress(label: string, total: number | null, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return NONE;
  const started = performance.now();
  let last = 0;
  let shown = false;
  const width = 24;
  const draw = (done: number, count: number | undefined) => {
    const secs = (performance.now() - started) / 1_000;
    const parts = [label];
    if (total !== null && total > 0) {
      const f = Math.min(1, done / total);
      const full = Math.round(f * width);
      parts.push(`[${"#".repeat(full)}${"-".repeat(width - full)}]`, `${Math.floor(f * 100)}%`.padStart(4));
    }
    if (count !== undefined) {
      parts.push(`${count} tasks`);
      if (secs > 0.2) parts.push(`${Math.round(count / secs)}/s`);
    }
    stream.write(`\r${parts.join(" ")}\x1b[K`);
    shown = true;
  };
  return {
    update(done, count) {
      const now = performance.now();
      if (now - last < 100) return;
      last = now;
      draw(done, count);
    },
    clear() {
      if (shown) stream.write("\r\x1b[K");
      shown = false;
      last = 0;
    },
    finish() {
      this.clear();
    },
  };
}

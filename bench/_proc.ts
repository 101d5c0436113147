// Spawned processes for the benchmark: consumers and CLI runs, their CPU time and memory, and
// cleanup of everything the bench started (also on errors and Ctrl-C).
import type { Subprocess } from "bun";
import { readdirSync, readFileSync, rmSync } from "node:fs";

const live = new Set<Subprocess>();
const tempDirs = new Set<string>();

export function trackTempDir(dir: string): string {
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Kill every child still running and remove temp folders. Synchronous: safe in "exit" handlers. */
export function cleanupAll(): void {
  for (const p of live) {
    try {
      p.kill("SIGKILL");
    } catch {
      /* gone */
    }
  }
  live.clear();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

let installed = false;
export function installCleanupHandlers(): void {
  if (installed) return;
  installed = true;
  process.on("exit", cleanupAll);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping consumers and removing temp files\n`);
      cleanupAll();
      process.exit(130);
    });
  }
}

/** A consumer (or any long-running child) with its stderr collected in the background. */
export class Child {
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  readonly startedAt = performance.now();
  #stderr = "";
  #stdout = "";
  #watchers: { re: RegExp; resolve: (ms: number) => void }[] = [];

  constructor(cmd: string[], opts: { cwd: string; env: Record<string, string | undefined> }) {
    this.proc = Bun.spawn(cmd, { cwd: opts.cwd, env: opts.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    live.add(this.proc);
    void this.proc.exited.then(() => live.delete(this.proc));
    void this.#pump(this.proc.stderr, (s) => (this.#stderr = keepTail(this.#stderr + s)));
    void this.#pump(this.proc.stdout, (s) => (this.#stdout = keepTail(this.#stdout + s)));
  }

  get pid(): number {
    return this.proc.pid;
  }

  get output(): string {
    return (this.#stdout + this.#stderr).trim();
  }

  async #pump(stream: ReadableStream<Uint8Array>, add: (s: string) => void): Promise<void> {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      add(dec.decode(chunk, { stream: true }));
      const now = performance.now();
      this.#watchers = this.#watchers.filter((w) => {
        if (!w.re.test(this.#stderr) && !w.re.test(this.#stdout)) return true;
        w.resolve(now - this.startedAt);
        return false;
      });
    }
  }

  /** Resolves with ms since spawn when `re` shows up in its output; rejects if it exits or times out. */
  waitForOutput(re: RegExp, timeoutMs: number): Promise<number> {
    if (re.test(this.#stderr) || re.test(this.#stdout)) return Promise.resolve(performance.now() - this.startedAt);
    return new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${re} from the consumer after ${timeoutMs}ms; output:\n${this.output}`)), timeoutMs);
      this.#watchers.push({ re, resolve: (ms) => (clearTimeout(t), resolve(ms)) });
      void this.proc.exited.then((code) => {
        clearTimeout(t);
        reject(new Error(`consumer exited with code ${code} before ${re}; output:\n${this.output}`));
      });
    });
  }

  /** Reject when the child exits: race this against a wait. */
  exitedEarly(): Promise<never> {
    return this.proc.exited.then((code) => {
      throw new Error(`consumer exited with code ${code}; output:\n${this.output}`);
    });
  }

  /** SIGTERM (graceful), then SIGKILL after `graceMs`. Resolves with the exit code. */
  async stop(graceMs = 10_000): Promise<number | null> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.proc.exitCode;
    this.proc.kill("SIGTERM");
    const t = setTimeout(() => this.proc.kill("SIGKILL"), graceMs);
    const code = await this.proc.exited;
    clearTimeout(t);
    return code;
  }
}

function keepTail(s: string): string {
  return s.length > 64_000 ? s.slice(-32_000) : s;
}

// ------------------------------------------------------------------ /proc readings

/** CPU time of every thread of `pid` in ns (schedstat, ns resolution; falls back to stat ticks). */
export function cpuNs(pid: number): number {
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        /* thread ended */
      }
    }
    return total;
  } catch {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After the comm field: index 11 = utime, 12 = stime (fields 14 and 15 of stat(5)), in ticks of 10 ms.
    return (Number(f[11]) + Number(f[12])) * 10_000_000;
  }
}

/** VmRSS and VmHWM (peak) of `pid`, in bytes. */
export function memory(pid: number): { rss: number; peak: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

export function threadCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return 0;
  }
}

/** CPU use of `pid` over `ms`, as % of one core. */
export async function cpuPercent(pid: number, ms: number): Promise<number> {
  const c0 = cpuNs(pid);
  const t0 = performance.now();
  await Bun.sleep(ms);
  const c1 = cpuNs(pid);
  const wall = performance.now() - t0;
  return ((c1 - c0) / 1e6 / wall) * 100;
}

const TICK_US = (() => {
  const p = Bun.spawnSync(["getconf", "CLK_TCK"], { stdout: "pipe" });
  const hz = Number(p.stdout.toString().trim());
  return 1e6 / (hz > 0 ? hz : 100);
})();

/** utime+stime of each thread of `pid` in microseconds, by thread id, with its name (/proc/PID/task/TID). */
export function threadCpu(pid: number): Map<number, { comm: string; us: number }> {
  const out = new Map<number, { comm: string; us: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      out.set(Number(tid), { comm, us: (Number(f[11]) + Number(f[12])) * TICK_US });
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

// Shared by the e2e files: the compiled `huey` binary, built once per `bun test` process, and
// helpers to spawn it (and producer processes) with piped output, always killed afterwards.
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import type { Subprocess } from "bun";
import { FIXTURES, ROOT, tempDir, waitFor } from "../harness";

let built: Promise<string> | null = null;

/**
 * Path of the compiled binary. The first call builds it into a temp folder through build.ts
 * (HUEY_BUILD_OUT); later calls, from any e2e file of this process, share that build.
 * HUEY_E2E_BINARY=/path/to/huey skips the build and tests that binary instead.
 */
export function hueyBinary(): Promise<string> {
  return (built ??= build());
}

async function build(): Promise<string> {
  if (process.env.HUEY_E2E_BINARY) return process.env.HUEY_E2E_BINARY;
  const out = join(tempDir("huey-bin-"), "huey");
  const p = Bun.spawn(["bun", "run", "build.ts"], {
    cwd: ROOT,
    env: { ...process.env, HUEY_BUILD_OUT: out },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout, stderr] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  if (code !== 0 || !existsSync(out)) throw new Error(`build.ts failed (exit ${code}):\n${stdout}\n${stderr}`);
  return out;
}

/** Environment for children: ours, minus colour overrides (they must decide from the pipe alone). */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  delete env.FORCE_COLOR;
  delete env.NO_COLOR;
  return { ...env, ...extra };
}

/** A spawned process whose stdout and stderr are collected as they arrive. */
export class Child {
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  #out = "";
  #err = "";
  readonly #drained: Promise<void>;

  constructor(cmd: string[], options: { cwd: string; env: Record<string, string> }) {
    this.proc = Bun.spawn(cmd, { cwd: options.cwd, env: options.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    live.add(this);
    void this.proc.exited.then(() => live.delete(this));
    this.#drained = Promise.all([
      collect(this.proc.stdout, (s) => (this.#out += s)),
      collect(this.proc.stderr, (s) => (this.#err += s)),
    ]).then(() => undefined);
  }

  get stdout(): string {
    return this.#out;
  }

  get stderr(): string {
    return this.#err;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Wait until stderr matches `pattern`; fails early, with the output, if the process exits first. */
  async waitForStderr(pattern: RegExp | string, what: string, timeoutMs = 30_000): Promise<void> {
    const hit = () => (typeof pattern === "string" ? this.#err.includes(pattern) : pattern.test(this.#err));
    try {
      await waitFor(
        () => {
          if (hit()) return true;
          if (!this.running) throw new Error(`process exited (${this.proc.exitCode}) before ${what}; stderr:\n${this.#err}`);
          return false;
        },
        what,
        timeoutMs,
      );
    } catch (err) {
      // The stderr as it is when the wait fails, not as it was when the wait began.
      if (this.running) throw new Error(`${err instanceof Error ? err.message : String(err)}; stderr so far:\n${this.#err}`);
      throw err;
    }
  }

  /** Exit code once the process ended and its output is read; fails after `timeoutMs`. */
  async exit(timeoutMs = 30_000): Promise<number> {
    let timer: Timer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`process did not exit within ${timeoutMs}ms; stderr:\n${this.#err}`)), timeoutMs);
    });
    try {
      const code = await Promise.race([this.proc.exited, timeout]);
      await this.#drained;
      return code;
    } finally {
      clearTimeout(timer);
    }
  }
}

async function collect(stream: ReadableStream<Uint8Array>, add: (s: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) add(decoder.decode(chunk, { stream: true }));
  add(decoder.decode());
}

const live = new Set<Child>();

/** SIGKILL every child still running: call from afterEach/afterAll. */
export async function killAll(): Promise<void> {
  const left = [...live];
  for (const c of left) if (c.running) c.proc.kill("SIGKILL");
  await Promise.all(left.map((c) => c.proc.exited));
  live.clear();
}

/** Start the binary. */
export async function spawnHuey(args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<Child> {
  const bin = await hueyBinary();
  return new Child([bin, ...args], { cwd: options.cwd, env: childEnv(options.env) });
}

/** Run the binary to the end: exit code, stdout, stderr. */
export async function runHuey(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const c = await spawnHuey(args, options);
  const code = await c.exit();
  return { code, stdout: c.stdout, stderr: c.stderr };
}

export const PRODUCER = join(FIXTURES, "producer.ts");

/** Run test/fixtures/producer.ts COMMAND in its own `bun` process; returns its JSON output. */
export async function produce<T = any>(env: Record<string, string>, command: string, ...args: string[]): Promise<T> {
  const c = new Child([process.execPath, PRODUCER, command, ...args], { cwd: ROOT, env: childEnv(env) });
  const code = await c.exit(60_000);
  if (code !== 0) throw new Error(`producer ${command} exited ${code}:\n${c.stderr}`);
  const line = c.stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(line) as T;
}

/**
 * A temp folder holding a copy of `fixture` as tasks.ts, and no node_modules anywhere above it:
 * "bun-huey" can only come from the binary's plugin. Returns the folder and its db paths.
 */
export function taskDir(fixture = "basic-fixture.ts"): { dir: string; env: { HUEY_DB: string; HUEY_RUNS_DB: string } } {
  const dir = tempDir("huey-e2e-");
  copyFileSync(join(FIXTURES, fixture), join(dir, "tasks.ts"));
  for (let d = dir; ; d = join(d, "..")) {
    if (existsSync(join(d, "node_modules"))) throw new Error(`${d} has node_modules; the e2e temp folder must not`);
    if (d === "/") break;
  }
  return { dir, env: { HUEY_DB: join(dir, "queue.db"), HUEY_RUNS_DB: join(dir, "runs.db") } };
}

/** Lines of stderr, for checking that an error is one clear line. */
export function lines(s: string): string[] {
  return s.split("\n").filter((l) => l.trim() !== "");
}

/**
 * The fixture's runs database (tasks record runs there), created before the consumer starts so
 * the test can read it at any time. Same tables as basic-fixture.ts.
 */
export function openRuns(file: string): Database {
  const db = new Database(file, { create: true });
  db.run("PRAGMA busy_timeout = 10000");
  db.run("PRAGMA journal_mode = WAL");
  db.run("CREATE TABLE IF NOT EXISTS runs (key TEXT PRIMARY KEY, n INTEGER NOT NULL)");
  db.run("CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT NOT NULL)");
  return db;
}

/** What the fixture's tasks logged, in order. */
export function logged(runs: Database): string[] {
  return runs.query<{ what: string }, []>("SELECT what FROM log ORDER BY seq").all().map((r) => r.what);
}

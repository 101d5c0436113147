// `bun run bench`: bun-huey against raw baselines of its backend's own client (bun:sqlite: the same
// statements; Bun.SQL and Bun's Redis client: comparable raw statements, see bench/_raw_services.ts).
//
//   bun run bench                      20,000 no-op tasks that return a value, every measurement
//   bun run bench --count 100000       the RSS target is stated for a 100,000-task drain
//   bun run bench --only drain,latency single | bulk | drain | latency | idle | startup
//   bun run bench --json               machine-readable results on stdout (progress on stderr)
//   bun run bench --consumer source    run the consumer as `bun src/cli.ts` instead of the binary
//   bun run bench --profile DIR        (source consumer) write a CPU profile of each consumer to DIR
//   bun run bench --backend postgres   PostgreSQL (HUEY_BENCH_PG_URL) or redis (HUEY_BENCH_REDIS_URL)
//   bun run bench --lib ../old         another checkout (built): its library enqueues, its binary drains
//
// Every measurement uses a fresh temp database; spawned consumers are killed and temp files
// removed on exit, on errors and on Ctrl-C.
import { copyFileSync, existsSync, mkdtempSync, readdirSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Huey } from "../src/index";
import { MAX_LEASE_BATCH } from "../src/consumer/engine";
import { BACKENDS, useLibrary, type Backend, type FreshStore } from "./_backends";
import { Child, cleanupAll, cpuPercent, installCleanupHandlers, memory, removeTempDir, threadCount, threadCpu, trackTempDir } from "./_proc";
import { rawLatency } from "./_raw_latency";
import { defineTasks } from "./tasks";

const ROOT = resolve(import.meta.dir, "..");
const ALL = ["single", "bulk", "drain-cold", "drain-steady", "latency", "idle", "startup", "observe", "dashboard", "ids"] as const;
type Name = (typeof ALL)[number];

const USAGE = `usage: bun run bench [--count N] [--steady] [--workers 0,1,2,4] [--only ${ALL.join(",")}] [--json]
                     [--backend sqlite|postgres|redis] [--consumer binary|source] [--binary PATH] [--lib DIR]
                     [--latency-samples N] [--latency-raw N] [--idle-seconds S] [--profile DIR]

  --count N            tasks of single and bulk enqueue and of the cold drain (default 20000)
  --only LIST          measurements, comma-separated; "drain" means drain-cold,drain-steady
      drain-cold       a fresh consumer drains --count tasks (JIT warm-up included)
      drain-steady     the same consumer then drains 100,000 (and 1,000,000 with --steady or
                       --count 1000000; that takes minutes); a drain-steady run alone still runs
                       the cold drain first as warm-up and does not report it
      observe          bench/observe-overhead.ts: a 100,000 drain with statistics on and off,
                       interleaved, 3 rounds (target: under 5% slower with them)
      dashboard        bench/dashboard.ts: the dashboard API's response times with 1,000,000
                       queued (target: overview under 100 ms on SQLite); ~1 min
      ids              bench/ids.ts: lease and commit per task of the SQLite store with
                       time-ordered (generated, UUIDv7) against random (UUIDv4) task ids; sqlite only
  --workers LIST       consumer -w values to drain with (default 0,1,2,4); with 2 and 4 a row
                       compares their steady drains (target: -w 4 not slower than -w 2)
  --latency-samples N  latency samples, random idle gaps 20ms..1s (seeded; default 100, ~1 min)
  --latency-raw N      samples of each raw latency baseline (sqlite; default: --latency-samples,
                       ~1 min each; 0 to skip them)
  --binary PATH        the consumer binary to run (default dist/huey, rebuilt if stale); any build
                       whose "run" takes tasks.ts -w N -q
  --lib DIR            another bun-huey checkout (another version): the bench process enqueues and
                       reads results with DIR/src/index.ts, the consumer is DIR/dist/huey (build it
                       there first; --binary overrides) or bun DIR/src/cli.ts with --consumer source.
                       A consumer can only read the store and messages of its own version, so an
                       older binary needs its own checkout here. The raw baselines are this
                       checkout's either way: ratios of two versions compare to the same yardstick

Each drain row shows its ratio to two raw baselines measured in the same run: "ours" (the
consumer's statement shapes, leasing as many rows per statement as the consumer, ${MAX_LEASE_BATCH}) and "ceiling" (the
fastest shape known for the same work, one thread; sqlite only), and the consumer's CPU per task
by thread from /proc. A drain is timed until the consumer prints that its last result is written
(bench/tasks.ts counts "complete" signals); the bench does not read the store while it is timed.

Each latency row (sqlite) shows its ratio to two raw baselines of the same path, another process
and its Worker, measured in the same run with the same gaps (bench/_raw_latency.ts): "ours" (the
storage's statements and wake-ups, no library) and "ceiling" (the wake-ups alone: a file touch,
a Worker round trip and a touch back, no database: the floor of this machine).`;

// ------------------------------------------------------------------ options

const { values: opt } = parseArgs({
  options: {
    count: { type: "string", default: "20000" },
    only: { type: "string" },
    json: { type: "boolean", default: false },
    backend: { type: "string", default: "sqlite" },
    consumer: { type: "string", default: "binary" },
    binary: { type: "string" },
    lib: { type: "string" },
    "latency-samples": { type: "string", default: "100" },
    "latency-raw": { type: "string" },
    steady: { type: "boolean", default: false },
    workers: { type: "string", default: "0,1,2,4" },
    "idle-seconds": { type: "string", default: "3" },
    profile: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
  strict: true,
});
if (opt.help) {
  console.log(USAGE);
  process.exit(0);
}
function usage(msg: string): never {
  console.error(`bench: ${msg}\n${USAGE}`);
  process.exit(2);
}
const count = Number(opt.count);
if (!Number.isInteger(count) || count < 1000) usage(`--count must be a whole number of 1000 or more, got "${opt.count}"`);
const samples = Number(opt["latency-samples"]);
if (!Number.isInteger(samples) || samples < 10) usage(`--latency-samples must be a whole number of 10 or more`);
const rawSamples = opt["latency-raw"] === undefined ? samples : Number(opt["latency-raw"]);
if (!Number.isInteger(rawSamples) || (rawSamples !== 0 && rawSamples < 10)) usage(`--latency-raw must be 0 (no raw latency baselines) or a whole number of 10 or more`);
const idleSeconds = Number(opt["idle-seconds"]);
if (!(idleSeconds > 0)) usage(`--idle-seconds must be a positive number`);
const only = new Set<Name>();
for (const n of (opt.only ?? ALL.join(",")).replace(/\bdrain\b(?!-)/g, "drain-cold,drain-steady").split(",").map((s) => s.trim()).filter(Boolean)) {
  if (!(ALL as readonly string[]).includes(n)) usage(`--only: unknown measurement "${n}"; choose from ${ALL.join(", ")}`);
  only.add(n as Name);
}
const workersList = opt.workers!.split(",").map(Number);
if (workersList.some((w) => !Number.isInteger(w) || w < 0)) usage(`--workers must be whole numbers of 0 or more, comma-separated (0: tasks on the consumer's thread)`);
const steadySizes = [100_000, ...(opt.steady || count >= 1_000_000 ? [1_000_000] : [])].filter((n) => n !== count);
if (opt.consumer !== "binary" && opt.consumer !== "source") usage(`--consumer must be "binary" or "source"`);
const consumerMode = opt.profile ? "source" : opt.consumer;
const backend: Backend = BACKENDS[opt.backend!] ?? usage(`--backend must be one of ${Object.keys(BACKENDS).join(", ")}`);
// The checkout whose library the bench process uses and whose consumer it runs (default: this one).
const LIB_ROOT = opt.lib ? resolve(opt.lib) : ROOT;
if (opt.lib) {
  const index = join(LIB_ROOT, "src", "index.ts");
  if (!existsSync(index)) usage(`--lib: no bun-huey checkout at ${LIB_ROOT} (no src/index.ts)`);
  if (!existsSync(join(LIB_ROOT, "node_modules"))) usage(`--lib: ${LIB_ROOT} has no node_modules; run bun install --frozen-lockfile there`);
  const runsConsumer = ["drain-cold", "drain-steady", "latency", "idle", "startup"].some((n) => only.has(n as Name));
  if (runsConsumer && consumerMode === "binary" && !opt.binary && !existsSync(join(LIB_ROOT, "dist", "huey"))) usage(`--lib: ${LIB_ROOT}/dist/huey is missing; build it there (bun run build) or pass --binary`);
  useLibrary(await import(index));
}
const unavailable = await backend.check();
if (unavailable) {
  console.error(`bench: backend ${backend.name}: ${unavailable}`);
  process.exit(2);
}

const progress = (s: string) => process.stderr.write(`bench: ${s}\n`);

// ------------------------------------------------------------------ results

interface Row {
  key: string;
  label: string;
  value: number;
  unit: "/s" | "ms" | "%" | "MB" | "x";
  /** The raw client figure this one compares to (backend.rawLabel; for drains the "ours" shape). */
  baseline?: number;
  /** Drains: the raw "ceiling" shape measured in the same run. */
  ceiling?: number;
  /** Drains: consumer CPU per task by thread, microseconds. */
  cpu?: CpuSplit;
  target?: { op: ">=" | "<=" | "<"; value: number; note?: string };
  note?: string;
}
const rows: Row[] = [];
const info: Record<string, unknown> = { backend: backend.name, count, consumer: consumerMode, bun: Bun.version, cores: navigator.hardwareConcurrency, ...(opt.lib ? { lib: LIB_ROOT } : {}) };

// ------------------------------------------------------------------ setup

installCleanupHandlers();
const dir = trackTempDir(mkdtempSync(join(tmpdir(), "huey-bench-")));
copyFileSync(join(ROOT, "bench", "tasks.ts"), join(dir, "tasks.ts"));
let storeN = 0;

function freshStore(label: string, durable = false): FreshStore {
  return backend.fresh(dir, `${label}-${storeN++}`, durable);
}

/** The compiled binary: dist/huey if it is newer than every source file, else a fresh build in the temp folder. */
async function resolveBinary(): Promise<string> {
  if (opt.binary) return resolve(opt.binary);
  if (opt.lib) {
    info.binary = `${LIB_ROOT}/dist/huey (--lib, used as built)`;
    return join(LIB_ROOT, "dist", "huey");
  }
  const dist = join(ROOT, "dist", "huey");
  const newest = newestMtime([join(ROOT, "src"), join(ROOT, "build.ts"), join(ROOT, "package.json")]);
  if (existsSync(dist) && statSync(dist).mtimeMs > newest) {
    info.binary = "dist/huey (up to date)";
    return dist;
  }
  const out = join(dir, "bin", "huey");
  progress(`dist/huey is ${existsSync(dist) ? "older than src/" : "missing"}: building into ${out}`);
  const p = Bun.spawnSync(["bun", "run", "build.ts"], { cwd: ROOT, env: { ...process.env, HUEY_BUILD_OUT: out }, stderr: "pipe", stdout: "pipe" });
  if (p.exitCode !== 0) throw new Error(`build failed:\n${p.stderr.toString()}${p.stdout.toString()}`);
  info.binary = "fresh build (dist/huey was stale)";
  return out;
}

function newestMtime(paths: string[]): number {
  let max = 0;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const e of readdirSync(p, { recursive: true }) as string[]) {
        const m = statSync(join(p, e)).mtimeMs;
        if (m > max) max = m;
      }
    } else if (st.mtimeMs > max) max = st.mtimeMs;
  }
  return max;
}

let binary = "";
function consumerCommand(workers: number, quiet = true): string[] {
  const args = ["run", "tasks.ts", "-w", String(workers), ...(quiet ? ["-q"] : [])];
  if (consumerMode === "binary") return [binary, ...args];
  const prof = opt.profile ? ["--cpu-prof-md", `--cpu-prof-dir=${resolve(opt.profile)}`, `--cpu-prof-name=consumer-w${workers}-${Date.now()}.md`] : [];
  return ["bun", ...prof, join(LIB_ROOT, "src", "cli.ts"), ...args];
}

interface Running {
  child: Child;
  store: FreshStore;
  huey: Huey;
  noop: ReturnType<typeof defineTasks>["noop"];
  readyMs: number;
}

/**
 * Start a consumer on a fresh store and wait until it runs tasks. With -q it logs no
 * "consumer started" line, so readiness is proven by a warm-up task's result.
 */
async function startConsumer(label: string, workers: number, env: Record<string, string> = {}): Promise<Running> {
  const store = freshStore(label);
  const { noop } = defineTasks(store.huey);
  const child = new Child(consumerCommand(workers), { cwd: dir, env: { ...process.env, ...store.env, ...env, NO_COLOR: "1" } });
  const r = await noop(-1);
  const v = await Promise.race([r.get({ blocking: true, timeout: 60_000, preserve: false }), child.exitedEarly()]).catch((err: Error) => {
    // A binary of another version refuses this checkout's store (or reads none of its tasks).
    if (opt.binary && !opt.lib) err.message += `\n(--binary of another bun-huey version? pass --lib with its checkout so the bench enqueues with that version)`;
    throw err;
  });
  if (v !== -1) throw new Error(`warm-up task returned ${JSON.stringify(v)}, expected -1`);
  return { child, store, huey: store.huey, noop, readyMs: performance.now() - child.startedAt };
}

async function stopConsumer(c: Running): Promise<void> {
  const code = await c.child.stop();
  await c.store.close();
  if (code !== 0) progress(`warning: consumer exited with code ${code}; output:\n${c.child.output}`);
}

// ------------------------------------------------------------------ measurements

/** Calls a second from one producer: each awaited alone (`single`), or in rounds of 100 awaited with Promise.all. */
async function enqueueRate(store: FreshStore, n: number, concurrent: boolean): Promise<number> {
  const { noop } = defineTasks(store.huey);
  const round = concurrent ? 100 : 1;
  const go = (from: number, k: number) => (k === 1 ? noop(from) : Promise.all(Array.from({ length: k }, (_, j) => noop(from + j))));
  for (let i = 0; i < 2; i++) await go(-1000 * round, round); // open the store, warm up the JIT
  for (let i = 0; i < 200; i += round) await go(-i - 1, round);
  const t0 = performance.now();
  for (let i = 0; i < n; i += round) await go(i, Math.min(round, n - i));
  const rate = n / ((performance.now() - t0) / 1000);
  await store.close();
  return rate;
}

async function measureSingle(): Promise<void> {
  progress(`single enqueue: ${count} x await noop(i), one commit each`);
  const raw = await backend.raw.single(dir, count);
  const rate = await enqueueRate(freshStore("single"), count, false);
  rows.push({ key: "single_enqueue", label: "single enqueue", value: rate, unit: "/s", baseline: raw, target: backend.targets.single, note: `await task(i); ${backend.rawNotes.single}` });
  // 100 calls in flight at once from one process: the producer stores the calls of one turn of the
  // event loop in one commit (src/producer-batch.ts). Its raw baseline: 100 INSERTs per transaction.
  progress(`concurrent enqueue: ${count} as rounds of 100 concurrent await noop(i)`);
  const rawConc = await backend.raw.bulk(dir, count, 100);
  const concRate = await enqueueRate(freshStore("concurrent"), count, true);
  rows.push({ key: "concurrent_enqueue", label: "100 concurrent enqueues", value: concRate, unit: "/s", baseline: rawConc, target: backend.targets.concurrent, note: `Promise.all of 100 task(i) calls, each resolving once stored; ${backend.rawNotes.bulk(100)}` });
  // The issue's target for group commit where a commit is expensive (an fsync, a round trip): 100
  // concurrent calls at least 10x the rate of calls awaited one by one (SQLite FULL and PostgreSQL).
  // The servers commit durably as they are; SQLite measures it on a second store with synchronous
  // FULL (fewer calls: an fsync each).
  const gainTarget = backend.targets.groupCommitGain;
  if (backend.durableVariant) {
    const n = Math.max(1000, Math.round(count / 10));
    progress(`durable enqueue (${backend.durableVariant}): ${n} x await noop(i), then ${n * 10} as rounds of 100 concurrent`);
    const one = await enqueueRate(freshStore("single-durable", true), n, false);
    const many = await enqueueRate(freshStore("concurrent-durable", true), n * 10, true);
    rows.push({ key: "single_enqueue_durable", label: `single enqueue, ${backend.durableVariant}`, value: one, unit: "/s", note: `await task(i), ${n} calls; a commit (and an fsync) each` });
    rows.push({ key: "concurrent_enqueue_durable", label: `100 concurrent, ${backend.durableVariant}`, value: many, unit: "/s", note: `Promise.all of 100 task(i) calls, ${n * 10} calls` });
    rows.push({ key: "group_commit_gain_durable", label: `group-commit gain, ${backend.durableVariant}`, value: many / one, unit: "x", target: gainTarget, note: "100 concurrent calls against calls awaited one by one, both durable" });
  } else {
    rows.push({ key: "group_commit_gain", label: "group-commit gain", value: concRate / rate, unit: "x", target: gainTarget, note: "100 concurrent calls against calls awaited one by one (a commit each)" });
  }
}

async function measureBulk(): Promise<void> {
  const chunk = 1000;
  progress(`bulk enqueue: ${count} in huey.enqueueMany calls of ${chunk}, cold (first in this process) then warm`);
  const raw = await backend.raw.bulk(dir, count, chunk);
  const run = async (label: string, warm: boolean) => {
    const store = freshStore(label);
    const { noop } = defineTasks(store.huey);
    if (warm) for (let k = 0; k < 5; k++) await store.huey.enqueueMany(Array.from({ length: chunk }, (_, i) => [noop, [i]] as const));
    const t0 = performance.now();
    for (let i = 0; i < count; i += chunk) {
      const calls = [];
      for (let j = i; j < Math.min(count, i + chunk); j++) calls.push([noop, [j]] as const);
      await store.huey.enqueueMany(calls);
    }
    const rate = count / ((performance.now() - t0) / 1000);
    await store.close();
    return rate;
  };
  const cold = await run("bulk-cold", false);
  const warm = await run("bulk-warm", true);
  rows.push({ key: "bulk_enqueue_cold", label: "bulk enqueue, cold", value: cold, unit: "/s", baseline: raw, note: `enqueueMany x${chunk}, the first in this process; ${backend.rawNotes.bulk(chunk)}` });
  rows.push({ key: "bulk_enqueue", label: "bulk enqueue, warm", value: warm, unit: "/s", baseline: raw, target: backend.targets.bulk, note: `enqueueMany x${chunk} after 5 warm-up calls; ${backend.rawNotes.bulk(chunk)}` });
}

const rawCache = new Map<string, number | undefined>();
async function rawFigures(n: number): Promise<{ ours: number; ceiling?: number }> {
  const k = `ours-${n}`;
  if (!rawCache.has(k)) {
    progress(`raw drain baselines for ${n}: ours, ceiling`);
    rawCache.set(k, await backend.raw.drain(dir, n, MAX_LEASE_BATCH));
    rawCache.set(`ceiling-${n}`, backend.raw.ceiling ? await backend.raw.ceiling(dir, n, MAX_LEASE_BATCH) : undefined);
  }
  return { ours: rawCache.get(k)!, ceiling: rawCache.get(`ceiling-${n}`) };
}

interface CpuSplit {
  mainUs: number;
  workerUs: number[];
  /** JavaScriptCore's JIT compiler threads. */
  jitUs: number;
  /** The SQLite checkpoint Worker (src/storage/_sqlite-checkpointer.ts). */
  checkpointUs: number;
  otherUs: number;
  benchUs: number;
}

/**
 * CPU per task by thread of the consumer between two /proc snapshots: the main thread, each Worker that
 * runs tasks (threads named huey-worker-N), the JIT compiler's threads (JITWorker), the checkpoint
 * Worker (huey-checkpoint), the rest (GC helpers, allocator). A build older than the thread names:
 * threads named Worker (its checkpoint Worker among them), else the busiest non-main ones.
 */
function cpuSplit(pid: number, before: ReturnType<typeof threadCpu>, after: ReturnType<typeof threadCpu>, benchUs: number, n: number, workers: number): CpuSplit {
  const deltas: { tid: number; comm: string; us: number }[] = [];
  for (const [tid, a] of after) deltas.push({ tid, comm: a.comm, us: a.us - (before.get(tid)?.us ?? 0) });
  const main = deltas.find((d) => d.tid === pid)?.us ?? 0;
  const rest = deltas.filter((d) => d.tid !== pid).sort((a, b) => b.us - a.us);
  const sum = (xs: { us: number }[]) => xs.reduce((t, d) => t + d.us, 0);
  const jit = rest.filter((d) => d.comm.startsWith("JIT"));
  const checkpoint = rest.filter((d) => d.comm === "huey-checkpoint");
  let ws = rest.filter((d) => d.comm.startsWith("huey-worker"));
  if (ws.length === 0) ws = rest.filter((d) => d.comm === "Worker");
  if (ws.length < workers) ws = rest.filter((d) => !d.comm.startsWith("JIT")).slice(0, workers);
  const named = new Set([...ws, ...jit, ...checkpoint].map((d) => d.tid));
  return {
    mainUs: main / n,
    workerUs: ws.map((w) => w.us / n),
    jitUs: sum(jit) / n,
    checkpointUs: sum(checkpoint) / n,
    otherUs: sum(rest.filter((d) => !named.has(d.tid))) / n,
    benchUs: benchUs / n,
  };
}

function cpuNote(c: CpuSplit): string {
  const w = c.workerUs.reduce((a, b) => a + b, 0);
  const each = c.workerUs.length > 1 ? ` (${c.workerUs.map((x) => x.toFixed(1)).join("+")})` : "";
  return `CPU us/task: main ${c.mainUs.toFixed(1)}, Workers ${w.toFixed(1)}${each}, JIT ${c.jitUs.toFixed(1)}, checkpoint ${c.checkpointUs.toFixed(1)}, other threads ${c.otherUs.toFixed(1)}, bench ${c.benchUs.toFixed(1)}`;
}

/**
 * Drains of one consumer of `workers` Workers, started fresh: each phase enqueues its tasks in one
 * transaction and times until the consumer prints that the last result is written (the tasks
 * file's `complete` counter, HUEY_BENCH_EXPECT): the bench reads nothing from the store while a
 * drain is timed, and checks the results after the clock stops. Returns the still-running consumer.
 */
async function measureDrains(workers: number, phases: { n: number; key: string; label: string; target?: Row["target"]; report: boolean }[]): Promise<Running> {
  const cumulative: number[] = [];
  let total = 1; // the warm-up task
  for (const p of phases) cumulative.push((total += p.n));
  progress(`drain -w ${workers}: starting the consumer`);
  const c = await startConsumer(`drain-w${workers}`, workers, { HUEY_BENCH_EXPECT: cumulative.join(",") });
  info[`consumer_ready_ms_w${workers}`] = Math.round(c.readyMs);
  let base = 0;
  for (const [k, p] of phases.entries()) {
    const raw = await rawFigures(p.n);
    const calls = Array.from({ length: p.n }, (_, i) => [c.noop, [base + i]] as const);
    // The raw baselines just run here leave garbage: collect it now, before the enqueue starts the
    // consumer draining, or this process's collector competes with the first drain of a run for the
    // two cores (bench CPU 2.2-2.6 us a task in a run's first drain against 0.7-1.3 in the others).
    Bun.gc(true);
    const e0 = performance.now();
    const handles = await c.huey.enqueueMany(calls); // one transaction: the consumer sees all of them at once
    const enqueueMs = performance.now() - e0;
    progress(`drain -w ${workers} ${p.label}: ${p.n} enqueued in ${enqueueMs.toFixed(0)}ms, draining`);
    const cpu0 = threadCpu(c.child.pid);
    const b0 = process.cpuUsage();
    const t0 = performance.now();
    // The consumer drains meanwhile: its time counts against us.
    await c.store.settle?.();
    const doneRe = new RegExp(`huey-bench: complete ${cumulative[k]}\n`);
    await Promise.race([c.child.waitForOutput(doneRe, Math.max(120_000, p.n)), c.child.exitedEarly()]);
    const ms = performance.now() - t0;
    const b1 = process.cpuUsage(b0);
    const cpu1 = threadCpu(c.child.pid);
    // Checked after the clock stopped.
    const results = await c.huey.resultCount();
    if (results !== base + p.n) throw new Error(`drain -w ${workers} ${p.label}: the consumer reported ${cumulative[k]} completions but ${results} results are stored, expected ${base + p.n}`);
    if (!(await c.store.drained())) throw new Error(`drain -w ${workers} ${p.label}: tasks still queued after the last completion`);
    for (const i of [0, Math.floor(p.n / 2), p.n - 1]) {
      const value = await handles.at(i)!.get();
      if (value !== base + i) throw new Error(`drain -w ${workers}: the result of noop(${base + i}) read back as ${JSON.stringify(value)}`);
    }
    const split = cpuSplit(c.child.pid, cpu0, cpu1, b1.user + b1.system, p.n, workers);
    const rate = p.n / (ms / 1000);
    if (p.report) rows.push({ key: p.key, label: p.label, value: rate, unit: "/s", baseline: raw.ours, ceiling: raw.ceiling, target: p.target, cpu: split, note: `${(ms / 1000).toFixed(2)}s; ${cpuNote(split)}` });
    base += p.n;
  }
  return c;
}
function recordMemory(c: Running, label: string): void {
  const m = memory(c.child.pid);
  rows.push({
    key: "consumer_rss",
    label: `consumer RSS ${label}`,
    value: m.rss / 2 ** 20,
    unit: "MB",
    target: { op: "<=", value: 150, note: only.has("drain-steady") || count >= 100_000 ? undefined : "target is after 100,000: add drain-steady" },
    note: `peak ${(m.peak / 2 ** 20).toFixed(0)} MB, ${threadCount(c.child.pid)} threads`,
  });
}

async function recordIdle(c: Running, label: string): Promise<void> {
  await Bun.sleep(1000); // let any post-drain work settle
  progress(`idle CPU: ${idleSeconds}s of an idle consumer (${label})`);
  const pct = await cpuPercent(c.child.pid, idleSeconds * 1000);
  rows.push({ key: "idle_cpu", label: `idle consumer CPU`, value: pct, unit: "%", target: { op: "<", value: 1 }, note: `${label}, over ${idleSeconds}s, all threads` });
}

/** A seeded PRNG (mulberry32): the same gaps on every run. */
function rng(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let x = Math.imul(t ^ (t >>> 15), 1 | t);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Idle gaps of 20 ms to 1 s from a PRNG. */
function gapsOf(next: () => number): () => number {
  return () => 20 + next() * 980;
}

async function measureLatency(): Promise<Running> {
  progress(`latency: ${samples} single tasks, enqueue -> result readable, random idle gaps 20ms..1s (seed 14), ~${Math.round((samples * 0.51))}s`);
  const c = await startConsumer("latency", 1);
  const gap = gapsOf(rng(14));
  const lat: number[] = [];
  for (let i = 0; i < samples + 5; i++) {
    await Bun.sleep(gap()); // the consumer goes idle between tasks
    const t0 = performance.now();
    const r = await c.noop(i);
    const v = await r.get({ blocking: true, timeout: 10_000 });
    const ms = performance.now() - t0;
    if (v !== i) throw new Error(`latency: task ${i} returned ${JSON.stringify(v)}`);
    if (i >= 5) lat.push(ms); // the first five warm up
  }
  lat.sort((a, b) => a - b);
  const pick = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
  // The bare path, same gaps, same run (sqlite): its statements and wake-ups ("ours"), and the
  // wake-ups alone ("ceiling"). The consumer above stays up, idle, as it does for the idle CPU row.
  let ours: number[] | null = null;
  let hops: number[] | null = null;
  if (backend.name === "sqlite" && rawSamples > 0) {
    progress(`raw latency baselines: ${rawSamples} samples each, ours (statements and wake-ups) and ceiling (wake-ups alone), ~${Math.round(rawSamples * 0.51 * 2)}s`);
    ours = await rawLatency(dir, rawSamples, "ours", gapsOf(rng(14)));
    hops = await rawLatency(dir, rawSamples, "hops", gapsOf(rng(14)));
  }
  const raw = (p: number) => ({ ...(ours && { baseline: pick(ours, p) }), ...(hops && { ceiling: pick(hops, p) }) });
  const note = `n=${lat.length}, gaps 20ms..1s, min ${lat[0]!.toFixed(2)}${ours && hops ? ` (raw ${ours[0]!.toFixed(2)}, ceiling ${hops[0]!.toFixed(2)})` : ""}`;
  rows.push({ key: "latency_p50", label: "latency p50", value: pick(lat, 50), unit: "ms", ...raw(50), target: backend.targets.latencyP50, note });
  // Under 200 samples the 99th percentile is the largest one: say so rather than let it pass for a p99.
  rows.push({ key: "latency_p99", label: "latency p99", value: pick(lat, 99), unit: "ms", ...raw(99), target: backend.targets.latencyP99, ...(lat.length < 200 && { note: `n=${lat.length}: the largest sample (--latency-samples 200 or more for a p99 that is not the max)` }) });
  rows.push({ key: "latency_max", label: "latency max", value: lat[lat.length - 1]!, unit: "ms", ...(ours && hops && { baseline: ours[ours.length - 1]!, ceiling: hops[hops.length - 1]! }) });
  return c;
}

async function measureStartup(): Promise<void> {
  progress("startup: huey --help x10, huey status x10, huey run start-to-ready x3");
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const time = (cmd: string[], env: Record<string, string> = {}) => {
    const t0 = performance.now();
    const p = Bun.spawnSync(cmd, { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env, NO_COLOR: "1" } });
    const ms = performance.now() - t0;
    if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited with ${p.exitCode}: ${p.stderr.toString()}`);
    return ms;
  };
  const helpBin: number[] = [];
  const helpSrc: number[] = [];
  time([binary, "--help"]); // page the binary in
  for (let i = 0; i < 10; i++) helpBin.push(time([binary, "--help"]));
  for (let i = 0; i < 5; i++) helpSrc.push(time(["bun", join(LIB_ROOT, "src", "cli.ts"), "--help"]));
  rows.push({ key: "help_ms", label: "huey --help (binary)", value: median(helpBin), unit: "ms", target: { op: "<", value: 50 }, note: `median of 10, min ${Math.min(...helpBin).toFixed(1)}` });
  rows.push({ key: "help_src_ms", label: "huey --help (bun src/cli.ts)", value: median(helpSrc), unit: "ms", note: "median of 5, for reference" });
  // huey status: loads the tasks file, opens the store, counts; on a fresh store of this backend.
  const statusStore = freshStore("startup-status");
  const statusBin: number[] = [];
  time([binary, "status", "tasks.ts"], statusStore.env);
  for (let i = 0; i < 10; i++) statusBin.push(time([binary, "status", "tasks.ts"], statusStore.env));
  await statusStore.close();
  rows.push({ key: "status_ms", label: "huey status (binary)", value: median(statusBin), unit: "ms", target: { op: "<", value: 50 }, note: `median of 10, min ${Math.min(...statusBin).toFixed(1)}` });
  for (const w of [1, 4]) {
    const ready: number[] = [];
    for (let i = 0; i < 3; i++) {
      const store = freshStore(`startup-w${w}`);
      const child = new Child([binary, "run", "tasks.ts", "-w", String(w)], { cwd: dir, env: { ...process.env, ...store.env, NO_COLOR: "1" } });
      ready.push(await child.waitForOutput(/consumer started/, 30_000));
      await child.stop();
      await store.close();
    }
    rows.push({ key: `run_ready_ms_w${w}`, label: `huey run -w ${w}: start to ready`, value: median(ready), unit: "ms", note: `median of 3 (binary; "consumer started" logged)` });
  }
}

// ------------------------------------------------------------------ run

async function main(): Promise<void> {
  const t0 = performance.now();
  info.loadavg_start = loadavg()[0]!.toFixed(2);
  const drains = only.has("drain-cold") || only.has("drain-steady");
  const needsConsumer = drains || only.has("latency") || only.has("idle") || only.has("startup");
  if (needsConsumer && (consumerMode === "binary" || only.has("startup"))) binary = await resolveBinary();
  progress(`backend ${backend.name}, ${count} tasks, consumer: ${consumerMode === "binary" ? binary : `bun ${join(LIB_ROOT, "src", "cli.ts")}`}, library: ${join(LIB_ROOT, "src")}, temp ${dir}`);

  if (only.has("single")) await measureSingle();
  if (only.has("bulk")) await measureBulk();
  let idleDone = false;
  if (drains) {
    for (const [k, w] of workersList.entries()) {
      const phases: Parameters<typeof measureDrains>[1] = [
        { n: count, key: `drain_cold_w${w}`, label: `drain -w ${w}, cold ${count.toLocaleString("en-US")}`, target: w === 1 ? backend.targets.drainCold : undefined, report: only.has("drain-cold") },
      ];
      if (only.has("drain-steady")) for (const n of steadySizes) phases.push({ n, key: `drain_steady_${n}_w${w}`, label: `drain -w ${w}, steady ${n.toLocaleString("en-US")}`, target: w === 1 ? backend.targets.drainSteady : w === 0 ? backend.targets.drainInline : undefined, report: true });
      const c = await measureDrains(w, phases);
      const last = k === workersList.length - 1;
      if (last) {
        recordMemory(c, `after its drains (-w ${w})`);
        if (only.has("idle")) {
          await recordIdle(c, `-w ${w}, after its drains`);
          idleDone = true;
          // The row above is read the moment the last result is written, garbage of the drains included,
          // which the collector hands back within seconds: what the consumer holds at rest, for reference.
          const m = memory(c.child.pid);
          rows.push({ key: "consumer_rss_rest", label: `consumer RSS at rest (-w ${w})`, value: m.rss / 2 ** 20, unit: "MB", note: `after the idle CPU window (${idleSeconds + 1}s after its drains)` });
        }
      }
      await stopConsumer(c);
    }
  }
  // Issue 14: more Workers than cores must not drain slower (-w 4 against -w 2, the same steady drain).
  const steadyOf = (w: number) => rows.find((r) => r.key === `drain_steady_100000_w${w}`)?.value;
  const [two, four] = [steadyOf(2), steadyOf(4)];
  if (two && four) {
    rows.push({ key: "drain_w4_vs_w2", label: "drain -w 4 against -w 2, steady 100,000", value: four / two, unit: "x", target: { op: ">=", value: 1 }, note: "tasks/s of -w 4 over tasks/s of -w 2" });
  }
  if (only.has("latency") || (only.has("idle") && !idleDone)) {
    const c = only.has("latency") ? await measureLatency() : await startConsumer("idle", 4);
    if (only.has("idle") && !idleDone) await recordIdle(c, only.has("latency") ? "-w 1, after the latency run" : "-w 4, fresh");
    await stopConsumer(c);
  }
  if (only.has("startup")) await measureStartup();
  // Two measurements of their own scripts, run as they are and their figures printed as they print them
  // (each prints its raw baseline beside its figure): the cost of statistics on a drain, and the
  // dashboard's response times with 1,000,000 queued.
  if (only.has("observe")) await runScript("bench/observe-overhead.ts", []);
  if (only.has("dashboard")) await runScript("bench/dashboard.ts", []);
  if (only.has("ids") && opt.backend === "sqlite") await runScript("bench/ids.ts", []);
  info.seconds = Math.round((performance.now() - t0) / 100) / 10;
  info.loadavg_end = loadavg()[0]!.toFixed(2);

  if (opt.json) console.log(JSON.stringify({ ...info, results: rows.map(withVerdict) }, null, 2));
  else printTable();
}

async function runScript(path: string, args: string[]): Promise<void> {
  const p = Bun.spawn(["bun", path, ...args], { cwd: resolve(import.meta.dir, ".."), stdout: opt.json ? "pipe" : "inherit", stderr: "inherit" });
  const out = opt.json ? await new Response(p.stdout).text() : "";
  const code = await p.exited;
  if (code !== 0) throw new Error(`${path} exited with ${code}`);
  if (opt.json) info[path] = out.trim();
}

function verdict(r: Row): "ok" | "MISS" | "n/a" | "" {
  if (!r.target) return "";
  if (r.target.note) return "n/a";
  const { op, value } = r.target;
  const ok = op === ">=" ? r.value >= value : op === "<=" ? r.value <= value : r.value < value;
  return ok ? "ok" : "MISS";
}

function withVerdict(r: Row) {
  return {
    ...r,
    ratio: r.baseline ? r.value / r.baseline : undefined,
    ratio_ceiling: r.ceiling ? r.value / r.ceiling : undefined,
    verdict: verdict(r) || undefined,
  };
}

function fmt(v: number, unit: Row["unit"]): string {
  if (unit === "/s") return `${Math.round(v).toLocaleString("en-US")}/s`;
  if (unit === "ms") return `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`;
  if (unit === "%") return `${v.toFixed(2)} %`;
  if (unit === "x") return `${v < 10 ? v.toFixed(2) : v.toFixed(1)}x`;
  return `${v.toFixed(1)} MB`;
}

function printTable(): void {
  const head = ["measurement", "bun-huey", `${backend.rawLabel} (ours)`, "ratio", "ceiling", "ratio", "target", "", "notes"];
  const body = rows.map((r) => [
    r.label,
    fmt(r.value, r.unit),
    r.baseline ? fmt(r.baseline, r.unit) : "",
    r.baseline ? `${(r.value / r.baseline).toFixed(2)}x` : "",
    r.ceiling ? fmt(r.ceiling, r.unit) : "",
    r.ceiling ? `${(r.value / r.ceiling).toFixed(2)}x` : "",
    r.target ? `${r.target.op} ${fmt(r.target.value, r.unit)}` : "",
    verdict(r),
    [r.note, r.target?.note].filter(Boolean).join("; "),
  ]);
  const right = new Set([1, 2, 3, 4, 5]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  console.log();
  console.log(
    `bun-huey bench: ${count.toLocaleString("en-US")} no-op tasks that return a value; backend ${backend.name}; ` +
      `bun ${Bun.version}; ${navigator.hardwareConcurrency} cores; consumer ${consumerMode === "binary" ? `binary, ${info.binary ?? ""}` : "bun src/cli.ts"}` +
      (opt.lib ? `; library and consumer of ${LIB_ROOT}` : ""),
  );
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const b of body) console.log(line(b));
  const extra = Object.entries(info).filter(([k]) => k.startsWith("consumer_ready_ms"));
  if (extra.length) console.log(`\nconsumer spawn to first result (-q): ${extra.map(([k, v]) => `${k.replace("consumer_ready_ms_", "")} ${v} ms`).join(", ")}`);
  console.log(`total ${info.seconds}s; 1-min load average ${info.loadavg_start} at start, ${info.loadavg_end} at end (other processes on this machine skew the figures)`);
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  console.error(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
} finally {
  cleanupAll();
  removeTempDir(dir);
}
process.exit(failed ? 1 : 0);

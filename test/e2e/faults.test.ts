// "Nothing overwritten, nothing overlapped, nothing silent", black-box on the compiled binary: a consumer
// paused past its lease writes nothing; a lock holder paused past its lease is stopped and its stale writes
// are refused by their fence; a database file deleted or replaced under a consumer stops it with one line;
// a broken reload keeps the loaded version; a blocking get() with no free Worker slot is named a deadlock.
import { afterEach, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { SqliteHuey } from "../../src/index";
import { FIXTURES, waitFor } from "../harness";
import { openFaultsLog } from "../fixtures/faults-log";
import { hueyBinary, killAll, lines, spawnHuey, taskDir, type Child } from "./binary";

// Spawns Workers and processes on a 2-core machine: a minute per test, not bun's 5 s default.
setDefaultTimeout(60_000);

beforeAll(async () => {
  await hueyBinary();
}, 120_000);

afterEach(killAll);

/** A temp folder with the faults fixture as tasks.ts (and the log module it imports), and its outside log. */
function setup() {
  const { dir, env } = taskDir("faults-fixture.ts");
  copyFileSync(join(FIXTURES, "faults-log.ts"), join(dir, "faults-log.ts"));
  const log = openFaultsLog(env.HUEY_RUNS_DB);
  const producer = new SqliteHuey({ name: "faults", filename: env.HUEY_DB });
  return { dir, env, log, producer };
}

async function consumer(dir: string, env: Record<string, string>, mark: string, args: string[]): Promise<Child> {
  const c = await spawnHuey(["run", "tasks.ts", ...args], { cwd: dir, env: { ...env, HUEY_MARK: mark } });
  await c.waitForStderr("consumer started", `consumer ${mark} to start`);
  return c;
}

async function stopped(c: Child): Promise<number> {
  c.proc.kill("SIGTERM");
  return c.exit();
}

test("a late commit after a lost lease writes nothing: every result is the other consumer's", async () => {
  const { dir, env, log, producer } = setup();
  // retries: 2, as the consumer's task says. The tasks fail in A: a late write of A's would be a failure.
  const slow = producer.task("slow", { retries: 2 }, async (_key: string, _ms: number, _failIn: string) => ({ key: "", by: "" }));
  const N = 20;
  const results = [];
  for (let i = 0; i < N; i++) results.push(await slow(`k${i}`, 1_500, "A"));
  const args = ["-w", "2", "--concurrency", "10", "--lease", "1s"];
  const startsBy = (by: string) => log.query<{ n: number }, [string]>("SELECT count(*) AS n FROM starts WHERE by = ?").get(by)!.n;

  const a = await consumer(dir, env, "A", args);
  await waitFor(() => startsBy("A") === N, `consumer A to start all ${N} tasks`);
  a.proc.kill("SIGSTOP");
  // The pause outlasts the lease, as storage sees it: every row is still there and no lease holds
  // (no claim, see src/storage/_sqlite-claims.ts, nor a row's own lease, has an until in the future).
  const queue = new Database(env.HUEY_DB, { readonly: true });
  await waitFor(() => {
    const r = queue.query<{ rows: number; held: number }, [number]>(
      "SELECT (SELECT count(*) FROM queue) AS rows, (SELECT count(*) FROM queue WHERE leased_until > ?1) + (SELECT count(*) FROM claims WHERE until > ?1) AS held",
    ).get(Date.now())!;
    return r.rows === N && r.held === 0;
  }, "consumer A's leases to expire while it is stopped");
  queue.close();

  const b = await consumer(dir, env, "B", args);
  await waitFor(async () => (await producer.resultCount()) === N, `consumer B to store all ${N} results`);
  a.proc.kill("SIGCONT");
  await a.waitForStderr(/lost the lease|its lease was lost/, "consumer A to notice it lost the leases");
  // A stops only once every task it held is accounted for (its outcomes written or discarded).
  expect(await stopped(a)).toBe(0);
  expect(await stopped(b)).toBe(0);

  const values = await Promise.all(results.map((r) => r.get()));
  expect(values).toEqual(Array.from({ length: N }, (_, i) => ({ key: `k${i}`, by: "B" })));
  // A wrote nothing of them: no task completed there, and none was retried.
  expect(a.stderr).not.toMatch(/slow \S+ (complete|failed)/);
  expect(lines(b.stderr).filter((l) => /slow \S+ complete/.test(l)).length).toBe(N);
  expect(a.stderr + b.stderr).not.toContain("retrying");
  // Each ran once in A (whose outcome was dropped) and once in B: none a third time.
  const runs = log.query<{ key: string; by: string; n: number }, []>("SELECT key, by, count(*) AS n FROM starts GROUP BY key, by").all();
  expect(runs.length).toBe(2 * N);
  expect(runs.filter((r) => r.n !== 1)).toEqual([]);
  expect(await producer.failedCount()).toBe(0);
  expect({ pending: await producer.pendingCount(), scheduled: await producer.scheduledCount() }).toEqual({ pending: 0, scheduled: 0 });
  log.close();
  await producer.close();
});

test("a lock holder paused past its lease: the other consumer takes the lock; the holder's task is stopped, its stale writes refused, its outcome dropped", async () => {
  const { dir, env, log, producer } = setup();
  const guarded = producer.task("guarded", async (_tag: string, _steps: number, _stepMs: number) => ({ tag: "", by: "", fence: 0 }));
  const args = ["-w", "1", "--lease", "1s"];
  const a = await consumer(dir, env, "A", args);
  const b = await consumer(dir, env, "B", args);
  const tags = ["g1", "g2", "g3"];
  const results = [];
  for (const tag of tags) results.push(await guarded(tag, 6, 100));

  type Row = { seq: number; fence: number; tag: string; by: string; what: string };
  const first = (await waitFor(
    () => log.query<Row, []>("SELECT * FROM fenced WHERE what = 'start' ORDER BY seq LIMIT 1").get(),
    "a first guarded run to start",
  ))!;
  const [holder, other] = first.by === "A" ? [a, b] : [b, a];
  const otherMark = first.by === "A" ? "B" : "A";
  holder.proc.kill("SIGSTOP");

  // The other consumer takes the lock once the holder's lease ran out, and runs all three.
  const values = (await Promise.all(results.map((r) => r.get({ blocking: true, timeout: 45_000 })))).map((v) => v!);
  expect(values.map((v) => v.by)).toEqual([otherMark, otherMark, otherMark]);
  holder.proc.kill("SIGCONT");
  // Its renewal finds the lease and lock gone: AbortSignal, then (the task ignores it) its Worker is
  // terminated after timeoutGrace, and what the task returns is discarded.
  await holder.waitForStderr(/did not stop \d+ms after/, "the holder to terminate the Worker of its stale task");
  await holder.waitForStderr("its outcome is discarded", "the holder to discard the stale task's outcome");
  expect(await stopped(holder)).toBe(0);
  expect(await stopped(other)).toBe(0);
  expect(holder.stderr).not.toMatch(/guarded \S+ complete/);

  const rows = log.query<Row, []>("SELECT * FROM fenced ORDER BY seq").all();
  // The guard let no fence go backwards.
  for (let i = 1; i < rows.length; i++) expect(rows[i]!.fence).toBeGreaterThanOrEqual(rows[i - 1]!.fence);
  // Runs are told apart by fence (one per acquisition). The held-over run never completed; the others did,
  // each with a larger fence than the one before, and none overlapped another as the log recorded them.
  const runs = new Map<number, Row[]>();
  for (const r of rows) runs.set(r.fence, [...(runs.get(r.fence) ?? []), r]);
  const completed = [...runs.values()].filter((rs) => rs.some((r) => r.what === "end"));
  expect(runs.get(first.fence)!.some((r) => r.what === "end")).toBe(false);
  expect(completed.map((rs) => rs[0]!.by)).toEqual([otherMark, otherMark, otherMark]);
  expect(completed.map((rs) => rs[0]!.tag).sort()).toEqual(tags);
  for (const rs of completed) expect(rs.map((r) => r.what)).toEqual(["start", ...Array.from({ length: 6 }, (_, i) => `step ${i}`), "end"]);
  for (let i = 1; i < completed.length; i++) {
    expect(completed[i]![0]!.fence).toBeGreaterThan(completed[i - 1]![0]!.fence);
    expect(completed[i]![0]!.seq).toBeGreaterThan(completed[i - 1]!.at(-1)!.seq);
  }
  expect(completed[0]![0]!.fence).toBeGreaterThan(first.fence);
  // Each result carries the fence of the run that completed.
  for (const v of values) expect(completed.find((rs) => rs[0]!.tag === v.tag)![0]!.fence).toBe(v.fence);
  // The resumed holder's task kept writing with its old fence: every such write was refused.
  const refused = log.query<{ fence: number; by: string; tag: string }, []>("SELECT fence, by, tag FROM refused").all();
  expect(refused.length).toBeGreaterThan(0);
  expect(refused.filter((r) => r.fence !== first.fence || r.by !== first.by || r.tag !== first.tag)).toEqual([]);
  // And it saw its AbortSignal fire, for the lost lease or lock.
  const aborts = log.query<{ fence: number; by: string; reason: string }, []>("SELECT fence, by, reason FROM aborts").all();
  expect(aborts.length).toBe(1);
  expect(aborts[0]).toMatchObject({ fence: first.fence, by: first.by });
  expect(aborts[0]!.reason).toMatch(/lease was lost|lock "resource" was lost/);
  expect(await producer.failedCount()).toBe(0);
  log.close();
  await producer.close();
});

test.each([
  ["the WAL and shared-memory files are deleted", "rm", /stopping: the WAL file \S+queue\.db-wal was deleted while open/],
  ["another database is moved over the file", "mv", /stopping: the database file \S+queue\.db was replaced/],
] as const)("%s under a running consumer: it exits 1 with one line naming it", async (_what, how, line) => {
  const { dir, env, log, producer } = setup();
  log.close();
  await producer.close();
  const c = await consumer(dir, env, "A", ["-w", "1", "--lease", "1s"]);
  expect(existsSync(`${env.HUEY_DB}-wal`) && existsSync(`${env.HUEY_DB}-shm`)).toBe(true);
  if (how === "rm") {
    rmSync(`${env.HUEY_DB}-wal`);
    rmSync(`${env.HUEY_DB}-shm`);
  } else {
    const other = join(dir, "other.db");
    const db = new Database(other, { create: true });
    db.run("CREATE TABLE t (x)");
    db.close();
    renameSync(other, env.HUEY_DB);
  }
  expect(await c.exit()).toBe(1);
  const named = lines(c.stderr).filter((l) => /deleted while open|was replaced/.test(l));
  expect(named.length).toBe(1);
  expect(named[0]).toMatch(line);
});

test("SIGHUP with a tasks file that no longer loads: the error is logged, the loaded version keeps running, SIGTERM exits 0", async () => {
  const { dir, env, log, producer } = setup();
  log.close();
  const ping = producer.task("ping", (_x: number) => 0);
  const c = await consumer(dir, env, "A", ["-w", "1"]);
  writeFileSync(join(dir, "tasks.ts"), "export const huey = ;\n");
  c.proc.kill("SIGHUP");
  await c.waitForStderr("reload failed, still running the version loaded before", "the failed reload to be logged");
  expect(lines(c.stderr).find((l) => l.includes("reload failed"))).toMatch(/tasks\.ts failed to load: BuildMessage/);
  // Nothing was stopped for it: the Workers that loaded the file before still run.
  expect(c.stderr).not.toContain("reload: the tasks file loads");
  expect(c.stderr).not.toContain("stopping:");
  expect(await (await ping(41)).get({ blocking: true, timeout: 30_000 })).toBe(42);
  expect(await stopped(c)).toBe(0);
  await producer.close();
});

test("SIGHUP with a file only the Workers fail to load: going back fails too, so it exits 1 with the reason", async () => {
  const { dir, env, log, producer } = setup();
  log.close();
  await producer.close();
  const c = await consumer(dir, env, "A", ["-w", "1"]);
  const file = join(dir, "tasks.ts");
  writeFileSync(file, `if (!Bun.isMainThread) throw new Error("no Worker loads this");\n${readFileSync(file, "utf8")}`);
  c.proc.kill("SIGHUP");
  expect(await c.exit()).toBe(1);
  expect(c.stderr).toContain("reload failed, going back to the version loaded before");
  expect(lines(c.stderr).filter((l) => l.includes("could not start the consumer again after a failed reload"))).toHaveLength(1);
});

test("a single SIGTERM to an idle consumer exits 0", async () => {
  const { dir, env, log, producer } = setup();
  log.close();
  await producer.close();
  const c = await consumer(dir, env, "A", ["-w", "1"]);
  expect(await stopped(c)).toBe(0);
  expect(c.stderr).toContain("consumer stopped");
  expect(c.stderr).not.toContain("again:");
});

test("a second SIGTERM 5 ms after the first, while the stop waits for an onShutdown hook, exits 130", async () => {
  const { dir, env, log, producer } = setup();
  log.close();
  await producer.close();
  const c = await consumer(dir, { ...env, HUEY_SHUTDOWN_MS: "3000" }, "A", ["-w", "1"]);
  c.proc.kill("SIGTERM");
  await Bun.sleep(5);
  c.proc.kill("SIGTERM");
  expect(await c.exit()).toBe(130);
  expect(c.proc.signalCode).toBeNull();
  expect(c.stderr).toContain("SIGTERM again: exiting now");
  expect(c.stderr).not.toContain("consumer stopped");
});

test("two SIGTERMs 5 ms apart during a fast stop: 130 if the second came before the exit, 0 if after, never 143", async () => {
  const { dir, env, log, producer } = setup();
  log.close();
  await producer.close();
  // An idle stop takes a few ms, so the second signal lands on either side of the exit; neither side may
  // leave the signal to its default action (killed by SIGTERM: 143).
  for (let i = 0; i < 3; i++) {
    const c = await consumer(dir, env, "A", ["-w", "1"]);
    c.proc.kill("SIGTERM");
    await Bun.sleep(5);
    c.proc.kill("SIGTERM");
    const code = await c.exit();
    expect(c.proc.signalCode).toBeNull();
    expect(code === 130 ? "130, said again" : code === 0 ? "0, stopped" : `exit ${code}`).toBe(
      c.stderr.includes("SIGTERM again: exiting now") ? "130, said again" : "0, stopped",
    );
    if (code === 0) expect(c.stderr).toContain("consumer stopped");
  }
});

test("a blocking get() inside a task with -w 1 logs a warning naming the deadlock; with -w 2 it returns", async () => {
  const { dir, env, log, producer } = setup();
  log.close();
  const parent = producer.task("parent", async (_x: number, _timeoutMs: number) => 0);

  const one = await consumer(dir, env, "A", ["-w", "1"]);
  const stuck = await parent(21, 1_500);
  await one.waitForStderr("deadlock", "the deadlock warning");
  const warning = lines(one.stderr).find((l) => l.includes("deadlock"))!;
  expect(warning).toMatch(/task parent blocks on the result of task \S+ inside a Worker, but every Worker slot of this consumer is busy/);
  // Its get() times out, and the task fails with that.
  await expect(stuck.get({ blocking: true, timeout: 30_000 })).rejects.toThrow(/ResultTimeoutError|timed out/);
  expect(await stopped(one)).toBe(0);

  const two = await consumer(dir, env, "B", ["-w", "2"]);
  expect(await (await parent(21, 30_000)).get({ blocking: true, timeout: 30_000 })).toBe(42);
  expect(await stopped(two)).toBe(0);
  expect(two.stderr).not.toContain("deadlock");
  await producer.close();
});

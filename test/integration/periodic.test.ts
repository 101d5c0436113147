// Periodic tasks across several consumer processes: each wall-clock tick runs exactly once.
import { expect, test, setDefaultTimeout } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { FIXTURES, ROOT, tempDb, waitFor } from "../harness";

// Spawns Workers and processes on a 2-core machine: a minute per test, not bun's 5 s default
// (setDefaultTimeout applies to the file that calls it; bunfig.toml has no such setting).
setDefaultTimeout(60_000);

test("3 consumer processes running a */1 * * * * * task: every tick exactly once, on the second", async () => {
  const db = tempDb("periodic.db");
  const logDb = tempDb("periodic-log.db");
  const setup = new Database(logDb);
  setup.run("PRAGMA journal_mode = WAL");
  setup.run("CREATE TABLE IF NOT EXISTS runs (id TEXT, at INTEGER)");
  setup.close();
  const env = { ...process.env, HUEY_DB: db, HUEY_LOG_DB: logDb };
  const file = join(FIXTURES, "periodic-fixture.ts");
  const started = Date.now();
  const procs = [0, 1, 2].map(() => Bun.spawn(["bun", join(ROOT, "src/cli.ts"), "run", file, "-q"], { env, stdout: "ignore", stderr: "pipe" }));
  const log = new Database(logDb);
  log.run("PRAGMA busy_timeout = 10000"); // the consumers write while we read
  const count = () => (log.query("SELECT count(*) AS n FROM runs").get() as { n: number }).n;
  try {
    await waitFor(() => count() >= 4, "four ticks to run", 30_000);
  } finally {
    for (const p of procs) p.kill("SIGTERM");
    expect(await Promise.all(procs.map((p) => p.exited))).toEqual([0, 0, 0]);
  }
  const runs = log.query("SELECT id, at FROM runs ORDER BY at").all() as { id: string; at: number }[];
  const ticks = runs.map((r) => Number(r.id.split(":")[1]));
  expect(new Set(ticks).size).toBe(runs.length); // no tick ran twice
  for (const t of ticks) {
    expect(t % 1000).toBe(0); // on the wall clock's seconds, not the consumers' start
    expect(t).toBeGreaterThanOrEqual(Math.floor(started / 1000) * 1000);
  }
  // consecutive seconds: no tick skipped while the consumers ran
  const sorted = [...ticks].sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBe(1000);
});

test("--no-periodic: a consumer that does not enqueue periodic tasks", async () => {
  const db = tempDb("periodic.db");
  const logDb = tempDb("periodic-log.db");
  new Database(logDb).run("CREATE TABLE IF NOT EXISTS runs (id TEXT, at INTEGER)");
  const env = { ...process.env, HUEY_DB: db, HUEY_LOG_DB: logDb };
  const p = Bun.spawn(["bun", join(ROOT, "src/cli.ts"), "run", join(FIXTURES, "periodic-fixture.ts"), "--no-periodic"], { env, stdout: "ignore", stderr: "pipe" });
  const reader = p.stderr.getReader();
  let text = "";
  await waitFor(async () => {
    const { value } = await reader.read();
    text += new TextDecoder().decode(value);
    return text.includes("consumer started");
  }, "consumer started");
  // Two full seconds of ticks pass with the consumer up: none may run.
  const until = Math.ceil(Date.now() / 1000) * 1000 + 2000;
  await waitFor(() => Date.now() >= until, "two ticks to pass");
  p.kill("SIGTERM");
  await p.exited;
  expect((new Database(logDb).query("SELECT count(*) AS n FROM runs").get() as { n: number }).n).toBe(0);
});

// Per-key locks and concurrency limits on the compiled binary, across 3 consumer processes on one
// SQLite file; the tasks measure themselves (test/fixtures/keys-fixture.ts).
import { afterEach, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { Database } from "bun:sqlite";
import { SqliteHuey, SqliteStorage } from "../../src/index";
import { waitFor } from "../harness";
import { hueyBinary, killAll, spawnHuey, taskDir, type Child } from "./binary";

setDefaultTimeout(120_000);

beforeAll(async () => {
  await hueyBinary();
}, 120_000);

afterEach(killAll);

function openRuns(file: string): Database {
  const db = new Database(file, { create: true });
  db.run("PRAGMA busy_timeout = 10000");
  db.run("PRAGMA journal_mode = WAL");
  db.run("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, customer TEXT NOT NULL, what TEXT NOT NULL, pid INTEGER NOT NULL)");
  db.run("CREATE TABLE IF NOT EXISTS gauge (running INTEGER NOT NULL, peak INTEGER NOT NULL)");
  db.run("INSERT INTO gauge SELECT 0, 0 WHERE NOT EXISTS (SELECT 1 FROM gauge)");
  db.run("CREATE TABLE IF NOT EXISTS solo (running INTEGER NOT NULL, peak INTEGER NOT NULL)");
  db.run("INSERT INTO solo SELECT 0, 0 WHERE NOT EXISTS (SELECT 1 FROM solo)");
  return db;
}

async function consumers(n: number, dir: string, env: Record<string, string>): Promise<Child[]> {
  const args = ["run", "tasks.ts", "-w", "2", "--lease", "2s"];
  const cs: Child[] = [];
  for (let i = 0; i < n; i++) cs.push(await spawnHuey(args, { cwd: dir, env }));
  for (const [i, c] of cs.entries()) await c.waitForStderr("consumer started", `consumer ${i} to start`);
  return cs;
}

type Event = { seq: number; customer: string; what: string; pid: number };

test("a per-customer lock never lets two runs of one customer overlap, across 3 consumers with one killed -9 mid-run", async () => {
  const { dir, env } = taskDir("keys-fixture.ts");
  const runs = openRuns(env.HUEY_RUNS_DB);
  const producer = new SqliteHuey({ name: "keys", filename: env.HUEY_DB });
  const perCustomer = producer.task("perCustomer", async (_customer: string, _ms: number) => "");
  const CUSTOMERS = ["acme", "bolt", "cog", "dyn"];
  const PER = 8;
  for (let i = 0; i < PER; i++) for (const c of CUSTOMERS) await perCustomer(c, 40);
  const cs = await consumers(3, dir, env);

  // Kill a consumer while one of its runs is open (started, not ended).
  const open = () => {
    const evs = runs.query<Event, []>("SELECT seq, customer, what, pid FROM events ORDER BY seq").all();
    const openBy = new Map<number, number>();
    for (const e of evs) openBy.set(e.pid, (openBy.get(e.pid) ?? 0) + (e.what === "start" ? 1 : -1));
    return cs.find((c) => (openBy.get(c.proc.pid) ?? 0) > 0);
  };
  const victim = (await waitFor(open, "a consumer with a run in progress", 60_000))!;
  victim.proc.kill("SIGKILL");
  await victim.exit();
  // From here the killed process runs nothing: its open run ends at this mark.
  runs.run("INSERT INTO events (customer, what, pid) VALUES ('*', 'killed', ?)", [victim.proc.pid]);

  const storage = new SqliteStorage({ filename: env.HUEY_DB, queue: "keys" });
  const total = CUSTOMERS.length * PER;
  await waitFor(async () => (await storage.resultCount()) === total, `all ${total} results`, 90_000);
  await storage.close();

  const evs = runs.query<Event, []>("SELECT seq, customer, what, pid FROM events ORDER BY seq").all();
  const killedAt = evs.find((e) => e.what === "killed")!.seq;
  const overlaps: string[] = [];
  let diedOpen = 0;
  for (const customer of CUSTOMERS) {
    let openRun: Event | null = null;
    for (const e of evs) {
      if (openRun && openRun.pid === victim.proc.pid && e.seq > killedAt) {
        diedOpen++;
        openRun = null; // the killed process's run ended with it
      }
      if (e.customer !== customer) continue;
      if (e.what === "start") {
        if (openRun) overlaps.push(`${customer}: start #${e.seq} (pid ${e.pid}) while #${openRun.seq} (pid ${openRun.pid}) ran`);
        openRun = e;
      } else {
        if (openRun?.pid !== e.pid) overlaps.push(`${customer}: end #${e.seq} (pid ${e.pid}) while #${openRun?.seq} (pid ${openRun?.pid}) was the open run`);
        openRun = null;
      }
    }
  }
  expect(overlaps).toEqual([]);
  expect(diedOpen).toBeGreaterThanOrEqual(1); // the kill really landed mid-run
  // Every call ran to the end at least once (the killed one again, elsewhere).
  for (const customer of CUSTOMERS) {
    expect(evs.filter((e) => e.customer === customer && e.what === "end").length).toBeGreaterThanOrEqual(PER);
  }
  runs.close();
});

test("concurrency: { limit: 3 } never has a 4th running across 3 consumers of 2 Workers each, and reaches 3", async () => {
  const { dir, env } = taskDir("keys-fixture.ts");
  const runs = openRuns(env.HUEY_RUNS_DB);
  const producer = new SqliteHuey({ name: "keys", filename: env.HUEY_DB });
  const limited = producer.task("limited", async (_ms: number) => 0);
  const N = 24;
  for (let i = 0; i < N; i++) await limited(20);
  await consumers(3, dir, env);
  const storage = new SqliteStorage({ filename: env.HUEY_DB, queue: "keys" });
  await waitFor(async () => (await storage.resultCount()) === N, `all ${N} results`, 90_000);
  await storage.close();
  const g = runs.query<{ running: number; peak: number }, []>("SELECT running, peak FROM gauge").get()!;
  expect(g).toEqual({ running: 0, peak: 3 });
  runs.close();
});

test("a concurrency slot held longer than the lease is renewed with its task: a limit of 1 holds across 2 consumers", async () => {
  const { dir, env } = taskDir("keys-fixture.ts");
  const runs = openRuns(env.HUEY_RUNS_DB);
  const producer = new SqliteHuey({ name: "keys", filename: env.HUEY_DB });
  const solo = producer.task("solo", async (_ms: number) => 0);
  // Each run lasts twice the 2 s lease: without renewal its slot would lapse mid-run and the other would start.
  // Two runs, one for each consumer to take: with the slot lapsing, the second would start beside the first.
  for (let i = 0; i < 2; i++) await solo(4_000);
  await consumers(2, dir, env);
  const storage = new SqliteStorage({ filename: env.HUEY_DB, queue: "keys" });
  await waitFor(async () => (await storage.resultCount()) === 2, "both results", 90_000);
  await storage.close();
  expect(runs.query<{ running: number; peak: number }, []>("SELECT running, peak FROM solo").get()!).toEqual({ running: 0, peak: 1 });
  runs.close();
});

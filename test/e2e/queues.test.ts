// Named queues on the compiled binary: consumers serving different queues of one file run only theirs,
// and a paused queue holds its tasks across consumers while another queue drains, until resumed.
import { Database } from "bun:sqlite";
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { SqliteHuey } from "../../src/index";
import { waitFor } from "../harness";
import { killAll, runHuey, spawnHuey, taskDir, type Child } from "./binary";

setDefaultTimeout(120_000);
afterEach(killAll);

function setup() {
  const { dir, env } = taskDir("queues-fixture.ts");
  const runs = new Database(env.HUEY_RUNS_DB, { create: true });
  runs.run("PRAGMA busy_timeout = 10000");
  runs.run("PRAGMA journal_mode = WAL");
  runs.run("CREATE TABLE IF NOT EXISTS ran (queue TEXT NOT NULL, i INTEGER NOT NULL, tag TEXT NOT NULL)");
  // The producer side: the same task names and queues as the fixture, on the same file.
  const huey = new SqliteHuey({ name: "queues", filename: env.HUEY_DB });
  const email = huey.task("email", { queue: "emails" }, (_i: number) => {});
  const report = huey.task("report", { queue: "reports" }, (_i: number) => {});
  const bounce = huey.task("bounce", { queue: "emails" }, () => {});
  const count = (queue: string) => (runs.query("SELECT count(*) AS n FROM ran WHERE queue = ?").get(queue) as { n: number }).n;
  return { dir, env, runs, huey, email, report, bounce, count };
}

async function consumer(dir: string, env: Record<string, string>, tag: string, ...flags: string[]): Promise<Child> {
  const c = await spawnHuey(["run", join(dir, "tasks.ts"), "-q", ...flags], { cwd: dir, env: { ...env, HUEY_TAG: tag } });
  return c;
}

test("two consumers serving different queues of one file each run only theirs", async () => {
  const { dir, env, runs, huey, email, report, count } = setup();
  await huey.enqueueMany([...Array.from({ length: 50 }, (_, i) => [email, [i]] as const), ...Array.from({ length: 50 }, (_, i) => [report, [i]] as const)]);
  await consumer(dir, env, "E", "--queues", "emails=2");
  await consumer(dir, env, "R", "--queues", "reports");
  await waitFor(() => count("emails") === 50 && count("reports") === 50, "both queues drained");
  const byTag = (tag: string) => runs.query("SELECT DISTINCT queue FROM ran WHERE tag = ?").all(tag).map((r) => (r as { queue: string }).queue);
  expect({ E: byTag("E"), R: byTag("R") }).toEqual({ E: ["emails"], R: ["reports"] });
  const ran = (q: string) => runs.query("SELECT i FROM ran WHERE queue = ? ORDER BY i").all(q).map((r) => (r as { i: number }).i);
  expect(ran("emails")).toEqual(Array.from({ length: 50 }, (_, i) => i));
  expect(ran("reports")).toEqual(Array.from({ length: 50 }, (_, i) => i));
  await huey.close();
});

test("a paused queue holds 1,000 tasks across 3 consumers while another queue drains; resume drains them", async () => {
  const { dir, env, huey, email, report, count } = setup();
  const paused = await runHuey(["pause", join(dir, "tasks.ts"), "emails"], { cwd: dir, env });
  expect(paused.code).toBe(0);
  expect(paused.stdout).toContain("paused queue emails");
  const status = await runHuey(["status", join(dir, "tasks.ts")], { cwd: dir, env });
  expect(status.stdout).toContain("paused queues");
  await huey.enqueueMany(Array.from({ length: 1000 }, (_, i) => [email, [i]] as const));
  await huey.enqueueMany(Array.from({ length: 300 }, (_, i) => [report, [i]] as const));
  const pend = await runHuey(["pending", join(dir, "tasks.ts"), "--queue", "reports", "--limit", "5", "--json"], { cwd: dir, env });
  expect(JSON.parse(pend.stdout).map((t: { name: string }) => t.name)).toEqual(Array(5).fill("report"));
  for (const tag of ["A", "B", "C"]) await consumer(dir, env, tag, "-w", "2");
  await waitFor(() => count("reports") === 300, "reports drained");
  expect(count("emails")).toBe(0);
  expect(await huey.pendingCount()).toBe(1000);
  const resumed = await runHuey(["resume", join(dir, "tasks.ts"), "emails"], { cwd: dir, env });
  expect(resumed.code).toBe(0);
  await waitFor(() => count("emails") === 1000, "emails drained after resume");
  await huey.close();
});

test("pause and resume of a queue no task uses fail and list the known queues", async () => {
  const { dir, env, huey } = setup();
  for (const cmd of ["pause", "resume"]) {
    const r = await runHuey([cmd, join(dir, "tasks.ts"), "nope"], { cwd: dir, env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('no task uses the queue "nope"; known queues: emails, reports');
  }
  await huey.close();
});

test("pending, scheduled and failed take --queue: only that queue's tasks, the queue in --json; an unknown queue lists the known ones", async () => {
  const { dir, env, huey, email, report, bounce } = setup();
  const tasks = join(dir, "tasks.ts");
  const json = async (...args: string[]) => {
    const r = await runHuey([...args, "--json"], { cwd: dir, env });
    if (r.code !== 0) throw new Error(`huey ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const e1 = await email(1);
  const r1 = await report(1);
  const later = await report.schedule([2], { delay: "1h" });
  const laterEmail = await email.schedule([2], { delay: "1h" });
  expect((await json("pending", tasks, "--queue", "emails")).map((t: any) => [t.id, t.queue])).toEqual([[e1.id, "emails"]]);
  expect((await json("pending", tasks, "--queue", "reports")).map((t: any) => [t.id, t.queue])).toEqual([[r1.id, "reports"]]);
  expect((await json("scheduled", tasks, "--queue", "reports")).map((t: any) => [t.id, t.queue])).toEqual([[later.id, "reports"]]);
  expect((await json("scheduled", tasks)).map((t: any) => t.id).sort()).toEqual([later.id, laterEmail.id].sort());
  const empty = await runHuey(["scheduled", tasks, "--queue", "emails", "--limit", "5"], { cwd: dir, env });
  expect(empty.code).toBe(0);
  for (const cmd of ["pending", "scheduled", "failed"]) {
    const r = await runHuey([cmd, tasks, "--queue", "nope"], { cwd: dir, env });
    expect({ cmd, code: r.code, stdout: r.stdout }).toEqual({ cmd, code: 2, stdout: "" });
    expect(r.stderr).toContain(`${cmd}: no task uses the queue "nope"; known queues: emails, reports`);
  }
  await huey.flush();

  // Dead letters written by a real consumer know their task's queue (a per-call queue too).
  const b1 = await bounce();
  const b2 = await bounce.schedule([], { queue: "reports" });
  const c = await consumer(dir, env, "F");
  await waitFor(async () => (await huey.failedCount()) === 2, "both bounces to fail for good");
  c.proc.kill("SIGTERM");
  expect(await c.exit()).toBe(0);
  expect((await json("failed", tasks)).map((d: any) => [d.id, d.queue]).sort()).toEqual([[b1.id, "emails"], [b2.id, "reports"]].sort());
  expect((await json("failed", tasks, "--queue", "reports")).map((d: any) => d.id)).toEqual([b2.id]);
  expect((await json("failed", tasks, b1.id)).queue).toBe("emails");
  const withId = await runHuey(["failed", tasks, b1.id, "--queue", "emails"], { cwd: dir, env });
  expect(withId.code).toBe(2);
  expect(await json("failed", tasks, "--queue", "reports", "--retry", "all")).toEqual({ retried: [b2.id] });
  expect((await json("pending", tasks, "--queue", "reports")).map((t: any) => t.id)).toEqual([b2.id]);
  expect(await json("failed", tasks, "--queue", "emails", "--purge", "--yes")).toEqual({ purged: 1 });
  expect(await json("failed", tasks)).toEqual([]);
  await huey.close();
});

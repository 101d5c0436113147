// huey run flags not covered elsewhere: --instance picks one of several Huey instances; --log-format json;
// --logfile and its reopening on SIGUSR1.
import { afterEach, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { SqliteHuey } from "../../src/index";
import { waitFor } from "../harness";
import { hueyBinary, killAll, runHuey, spawnHuey, taskDir } from "./binary";

setDefaultTimeout(60_000);

beforeAll(async () => {
  await hueyBinary();
});

afterEach(killAll);

test("a file with several Huey instances: run needs --instance; --instance other runs that queue, logging JSON lines", async () => {
  const { dir, env } = taskDir("cli-multi-fixture.ts");
  const refused = await runHuey(["run", "tasks.ts"], { cwd: dir, env });
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/exports several Huey instances .*--instance NAME/);

  const c = await spawnHuey(["run", "tasks.ts", "--instance", "other", "--log-format", "json"], { cwd: dir, env });
  await c.waitForStderr("consumer started", "the consumer of instance other");
  const other = new SqliteHuey({ name: "other", filename: env.HUEY_DB });
  const ping = other.task("ping", () => "");
  try {
    expect(await (await ping()).get({ blocking: true, timeout: 10_000 })).toBe("pong");
    await c.waitForStderr("complete", "the task's log line");
    const entries = c.stderr.trim().split("\n").map((l) => JSON.parse(l) as { level: string; msg: string; task?: string });
    expect(entries[0]).toMatchObject({ level: "info" });
    expect(entries[0]!.msg).toContain('huey "other"');
    expect(entries.some((e) => e.task === "ping" && /complete/.test(e.msg))).toBe(true);
  } finally {
    await other.close();
  }
});

test("--logfile appends to a file of mode 0600; after logrotate moves it, SIGUSR1 makes the consumer write to a new file at PATH", async () => {
  const { dir, env } = taskDir();
  const logfile = join(dir, "huey.log");
  const read = (f: string) => (existsSync(f) ? readFileSync(f, "utf8") : "");
  const c = await spawnHuey(["run", "tasks.ts", "--logfile", logfile], { cwd: dir, env });
  const producer = new SqliteHuey({ name: "e2e", filename: env.HUEY_DB });
  const add = producer.task("add", (_a: number, _b: number) => 0);
  try {
    await waitFor(() => read(logfile).includes("consumer started"), "consumer started (in the log file)");
    expect(statSync(logfile).mode & 0o777).toBe(0o600);
    expect(c.stderr).toBe("");
    const first = await add(1, 2);
    expect(await first.get({ blocking: true, timeout: 20_000 })).toBe(3);
    await waitFor(() => read(logfile).includes(`add ${first.id} complete`), "the first task's line in the log file");

    // What logrotate does: move the file, then postrotate `kill -USR1`.
    renameSync(logfile, `${logfile}.1`);
    c.proc.kill("SIGUSR1");
    await waitFor(() => read(logfile).includes("SIGUSR1: reopened the log file"), "the reopened log file");
    const second = await add(3, 4);
    await waitFor(() => read(logfile).includes(`add ${second.id} complete`), "the second task's line in the new log file");
    expect(statSync(logfile).mode & 0o777).toBe(0o600);
    expect(read(`${logfile}.1`)).toContain(`add ${first.id} complete`);
    expect(read(`${logfile}.1`)).not.toContain(second.id);
    expect(c.running).toBe(true);
  } finally {
    await producer.close();
    c.proc.kill("SIGTERM");
  }
  expect(await c.exit()).toBe(0);
  expect(read(logfile)).toContain("consumer stopped");
});

test("-w 0 runs the tasks on the consumer's own thread: the binary says so and stores their results", async () => {
  const { dir, env } = taskDir();
  const c = await spawnHuey(["run", "tasks.ts", "-w", "0"], { cwd: dir, env });
  await c.waitForStderr("consumer started", "the consumer");
  expect(c.stderr).toContain("tasks on this thread (-w 0)");
  const producer = new SqliteHuey({ name: "e2e", filename: env.HUEY_DB });
  const add = producer.task("add", (_a: number, _b: number) => 0);
  try {
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => add(i, i)));
    expect(await Promise.all(rs.map((r) => r.get({ blocking: true, timeout: 10_000 })))).toEqual(Array.from({ length: 50 }, (_, i) => 2 * i));
  } finally {
    await producer.close();
  }
});

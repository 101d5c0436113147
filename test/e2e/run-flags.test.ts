// huey run flags not covered elsewhere: --instance picks one of several Huey instances; --log-format json.
import { afterEach, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { SqliteHuey } from "../../src/index";
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

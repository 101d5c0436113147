// huey run: SIGHUP reloads the tasks file (running tasks finish first); --logfile.
import { expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SqliteHuey } from "../../src/storage/sqlite-huey";
import { ROOT, tempDir, waitFor } from "../harness";

// Spawns a consumer process on a 2-core machine: a minute per test, not bun's 5 s default.
setDefaultTimeout(60_000);

const tasksFile = (version: string) => `
import { SqliteHuey } from "bun-huey";
export const huey = new SqliteHuey({ name: "reload", filename: process.env.HUEY_DB! });
export const version = huey.task("version", () => "${version}");
`;

test("SIGHUP: the consumer loads the tasks file anew and runs the new code; --logfile gets the log", async () => {
  const dir = tempDir();
  const file = join(dir, "tasks.ts");
  const db = join(dir, "reload.db");
  const logfile = join(dir, "huey.log");
  writeFileSync(file, tasksFile("v1"));
  const p = Bun.spawn(["bun", join(ROOT, "src/cli.ts"), "run", file, "--logfile", logfile, "--grace", "2s"], {
    env: { ...process.env, HUEY_DB: db }, stdout: "pipe", stderr: "pipe",
  });
  const log = () => {
    try {
      return readFileSync(logfile, "utf8");
    } catch {
      return "";
    }
  };
  const producer = new SqliteHuey({ name: "reload", filename: db });
  const version = producer.task("version", () => "");
  try {
    await waitFor(() => log().includes("consumer started"), "consumer started (in the log file)");
    expect(await (await version()).get({ blocking: true, timeout: 10_000 })).toBe("v1");
    writeFileSync(file, tasksFile("v2"));
    p.kill("SIGHUP");
    await waitFor(() => log().split("consumer started").length - 1 >= 2, "consumer started again");
    expect(await (await version()).get({ blocking: true, timeout: 10_000 })).toBe("v2");
    expect(log()).toContain("SIGHUP: reloading");
    expect(log()).toMatch(/version \S+ complete/);
  } finally {
    p.kill("SIGTERM");
    expect(await p.exited).toBe(0);
    await producer.close();
  }
  expect(await new Response(p.stderr).text()).toBe(""); // everything went to the log file
});

// A task's state and log on the compiled binary: `huey result` says it is running (with its progress), then
// shows its result and, with --log, its timeline and ctx.log lines; the consumer's task line carries the run.
import { afterEach, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "../harness";
import { hueyBinary, killAll, runHuey, spawnHuey, taskDir } from "./binary";

setDefaultTimeout(90_000);

beforeAll(async () => {
  await hueyBinary();
}, 120_000);

afterEach(killAll);

test("huey result: running (attempt, progress) while the task runs, then done with its log lines, escaped", async () => {
  const { dir, env } = taskDir("tasklog-fixture.ts");
  const gate = join(dir, "gate");
  const enq = await runHuey(["enqueue", "tasks.ts", "chatty", gate, "--json"], { cwd: dir, env });
  expect(enq.code).toBe(0);
  const id = JSON.parse(enq.stdout).id as string;

  const queued = await runHuey(["result", "tasks.ts", id, "--json"], { cwd: dir, env });
  expect(queued.code).toBe(1);
  expect(JSON.parse(queued.stdout).error).toMatchObject({ code: "not_finished", state: { state: "queued", id, name: "chatty", attempt: 1 } });

  const consumer = await spawnHuey(["run", "tasks.ts", "-w", "1"], { cwd: dir, env });
  try {
    // Running, and its progress written: both come from the consumer, so wait for them.
    const running = (await waitFor(async () => {
      const r = await runHuey(["result", "tasks.ts", id, "--json"], { cwd: dir, env });
      const err = r.stdout ? JSON.parse(r.stdout).error : null;
      return err?.state?.state === "running" && err.state.progress === 0.5 ? { r, err } : null;
    }, "huey result to say the task is running with its progress"))!;
    expect(running.r.code).toBe(1);
    expect(running.err).toMatchObject({ code: "not_finished", state: { attempt: 1, retries: 0, leases: 1 } });
    const text = await runHuey(["result", "tasks.ts", id], { cwd: dir, env });
    expect(text.code).toBe(1);
    expect(text.stderr).toStartWith(`huey: task ${id} has not finished: it is running (attempt 1/1`);

    writeFileSync(gate, "");
    const done = (await waitFor(async () => {
      const r = await runHuey(["result", "tasks.ts", id, "--log"], { cwd: dir, env });
      return r.code === 0 ? r : null;
    }, "the task to finish"))!;
    const out = done.stdout.split("\n");
    expect(out[0]).toBe('"done"');
    expect(done.stdout).toMatch(/\] step 1 \{ of: 2 \}\n/);
    // Control characters in a line are escaped: no ESC, no forged line.
    expect(done.stdout).toContain("WARN evil \\x1b[31mred\\x1b[0m line\\nforged");
    expect(done.stdout).not.toContain("\x1b");
    expect(out.filter((l) => /^\s+\S+\s+(enqueued|started|complete) \(attempt 1\)$/.test(l)).length).toBe(3);

    const json = await runHuey(["result", "tasks.ts", id, "--json", "--log"], { cwd: dir, env });
    const body = JSON.parse(json.stdout);
    expect(body).toMatchObject({ id, value: "done", log: { dropped: 0 } });
    expect(body.log.lines.map((l: { message: string; level?: string }) => [l.level ?? null, l.message])).toEqual([
      [null, "step 1 { of: 2 }"],
      ["warn", "evil \x1b[31mred\x1b[0m line\nforged"],
    ]);
    expect(new Set(body.log.events.map((e: { event: string }) => e.event))).toEqual(new Set(["enqueued", "started", "complete"]));

    // The consumer's line for it: attempt/max, queue wait, Worker and consumer.
    await consumer.waitForStderr(new RegExp(`chatty ${id} complete in \\S+ \\(attempt 1/1, waited \\S+, worker \\d+, consumer [^.\\s]+\\.\\d+\\.[0-9a-f]+\\)`), "the task's log line");
  } finally {
    consumer.proc.kill("SIGTERM");
    expect(await consumer.exit()).toBe(0);
  }
});

// Observability of the compiled binary: `huey run --metrics` serves Prometheus text that promtool
// accepts and whose counters match what ran; `huey status` shows the live consumer; `--check` says
// "no live consumer" before it starts and after it stops, and healthy while it runs.
import { afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { servicesRequired, waitFor } from "../harness";
import { hueyBinary, killAll, lines, runHuey, spawnHuey, taskDir } from "./binary";

setDefaultTimeout(90_000);

beforeAll(async () => {
  await hueyBinary();
}, 120_000);

afterEach(killAll);

const PROMTOOL = Bun.which("promtool");

/** promtool's verdict on `text`: exit code and what it said. */
async function promtool(text: string): Promise<{ code: number; out: string }> {
  const p = Bun.spawn([PROMTOOL!, "check", "metrics"], { stdin: new Blob([text]), stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, out: out + err };
}

function sample(text: string, series: string): number | undefined {
  for (const l of text.split("\n")) if (l.startsWith(`${series} `)) return Number(l.slice(series.length + 1));
  return undefined;
}

describe("huey run --metrics, huey status and --check", () => {
  test("100 tasks: the counters say 100, promtool accepts the text, status shows the live consumer", async () => {
    const { dir, env } = taskDir();
    const huey = (...args: string[]) => runHuey(args, { cwd: dir, env });

    const before = await huey("status", "tasks.ts", "--check");
    expect(before.code).toBe(1);
    expect(lines(before.stderr)).toEqual([expect.stringContaining("no live consumer")]);

    const run = await spawnHuey(["run", "tasks.ts", "--metrics", "127.0.0.1:0", "--heartbeat", "500ms"], { cwd: dir, env });
    await run.waitForStderr(/metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/, "the metrics address");
    const url = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(run.stderr)![1]!;
    await run.waitForStderr("consumer started", "the consumer to start");

    // Healthy once its first heartbeat is written (at start).
    await waitFor(async () => (await huey("status", "tasks.ts", "--check")).code === 0, "status --check to pass");

    writeFileSync(join(dir, "calls.jsonl"), Array.from({ length: 100 }, (_, i) => JSON.stringify([i, 1])).join("\n") + "\n");
    const enq = await huey("enqueue", "tasks.ts", "add", "--from", "calls.jsonl");
    expect(enq.code).toBe(0);

    const series = 'huey_tasks_total{task="add",outcome="complete"}';
    const text = (await waitFor(async () => {
      const t = await (await fetch(url)).text();
      return sample(t, series) === 100 ? t : null;
    }, "the counter to reach 100"))!;
    expect(sample(text, 'huey_tasks_total{task="add",outcome="error"}')).toBe(0);
    expect(sample(text, 'huey_task_run_seconds_count{task="add"}')).toBe(100);
    expect(sample(text, 'huey_task_queue_wait_seconds_count{task="add"}')).toBe(100);
    expect(sample(text, 'huey_task_run_seconds_bucket{task="add",le="+Inf"}')).toBe(100);
    expect(sample(text, "huey_live_consumers")).toBe(1);
    expect(sample(text, "huey_storage_up")).toBe(1);
    expect(sample(text, 'huey_queued_tasks{queue="default"}')).toBeGreaterThanOrEqual(0);

    if (PROMTOOL) {
      const verdict = await promtool(text);
      expect(verdict).toEqual({ code: 0, out: "" });
    } else if (servicesRequired() || process.env.CI) {
      throw new Error("promtool not found (.ci/run installs the Debian package prometheus)");
    } else {
      console.warn("skipping the promtool check: promtool not found (apt-get install prometheus)");
    }

    const base = url.slice(0, -"/metrics".length);
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/x`)).status).toBe(404);
    expect((await fetch(url, { method: "POST" })).status).toBe(404);

    // The heartbeat catches up within an interval or two.
    const status = await waitFor(async () => {
      const r = await huey("status", "tasks.ts", "--json");
      const s = JSON.parse(r.stdout);
      return s.consumers?.[0]?.done === 100 ? s : null;
    }, "status to show 100 done");
    expect(status.consumers).toHaveLength(1);
    expect(status.consumers[0]).toMatchObject({ live: true, pid: run.proc.pid, workers: 1, concurrency: 1, backend: "sqlite", failed: 0 });
    expect(status.throughput.last60m.done).toBe(100);
    const people = await huey("status", "tasks.ts");
    expect(people.stdout).toMatch(/consumers 1 live/);
    expect(people.stdout).toContain(String(run.proc.pid));
    expect(people.stdout).toMatch(/last 60m\s+100 done, 0 failed/);

    run.proc.kill("SIGTERM");
    expect(await run.exit()).toBe(0);
    const after = await huey("status", "tasks.ts", "--check");
    expect(after.code).toBe(1);
    expect(lines(after.stderr)).toEqual([expect.stringContaining("no live consumer")]);
    expect(JSON.parse((await huey("status", "tasks.ts", "--json")).stdout).consumers[0]).toMatchObject({ live: false, stopped: true });
  });

  test("--metrics with a token: 401 without it, the text with it; an address other than loopback needs one", async () => {
    const { dir, env } = taskDir();
    const refused = await runHuey(["run", "tasks.ts", "--metrics", "0.0.0.0:0"], { cwd: dir, env });
    expect(refused.code).toBe(2);
    expect(lines(refused.stderr)[0]).toMatch(/not a loopback address: set a token with --metrics-token or HUEY_METRICS_TOKEN/);

    const token = "a-long-enough-token-0123";
    const run = await spawnHuey(["run", "tasks.ts", "--metrics=127.0.0.1:0"], { cwd: dir, env: { ...env, HUEY_METRICS_TOKEN: token } });
    await run.waitForStderr(/metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/, "the metrics address");
    const url = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(run.stderr)![1]!;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: "Bearer wrong-token-0123456789" } })).status).toBe(401);
    const ok = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(await ok.text()).toContain("# TYPE huey_tasks_total counter");
  });

  test("--check: bad limits are usage errors (exit 2)", async () => {
    const { dir, env } = taskDir();
    for (const [args, msg] of [
      [["--check", "--max-failed-rate", "1.5"], /--max-failed-rate must be a number from 0 to 1/],
      [["--check", "--max-wait", "5"], /--max-wait must be a duration with a unit/],
      [["--max-wait", "5m"], /--max-wait needs --check/],
      [["--check", "--watch"], /--check or --watch, not both/],
    ] as const) {
      const r = await runHuey(["status", "tasks.ts", ...args], { cwd: dir, env });
      expect({ code: r.code, first: lines(r.stderr)[0] }).toEqual({ code: 2, first: expect.stringMatching(msg) });
    }
  });
});

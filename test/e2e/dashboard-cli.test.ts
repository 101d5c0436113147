// `huey dashboard` and `huey run --dashboard` in the compiled binary: where they listen, the token rule,
// and that the page and API are served (the page's own behaviour: dashboard-browser.test.ts).
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { waitFor } from "../harness";
import { killAll, runHuey, spawnHuey, taskDir } from "./binary";

setDefaultTimeout(90_000);
afterEach(killAll);

const TOKEN = "cli-test-token-9f8e7d6c5b4a";
const urlIn = (s: string) => /(http:\/\/[0-9.]+:\d+)\//.exec(s)?.[1];

describe("huey dashboard", () => {
  test("a non-loopback address without a token is a usage error; with HUEY_DASHBOARD_TOKEN it serves, and asks for the token", async () => {
    const { dir, env } = taskDir("dashboard-fixture.ts");
    const refused = await runHuey(["dashboard", "tasks.ts", "--listen", "0.0.0.0:0"], { cwd: dir, env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("set a token with --token or HUEY_DASHBOARD_TOKEN");
    const short = await runHuey(["dashboard", "tasks.ts", "--listen", "0.0.0.0:0", "--token", "abc"], { cwd: dir, env });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain("at least 16 characters");
    const bad = await runHuey(["dashboard", "tasks.ts", "--listen", "nowhere"], { cwd: dir, env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("HOST:PORT");

    const served = await spawnHuey(["dashboard", "tasks.ts", "--listen", "0.0.0.0:0"], { cwd: dir, env: { ...env, HUEY_DASHBOARD_TOKEN: TOKEN } });
    await served.waitForStderr(/on http:\/\/0\.0\.0\.0:\d+\//, "the dashboard to listen");
    const port = /0\.0\.0\.0:(\d+)/.exec(served.stderr)![1];
    const api = `http://127.0.0.1:${port}/api/overview`;
    expect((await fetch(api)).status).toBe(401);
    const ok = await fetch(api, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as any).queue).toBe("dash");
    served.proc.kill("SIGTERM");
    expect(await served.exit()).toBe(0);
  });
});

describe("huey run --dashboard", () => {
  test("serves the dashboard from the consumer's process; the enqueued task is done", async () => {
    const { dir, env } = taskDir("dashboard-fixture.ts");
    const c = await spawnHuey(["run", "tasks.ts", "--dashboard", "127.0.0.1:0"], { cwd: dir, env });
    await c.waitForStderr("dashboard on http://127.0.0.1:", "the dashboard to listen");
    const base = urlIn(c.stderr)!;
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script src="/app.js" defer>');
    const r = await fetch(`${base}/api/enqueue`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-huey-request": "1" },
      body: JSON.stringify({ task: "add", args: [20, 22] }),
    });
    const { id } = (await r.json()) as { id: string };
    const detail: any = await waitFor(async () => {
      const d = (await (await fetch(`${base}/api/tasks/${id}`)).json()) as any;
      return d.state === "done" ? d : null;
    }, "the task to be done", 60_000);
    expect(detail).toMatchObject({ state: "done", result: { ok: true, value: 42 } });
    c.proc.kill("SIGTERM");
    expect(await c.exit()).toBe(0);
  });

  test("an exposed address without a token stops before the consumer starts (exit 2)", async () => {
    const { dir, env } = taskDir("dashboard-fixture.ts");
    const r = await runHuey(["run", "tasks.ts", "--dashboard=0.0.0.0:0"], { cwd: dir, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--dashboard-token or HUEY_DASHBOARD_TOKEN");
    expect(r.stderr).not.toContain("consumer started");
    const lone = await runHuey(["run", "tasks.ts", "--dashboard-token", TOKEN], { cwd: dir, env });
    expect(lone.code).toBe(2);
    expect(lone.stderr).toContain("--dashboard-token goes with --dashboard");
  });
});

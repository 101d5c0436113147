// The dashboard page in real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core;
// no browser is downloaded), served by the compiled binary (`huey dashboard`), with the consumer and the
// producers in other processes. Skips with a reason when Chromium is missing, unless
// HUEY_TEST_SERVICES=require (CI), where it fails.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { servicesRequired, tempDir, waitFor } from "../harness";
import { killAll, runHuey, spawnHuey, taskDir, type Child } from "./binary";

setDefaultTimeout(120_000);

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "browser-test-token-4b1d7e09c2";
const missing = existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing (apt-get install -y chromium)`;
if (missing && servicesRequired()) {
  test("Chromium is installed (HUEY_TEST_SERVICES=require)", () => {
    throw new Error(`browser tests required: ${missing}`);
  });
} else if (missing) {
  console.log(`skipping the dashboard browser tests: ${missing}`);
}

describe.skipIf(missing !== null)("dashboard in Chromium", () => {
  let dir: string;
  let env: Record<string, string>;
  let dashboard: Child;
  let consumer: Child | null = null;
  let base: string;
  let context: BrowserContext;
  let page: Page;
  const dialogs: string[] = [];

  const huey = (...args: string[]) => runHuey(args, { cwd: dir, env });
  const enqueue = async (...args: string[]): Promise<string> => {
    const r = await huey("enqueue", "tasks.ts", ...args);
    if (r.code !== 0) throw new Error(`huey enqueue ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const api = async (path: string, body?: unknown): Promise<any> => {
    const res = await fetch(base + path, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", "x-huey-request": "1" },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return res.json();
  };
  const startConsumer = async () => {
    consumer = await spawnHuey(["run", "tasks.ts", "-w", "2"], { cwd: dir, env });
    await consumer.waitForStderr("consumer started", "the consumer to start", 60_000);
  };
  const row = (id: string) => page.locator(`#list tr[data-id="${id}"]`);
  const openTab = (name: string) => page.locator(`#tabs button[data-list="${name}"]`).click();

  beforeAll(async () => {
    ({ dir, env } = taskDir("dashboard-fixture.ts"));
    dashboard = await spawnHuey(["dashboard", "tasks.ts", "--listen", "127.0.0.1:0", "--token", TOKEN], { cwd: dir, env });
    await dashboard.waitForStderr(/on http:\/\/127\.0\.0\.1:\d+\//, "the dashboard to listen");
    base = /on (http:\/\/127\.0\.0\.1:\d+)\//.exec(dashboard.stderr)![1]!;
    const { chromium } = await import("playwright-core");
    context = await chromium.launchPersistentContext(mkdtempSync(join(tempDir("huey-chromium-"), "profile-")), {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1400, height: 1000 },
    });
    page = await context.newPage();
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
  });

  afterAll(async () => {
    await context?.close().catch(() => {});
    await killAll();
  });

  test("a wrong token gets 401, the right one logs in", async () => {
    const wrong = await page.goto(`${base}/?token=not-the-right-token`);
    expect(wrong!.status()).toBe(401);
    expect(await page.locator('input[name="token"]').count()).toBe(1);
    const api401 = await page.goto(`${base}/api/overview`);
    expect(api401!.status()).toBe(401);
    const ok = await page.goto(`${base}/?token=${TOKEN}`);
    expect(ok!.status()).toBe(200);
    expect(new URL(page.url()).search).toBe(""); // the token left the address bar
    await page.locator("#live.ok").waitFor();
    expect(await page.locator("#queue-name").textContent()).toBe("dash");
  });

  test("a task enqueued from another process appears, then moves to done when a consumer runs it", async () => {
    const id = await enqueue("add", "2", "3");
    await row(id).waitFor();
    await row(id).click();
    await page.locator("#detail-actions .badge", { hasText: "queued" }).waitFor();
    await startConsumer();
    await page.locator("#detail-actions .badge", { hasText: "done" }).waitFor({ timeout: 60_000 });
    expect(await page.locator("#detail-body").textContent()).toContain("5");
    await openTab("done");
    await row(id).waitFor();
    expect(await row(id).textContent()).toContain("ok");
  });

  test("a dead letter is retried by a click and then completes", async () => {
    const id = await enqueue("fail_once", "k1");
    await openTab("failed");
    await row(id).waitFor({ timeout: 60_000 });
    expect(await row(id).textContent()).toContain("first run of k1 fails");
    await row(id).locator("button", { hasText: "retry" }).click();
    await waitFor(async () => (await api(`/api/tasks/${id}`)).state === "done", "the retried task to finish", 60_000);
    await row(id).waitFor({ state: "detached" });
    await openTab("done");
    await row(id).waitFor();
    expect(await row(id).textContent()).toContain("ok k1");
  });

  test("markup in task arguments is shown as text: no script runs, no element is made", async () => {
    const script = "<script>alert(1)</script>";
    const img = `"><img src=x onerror=alert(1)>`;
    expect((await api("/api/pause", { queue: "default" })).queue).toBe("default");
    const id = await enqueue("echo", script, img);
    await openTab("queued");
    await row(id).waitFor();
    const text = await row(id).textContent();
    expect(text).toContain(script);
    expect(text).toContain("<img src=x onerror=alert(1)>");
    await row(id).click();
    await page.locator("#detail-actions .badge", { hasText: "queued" }).waitFor();
    expect(await page.locator("#detail-body").textContent()).toContain(script);
    await api("/api/resume", { queue: "default" });
    await page.locator("#detail-actions .badge", { hasText: "done" }).waitFor({ timeout: 60_000 });
    await openTab("done");
    await row(id).waitFor();
    expect(await page.locator("#detail-body").textContent()).toContain(img);
    expect(await page.locator("img").count()).toBe(0);
    expect(await page.locator("body script").count()).toBe(0);
    expect(await page.locator("script").count()).toBe(5); // dom.js, overview.js, lists.js, detail.js and app.js only
    expect(dialogs).toEqual([]);
  });

  test("a task's ctx.log lines and timeline show in its detail, as text (screenshot)", async () => {
    const id = await enqueue("chatty", "<i>ann</i>");
    await waitFor(async () => (await api(`/api/tasks/${id}`)).state === "done", "the chatty task to finish", 60_000);
    await openTab("done");
    await row(id).click();
    await page.locator("#detail-actions .badge", { hasText: "done" }).waitFor();
    await page.locator("#detail-body .log td.logline").nth(2).waitFor();
    const log = await page.locator("#detail-body .log").textContent();
    expect(log).toContain("hello <i>ann</i>");
    expect(log).toContain("\\x1b[31mred\\x1b[0m and <b>bold</b>?"); // the escape shown, not sent to the page
    expect(log).toContain("an error line");
    expect(await page.locator("#detail-body .log tr.level-warn").count()).toBe(1);
    const facts = await page.locator("#detail-body dl.facts").textContent();
    expect(facts).toContain("finished");
    expect(facts).toContain("stored");
    const timeline = (await page.locator("#detail-body .detail-grid table tbody tr").allTextContents()).join("\n");
    for (const e of ["enqueued", "started", "complete"]) expect(timeline).toContain(e);
    expect(await page.locator("#detail-body i, #detail-body b").count()).toBe(0);
    await page.locator("#detail").screenshot({ path: join(dir, "dashboard-detail.png") });
    copyFileSync(join(dir, "dashboard-detail.png"), "/tmp/dashboard-detail.png");
    expect(dialogs).toEqual([]);
  });

  test("the overview under load (screenshot)", async () => {
    // Failures first, then slow tasks from a JSONL file, a delayed task and one in the other queue:
    // the shot is taken while the page shows tasks queued and running.
    for (let i = 0; i < 3; i++) await enqueue("boom", `load ${i}`);
    await waitFor(async () => (await api("/api/overview")).counts.failed >= 3, "the failures to land", 60_000);
    const calls = join(dir, "calls.jsonl");
    writeFileSync(calls, Array.from({ length: 600 }, () => "[60]").join("\n"));
    await enqueue("add", "1", "1", "--delay", "1h");
    await enqueue("mail", "ops@example.com");
    await enqueue("slow", "--from", calls);
    await page.locator("#detail-close").click();
    await openTab("queued");
    const shown = async (sel: string) => Number(((await page.locator(sel).textContent()) ?? "0").replace(/,/g, ""));
    await waitFor(async () => (await shown("#counts .running .n")) > 0 && (await shown("#counts .queued .n")) > 0, "the page to show tasks queued and running", 60_000);
    await page.locator("#list tr[data-id]").first().waitFor();
    // A few more polls, so the depth chart draws the queue going down.
    const at = await page.locator("#live").textContent();
    await waitFor(async () => (await page.locator("#live").textContent()) !== at, "the next poll", 30_000);
    await page.locator("#depth-chart path").first().waitFor();
    const shot = join(dir, "dashboard-overview.png");
    await page.screenshot({ path: shot, fullPage: true });
    copyFileSync(shot, "/tmp/dashboard-overview.png");
    expect(existsSync(shot)).toBe(true);
    expect(await page.locator("#queues tr").count()).toBeGreaterThanOrEqual(3);
    expect(dialogs).toEqual([]);
  });

  test("the consumers table shows the running consumer from its heartbeat; a long task names it (screenshot)", async () => {
    const o = await api("/api/overview");
    const live = o.consumers.filter((c: any) => c.live);
    expect(live.length).toBe(1);
    const me = live[0];
    expect(me).toMatchObject({ workers: 2, concurrency: 1, stopped: false });
    const shown = page.locator(`#consumers tr[data-consumer="${me.id}"]`);
    await shown.waitFor();
    expect(await shown.locator(".badge").textContent()).toBe("live");
    const text = (await shown.textContent())!;
    expect(text).toContain(me.host);
    expect(text).toContain(String(me.pid));
    expect(text).toMatch(/\d+ \/ 2/); // busy / workers x concurrency
    // Throughput: the tasks run so far are in the per-minute statistics, drawn as lines.
    await page.locator("#throughput-chart path").nth(2).waitFor({ state: "attached", timeout: 30_000 });
    expect(await page.locator("#throughput-chart .legend span").allTextContents()).toEqual([expect.stringMatching(/^done \d/), expect.stringMatching(/^failed \d/), expect.stringMatching(/^retried \d/)]);
    // A long task, ahead of the queue: its heartbeat lists it, so the running list and its detail name the consumer.
    const id = await enqueue("slow", "60000", "--priority", "100");
    await openTab("running");
    await waitFor(async () => ((await row(id).locator("td").nth(6).textContent().catch(() => null)) ?? "–") === me.id, "the running list to name the consumer", 60_000);
    await row(id).click();
    await page.locator("#detail-actions .badge", { hasText: "running" }).waitFor();
    const facts = (await page.locator("#detail-body dl.facts").textContent())!;
    expect(facts).toContain(me.id);
    expect(facts).toContain("attempt1 of 1");
    await page.screenshot({ path: join(dir, "dashboard-overview2.png"), fullPage: true });
    copyFileSync(join(dir, "dashboard-overview2.png"), "/tmp/dashboard-overview2.png");
    expect(dialogs).toEqual([]);
  });

  test("consumer fields from the server are drawn as text", async () => {
    const now = Date.now();
    await page.route("**/api/overview", async (route) => {
      const res = await route.fetch();
      const o = await res.json();
      const beat = { pid: 4242, version: "0.1.0", started: now - 60_000, backend: "sqlite", workers: 4, concurrency: 2, queues: null, busy: 2, done: 1234, failed: 5, running: [], lastSeen: now, live: true, stopped: false };
      o.consumers = [
        { ...beat, id: "c1", host: "<img src=x onerror=alert(1)>", queues: ["<b>q</b>"] },
        { ...beat, id: "c2", host: "old-box", lastSeen: now - 600_000, live: false, stopped: true },
        { ...beat, id: "c3", host: "gone-box", lastSeen: now - 600_000, live: false },
      ];
      await route.fulfill({ response: res, json: o });
    });
    try {
      await page.locator("#consumers tbody tr").nth(2).waitFor();
      const text = (await page.locator("#consumers").textContent())!;
      expect(text).toContain("<img src=x onerror=alert(1)>");
      expect(text).toContain("<b>q</b>");
      expect(text).toContain("2 / 8");
      expect(await page.locator("#consumers .badge").allTextContents()).toEqual(["live", "stopped", "silent"]);
      expect(await page.locator("img, #consumers b").count()).toBe(0);
      expect(dialogs).toEqual([]);
    } finally {
      await page.unroute("**/api/overview");
    }
  });
});

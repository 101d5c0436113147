// The dashboard's HTTP server and JSON API on a temp SQLite file (no consumer: what the API reads and
// writes is checked through the Huey and its storage). Auth, cross-site refusal, bad input, lists, actions.
import { afterAll, beforeAll, describe, expect, spyOn, test } from "bun:test";
import * as nodeCrypto from "node:crypto";
import { join } from "node:path";
import * as lib from "../../src/index";
import { loadTasksFile, registerModulePlugin } from "../../src/consumer/loader";
import type { Huey } from "../../src/huey";
import { KEYS, readMessage } from "../../src/message";
import { encode } from "../../src/serializer";
import { authorized, parseListen, resolveToken, ServerConfigError, safeEqual } from "../../src/server/auth";
import { startDashboard, type Dashboard } from "../../src/server/http";
import { FIXTURES, tempDb } from "../harness";

const TOKEN = "test-token-0123456789abcdef";
let huey: Huey;
let dash: Dashboard;
let base: string;

beforeAll(async () => {
  process.env.HUEY_DB = tempDb("dash.db");
  registerModulePlugin(lib as unknown as Record<string, unknown>);
  ({ huey } = await loadTasksFile(join(FIXTURES, "dashboard-fixture.ts"), null));
  dash = startDashboard(() => huey, { listen: "127.0.0.1:0", token: TOKEN, log: () => {}, overviewTtl: 0 });
  base = `http://127.0.0.1:${dash.port}`;
});

afterAll(async () => {
  await dash?.stop();
  await huey?.close();
});

const auth = { authorization: `Bearer ${TOKEN}` };

async function get(path: string, headers: Record<string, string> = auth) {
  const res = await fetch(base + path, { headers });
  return { status: res.status, body: (await res.json()) as any, res };
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json", "x-huey-request": "1", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe("auth", () => {
  test("a missing or wrong token is a 401 JSON error on every route", async () => {
    for (const path of ["/api/overview", "/api/queued", "/api/tasks/x", "/app.js"]) {
      const none = await get(path, {});
      expect(none.status).toBe(401);
      expect(none.body.error).toContain("token");
      expect((await get(path, { authorization: "Bearer wrong-token-wrong-token" })).status).toBe(401);
    }
    const res = await fetch(`${base}/api/enqueue`, { method: "POST", headers: { "x-huey-request": "1", "content-type": "application/json" }, body: "{}" });
    expect(res.status).toBe(401);
    expect((await get("/api/overview")).status).toBe(200);
  });

  test("the page asks for the token; ?token= sets an HttpOnly SameSite=Strict cookie that works", async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('name="token"');
    const wrong = await fetch(`${base}/?token=nope`, { redirect: "manual" });
    expect(wrong.status).toBe(401);
    const login = await fetch(`${base}/?token=${TOKEN}`, { redirect: "manual" });
    expect(login.status).toBe(303);
    expect(login.headers.get("location")).toBe("/");
    const cookie = login.headers.get("set-cookie")!;
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Strict");
    expect(cookie).not.toContain(TOKEN);
    const session = cookie.split(";")[0]!;
    expect((await get("/api/overview", { cookie: session })).status).toBe(200);
    expect((await get("/api/overview", { cookie: "huey_session=forged" })).status).toBe(401);
    const html = await fetch(`${base}/`, { headers: { cookie: session } });
    expect(html.status).toBe(200);
    expect(html.headers.get("content-security-policy")).toContain("script-src 'self'");
  });

  test("the login form sets the cookie; a wrong token is 401", async () => {
    const form = (t: string) => fetch(`${base}/login`, { method: "POST", body: new URLSearchParams({ token: t }), redirect: "manual" });
    expect((await form("not-the-token")).status).toBe(401);
    const ok = await form(TOKEN);
    expect(ok.status).toBe(303);
    expect(ok.headers.get("set-cookie")).toContain("huey_session=");
  });

  test("tokens are compared in constant time (crypto.timingSafeEqual)", () => {
    const spy = spyOn(nodeCrypto, "timingSafeEqual");
    try {
      const req = new Request("http://127.0.0.1/", { headers: { authorization: "Bearer x" } });
      expect(authorized(req, TOKEN)).toBe(false);
      expect(spy).toHaveBeenCalled();
      expect(safeEqual(TOKEN, TOKEN)).toBe(true);
      expect(safeEqual(TOKEN, `${TOKEN}x`)).toBe(false);
    } finally {
      spy.mockRestore();
    }
  });

  test("a non-loopback address needs a token; a short token is refused", () => {
    expect(() => resolveToken(parseListen("0.0.0.0:8080"), undefined)).toThrow(ServerConfigError);
    expect(() => startDashboard(() => huey, { listen: "0.0.0.0:0" })).toThrow(/set a token/);
    expect(() => resolveToken(parseListen("0.0.0.0:8080"), "short")).toThrow(/at least 16/);
    expect(resolveToken(parseListen("127.0.0.1:8080"), undefined)).toBeNull();
    expect(resolveToken(parseListen("[::1]:8080"), undefined)).toBeNull();
    expect(parseListen("9000")).toEqual({ hostname: "127.0.0.1", port: 9000, loopback: true });
    expect(() => parseListen("host:99999")).toThrow(/port/);
    expect(() => parseListen("a b:80")).toThrow(ServerConfigError);
  });

  test("without a token, only a loopback Host header is served (no DNS rebinding)", async () => {
    const open = startDashboard(() => huey, { listen: "127.0.0.1:0", log: () => {} });
    try {
      const url = `http://127.0.0.1:${open.port}/api/overview`;
      expect((await fetch(url)).status).toBe(200);
      const rebound = await fetch(url, { headers: { host: "evil.example:80" } });
      expect(rebound.status).toBe(403);
    } finally {
      await open.stop();
    }
  });
});

describe("cross-site requests", () => {
  test("a POST without the X-Huey-Request header is refused", async () => {
    const res = await fetch(`${base}/api/enqueue`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ task: "add", args: [1, 2] }) });
    expect(res.status).toBe(403);
    expect(((await res.json()) as any).error).toContain("X-Huey-Request");
    expect(await huey.pendingCount()).toBe(0);
  });

  test("a foreign Origin or Sec-Fetch-Site: cross-site is refused, even with a valid cookie", async () => {
    const login = await fetch(`${base}/?token=${TOKEN}`, { redirect: "manual" });
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const h = { cookie, authorization: "" };
    expect((await post("/api/pause", { queue: "emails" }, { ...h, origin: "https://evil.example" })).status).toBe(403);
    expect((await post("/api/pause", { queue: "emails" }, { ...h, "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect((await post("/api/pause", { queue: "emails" }, { ...h, "sec-fetch-site": "same-site" })).status).toBe(403);
    expect(await huey.paused()).toEqual([]);
    const same = await post("/api/pause", { queue: "emails" }, { ...h, origin: base, "sec-fetch-site": "same-origin" });
    expect(same.status).toBe(200);
    expect((await post("/api/resume", { queue: "emails" })).body).toEqual({ queue: "emails", wasPaused: true });
  });
});

describe("bad input is a 4xx with {error}", () => {
  const cases: [string, string, unknown, number, RegExp][] = [
    ["unknown task", "/api/enqueue", { task: "nope", args: [] }, 404, /no task named "nope"; registered: add, echo/],
    ["args not an array", "/api/enqueue", { task: "add", args: { a: 1 } }, 400, /"args" must be a JSON array/],
    ["unknown option", "/api/enqueue", { task: "add", args: [1, 2], options: { delya: "5s" } }, 400, /unknown option "delya"/],
    ["bad duration", "/api/enqueue", { task: "add", args: [1, 2], options: { delay: "5 parsecs" } }, 400, /delay/],
    ["delay and eta", "/api/enqueue", { task: "add", options: { delay: 5, eta: 6 } }, 400, /not both/],
    ["bad priority", "/api/enqueue", { task: "add", options: { priority: 1.5 } }, 400, /priority/],
    ["unknown queue", "/api/enqueue", { task: "add", options: { queue: "" } }, 400, /queue/],
    ["unknown field", "/api/enqueue", { task: "add", argz: [] }, 400, /unknown field "argz"/],
    ["not JSON", "/api/enqueue", "{oops", 400, /not valid JSON/],
    ["a JSON array body", "/api/enqueue", "[1]", 400, /JSON object/],
    ["retry of an unknown id", "/api/retry", { id: "nope" }, 404, /no failed task/],
    ["purge with neither", "/api/purge", {}, 400, /"id".*"all"/],
    ["revoke with both", "/api/revoke", { id: "a", task: "add" }, 400, /not both/],
    ["revoke of an unknown id", "/api/revoke", { id: "nope" }, 404, /no task with id/],
    ["revoke of an unknown task", "/api/revoke", { task: "nope" }, 404, /no task named/],
    ["bad until", "/api/revoke", { task: "add", until: "someday" }, 400, /until/],
    ["pause of an unknown queue", "/api/pause", { queue: "nope" }, 400, /no task uses the queue "nope"/],
    ["pause for a bad duration", "/api/pause", { queue: "emails", for: "forever" }, 400, /for/],
    ["flush-lock with neither", "/api/flush-lock", {}, 400, /"key"/],
  ];
  for (const [what, path, body, status, message] of cases) {
    test(what, async () => {
      const r = await post(path, body);
      expect(r.status).toBe(status);
      expect(r.body.error).toMatch(message);
      expect(r.body.stack).toBeUndefined();
    });
  }

  test("a body that is not JSON-typed is 415; bad paging is 400; unknown routes are 404 or 405", async () => {
    const r = await fetch(`${base}/api/enqueue`, { method: "POST", headers: { ...auth, "x-huey-request": "1", "content-type": "text/plain" }, body: '{"task":"add"}' });
    expect(r.status).toBe(415);
    expect((await get("/api/queued?limit=abc")).status).toBe(400);
    expect((await get("/api/queued?limit=0")).status).toBe(400);
    expect((await get("/api/queued?limit=501")).status).toBe(400);
    expect((await get("/api/queued?offset=-1")).status).toBe(400);
    expect((await get("/api/nope")).status).toBe(404);
    expect((await get("/api/tasks/no-such-id")).status).toBe(404);
    expect((await get("/api/tasks/%E0%A4%A")).status).toBe(400);
    expect((await get("/api/enqueue")).status).toBe(405);
    expect(await huey.pendingCount()).toBe(0);
  });
});

describe("reads and actions", () => {
  test("enqueue returns the id; the task shows in the lists, its detail and the overview", async () => {
    const r = await post("/api/enqueue", { task: "echo", args: ["<b>x</b>", { n: 1 }], options: { priority: 5 } });
    expect(r.status).toBe(200);
    const id = r.body.id as string;
    const queued = await get("/api/queued");
    expect(queued.body.items.map((t: any) => t.id)).toContain(id);
    const row = queued.body.items.find((t: any) => t.id === id);
    expect(row).toMatchObject({ name: "echo", args: ["<b>x</b>", { n: 1 }], priority: 5, queue: "default" });
    const detail = await get(`/api/tasks/${id}`);
    expect(detail.body).toMatchObject({ id, state: "queued", task: { name: "echo" }, result: null, deadLetter: null });
    expect(detail.body.message.args).toEqual(["<b>x</b>", { n: 1 }]);
    const o = await get("/api/overview");
    expect(o.body.counts.queued).toBeGreaterThanOrEqual(1);
    expect(o.body.queues.map((q: any) => q.queue)).toEqual(["default", "emails"]);
    expect(o.body.consumers).toEqual([]);
    // One point a minute for the last hour, all zero: no consumer has run on this file.
    expect(o.body.throughput.length).toBe(60);
    expect(o.body.throughput.every((p: any) => p.done === 0 && p.failed === 0 && p.retried === 0)).toBe(true);
    expect(o.body.periodic[0]).toMatchObject({ name: "nightly", lastRun: null });
    await huey.flush();
  });

  test("paging and search", async () => {
    const r = await post("/api/enqueue", { task: "mail", args: ["a@b.c"] });
    const defs = await import(join(FIXTURES, "dashboard-fixture.ts"));
    await defs.add.map(Array.from({ length: 120 }, (_, i) => [i, i]));
    const p1 = await get("/api/queued?limit=50");
    expect(p1.body).toMatchObject({ offset: 0, limit: 50, more: true, total: 121 });
    const p3 = await get("/api/queued?limit=50&offset=100");
    expect(p3.body.items.length).toBe(21);
    expect(p3.body.more).toBe(false);
    const seen = new Set([...p1.body.items, ...(await get("/api/queued?limit=50&offset=50")).body.items, ...p3.body.items].map((t: any) => t.id));
    expect(seen.size).toBe(121);
    const byName = await get("/api/queued?q=mai");
    expect(byName.body.items.map((t: any) => t.id)).toEqual([r.body.id]);
    expect((await get(`/api/queued?q=${r.body.id}`)).body.items.length).toBe(1);
    expect((await get("/api/queued?queue=emails")).body.items.length).toBe(1);
    const o = await get("/api/overview");
    expect(o.body.queues).toEqual([
      { queue: "default", queued: 120, running: 0, scheduled: 0, paused: false, until: null },
      { queue: "emails", queued: 1, running: 0, scheduled: 0, paused: false, until: null },
    ]);
    await huey.flush();
  });

  test("scheduled, revoke and restore by id and by task name", async () => {
    const r = await post("/api/enqueue", { task: "add", args: [1, 2], options: { delay: "1h" } });
    const sched = await get("/api/scheduled");
    expect(sched.body.items[0]).toMatchObject({ id: r.body.id, name: "add" });
    expect(sched.body.items[0].eta).toBeGreaterThan(Date.now() + 3_000_000);
    expect((await post("/api/revoke", { id: r.body.id })).status).toBe(200);
    expect(await huey.isRevokedId(r.body.id)).toBe(true);
    expect((await get("/api/overview")).body.revoked.ids.map((x: any) => x.id)).toEqual([r.body.id]);
    expect((await post("/api/restore", { id: r.body.id })).body.restored).toBe(true);
    expect((await post("/api/revoke", { task: "add", once: true })).body).toMatchObject({ task: "add", once: true });
    expect((await get("/api/overview")).body.revoked.tasks).toEqual([{ task: "add", until: null, once: true }]);
    expect((await post("/api/restore", { task: "add" })).body.restored).toBe(true);
    await huey.flush();
  });

  test("done and failed lists, retry and purge of dead letters, detail with the stack", async () => {
    const defs = await import(join(FIXTURES, "dashboard-fixture.ts"));
    const s = huey.storage;
    await s.putResult({ id: "r1", payload: encode({ ok: true, value: { sum: 3 } }, "t") });
    // A dead letter as the consumer writes it: the task's message kept to enqueue again.
    const res = await defs.boom("why");
    const [item] = await s.listPending(1);
    await huey.flush();
    const dl = {
      id: res.id, name: "boom", args: ["why"], attempts: 1, failedAt: Date.now(),
      error: { name: "Error", message: "boom: why", stack: "Error: boom: why\n    at <script>" },
      payload: item!.payload,
    };
    await s.putData(KEYS.failed + res.id, JSON.stringify(dl));
    await s.putResult({ id: "r1", payload: encode({ ok: true, value: { sum: 3 } }, "t") });
    const done = await get("/api/done");
    expect(done.body.items).toEqual([{ id: "r1", ok: true, value: { sum: 3 }, error: null, expiresAt: null }]);
    const failed = await get("/api/failed?q=boo");
    expect(failed.body.items).toEqual([{ id: res.id, name: "boom", queue: "default", args: ["why"], attempts: 1, failedAt: dl.failedAt, error: dl.error }]);
    // The queue filter reads each dead letter's queue from its stored message.
    const m = { id: "mail-dl", payload: JSON.stringify({ ...readMessage(item!.payload), id: "mail-dl", name: "mail", queue: "emails" }) };
    await s.putData(KEYS.failed + m.id, JSON.stringify({ ...dl, id: m.id, name: "mail", payload: m.payload }));
    expect((await get("/api/failed?queue=emails")).body.items.map((r: any) => [r.id, r.queue])).toEqual([[m.id, "emails"]]);
    expect((await get("/api/failed?queue=default")).body.items.map((r: any) => r.id)).toEqual([res.id]);
    expect((await get("/api/failed?queue=emails")).body.total).toBeNull();
    await s.deleteData(KEYS.failed + m.id);
    const detail = await get(`/api/tasks/${res.id}`);
    expect(detail.body).toMatchObject({ state: "failed", deadLetter: { error: { stack: dl.error.stack } } });
    expect(detail.body.message.name).toBe("boom");
    const retried = await post("/api/retry", { id: res.id });
    expect(retried.body).toEqual({ retried: res.id });
    expect(await huey.failedCount()).toBe(0);
    expect(readMessage((await s.listPending(1))[0]!.payload).name).toBe("boom");
    // Unreadable stored JSON is shown as null, never a 500.
    await s.putData(KEYS.revokedId + "x1", "{not json");
    await s.putData(KEYS.failed + "x1", "{not json either");
    const odd = await get("/api/tasks/x1");
    expect(odd.status).toBe(200);
    expect(odd.body).toMatchObject({ state: "failed", revoked: null, message: null });
    expect((await get("/api/failed?q=boo")).status).toBe(200);
    await s.deleteData(KEYS.revokedId + "x1");
    await s.putData(KEYS.failed + "x1", JSON.stringify({ ...dl, id: "x1" }));
    await s.putData(KEYS.failed + "x2", JSON.stringify({ ...dl, id: "x2" }));
    expect((await post("/api/purge", { id: "x1" })).body).toEqual({ purged: 1 });
    expect((await post("/api/purge", { all: true })).body).toEqual({ purged: 1 });
    expect((await get("/api/done?q=r1")).body.items.length).toBe(1);
    expect((await get("/api/tasks/r1")).body).toMatchObject({ state: "done", result: { ok: true, value: { sum: 3 } } });
    await huey.flush();
  });

  test("running: leased tasks with their lease end, counted per queue", async () => {
    const defs = await import(join(FIXTURES, "dashboard-fixture.ts"));
    await defs.add(1, 2);
    const m = await defs.mail("x@y.z");
    const until = Date.now() + 30_000;
    const leased = await huey.storage.lease(1, until, { now: Date.now(), lanes: { emails: 1 } });
    expect(leased.map((l) => l.id)).toEqual([m.id]);
    const running = await get("/api/running");
    expect(running.body).toMatchObject({ total: 1, more: false });
    expect(running.body.items).toEqual([expect.objectContaining({ id: m.id, name: "mail", queue: "emails", leasedUntil: until })]);
    expect((await get("/api/queued")).body.items.map((t: any) => t.name)).toEqual(["add"]);
    expect((await get(`/api/tasks/${m.id}`)).body).toMatchObject({ state: "running", status: { state: "running", consumer: null, since: null, leasedUntil: until } });
    // A consumer's heartbeat that lists the task: the running list and the detail say which consumer, since when.
    const since = Date.now() - 5_000;
    const beat = {
      v: 1, id: "box.42.abcd1234", host: "box", pid: 42, version: "0.0.0", started: since - 60_000, backend: "sqlite", workers: 2, concurrency: 1,
      queues: null, busy: 1, done: 3, failed: 0, running: [{ id: m.id, name: "mail", since, attempt: 1 }], lastSeen: Date.now(), interval: 5_000, stopped: false,
    };
    await huey.storage.putData("consumer:box.42.abcd1234", JSON.stringify(beat));
    expect((await get("/api/running")).body.items[0]).toMatchObject({ id: m.id, consumer: "box.42.abcd1234", since });
    expect((await get(`/api/tasks/${m.id}`)).body.status).toMatchObject({ state: "running", consumer: "box.42.abcd1234", since, attempt: 1 });
    expect((await get("/api/overview")).body.consumers).toEqual([
      expect.objectContaining({ id: "box.42.abcd1234", workers: 2, concurrency: 1, busy: 1, done: 3, live: true, stopped: false }),
    ]);
    const o = await get("/api/overview");
    expect(o.body.counts).toMatchObject({ queued: 1, running: 1 });
    expect(o.body.queues.find((q: any) => q.queue === "emails")).toMatchObject({ queued: 0, running: 1 });
    await huey.flush();
  });

  test("locks are listed and flushed", async () => {
    await huey.storage.acquireLock("report", "someone", Date.now() + 60_000, Date.now());
    expect((await get("/api/overview")).body.locks.map((l: any) => l.key)).toEqual(["report"]);
    expect((await post("/api/flush-lock", { key: "report" })).body).toEqual({ freed: 1 });
    expect(await huey.locks()).toEqual([]);
  });
});

describe("on a storage without SQL (memory): the contract's lists", () => {
  test("lists page within the first 10,000, search filters, done is a lookup by id", async () => {
    const { createApi } = await import("../../src/server/api");
    const mem = new lib.MemoryHuey({ name: "mem" });
    const add = mem.task("add", (a: number, b: number) => a + b);
    mem.task("mail", { queue: "emails" }, (_to: string) => {});
    const api = createApi(() => mem, () => {}, 0);
    const call = async (path: string) => {
      const url = new URL(`http://127.0.0.1${path}`);
      const res = await api.handle(new Request(url), url);
      return { status: res.status, body: (await res.json()) as any };
    };
    await add.map(Array.from({ length: 60 }, (_, i) => [i, 1] as [number, number]));
    const r = await add.schedule([1, 1], { delay: "1h" });
    const p2 = await call("/api/queued?limit=50&offset=50");
    expect(p2.body).toMatchObject({ offset: 50, more: false, total: 60 });
    expect(p2.body.items.length).toBe(10);
    expect((await call("/api/scheduled")).body.items.map((t: any) => t.id)).toEqual([r.id]);
    expect((await call(`/api/queued?q=${p2.body.items[0].id}`)).body.items.length).toBe(1);
    expect((await call("/api/queued?offset=9990&limit=50")).status).toBe(400);
    const done = await call("/api/done");
    expect(done.body.note).toContain("cannot list results");
    await mem.storage.putResult({ id: "res", payload: encode({ ok: true, value: 7 }, "t") });
    expect((await call("/api/done?q=res")).body.items).toEqual([{ id: "res", ok: true, value: 7, error: null }]);
    expect((await call(`/api/tasks/${r.id}`)).body).toMatchObject({ state: "scheduled", task: { name: "add" } });
    const o = await call("/api/overview");
    expect(o.body.counts).toMatchObject({ queued: 60, scheduled: 1 });
    expect(o.body.queues.map((q: any) => [q.queue, q.queued])).toEqual([["default", 60], ["emails", 0]]);
    api.close();
  });
});

describe("a task's detail: its state (huey.state) and its log (huey.taskLog)", () => {
  test("run by the engine in immediate mode: done, with its ctx.log lines and timeline; a failure shows its error", async () => {
    const { createApi } = await import("../../src/server/api");
    const mem = new lib.MemoryHuey({ name: "imm", immediate: true });
    const chatty = mem.task("chatty", { context: true }, (ctx: lib.TaskContext, who: string) => {
      ctx.log("hello %s", who);
      ctx.log.warn("<b>careful</b>\x1b[31m");
      return who.length;
    });
    const bad = mem.task("bad", { context: true, retries: 0 }, (ctx: lib.TaskContext) => {
      ctx.log.error("about to fail");
      throw new Error("nope");
    });
    const api = createApi(() => mem, () => {}, 0);
    const call = async (path: string) => {
      const url = new URL(`http://127.0.0.1${path}`);
      const res = await api.handle(new Request(url), url);
      return { status: res.status, body: (await res.json()) as any };
    };
    try {
      const r = await chatty("ann");
      expect(await r.get()).toBe(3);
      const d = await call(`/api/tasks/${r.id}`);
      expect(d.status).toBe(200);
      expect(d.body).toMatchObject({ id: r.id, state: "done", status: { state: "done", id: r.id, result: true }, result: { ok: true, value: 3 } });
      expect(typeof d.body.status.at).toBe("number");
      expect(d.body.log.lines.map((l: any) => [l.level ?? null, l.message, l.attempt])).toEqual([
        [null, "hello ann", 1],
        ["warn", "<b>careful</b>\x1b[31m", 1],
      ]);
      expect(d.body.log.events.map((e: any) => e.event)).toEqual(["enqueued", "started", "complete"]);
      expect(d.body.log.dropped).toBe(0);

      const f = await bad();
      await expect(f.get()).rejects.toThrow("nope");
      const fd = await call(`/api/tasks/${f.id}`);
      expect(fd.body).toMatchObject({ state: "failed", status: { state: "failed", error: { name: "Error", message: "nope" } } });
      expect(fd.body.log.lines.map((l: any) => l.message)).toEqual(["about to fail"]);
      expect(fd.body.log.events.map((e: any) => e.event)).toEqual(["enqueued", "started", "error"]);

      // Queued and scheduled: the state says so, the timeline starts with the stored message's time.
      const q = await chatty.schedule(["later"], { delay: "1h" });
      const qd = await call(`/api/tasks/${q.id}`);
      expect(qd.body).toMatchObject({ state: "scheduled", status: { state: "scheduled", name: "chatty", attempt: 1, revoked: false } });
      expect(qd.body.status.eta).toBeGreaterThan(Date.now() + 3_000_000);
      expect(qd.body.log.events.map((e: any) => e.event)).toEqual(["enqueued", "scheduled"]);
      expect(qd.body.log.lines).toEqual([]);
      expect((await call("/api/tasks/never-stored")).status).toBe(404);
    } finally {
      api.close();
      await mem.close();
    }
  });
});

describe("unexpected errors", () => {
  test("are a 500 with a generic message; the stack goes to the log only, control characters escaped", async () => {
    const { createApi } = await import("../../src/server/api");
    const logs: string[] = [];
    const api = createApi(() => {
      throw new Error("storage on fire\x1b[31m");
    }, (l) => void logs.push(l), 0);
    const url = new URL("http://127.0.0.1/api/overview");
    const res = await api.handle(new Request(url), url);
    expect(res.status).toBe(500);
    const body = (await res.json()) as any;
    expect(body.error).toBe("internal error; the server's log has the details");
    expect(JSON.stringify(body)).not.toContain("fire");
    expect(logs.length).toBe(1);
    expect(logs[0]).toContain("storage on fire\\x1b[31m");
    expect(logs[0]).not.toContain("\x1b");
  });
});

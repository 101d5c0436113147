// huey.state(id) through a task's life, and its bounded log and timeline, with the engine driven by hand on
// memory storage and time as an argument (as engine.test.ts does).
import { describe, expect, test } from "bun:test";
import { InlineCommitter } from "../../src/consumer/committer";
import { Engine, type InFlight, type Log } from "../../src/consumer/engine";
import { InlinePool, type Pool, type PoolListener, type PoolTask, type RunInfo } from "../../src/consumer/pool";
import { reportOutcome, runDetails } from "../../src/consumer/report";
import type { Outcome } from "../../src/executor";
import { Huey, MemoryHuey } from "../../src/huey";
import { KEYS } from "../../src/message";
import type { TaskContext } from "../../src/task";
import { formatLogArgs, MAX_LOG_LINE, MAX_LOG_LINES, purgeTaskLogs, readTaskLog, recordKey } from "../../src/task-log";
import { uuidv7Time } from "../../src/task-state";
import { internalsOf } from "../../src/_internals";

class ManualPool implements Pool {
  held: PoolTask[] = [];
  started = new Set<string>();
  constructor(readonly listener: PoolListener) {}
  async start() {}
  room() {
    return 10 - this.held.length;
  }
  starving() {
    return true;
  }
  submit(t: PoolTask) {
    this.held.push(t);
    return true;
  }
  flushSubmits() {}
  abort() {}
  kill() {}
  isStarted(id: string) {
    return this.started.has(id);
  }
  runningCount() {
    return this.started.size;
  }
  stop() {}
  quiet() {
    return true;
  }
  terminate() {}
  start_(id: string, worker?: number) {
    this.started.add(id);
    this.listener.started(id, worker);
  }
  finish(id: string, outcome: Outcome, run?: RunInfo) {
    this.held = this.held.filter((t) => t.id !== id);
    this.started.delete(id);
    this.listener.done(id, outcome, 12.3456, false, run);
  }
}

const silent: Log = { enabled: () => false, debug() {}, info() {}, warn() {}, error() {} };
const OK: Outcome = { kind: "ok", result: JSON.stringify({ ok: true, value: 1 }) };
const BOOM: Outcome = { kind: "error", error: { name: "Error", message: "boom" } };
let n = 0;

/** The engine over a fresh memory Huey; `clock` is the engine's (and the inline pool's) time. */
function setup(o: { pool?: "manual" | "inline"; lease?: number; execNow?: number } = {}) {
  const huey = new MemoryHuey({ name: `state-${++n}`, resultTtl: false });
  const storage = huey.storage;
  const hi = internalsOf(huey);
  const clock = { now: 1_000 };
  const engine = new Engine(
    { storage, signals: huey.signals, lookup: (x) => hi.registry.lookup(x), keepFailed: true, completeChord: (c) => hi.completeChord(c) },
    { lease: o.lease ?? 30_000, maxLeases: 5, unknownTaskDelay: 30_000, timeout: null, clock: () => clock.now, consumerId: "test:1" },
    silent,
  );
  const manual = new ManualPool(engine);
  const exec = { lookup: (x: string) => hi.registry.lookup(x), maxPayloadSize: 1 << 20, hooks: hi.registry.hooks, ...(o.execNow !== undefined && { now: o.execNow }) };
  const inline = new InlinePool(engine, exec, 10, 0);
  inline.clock = () => clock.now;
  engine.pool = o.pool === "inline" ? inline : manual;
  engine.committer = new InlineCommitter<InFlight>({
    storage, onCommitted: (d, l) => engine.committed(d, l), onError() {}, inFlight: () => engine.inflight.size,
  });
  /** Lease what is ready at `now` and, for the inline pool, run it to its commit. */
  const step = async (now: number) => {
    clock.now = now;
    await engine.leaseAndDispatch(10, now);
    await inline.whenIdle();
    await engine.committer.flush();
  };
  return { huey, storage, engine, pool: manual, clock, step };
}

describe("huey.state(id) through a task's life", () => {
  test("queued, running (attempt, leases, progress), scheduled for its retry, running again, done; the timeline of both attempts", async () => {
    const { huey, engine, pool, clock, step } = setup();
    const t = huey.task("send", { retries: 3, retryDelay: 500 }, (x: number) => x);
    const r = await t(1);
    const s0 = await huey.state(r.id);
    expect(s0).toMatchObject({ state: "queued", id: r.id, name: "send", queue: "default", priority: 0, attempt: 1, retries: 3, revoked: false });
    expect(s0.state === "queued" && typeof s0.enqueuedAt).toBe("number");

    await step(1_000);
    pool.start_(r.id, 2);
    engine.progress(r.id, JSON.stringify(0.5));
    await engine.committer.flush();
    expect(await huey.state(r.id, { now: 1_100 })).toMatchObject({
      state: "running", attempt: 1, retries: 3, leases: 1, leasedUntil: 31_000, since: null, consumer: null, progress: 0.5,
    });

    clock.now = 2_000;
    pool.finish(r.id, BOOM, { attempt: 1, retries: 3, at: 500, context: false });
    await engine.committer.flush();
    expect(await huey.state(r.id)).toMatchObject({ state: "scheduled", attempt: 2, retries: 2, eta: 2_500 });

    await engine.committer.flush();
    await huey.storage.promoteDue(2_500, 10);
    await step(3_000);
    pool.start_(r.id, 0);
    expect(await huey.state(r.id)).toMatchObject({ state: "running", attempt: 2, leases: 1 });
    clock.now = 3_250;
    pool.finish(r.id, OK, { attempt: 2, retries: 2, at: 2_000, context: false });
    await engine.committer.flush();
    expect(await huey.state(r.id)).toEqual({ state: "done", id: r.id, result: true, at: 3_250 });

    const log = await huey.taskLog(r.id);
    expect(log.events.map((e) => [e.event, e.attempt])).toEqual([
      ["enqueued", 1], ["started", 1], ["error", 1], ["retrying", 1], ["started", 2], ["complete", 2],
    ]);
    expect(log.events.map((e) => e.at)).toEqual([500, 1_000, 2_000, 2_000, 3_000, 3_250]);
    expect(log.events[2]!.error).toBe("Error: boom");
    expect(log.events[3]!.eta).toBe(2_500);
    expect(log).toMatchObject({ lines: [], dropped: 0 });
  });

  test("failed for good: the stored error and its dead letter; without a result, the dead letter alone", async () => {
    const { huey, engine, pool, clock, step } = setup();
    const r = await huey.task("t", () => 1)();
    await step(1_000);
    pool.start_(r.id);
    clock.now = 1_500;
    pool.finish(r.id, BOOM);
    await engine.committer.flush();
    expect(await huey.state(r.id)).toMatchObject({ state: "failed", error: { name: "Error", message: "boom" }, attempts: 1, at: 1_500, deadLetter: true });
    await huey.storage.deleteResult(r.id);
    expect(await huey.state(r.id)).toMatchObject({ state: "failed", error: { message: "boom" }, deadLetter: true });
  });

  test("revoked: queued and marked while it waits, then skipped by a consumer; expired: skipped past its expires", async () => {
    const { huey, step } = setup({ pool: "inline", execNow: 10_000_000_000_000 });
    const t = huey.task("t", () => 1);
    const a = await t();
    await a.revoke();
    expect(await huey.state(a.id)).toMatchObject({ state: "queued", revoked: true });
    await step(5_000);
    expect(await huey.state(a.id)).toMatchObject({ state: "revoked", at: 5_000 });

    const b = await t.schedule([], { expires: 60_000 });
    await step(6_000);
    expect(await huey.state(b.id)).toEqual({ state: "expired", id: b.id, at: 6_000 });
    expect((await huey.taskLog(b.id)).events.map((e) => e.event)).toEqual(["enqueued", "expired"]);
  });

  test("scheduled shows its eta, and its log the time it was stored; an id nobody knows is unknown", async () => {
    const { huey } = setup();
    const r = await huey.task("t", () => 1).schedule([], { eta: 9_999_999_999_999 });
    expect(await huey.state(r.id)).toMatchObject({ state: "scheduled", eta: 9_999_999_999_999, attempt: 1 });
    expect((await huey.taskLog(r.id)).events.map((e) => e.event)).toEqual(["enqueued", "scheduled"]);
    expect(await huey.state("nope")).toEqual({ state: "unknown", id: "nope" });
    expect(await huey.taskLog("nope")).toEqual({ lines: [], events: [], dropped: 0 });
  });

  test("a heartbeat that lists the running task gives since and consumer", async () => {
    const { huey, pool, step } = setup();
    const r = await huey.task("t", () => 1)();
    await step(1_000);
    pool.start_(r.id);
    await huey.storage.putData("consumer:web-1:42", JSON.stringify({ id: "web-1:42", running: [{ id: r.id, name: "t", since: 1_010, attempt: 1 }] }));
    expect(await huey.state(r.id)).toMatchObject({ state: "running", since: 1_010, consumer: "web-1:42" });
  });

  test("the state of a task id is read by id: no listing of the queue", async () => {
    const { huey, storage } = setup();
    const t = huey.task("t", () => 1);
    for (let i = 0; i < 50; i++) await t();
    const r = await t();
    let listed = 0;
    for (const m of ["listPending", "listScheduled", "lease"] as const) {
      const orig = (storage as any)[m].bind(storage);
      (storage as any)[m] = (...a: unknown[]) => (listed++, orig(...a));
    }
    expect((await huey.state(r.id)).state).toBe("queued");
    expect(listed).toBe(0);
  });
});

describe("ctx.log and the task's record", () => {
  test("lines are kept with the outcome, bounded: 100 lines of 2,000 characters a run, the rest counted as dropped", async () => {
    const { huey, step } = setup({ pool: "inline" });
    const t = huey.task("chatty", { context: true }, (ctx: TaskContext) => {
      ctx.log("hello %s", "world", { n: 1 });
      ctx.log.warn("careful");
      ctx.log("x".repeat(5_000));
      for (let i = 0; i < 200; i++) ctx.log(i);
      return 1;
    });
    const r = await t();
    await step(7_000);
    const log = await huey.taskLog(r.id);
    expect(log.lines.length).toBe(MAX_LOG_LINES);
    expect(log.dropped).toBe(203 - MAX_LOG_LINES);
    expect(log.lines[0]).toEqual({ at: 7_000, message: "hello world { n: 1 }", attempt: 1 });
    expect(log.lines[1]).toEqual({ at: 7_000, level: "warn", message: "careful", attempt: 1 });
    expect(log.lines[2]!.message.length).toBe(MAX_LOG_LINE);
    expect(log.lines[2]!.message.endsWith("…")).toBe(true);
    expect(log.events.map((e) => e.event)).toEqual(["enqueued", "started", "complete"]);
    expect(await huey.state(r.id)).toMatchObject({ state: "done", result: true, at: 7_000 });
  });

  test("a run whose lease was lost writes no log record (the fence), and the newer holder's stands", async () => {
    const { huey, storage, engine, pool, step } = setup({ lease: 1_000 });
    const r = await huey.task("t", { context: true }, (_ctx: TaskContext) => 1)();
    await step(1_000);
    pool.start_(r.id);
    await storage.reclaimExpired(5_000);
    const [again] = await storage.lease(1, 60_000);
    pool.finish(r.id, OK, { attempt: 1, retries: 0, context: true, lines: [{ at: 1_001, message: "stale" }] });
    await engine.committer.flush();
    expect(engine.stats.lost).toBe(1);
    expect(await storage.listData(KEYS.taskLog, 10)).toEqual([]);
    expect(await storage.listData(KEYS.taskLogExpiry, 10)).toEqual([]);
    expect(again!.id).toBe(r.id);
  });

  test("a first-attempt success of a plain task keeps no record; a context task's does", async () => {
    const { huey, storage, step } = setup({ pool: "inline" });
    const plain = await huey.task("plain", () => 1)();
    const ctx = await huey.task("ctx", { context: true }, (_c: TaskContext) => 1)();
    await step(2_000);
    expect((await storage.listData(KEYS.taskLog, 10)).map((r) => r.key)).toEqual([recordKey(ctx.id, 1)]);
    expect(await huey.state(plain.id)).toMatchObject({ state: "done", result: true, at: null });
  });

  test("records expire with the result: retention drops those due, by their expiry index, and no other", async () => {
    const huey = new MemoryHuey({ name: `state-${++n}` });
    const storage = huey.storage;
    const { recordWrites } = await import("../../src/task-log");
    await storage.commit({ putData: [...recordWrites("a", 1, [], [], 0, 1_000), ...recordWrites("b", 1, [], [], 0, 5_000), ...recordWrites("a", 2, [], [], 0, 9_000)] });
    expect(await purgeTaskLogs(storage, 4_999, 500)).toBe(1);
    expect((await storage.listData(KEYS.taskLog, 10)).map((r) => r.key)).toEqual([recordKey("a", 2), recordKey("b", 1)]);
    expect(await purgeTaskLogs(storage, 10_000, 1)).toBe(1);
    expect(await purgeTaskLogs(storage, 10_000, 500)).toBe(1);
    expect(await storage.listData("tasklog", 10)).toEqual([]);
  });

  test("the ids a# and a#b keep their records apart", async () => {
    const huey = new MemoryHuey({ name: `state-${++n}` });
    const { recordWrites } = await import("../../src/task-log");
    await huey.storage.commit({ putData: [...recordWrites("a", 1, [{ at: 1, event: "complete", attempt: 1 }], [], 0, 1e12), ...recordWrites("a#b", 1, [{ at: 2, event: "error", attempt: 1 }], [], 3, 1e12)] });
    expect(await readTaskLog(huey.storage, "a")).toEqual({ lines: [], events: [{ at: 1, event: "complete", attempt: 1 }], dropped: 0 });
  });

  test("formatting is console.log's, and never runs a getter or a Proxy trap", () => {
    const getter = { get x() { throw new Error("ran"); } };
    const proxy = new Proxy({}, { get() { throw new Error("trap"); }, ownKeys() { throw new Error("trap"); } });
    expect(formatLogArgs(["%d items", 3, "ok"])).toBe("3 items ok");
    expect(formatLogArgs([getter])).toBe("{ x: [Getter] }");
    expect(() => formatLogArgs([proxy])).not.toThrow();
  });

  test("immediate mode keeps the lines; callLocal writes them to the console", async () => {
    const huey = new Huey({ name: `imm-${++n}`, immediate: true });
    const t = huey.task("t", { context: true }, (ctx: TaskContext, x: number) => {
      ctx.log("got", x);
      return x;
    });
    const r = await t(4);
    expect(await r.get()).toBe(4);
    expect((await huey.taskLog(r.id)).lines.map((l) => l.message)).toEqual(["got 4"]);
    const seen: unknown[][] = [];
    const orig = console.log;
    console.log = (...a: unknown[]) => void seen.push(a);
    try {
      expect(t.callLocal(5)).toBe(5);
    } finally {
      console.log = orig;
    }
    expect(seen).toEqual([["got", 5]]);
  });
});

describe("task log lines an operator can ingest", () => {
  test("attempt/max, queue wait, duration, Worker and consumer, as text and as fields", async () => {
    const { huey, engine, pool, clock, step } = setup();
    const r = await huey.task("send", { retries: 3 }, () => 1)();
    await step(10_000);
    pool.start_(r.id, 3);
    const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
    const log: Log = {
      enabled: (l) => l !== "debug",
      debug: () => {},
      info: (msg, fields) => void lines.push({ level: "info", msg, fields }),
      warn: (msg, fields) => void lines.push({ level: "warn", msg, fields }),
      error: (msg, fields) => void lines.push({ level: "error", msg, fields }),
    };
    const task = engine.inflight.get(r.id)!;
    task.run = { attempt: 2, retries: 2, at: 9_965, context: false };
    clock.now = 10_100;
    const p = { task, plan: { batch: {}, signals: ["complete" as const] }, ms: 12.3456 };
    reportOutcome(p, { log, stats: engine.stats, signals: huey.signals, immediate: false, consumerId: "web-1:42", emit() {} });
    expect(lines).toEqual([{
      level: "info",
      msg: `send ${r.id} complete in 12ms (attempt 2/4, waited 35ms, worker 3, consumer web-1:42)`,
      fields: { task: "send", id: r.id, ms: 12.35, attempt: 2, attempts: 4, waitMs: 35, worker: 3, consumer: "web-1:42" },
    }]);
    // Above info nothing is built: no line, and runDetails is what builds the text.
    const quiet: Log = { ...log, enabled: (l) => l === "error" };
    lines.length = 0;
    reportOutcome(p, { log: quiet, stats: engine.stats, signals: huey.signals, immediate: false, consumerId: "web-1:42", emit() {} });
    expect(lines).toEqual([]);
    expect(runDetails({ ...p, task: { ...task, run: undefined, worker: undefined } }, undefined).text).toBe("");
  });

  test("uuidv7Time reads the time of a UUIDv7 id, and nothing else", () => {
    const id = Bun.randomUUIDv7("hex", 1_700_000_000_123);
    expect(uuidv7Time(id)).toBe(1_700_000_000_123);
    expect(uuidv7Time("nightly:123")).toBeNull();
  });
});

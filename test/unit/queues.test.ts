// Named queues (lanes) and pauses: the lease rules on memory and SQLite storage with time as an argument,
// the engine's per-queue limits, and the migration of a database made before lanes existed.
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { InlineCommitter } from "../../src/consumer/committer";
import { Engine, type InFlight, type Log } from "../../src/consumer/engine";
import type { Pool, PoolListener, PoolTask } from "../../src/consumer/pool";
import { parseQueues } from "../../src/consumer/options";
import { MemoryHuey } from "../../src/huey";
import { MemoryStorage } from "../../src/storage/memory";
import { SqliteStorage } from "../../src/storage/sqlite";
import { SQLITE_MIGRATIONS } from "../../src/storage/sql/migrations";
import type { QueueItem, Storage } from "../../src/storage/types";
import { internalsOf } from "../../src/_internals";
import { checkKnownQueue } from "../../src/_queues";
import { deadLetterQueue } from "../../src/dead-letters";
import { tempDb } from "../harness";

const item = (id: string, lane: string, priority = 0): QueueItem => ({ id, name: "t", priority, payload: "{}", lane });
let n = 0;

const backends: [string, () => Storage][] = [
  ["memory", () => new MemoryStorage(`q${++n}`)],
  ["sqlite", () => new SqliteStorage({ filename: tempDb(), queue: `q${++n}` })],
];

describe.each(backends)("lanes on %s", (_kind, make) => {
  test("a lease serves only the lanes named, each up to its cap, priorities first within a lane", async () => {
    const s = make();
    await s.enqueue([item("e1", "emails"), item("e2", "emails", 5), item("e3", "emails"), item("d1", "default"), item("r1", "reports")]);
    const got = await s.lease(10, 60_000, { now: 1_000, lanes: { emails: 2, default: Infinity } });
    expect(got.map((g) => g.id).sort()).toEqual(["d1", "e1", "e2"]);
    expect(got.find((g) => g.id === "e2")!.lane).toBe("emails");
    // e2 (priority 5) came before e1 within emails; e3 was over the cap of 2.
    expect(await s.pendingCount("emails")).toBe(1);
    expect(await s.pendingCount("reports")).toBe(1);
    expect((await s.listPending(10, "emails")).map((p) => [p.id, p.leased])).toEqual([["e2", true], ["e1", true], ["e3", false]]);
    await s.close();
  });

  test("a busy lane does not starve another: a small lease takes from each lane in turn", async () => {
    const s = make();
    await s.enqueue(Array.from({ length: 50 }, (_, i) => item(`b${i}`, "busy", 10)));
    await s.enqueue([item("q1", "quiet"), item("q2", "quiet")]);
    const first = await s.lease(4, 60_000, { now: 0 });
    expect(first.filter((g) => g.lane === "quiet").length).toBe(2);
    const ids: string[] = [];
    const s2 = make();
    await s2.enqueue(Array.from({ length: 10 }, (_, i) => item(`b${i}`, "busy", 10)));
    await s2.enqueue([item("q1", "quiet")]);
    for (let i = 0; i < 2; i++) ids.push(...(await s2.lease(1, 60_000, { now: 0 })).map((g) => g.lane!));
    expect(ids.sort()).toEqual(["busy", "quiet"]);
    await s.close();
    await s2.close();
  });

  test("a paused lane is not leased, keeps its tasks, and is leased again after resume or when the pause runs out", async () => {
    const s = make();
    await s.enqueue([item("e1", "emails"), item("d1", "default")]);
    await s.schedule([{ ...item("e2", "emails"), eta: 500 }]);
    await s.pauseLane("emails", null);
    await s.promoteDue(1_000, 10); // scheduled tasks of a paused lane still become ready
    expect((await s.lease(10, 60_000, { now: 1_000 })).map((g) => g.id)).toEqual(["d1"]);
    expect(await s.listPaused(1_000)).toEqual([{ lane: "emails", until: null }]);
    expect(await s.pendingCount("emails")).toBe(2);
    expect(await s.resumeLane("emails")).toBe(true);
    expect(await s.resumeLane("emails")).toBe(false);
    expect((await s.lease(10, 60_000, { now: 1_000 })).map((g) => g.id).sort()).toEqual(["e1", "e2"]);

    await s.enqueue([item("e3", "emails")]);
    await s.pauseLane("emails", 5_000);
    expect(await s.lease(10, 60_000, { now: 4_999, lanes: { emails: 5 } })).toEqual([]);
    expect(await s.listPaused(4_999)).toEqual([{ lane: "emails", until: 5_000 }]);
    expect(await s.listPaused(5_000)).toEqual([]);
    expect((await s.lease(10, 60_000, { now: 5_000, lanes: { emails: 5 } })).map((g) => g.id)).toEqual(["e3"]);
    await s.close();
  });

  test("lanes survive retries through the schedule and listings filter by lane", async () => {
    const s = make();
    await s.schedule([{ ...item("x", "emails"), eta: 10 }, { ...item("y", "default"), eta: 10 }]);
    expect((await s.listScheduled(10, "emails")).map((i) => [i.id, i.lane])).toEqual([["x", "emails"]]);
    expect(await s.scheduledCount("default")).toBe(1);
    await s.promoteDue(10, 10);
    expect((await s.lease(10, 60_000, { now: 10, lanes: { emails: 9 } })).map((g) => [g.id, g.lane])).toEqual([["x", "emails"]]);
    await s.close();
  });
});

test("a SQLite database made before lanes opens with its tasks in the queue \"default\"", async () => {
  const file = tempDb();
  const db = new Database(file);
  db.run("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
  for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= 5)) {
    db.run(m.sql);
    db.query("INSERT INTO schema_version (version, applied_at) VALUES (?, 0)").run(m.version);
  }
  db.query("INSERT INTO queue (queue, id, name, priority, payload) VALUES ('app', 'old', 't', 0, '{}')").run();
  db.query("INSERT INTO schedule (queue, id, name, priority, eta, payload) VALUES ('app', 'later', 't', 0, 5, '{}')").run();
  db.close();
  const s = new SqliteStorage({ filename: file, queue: "app" });
  expect((await s.listPending(10, "default")).map((p) => p.id)).toEqual(["old"]);
  expect((await s.listScheduled(10, "default")).map((p) => p.id)).toEqual(["later"]);
  expect((await s.lease(10, 60_000, { now: 0, lanes: { default: 10 } })).map((g) => g.id)).toEqual(["old"]);
  await s.close();
});

/** A pool the test drives: it holds what it is handed. */
class HoldingPool implements Pool {
  held: PoolTask[] = [];
  constructor(readonly listener: PoolListener, readonly slots: number) {}
  async start() {}
  room() { return this.slots - this.held.length; }
  starving() { return this.held.length < this.slots; }
  submit(t: PoolTask) { if (this.room() === 0) return false; this.held.push(t); return true; }
  flushSubmits() {}
  abort() {}
  kill() {}
  isStarted() { return false; }
  runningCount() { return 0; }
  stop() {}
  quiet() { return true; }
  terminate() {}
  finish(id: string) {
    this.held = this.held.filter((t) => t.id !== id);
    this.listener.done(id, { kind: "ok", result: JSON.stringify({ ok: true, value: 1 }) }, 1, false);
  }
}

const silent: Log = { enabled: () => false, debug() {}, info() {}, warn() {}, error() {} };

function setup(queues: Record<string, number | null> | null, slots = 10) {
  const huey = new MemoryHuey({ name: `queues-${++n}` });
  const hi = internalsOf(huey);
  const engine = new Engine(
    { storage: huey.storage, signals: huey.signals, lookup: (x) => hi.registry.lookup(x), keepFailed: true, completeChord: (c) => hi.completeChord(c) },
    { lease: 30_000, maxLeases: 5, unknownTaskDelay: 30_000, timeout: null, queues },
    silent,
  );
  const pool = new HoldingPool(engine, slots);
  engine.pool = pool;
  engine.committer = new InlineCommitter<InFlight>({ storage: huey.storage, onCommitted: (d, l) => engine.committed(d, l), onError() {}, inFlight: () => engine.inflight.size });
  const email = huey.task("email", { queue: "emails" }, (_x: number) => 1);
  const plain = huey.task("plain", (_x: number) => 1);
  return { huey, engine, pool, email, plain };
}

describe("the engine", () => {
  test("never has more of a queue in flight than its limit; a task over it is not leased", async () => {
    const { engine, pool, email, plain } = setup(parseQueues("emails=2,default"));
    for (let i = 0; i < 5; i++) await email(i);
    for (let i = 0; i < 3; i++) await plain(i);
    expect(await engine.leaseAndDispatch(10, 1_000)).toBe(5);
    const names = () => pool.held.map((t) => t.name).sort();
    expect(names()).toEqual(["email", "email", "plain", "plain", "plain"]);
    expect(await engine.leaseAndDispatch(5, 1_000)).toBe(0);
    pool.finish(pool.held.find((t) => t.name === "email")!.id);
    await engine.committer.flush();
    expect(await engine.leaseAndDispatch(5, 1_000)).toBe(1);
    expect(names().filter((x) => x === "email").length).toBe(2);
  });

  test("serves only its queues", async () => {
    const { engine, pool, email, plain } = setup({ emails: null });
    await plain(1);
    const e = await email(1);
    expect(await engine.leaseAndDispatch(10, 1_000)).toBe(1);
    expect(pool.held.map((t) => t.id)).toEqual([e.id]);
  });

  test("huey.pause() holds a queue until resume() or the end of `for`; unknown queues are refused with the known ones", async () => {
    const { huey, engine, pool, email } = setup(null);
    const e = await email(1);
    expect(await huey.pause("emails", { for: "10s", now: 1_000 })).toEqual({ queue: "emails", until: 11_000 });
    expect(await huey.paused(1_000)).toEqual([{ queue: "emails", until: 11_000 }]);
    expect(await engine.leaseAndDispatch(10, 10_999)).toBe(0);
    expect(await engine.leaseAndDispatch(10, 11_000)).toBe(1);
    expect(pool.held.map((t) => t.id)).toEqual([e.id]);
    await expect(huey.pause("nope")).rejects.toThrow('no task uses the queue "nope"; known queues: default, emails');
    await expect(huey.resume("nope")).rejects.toThrow("known queues: default, emails");
  });

  test("a per-call queue overrides the task's", async () => {
    const { engine, pool, plain } = setup({ emails: null });
    const r = await plain.schedule([1], { queue: "emails" });
    expect(await engine.leaseAndDispatch(10, 1_000)).toBe(1);
    expect(pool.held.map((t) => t.id)).toEqual([r.id]);
  });
});

test("immediate mode: tasks of a paused queue wait until resume()", async () => {
  const huey = new MemoryHuey({ name: `imm-${++n}`, immediate: true });
  const ran: number[] = [];
  const email = huey.task("email", { queue: "emails" }, (x: number) => void ran.push(x));
  await huey.pause("emails");
  await email(1);
  expect(ran).toEqual([]);
  await huey.resume("emails");
  expect(ran).toEqual([1]);
});

test("--queues parsing", () => {
  expect(parseQueues("emails=4, default")).toEqual({ emails: 4, default: null });
  expect(() => parseQueues("emails=0")).toThrow("from 1");
  expect(() => parseQueues("a,a")).toThrow("given twice");
  expect(() => parseQueues("")).toThrow("at least one queue");
});

describe("dead letters by queue", () => {
  /** A dead letter as the consumer writes it: its payload is the message, which names its queue (or none: "default"). */
  const deadLetter = (id: string, queue?: string) => {
    const payload = JSON.stringify({ v: 1, id, name: "t", args: [id], priority: 0, retries: 0, retryDelay: 0, attempt: 1, ...(queue && { queue }) });
    return { key: `failed:${id}`, value: JSON.stringify({ id, name: "t", args: [id], error: { name: "Error", message: "x" }, attempts: 1, failedAt: 1, payload }) };
  };

  async function setup() {
    const huey = new MemoryHuey({ name: `dl-${++n}` });
    huey.task("email", { queue: "emails" }, () => {});
    // Old records (no queue in the message) count as "default"; ids sort in failure order.
    for (const d of [deadLetter("a1", "emails"), deadLetter("a2"), deadLetter("a3", "emails"), deadLetter("a4", "reports"), deadLetter("a5", "emails")]) {
      await huey.storage.putData(d.key, d.value);
    }
    return huey;
  }

  test("deadLetterQueue reads the queue from the stored message; unreadable or absent is \"default\"", () => {
    expect(deadLetterQueue(JSON.parse(deadLetter("x", "emails").value))).toBe("emails");
    expect(deadLetterQueue(JSON.parse(deadLetter("x").value))).toBe("default");
    expect(deadLetterQueue({ ...JSON.parse(deadLetter("x").value), payload: "not json" })).toBe("default");
  });

  test("huey.failed(), failedCount() and purgeFailed() filter by queue; the list keeps its order and limit", async () => {
    const huey = await setup();
    expect((await huey.failed()).map((d) => [d.id, d.queue])).toEqual([["a1", "emails"], ["a2", "default"], ["a3", "emails"], ["a4", "reports"], ["a5", "emails"]]);
    expect((await huey.failed({ queue: "emails" })).map((d) => d.id)).toEqual(["a1", "a3", "a5"]);
    expect((await huey.failed({ queue: "emails", limit: 2 })).map((d) => d.id)).toEqual(["a1", "a3"]);
    expect((await huey.failed({ queue: "default" })).map((d) => d.id)).toEqual(["a2"]);
    expect(await huey.failedCount("emails")).toBe(3);
    expect(await huey.failedCount()).toBe(5);
    const progress: number[] = [];
    expect(await huey.purgeFailed(undefined, { queue: "emails", onProgress: (p) => progress.push(p) })).toBe(3);
    expect(progress).toEqual([3]);
    expect((await huey.failed()).map((d) => d.id)).toEqual(["a2", "a4"]);
    expect(await huey.purgeFailed(undefined, { queue: "emails" })).toBe(0);
  });

  test("a filtered list reads past a first page of other queues' dead letters", async () => {
    const huey = new MemoryHuey({ name: `dl-${++n}` });
    for (let i = 0; i < 1500; i++) {
      const d = deadLetter(`b${String(i).padStart(5, "0")}`, i >= 1400 ? "emails" : "reports");
      await huey.storage.putData(d.key, d.value);
    }
    expect((await huey.failed({ queue: "emails", limit: 3 })).map((d) => d.id)).toEqual(["b01400", "b01401", "b01402"]);
    expect(await huey.failedCount("emails")).toBe(100);
  });

  test("checkKnownQueue refuses a queue no task uses and lists the known ones", () => {
    expect(() => checkKnownQueue(["default", "emails"], "emails", "failed")).not.toThrow();
    expect(() => checkKnownQueue(["default", "emails"], "nope", "failed")).toThrow('failed: no task uses the queue "nope"; known queues: default, emails');
    expect(() => checkKnownQueue([], "nope", "pending")).toThrow("known queues: (none)");
  });
});

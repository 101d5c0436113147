// The consumer's decisions without threads: the engine on memory storage with a pool the test drives by
// hand (or one that runs execute() inline), commits written inline, and time as an argument.
import { describe, expect, test } from "bun:test";
import { GroupCommitter, InlineCommitter } from "../../src/consumer/committer";
import { Engine, MAX_LEASE_BATCH, type InFlight, type Log } from "../../src/consumer/engine";
import { Maintenance, type MaintenanceHost } from "../../src/consumer/maintenance";
import { InlinePool, type Pool, type PoolListener, type PoolTask } from "../../src/consumer/pool";
import type { Outcome } from "../../src/executor";
import { Huey, MemoryHuey } from "../../src/huey";
import type { SignalName } from "../../src/signals";
import type { CommitBatch, Storage } from "../../src/storage/types";
import { internalsOf } from "../../src/_internals";
import { readRevocations } from "../../src/consumer/admission";
import { KEYS } from "../../src/message";
import { fencedWrite, planSkip } from "../../src/plan";
import { waitFor } from "../harness";

/** A pool whose Workers are the test: it records what it is handed; the test says what happened. */
class ManualPool implements Pool {
  held: PoolTask[] = [];
  started = new Set<string>();
  aborted: string[] = [];
  killed: string[] = [];
  constructor(readonly listener: PoolListener, readonly slots = 2) {}
  async start() {}
  room() {
    return Math.max(0, this.slots - this.held.length);
  }
  starving() {
    return this.held.length < this.slots;
  }
  submit(t: PoolTask) {
    if (this.room() === 0) return false;
    this.held.push(t);
    return true;
  }
  flushSubmits() {}
  abort(id: string) {
    this.aborted.push(id);
  }
  kill(id: string) {
    this.killed.push(id);
  }
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
  start_(id: string) {
    this.started.add(id);
    this.listener.started(id);
  }
  finish(id: string, outcome: Outcome, timedOut = false) {
    this.held = this.held.filter((t) => t.id !== id);
    this.started.delete(id);
    this.listener.done(id, outcome, 1, timedOut);
  }
  ids() {
    return this.held.map((t) => t.id);
  }
}

const silent: Log = { enabled: () => false, debug() {}, info() {}, warn() {}, error() {} };
let n = 0;

/**
 * A Huey on memory storage, an engine over it, and a record of signals by task id. `busy`: the group
 * committer is told of that many more tasks in flight than the engine holds, as in a consumer running
 * other tasks, so an outcome waits for the next turn of the event loop to be committed (with nothing
 * else in flight it is committed in a microtask, see GroupCommitter.schedule).
 */
function setup(o: { pool?: "manual" | "inline"; slots?: number; lease?: number; maxLeases?: number; group?: boolean; busy?: number; now?: () => number } = {}) {
  const huey = new MemoryHuey({ name: `engine-${++n}`, resultTtl: false }); // its clock starts in 1970: a 7-day TTL would expire every result at once
  const storage = huey.storage;
  const signals = new Map<string, SignalName[]>();
  huey.signal([], (s, t) => void (signals.get(t.id) ?? signals.set(t.id, []).get(t.id)!).push(s));
  const hi = internalsOf(huey);
  const engine = new Engine(
    { storage, signals: huey.signals, lookup: (x) => hi.registry.lookup(x), keepFailed: true, completeChord: (c) => hi.completeChord(c) },
    { lease: o.lease ?? 30_000, maxLeases: o.maxLeases ?? 5, unknownTaskDelay: 30_000, timeout: null, clock: o.now },
    silent,
  );
  const manual = new ManualPool(engine, o.slots ?? 2);
  const inline = new InlinePool(engine, { lookup: (x) => hi.registry.lookup(x), maxPayloadSize: 1 << 20, hooks: hi.registry.hooks }, 1, 0);
  engine.pool = o.pool === "inline" ? inline : manual;
  const commits: CommitBatch[] = [];
  const counting: Pick<Storage, "commit" | "hasTask"> = {
    commit: (b) => (commits.push(b), storage.commit(b)),
    hasTask: (id) => storage.hasTask(id),
  };
  const host = { storage: counting, onCommitted: (d: never[], l: Set<string>) => engine.committed(d, l), onError() {}, inFlight: () => engine.inflight.size + (o.busy ?? 0) };
  engine.committer = o.group ? new GroupCommitter<InFlight>(host) : new InlineCommitter<InFlight>(host);
  return { huey, storage, engine, pool: manual, inline, signals, commits, of: (id: string) => signals.get(id) ?? [] };
}

const OK: Outcome = { kind: "ok", result: JSON.stringify({ ok: true, value: 1 }) };

describe("dispatch", () => {
  test("higher priority first, FIFO within a priority, only as many as there is room for", async () => {
    const { huey, engine, pool } = setup({ slots: 2 });
    const t = huey.task("t", () => 1);
    const low = await t.schedule([], { priority: 0 });
    const high = await t.schedule([], { priority: 5 });
    const low2 = await t.schedule([], { priority: 0 });
    expect(engine.want()).toBe(2);
    expect(await engine.leaseAndDispatch(engine.want(), 1_000)).toBe(2);
    expect(pool.ids()).toEqual([high.id, low.id]);
    pool.finish(high.id, OK);
    await engine.committer.flush();
    await engine.leaseAndDispatch(engine.want(), 1_000);
    expect(pool.ids()).toEqual([low.id, low2.id]);
  });

  test("a pool's minLease: no lease of fewer while it is busy; any room once it starves", async () => {
    const { engine } = setup();
    let room = 0;
    let starving = false;
    const pool = Object.assign(new ManualPool(engine, 1_000), { minLease: 128, room: () => room, starving: () => starving });
    engine.pool = pool;
    room = 127;
    expect(engine.want()).toBe(0); // the engine's own minimum (32) would lease 127 here
    room = 128;
    expect(engine.want()).toBe(128);
    room = 5;
    starving = true;
    expect(engine.want()).toBe(5);
    room = 1_000;
    expect(engine.want()).toBe(MAX_LEASE_BATCH); // never more than one statement's batch
    expect(MAX_LEASE_BATCH).toBeLessThan(1_000);
  });

  test("a task of a name this consumer does not know is put back for later, with no signal", async () => {
    const { huey, engine, storage, pool, of } = setup();
    const other = new Huey({ name: huey.name, storage });
    const r = await other.task("elsewhere", () => 1)();
    await engine.leaseAndDispatch(10, 1_000);
    await engine.committer.flush();
    expect(pool.ids()).toEqual([]);
    expect((await storage.listScheduled(10)).map((s) => [s.id, s.eta])).toEqual([[r.id, 31_000]]);
    expect(of(r.id)).toEqual([]); // "enqueued" went to the other Huey; nothing here
  });

  test("a task leased more than maxLeases times without an outcome fails for good", async () => {
    const { huey, engine, storage, pool } = setup({ maxLeases: 2 });
    const r = await huey.task("t", { retries: 3 }, () => 1)();
    for (let i = 0; i < 2; i++) {
      await storage.lease(1, 10); // taken, and its consumer died: the lease runs out
      await storage.reclaimExpired(11);
    }
    await engine.leaseAndDispatch(1, 1_000);
    await engine.committer.flush();
    expect(pool.ids()).toEqual([]);
    await expect(r.get()).rejects.toThrow(/taken 2 times/);
  });
});

describe("revocation", () => {
  test("revoke({ once: true }) with 5 calls queued together skips exactly one", async () => {
    const { huey, engine, pool, of } = setup({ slots: 10 });
    const t = huey.task("t", () => 1);
    const rs = [];
    for (let i = 0; i < 5; i++) rs.push(await t());
    await t.revoke({ once: true });
    await engine.leaseAndDispatch(10, 1_000);
    await engine.committer.flush();
    expect(pool.ids().length).toBe(4);
    expect(rs.filter((r) => of(r.id).includes("revoked")).length).toBe(1);
    expect(await t.isRevoked()).toBe(false);
  });

  test("a revoked id is skipped and its revocation used up; a task revoked while running is aborted", async () => {
    const { huey, engine, pool, of } = setup();
    const t = huey.task("t", () => 1);
    const a = await t();
    await huey.revokeById(a.id);
    await engine.leaseAndDispatch(10, 1_000);
    await engine.committer.flush();
    expect(of(a.id)).toEqual(["enqueued", "revoked"]);
    expect(await huey.isRevokedId(a.id)).toBe(false);
    const b = await t();
    await engine.leaseAndDispatch(10, 1_000);
    pool.start_(b.id);
    await huey.revokeById(b.id);
    await engine.abortRevoked(1_000);
    expect(pool.aborted).toEqual([b.id]);
    pool.finish(b.id, { kind: "error", error: { name: "AbortError", message: "aborted" } });
    await engine.committer.flush();
    expect(of(b.id)).toEqual(["enqueued", "executing", "revoked"]);
  });

  test("a revoked skip leaves a revoked-done marker kept as long as the task's results, committed with the ack", async () => {
    const { huey, engine, of } = setup();
    const t = huey.task("t", { resultTtl: "1h" }, () => 1);
    const forever = huey.task("forever", { resultTtl: false }, () => 1);
    const a = await t();
    const b = await forever();
    const c = await t(); // not revoked: runs, leaves no marker
    await huey.revokeById(a.id);
    await huey.revokeById(b.id);
    await engine.leaseAndDispatch(10, 5_000);
    await engine.committer.flush();
    expect(of(a.id)).toEqual(["enqueued", "revoked"]);
    expect(of(b.id)).toEqual(["enqueued", "revoked"]);
    const marker = async (id: string) => {
      const raw = await huey.storage.getData(KEYS.revokedDone + id, true);
      return raw === null ? null : JSON.parse(raw);
    };
    expect(await marker(a.id)).toEqual({ at: 5_000, until: 5_000 + 3_600_000 });
    expect(await marker(b.id)).toEqual({ at: 5_000, until: null });
    expect(await marker(c.id)).toBeNull();
    expect(await huey.storage.hasTask(a.id)).toBe(false);
    // The marker is not a revocation: later consumers read no revocations from it.
    expect(await huey.isRevokedId(a.id)).toBe(false);
    expect(await readRevocations(huey.storage)).toBeNull();
  });

  test("planSkip: the marker only when asked, and only with the skip's ack", () => {
    const payload = JSON.stringify({ id: "x1", name: "t", args: [], retries: 0, attempt: 1, priority: 0, retryDelay: 0 });
    const plain = planSkip({ id: "x1", token: "k", payload }, "revoked");
    expect(plain.batch.putData).toBeUndefined();
    const marked = planSkip({ id: "x1", token: "k", payload }, "revoked", { now: 10, ttl: 90 });
    expect(marked.batch.putData).toEqual([{ key: "revoked-done:x1", value: JSON.stringify({ at: 10, until: 100 }) }]);
    expect(fencedWrite(marked.batch).putData).toEqual(marked.batch.putData);
    expect(fencedWrite(marked.batch).lease).toEqual({ id: "x1", token: "k" });
  });
});

describe("locks", () => {
  test("a second run while the lock is held fails with TaskLockedError; the lock is freed in the outcome's commit", async () => {
    const { huey, engine, pool, storage, commits, of } = setup();
    const t = huey.task("t", { lock: "L" }, () => 1);
    const a = await t();
    const b = await t();
    await engine.leaseAndDispatch(10, 1_000);
    await engine.committer.flush();
    expect(pool.ids()).toEqual([a.id]);
    expect(of(b.id)).toEqual(["enqueued", "locked"]);
    await expect(b.get()).rejects.toThrow(/lock "L"/);
    const before = commits.length;
    pool.finish(a.id, OK);
    await engine.committer.flush();
    // One commit wrote the result and freed the lock: whoever sees the result finds the lock free.
    expect(commits.length).toBe(before + 1);
    expect(commits.at(-1)!.tasks![0]!.releaseLocks).toEqual([{ key: "L", owner: expect.any(String) }]);
    expect(await storage.listLocks(1_000)).toEqual([]);
  });

  test("with lockRetry, a locked run is put back for later instead", async () => {
    const { huey, engine, storage, of } = setup();
    const t = huey.task("t", { lock: "L", lockRetry: "2s" }, () => 1);
    await t();
    const b = await t();
    await engine.leaseAndDispatch(10, 1_000);
    await engine.committer.flush();
    expect(of(b.id)).toEqual(["enqueued", "locked"]);
    expect((await storage.listScheduled(10)).map((s) => [s.id, s.eta])).toEqual([[b.id, 3_000]]);
  });

  test("a lock lost while its task runs stops the task, and its outcome is discarded", async () => {
    const { huey, engine, pool, storage } = setup();
    const t = huey.task("t", { lock: "L" }, () => 1);
    const a = await t();
    await engine.leaseAndDispatch(10, 1_000);
    pool.start_(a.id);
    await storage.releaseLock("L", null); // e.g. expired and taken by another
    engine.loseLeases([a.id], "its lock was lost");
    expect(pool.killed).toEqual([a.id]);
    pool.finish(a.id, OK);
    await engine.committer.flush();
    expect(await a.get()).toBeUndefined();
    expect(engine.stats.lost).toBe(1);
  });
});

describe("rate limits (fixed windows, time as an argument)", () => {
  test("over the limit within a window, runs are put back to the window's end", async () => {
    const { huey, engine, pool, storage, of } = setup({ slots: 10 });
    const t = huey.task("t", { rateLimit: { limit: 2, per: "1s" } }, () => 1);
    const rs = [await t(), await t(), await t()];
    await engine.leaseAndDispatch(10, 5_100);
    await engine.committer.flush();
    expect(pool.ids()).toEqual([rs[0]!.id, rs[1]!.id]);
    expect(of(rs[2]!.id)).toEqual(["enqueued", "rate-limited"]);
    expect((await storage.listScheduled(10)).map((s) => s.eta)).toEqual([6_000]);
  });
});

describe("outcomes", () => {
  test("a failure with retries left is retried after its delay; then it fails for good into the dead letters", async () => {
    let now = 10_000;
    const { huey, engine, pool, storage, of } = setup({ now: () => now });
    const t = huey.task("t", { retries: 1, retryDelay: "1s" }, () => 1);
    const r = await t();
    await engine.leaseAndDispatch(10, now);
    pool.finish(r.id, { kind: "error", error: { name: "Error", message: "boom" } });
    await engine.committer.flush();
    expect((await storage.listScheduled(10)).map((s) => s.eta)).toEqual([11_000]);
    now = 11_000;
    await storage.promoteDue(now, 10);
    await engine.leaseAndDispatch(10, now);
    pool.finish(r.id, { kind: "error", error: { name: "Error", message: "boom" } });
    await engine.committer.flush();
    expect(of(r.id).at(-1)).toBe("error");
    expect(of(r.id)).toContain("retrying");
    expect(await huey.failedCount()).toBe(1);
    await expect(r.get()).rejects.toThrow(/boom/);
  });

  test("a timeout reported by the pool fails the task with TaskTimeoutError after the signal timeout", async () => {
    const { huey, engine, pool, of } = setup();
    const r = await huey.task("t", { timeout: "1s" }, () => 1)();
    await engine.leaseAndDispatch(10, 1_000);
    pool.start_(r.id);
    pool.finish(r.id, { kind: "error", error: { name: "AbortError", message: "timed out" } }, true);
    await engine.committer.flush();
    expect(of(r.id)).toEqual(["enqueued", "executing", "timeout", "error"]);
    await expect(r.get()).rejects.toThrow(/longer than its timeout/);
  });

  test("the inline pool runs execute() here: a task that ignores nothing and one that times out", async () => {
    const { huey, engine, inline, of } = setup({ pool: "inline" });
    const add = huey.task("add", (a: number, b: number) => a + b);
    const slow = huey.task("slow", { timeout: 20, context: true }, (ctx) => new Promise((_, rej) => ctx.signal.addEventListener("abort", () => rej(ctx.signal.reason))));
    const a = await add(1, 2);
    const s = await slow();
    for (let i = 0; i < 2; i++) {
      await engine.leaseAndDispatch(1, Date.now());
      await inline.whenIdle();
      await engine.committer.flush();
    }
    expect(await a.get()).toBe(3);
    await expect(s.get()).rejects.toThrow(/longer than its timeout/);
    expect(of(s.id)).toEqual(["enqueued", "executing", "timeout", "error"]);
  });
});

describe("signal info", () => {
  test("a task run on this thread gives its signals the message it ran with (no second decode); one run elsewhere, its payload's", async () => {
    const { huey, engine, inline, pool } = setup({ pool: "inline" });
    const seen: { signal: string; args: unknown[] }[] = [];
    let ranWith: unknown[] | null = null;
    const t = huey.task("t", (...args: unknown[]) => {
      ranWith = args;
      return 1;
    });
    huey.signal(["executing", "complete"], (signal, info) => void seen.push({ signal, args: info.args }));
    const r = await t({ deep: [1] });
    await engine.leaseAndDispatch(1, Date.now());
    await inline.whenIdle();
    await engine.committer.flush();
    expect(await r.get()).toBe(1);
    expect(seen.map((x) => x.signal)).toEqual(["executing", "complete"]);
    expect(seen[0]!.args).toEqual([{ deep: [1] }]);
    // The very arguments the task was called with: decoded once, for the run.
    expect(ranWith).not.toBeNull();
    expect(seen[1]!.args[0]).toBe(ranWith![0]);
    // Through a pool that runs elsewhere (a Worker), the payload is decoded for the signal.
    engine.pool = pool;
    seen.length = 0;
    const r2 = await t({ other: true });
    await engine.leaseAndDispatch(1, Date.now());
    pool.finish(r2.id, OK);
    await engine.committer.flush();
    expect(seen).toEqual([{ signal: "complete", args: [{ other: true }] }]);
  });
});

describe("fencing", () => {
  test("an outcome whose lease was lost before the commit writes nothing, and the newer holder's result stands", async () => {
    const { huey, engine, pool, storage, of } = setup({ lease: 1_000 });
    const r = await huey.task("t", () => 1)();
    await engine.leaseAndDispatch(10, 1_000);
    // Paused past the lease: another consumer reclaims, runs it and stores its result.
    await storage.reclaimExpired(5_000);
    const [again] = await storage.lease(1, 60_000);
    await storage.commit({ tasks: [{ lease: { id: again!.id, token: again!.token }, results: [{ id: r.id, payload: JSON.stringify({ ok: true, value: "B" }) }] }] });
    pool.finish(r.id, { kind: "error", error: { name: "Error", message: "late A" } });
    await engine.committer.flush();
    expect(await r.get()).toBe("B" as never);
    expect(await huey.failedCount()).toBe(0);
    expect(of(r.id)).toEqual(["enqueued"]);
    expect(engine.stats.lost).toBe(1);
  });

  test("renewal that finds a lease lost stops the task and discards its outcome", async () => {
    const { huey, engine, pool, storage } = setup({ lease: 1_000 });
    const r = await huey.task("t", () => 1)();
    await engine.leaseAndDispatch(10, 1_000);
    pool.start_(r.id);
    await storage.reclaimExpired(5_000);
    const lost = await storage.renew([...engine.inflight.values()].map(({ id, token }) => ({ id, token })), 9_000);
    engine.loseLeases(lost, "its lease was lost");
    expect(pool.killed).toEqual([r.id]);
    pool.finish(r.id, OK);
    await engine.committer.flush();
    expect(await r.get()).toBeUndefined();
    expect(await storage.pendingCount()).toBe(1); // still there for whoever runs it next
  });
});

/** One task leased at 1,000 with a lease of 1 s and started; by 5,000 its lease ran out and was reclaimed. */
async function expiredRun(o: { group?: boolean; busy?: number } = {}) {
  const ctx = setup({ lease: 1_000, ...o });
  const r = await ctx.huey.task("t", () => 1)();
  await ctx.engine.leaseAndDispatch(10, 1_000);
  ctx.pool.start_(r.id);
  await ctx.storage.reclaimExpired(5_000);
  return { ...ctx, r };
}

describe("a task leased again by the consumer that still runs it", () => {
  // Its lease ran out here (the event loop blocked past it), it was reclaimed, and this consumer's next
  // lease took it again while its first run was still in flight.
  test("a run still going goes on under the new lease: it runs once, and its outcome is written under that lease", async () => {
    const { engine, pool, storage, of, r } = await expiredRun();
    const first = engine.inflight.get(r.id)!.token;
    expect(await engine.leaseAndDispatch(10, 5_000)).toBe(1);
    expect(pool.ids()).toEqual([r.id]); // not handed to the pool a second time
    const entry = engine.inflight.get(r.id)!;
    expect(entry.token).not.toBe(first);
    expect(entry.leases).toBe(2);
    pool.finish(r.id, OK);
    await engine.committer.flush();
    expect(await r.get()).toBe(1 as never);
    expect(engine.stats.lost).toBe(0);
    expect(engine.inflight.size).toBe(0);
    expect(await storage.pendingCount()).toBe(0);
    expect(of(r.id)).toEqual(["enqueued", "executing", "complete"]);
  });

  test("its outcome already planned under the old lease: that commit writes nothing, then the new lease runs it", async () => {
    const { engine, pool, storage, of, r } = await expiredRun({ group: true, busy: 1 });
    pool.finish(r.id, OK); // planned, waiting for the group commit
    expect(await engine.leaseAndDispatch(10, 5_000)).toBe(1);
    expect(pool.ids()).toEqual([]); // waits for the old run's commit
    await engine.committer.flush();
    expect(engine.stats.lost).toBe(1);
    await waitFor(() => pool.ids().length === 1, "the waiting lease dispatched once the old entry is gone");
    expect(pool.ids()).toEqual([r.id]);
    pool.start_(r.id);
    pool.finish(r.id, OK);
    await engine.committer.flush();
    expect(await r.get()).toBe(1 as never);
    expect(engine.inflight.size).toBe(0);
    expect(await storage.pendingCount()).toBe(0);
    expect(of(r.id)).toEqual(["enqueued", "executing", "executing", "complete"]);
  });

  test("a run already stopped as lost: the new lease waits for it to end, then runs the task afresh", async () => {
    const { huey, engine, pool, storage, r } = await expiredRun();
    engine.loseLeases(await storage.renew([...engine.inflight.values()].map(({ id, token }) => ({ id, token })), 9_000), "its lease was lost");
    expect(pool.killed).toEqual([r.id]);
    expect(await engine.leaseAndDispatch(10, 5_000)).toBe(1);
    expect(pool.ids()).toEqual([r.id]); // the old run, still being stopped
    pool.finish(r.id, { kind: "error", error: { name: "AbortError", message: "its lease was lost" } });
    await waitFor(() => pool.ids().length === 1, "the new lease dispatched");
    expect(pool.ids()).toEqual([r.id]); // the new lease
    expect(engine.inflight.get(r.id)!.lost).toBeUndefined();
    pool.start_(r.id);
    pool.finish(r.id, OK);
    await engine.committer.flush();
    expect(await r.get()).toBe(1 as never);
    expect(await huey.failedCount()).toBe(0);
    expect(await storage.pendingCount()).toBe(0);
  });

  test("a renewal that finds the old lease gone after the run went on under the new one does not stop it", async () => {
    const { engine, pool, storage, r } = await expiredRun();
    // The renewal of the old token is under way when the poller's lease takes the task again.
    const racing = new Proxy(storage, {
      get(target, key) {
        if (key === "renew") {
          return async (refs: never, until: number) => {
            const lost = await target.renew(refs, until);
            await engine.leaseAndDispatch(10, 5_000);
            return lost;
          };
        }
        const v = Reflect.get(target, key);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const m = new Maintenance({ storage: racing, engine, log: silent, lease: 1_000 } as unknown as MaintenanceHost);
    await m.renew(5_000);
    expect(pool.killed).toEqual([]);
    expect(engine.inflight.get(r.id)!.lost).toBeUndefined();
    pool.finish(r.id, OK);
    await engine.committer.flush();
    expect(await r.get()).toBe(1 as never);
    expect(engine.stats.lost).toBe(0);
  });

  test("while stopping, the waiting lease goes back to the queue unstarted", async () => {
    const { engine, pool, storage, r } = await expiredRun({ group: true, busy: 1 });
    pool.finish(r.id, OK);
    await engine.leaseAndDispatch(10, 5_000);
    engine.stopping = true;
    await engine.committer.flush();
    const [again] = (await waitFor(async () => {
      const rows = await storage.lease(1, 60_000, { now: 5_000 });
      return rows.length > 0 ? rows : null;
    }, "the waiting lease released to the queue"))!;
    expect(pool.ids()).toEqual([]);
    expect(again?.id).toBe(r.id);
    expect(again?.leases).toBe(2); // released unstarted: that lease did not count
  });
});

describe("group commit", () => {
  test("outcomes reported together are written in one commit", async () => {
    const { huey, engine, pool, commits } = setup({ slots: 8, group: true });
    const t = huey.task("t", () => 1);
    const rs = [...(await t.map([[], [], [], [], []]))];
    await engine.leaseAndDispatch(10, 1_000);
    const before = commits.length;
    engine.committer.batch(() => {
      for (const r of rs) pool.finish(r.id, OK);
    });
    await engine.committer.flush();
    expect(commits.length).toBe(before + 1);
    expect(commits.at(-1)!.tasks!.length).toBe(5);
  });

  test("with nothing else in flight an outcome is committed in a microtask; with other tasks running, after the turn", async () => {
    for (const busy of [0, 1]) {
      const { huey, engine, pool, commits } = setup({ group: true, busy });
      const r = await huey.task("t", () => 1)();
      await engine.leaseAndDispatch(10, 1_000);
      const before = commits.length;
      pool.finish(r.id, OK);
      expect(commits.length).toBe(before); // never inside the report's own code
      await Promise.resolve();
      await Promise.resolve();
      // Idle: nothing can join it, so it does not wait for a turn of the event loop. Busy: other Workers'
      // reports may come in that turn and join it.
      expect(commits.length).toBe(busy ? before : before + 1);
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(commits.length).toBe(before + 1);
      await engine.committer.flush();
      expect(await r.get()).toBe(1 as never);
    }
  });

  test("a commit repeated after a lost reply skips the next stages it already stored and writes the rest", async () => {
    const { huey, engine, pool, storage } = setup();
    const a = huey.task("a", () => 1);
    const b = huey.task("b", (x: number) => x + 1);
    const group = await huey.enqueue(a.s().then(b));
    const [first, second] = [...group];
    await engine.leaseAndDispatch(10, 1_000);
    // The next stage is already stored (the first attempt's reply was lost after it committed).
    const next = { id: second!.id, name: "b", priority: 0, payload: JSON.stringify({ v: 1, id: second!.id, name: "b", args: [1], priority: 0, retries: 0, retryDelay: 0, attempt: 1 }) };
    await storage.enqueue([next]);
    pool.finish(first!.id, { kind: "ok", result: JSON.stringify({ ok: true, value: 1 }), next });
    await engine.committer.flush();
    expect(await first!.get()).toBe(1);
    expect(await storage.pendingCount()).toBe(1);
  });
});

describe("shutdown", () => {
  test("tasks handed back while stopping go back to the queue; tasks still running are interrupted and released", async () => {
    const { huey, engine, pool, storage, of } = setup({ slots: 3 });
    const t = huey.task("t", () => 1);
    const rs = [...(await t.map([[], [], []]))];
    await engine.leaseAndDispatch(10, 1_000);
    pool.start_(rs[0]!.id);
    engine.stopping = true;
    expect(engine.want()).toBe(0);
    engine.returned([rs[1]!.id, rs[2]!.id]);
    await waitUntil(async () => (await storage.pendingCount()) === 2);
    await engine.interruptAll();
    expect(await storage.pendingCount()).toBe(3);
    expect(of(rs[0]!.id)).toEqual(["enqueued", "executing", "interrupted"]);
  });

  test("a Worker that ran dry takes back another's unstarted tasks: they are placed again, not released", async () => {
    const { huey, engine, pool, storage } = setup({ slots: 3 });
    const rs = [...(await huey.task("t", () => 1).map([[], []]))];
    await engine.leaseAndDispatch(10, 1_000);
    pool.held = pool.held.filter((x) => x.id !== rs[1]!.id);
    engine.returned([rs[1]!.id]);
    expect(pool.ids()).toContain(rs[1]!.id);
    expect(await storage.leasedCount()).toBe(2);
  });
});

async function waitUntil(cond: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1000 && !(await cond()); i++) await Bun.sleep(1);
}

describe("lock fencing tokens", () => {
  test("a context task with a lock gets the lock's fencing token; each run a larger one", async () => {
    const { huey, engine, inline } = setup({ pool: "inline" });
    const t = huey.task("t", { lock: "L", context: true }, (ctx) => ctx.lockFence);
    const plain = huey.task("plain", { context: true }, (ctx) => ctx.lockFence);
    const rs = [await t(), await t(), await plain()];
    for (let i = 0; i < 3; i++) {
      await engine.leaseAndDispatch(1, Date.now());
      await inline.whenIdle();
      await engine.committer.flush();
    }
    const [a, b, c] = await Promise.all(rs.map((r) => r.get()));
    expect(typeof a).toBe("number");
    expect(b as number).toBeGreaterThan(a as number);
    expect(c).toBeNull();
  });
});

describe("a blocking get() inside a task", () => {
  test("with no free slot for the child, the consumer warns of the deadlock once; with a free slot, nothing", async () => {
    const warnings: string[] = [];
    const log: Log = { ...silent, warn: (m) => void warnings.push(m) };
    const huey = new MemoryHuey({ name: `engine-${++n}` });
    const hi = internalsOf(huey);
    const engine = new Engine(
      { storage: huey.storage, signals: huey.signals, lookup: (x) => hi.registry.lookup(x), keepFailed: true, completeChord: (c) => hi.completeChord(c) },
      { lease: 30_000, maxLeases: 5, unknownTaskDelay: 30_000, timeout: null },
      log,
    );
    engine.waiting("child-1", ["parent-1"], 1);
    expect(warnings).toEqual([]);
    engine.waiting("child-1", ["parent-1"], 0);
    engine.waiting("child-2", ["parent-1"], 0);
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toContain("deadlock");
  });
});

// keys: per-key locks and concurrency limits.
describe("per-key locks", () => {
  test("lock: a function of the arguments gives one lock per key: another key runs, the same key is locked out", async () => {
    const { huey, engine, pool, storage, commits, of } = setup({ slots: 10 });
    const t = huey.task("t", { lock: (customer: string) => customer }, (_c: string) => 1);
    const a = await t("acme");
    const b = await t("acme");
    const c = await t("bolt");
    await engine.leaseAndDispatch(10, 1_000);
    await engine.committer.flush();
    expect(pool.ids()).toEqual([a.id, c.id]);
    expect(of(b.id)).toEqual(["enqueued", "locked"]);
    await expect(b.get()).rejects.toThrow(/lock "t:acme"/);
    expect((await storage.listLocks(1_000)).map((l) => l.key).sort()).toEqual(["t:acme", "t:bolt"]);
    pool.finish(a.id, OK);
    await engine.committer.flush();
    expect(commits.at(-1)!.tasks![0]!.releaseLocks).toEqual([{ key: "t:acme", owner: expect.any(String) }]);
    expect((await storage.listLocks(1_000)).map((l) => l.key)).toEqual(["t:bolt"]);
  });

  test("a lock key function that throws fails that run with its error; retries apply and nothing is lost", async () => {
    const { huey, engine, pool, storage, of } = setup();
    let calls = 0;
    const t = huey.task("t", { retries: 1, retryDelay: "5s", lock: () => { if (++calls === 1) throw new Error("no customer"); return "k"; } }, () => 1);
    const a = await t();
    await engine.leaseAndDispatch(10, 1_000);
    await engine.committer.flush();
    expect(pool.ids()).toEqual([]);
    expect(of(a.id)).toEqual(["enqueued", "error", "retrying", "scheduled"]);
    expect((await storage.listScheduled(10)).map((s) => s.id)).toEqual([a.id]);
    await storage.promoteDue(10_000, 10);
    await engine.leaseAndDispatch(10, 10_000);
    expect(pool.ids()).toEqual([a.id]); // the retry got its key
    const once = huey.task("once", { lock: () => { throw new Error("bad key"); } }, () => 1);
    const r = await once();
    await engine.leaseAndDispatch(10, 10_000);
    await engine.committer.flush();
    await expect(r.get()).rejects.toThrow("bad key");
  });

  test("a key function that returns no string fails the run, naming the task", async () => {
    const { huey, engine } = setup();
    const t = huey.task("t", { lock: (() => undefined) as unknown as () => string }, () => 1);
    const r = await t();
    await engine.leaseAndDispatch(10, 1_000);
    await engine.committer.flush();
    await expect(r.get()).rejects.toThrow(/task "t": its lock function must return a string/);
  });
});

describe("concurrency limits", () => {
  test("limit 2: a third waits in the schedule (not failed, no pool slot); a finished run frees its slot in its commit", async () => {
    const { huey, engine, pool, storage, commits, of } = setup({ slots: 10 });
    const t = huey.task("t", { concurrency: { limit: 2 } }, () => 1);
    const rs = [await t(), await t(), await t()];
    await engine.leaseAndDispatch(10, 1_000);
    await engine.committer.flush();
    expect(pool.ids()).toEqual([rs[0]!.id, rs[1]!.id]);
    expect(of(rs[2]!.id)).toEqual(["enqueued", "locked"]);
    expect((await storage.listScheduled(10)).map((s) => [s.id, s.eta])).toEqual([[rs[2]!.id, 1_250]]);
    // Still full at its next try: it waits again, still with no retry used.
    await storage.promoteDue(1_250, 10);
    await engine.leaseAndDispatch(10, 1_250);
    await engine.committer.flush();
    expect(pool.ids()).toEqual([rs[0]!.id, rs[1]!.id]);
    pool.finish(rs[0]!.id, OK);
    await engine.committer.flush();
    expect(commits.at(-1)!.tasks![0]!.releaseLocks).toEqual([{ key: expect.stringMatching(/^concurrency:t::[01]$/), owner: expect.any(String) }]);
    await storage.promoteDue(1_500, 10);
    await engine.leaseAndDispatch(10, 1_500);
    expect(pool.ids()).toEqual([rs[1]!.id, rs[2]!.id]);
    expect((await storage.listLocks(1_500)).length).toBe(2);
  });

  test("per key: the limit counts runs of the same key only", async () => {
    const { huey, engine, pool } = setup({ slots: 10 });
    const t = huey.task("t", { concurrency: { limit: 1, key: (c: string) => c } }, (_c: string) => 1);
    const a = await t("x");
    const b = await t("x");
    const c = await t("y");
    await engine.leaseAndDispatch(10, 1_000);
    expect(pool.ids()).toEqual([a.id, c.id]);
    await engine.committer.flush();
    expect(await b.get()).toBeUndefined(); // waiting, not failed
  });

  test("a slot is a lease: a consumer that died frees it when the lease runs out", async () => {
    const { huey, engine, pool, storage } = setup({ slots: 10, lease: 5_000 });
    const t = huey.task("t", { concurrency: { limit: 1 } }, () => 1);
    await storage.acquireLock("concurrency:t::0", "dead-consumer", 6_000, 1_000);
    const r = await t();
    await engine.leaseAndDispatch(10, 1_000);
    await engine.committer.flush();
    expect(pool.ids()).toEqual([]);
    await storage.promoteDue(7_000, 10);
    await engine.leaseAndDispatch(10, 7_000);
    expect(pool.ids()).toEqual([r.id]);
  });

  test("with a lock too: a run locked out gives its slot back at once", async () => {
    const { huey, engine, pool, storage, of } = setup({ slots: 10 });
    const t = huey.task("t", { lock: "L", concurrency: { limit: 5 } }, () => 1);
    const a = await t();
    const b = await t();
    await engine.leaseAndDispatch(10, 1_000);
    await engine.committer.flush();
    expect(pool.ids()).toEqual([a.id]);
    expect(of(b.id)).toEqual(["enqueued", "locked"]);
    expect((await storage.listLocks(1_000)).map((l) => l.key).filter((k) => k.startsWith("concurrency:")).length).toBe(1);
    pool.finish(a.id, OK);
    await engine.committer.flush();
    expect(await storage.listLocks(1_000)).toEqual([]);
  });

  test("a concurrency.key function that throws fails that run with its error", async () => {
    const { huey, engine } = setup();
    const t = huey.task("t", { concurrency: { limit: 1, key: () => { throw new Error("no tenant"); } } }, () => 1);
    const r = await t();
    await engine.leaseAndDispatch(10, 1_000);
    await engine.committer.flush();
    await expect(r.get()).rejects.toThrow("no tenant");
  });

  test.each([
    [{ concurrency: { limit: 0 } }, /task "t": concurrency.limit must be a whole number of 1 or more, got 0/],
    [{ concurrency: { limit: 1.5 } }, /concurrency.limit must be a whole number/],
    [{ concurrency: 3 }, /task "t": concurrency must be \{ limit, key\? \}/],
    [{ concurrency: { limit: 2, key: "k" } }, /task "t": concurrency.key must be a function/],
    [{ lock: "" }, /task "t": lock: a lock key must be a non-empty string/],
  ])("bad options fail at definition time, naming the task: %j", (opts, msg) => {
    const huey = new MemoryHuey({ name: `engine-${++n}` });
    expect(() => huey.task("t", opts as never, () => 1)).toThrow(msg);
  });
});

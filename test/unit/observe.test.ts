// Heartbeats, per-minute statistics, the read side, --check decisions and the Prometheus text: on memory
// storage with time as an argument, no threads.
import { describe, expect, test } from "bun:test";
import { readyAt, toQueueItem, type Message } from "../../src/message";
import { decideHealth, parseRate } from "../../src/observe/check";
import { CONSUMER_PREFIX, Heartbeat, prune, pruneIfElected, PRUNE_BATCH, RUNNING_LISTED, type HeartbeatSource } from "../../src/observe/heartbeat";
import { escapeLabel, renderMetrics } from "../../src/observe/metrics";
import { metricsConfig } from "../../src/observe/metrics-server";
import { bearerMatches, isLoopback } from "../../src/server/auth";
import { ConfigurationError } from "../../src/errors";
import { readConsumers, readOldestReady, readTaskStats, readThroughput } from "../../src/observe/read";
import { bucketOf, HISTOGRAM_BOUNDS_MS, minuteOfKey, STATS_PREFIX, statsKey, StatsRecorder, type RecordedOutcome } from "../../src/observe/stats";
import { MemoryStorage } from "../../src/storage/memory";

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0); // a minute boundary
const MIN = 60_000;

function msg(id: string, name: string, at: number | undefined, args: unknown[] = []): Message {
  const m: Message = { v: 1, id, name, ...(at !== undefined && { at }), args, priority: 0, retries: 0, retryDelay: 0, attempt: 1 };
  return m;
}

function outcome(name: string, signal: string, ms: number | undefined, at?: number, id = crypto.randomUUID()): RecordedOutcome {
  const payload = toQueueItem(msg(id, name, at), 1e9).payload;
  return { task: { id, name, payload }, plan: { signals: signal === "" ? [] : ["before", signal] }, ms };
}

function source(storage: MemoryStorage, running: { id: string; name: string; payload: string }[] = [], busy = 0): HeartbeatSource {
  return { storage, workers: 2, concurrency: 3, queues: null, busy: () => busy, running: () => running };
}

describe("readyAt: a message's ready time without decoding it", () => {
  test("reads `at`, and NaN when the message has none", () => {
    expect(readyAt(toQueueItem(msg("a", "t", 1234), 1e9).payload)).toBe(1234);
    expect(readyAt(toQueueItem(msg("a", "t", undefined), 1e9).payload)).toBeNaN();
  });
  test("an `at` key inside the arguments, or in an id or name, is not taken for it", () => {
    expect(readyAt(toQueueItem(msg("a", "t", undefined, [{ x: 1, at: 99 }]), 1e9).payload)).toBeNaN();
    expect(readyAt(toQueueItem(msg("a", "t", 5, [{ x: 1, at: 99 }]), 1e9).payload)).toBe(5);
    expect(readyAt(toQueueItem(msg('x,"at":7,', 'y,"at":8,"args":[', undefined), 1e9).payload)).toBeNaN();
    expect(readyAt(toQueueItem(msg('x,"at":7,', 'y,"at":8,"args":[', 42), 1e9).payload)).toBe(42);
  });
  test("a retry keeps `at` before args and sets it to when it is due", async () => {
    const { planOutcome } = await import("../../src/plan");
    const m = { ...msg("r1", "t", T0), retries: 2, retryDelay: 5_000 };
    const payload = toQueueItem(m, 1e9).payload;
    const plan = planOutcome({ id: "r1", token: "k", payload }, { kind: "error", error: { name: "E", message: "x" } }, T0 + 100, { keepFailed: false, rand: () => 0.5 });
    const next = plan.batch.schedule![0]!;
    expect(readyAt(next.payload)).toBe(next.eta);
    expect(next.eta).toBe(T0 + 100 + 5_000);
  });
});

describe("histogram buckets and bucket keys", () => {
  test("a value goes to the first bound it does not pass; above the last, to the extra bucket", () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(1)).toBe(0);
    expect(bucketOf(1.01)).toBe(1);
    expect(bucketOf(1000)).toBe(HISTOGRAM_BOUNDS_MS.indexOf(1000));
    expect(bucketOf(3_600_000)).toBe(HISTOGRAM_BOUNDS_MS.length - 1);
    expect(bucketOf(3_600_001)).toBe(HISTOGRAM_BOUNDS_MS.length);
  });
  test("keys sort by time (zero-padded) and give their minute back", () => {
    const a = statsKey(999_960_000, "c");
    const b = statsKey(T0, "c");
    expect(a < b).toBe(true);
    expect(minuteOfKey(b)).toBe(T0);
    expect(b.startsWith(STATS_PREFIX)).toBe(true);
  });
});

describe("StatsRecorder", () => {
  test("counts by task and outcome; lost tasks and signal-less deferrals are not counted", () => {
    const r = new StatsRecorder();
    const lost = outcome("a", "complete", 1);
    r.record([outcome("a", "complete", 3, T0), outcome("a", "error", 2), outcome("b", "retrying", 1), outcome("a", "", undefined), lost], new Set([lost.task.id]), T0 + 10);
    const [entry] = r.take(T0 + 20, "c1");
    const b = JSON.parse(entry!.value);
    expect(entry!.key).toBe(statsKey(T0, "c1"));
    expect(b.tasks.a.counts).toEqual({ complete: 1, error: 1 });
    expect(b.tasks.b.counts).toEqual({ retrying: 1 });
    expect(r.done).toBe(1);
    expect(r.failed).toBe(1);
    expect(r.totals.get("a")!.counts[0]).toBe(1);
  });
  test("run time and queue wait (commit time - run time - ready time) go to their buckets", () => {
    const r = new StatsRecorder();
    // Ready at T0, ran 30 ms, written at T0 + 1030: it waited 1000 ms.
    r.record([outcome("a", "complete", 30, T0)], new Set(), T0 + 1030);
    const t = r.totals.get("a")!;
    expect(t.run[bucketOf(30)]).toBe(1);
    expect(t.runSum).toBe(30);
    expect(t.wait[bucketOf(1000)]).toBe(1);
    expect(t.waitSum).toBe(1000);
    // A skip (no run time) counts, but has no histogram entry.
    r.record([outcome("a", "expired", undefined, T0)], new Set(), T0 + 2000);
    expect(t.counts[3]).toBe(1);
    expect(t.run.reduce((s, x) => s + x, 0)).toBe(1);
  });
  test("one entry per minute: a new minute starts a bucket, the ended one is written once", () => {
    const r = new StatsRecorder();
    r.record([outcome("a", "complete", 1)], new Set(), T0 + 5);
    r.record([outcome("a", "complete", 1)], new Set(), T0 + MIN + 5);
    const first = r.take(T0 + MIN + 10, "c");
    expect(first.map((e) => e.key)).toEqual([statsKey(T0, "c"), statsKey(T0 + MIN, "c")]);
    const again = r.take(T0 + MIN + 20, "c");
    expect(again.map((e) => e.key)).toEqual([statsKey(T0 + MIN, "c")]);
  });
  test("a failed write puts the ended minutes back for the next flush", () => {
    const r = new StatsRecorder();
    r.record([outcome("a", "complete", 1)], new Set(), T0 + 5);
    r.take(T0 + MIN + 1, "c");
    r.putBack();
    expect(r.take(T0 + MIN + 2, "c").map((e) => e.key)).toEqual([statsKey(T0, "c")]);
  });
  test("disabled (the overhead bench), it records nothing", () => {
    const r = new StatsRecorder();
    r.enabled = false;
    r.record([outcome("a", "complete", 1)], new Set(), T0);
    expect(r.take(T0, "c")).toEqual([]);
    expect(r.totals.size).toBe(0);
  });
});

describe("Heartbeat", () => {
  test("one write of its own keys only (heartbeat and its buckets): no ack, no task write", () => {
    const s = new MemoryStorage("q");
    const hb = new Heartbeat(source(s), 5_000, T0, "c1");
    hb.stats.record([outcome("a", "complete", 1)], new Set(), T0 + 1);
    const batch = hb.batch(T0 + 2);
    expect(Object.keys(batch)).toEqual(["putData"]);
    expect(batch.putData!.map((p) => p.key)).toEqual([CONSUMER_PREFIX + "c1", statsKey(T0, "c1")]);
  });
  test("the entry says who it is, what it runs (bounded) and since when it saw each running", () => {
    const s = new MemoryStorage("q");
    const running = Array.from({ length: RUNNING_LISTED + 5 }, (_, i) => {
      const m = { ...msg(`t${i}`, "job", T0), attempt: 2 };
      return { id: m.id, name: m.name, payload: toQueueItem(m, 1e9).payload };
    });
    const hb = new Heartbeat(source(s, running, 4), 5_000, T0, "c1");
    const e1 = hb.entry(T0 + 1_000);
    expect(e1).toMatchObject({ id: "c1", pid: process.pid, workers: 2, concurrency: 3, queues: null, busy: 4, backend: "memory", stopped: false, lastSeen: T0 + 1_000 });
    expect(e1.running.length).toBe(RUNNING_LISTED);
    expect(e1.running[0]).toEqual({ id: "t0", name: "job", since: T0 + 1_000, attempt: 2 });
    expect(hb.entry(T0 + 6_000).running[0]!.since).toBe(T0 + 1_000);
    const stopped = hb.entry(T0 + 7_000, true);
    expect(stopped).toMatchObject({ stopped: true, busy: 0, running: [] });
  });
  test("beat() writes it; readConsumers lists it as live, then silent after 3 intervals, and not after a stop", async () => {
    const s = new MemoryStorage("q");
    const hb = new Heartbeat(source(s), 5_000, T0, "c1");
    await hb.beat(T0);
    expect((await readConsumers(s, T0 + 15_000)).map((c) => [c.id, c.live])).toEqual([["c1", true]]);
    expect((await readConsumers(s, T0 + 15_001)).map((c) => c.live)).toEqual([false]);
    await hb.beat(T0 + 16_000, true);
    expect((await readConsumers(s, T0 + 16_000)).map((c) => c.live)).toEqual([false]);
  });
  test("readConsumers: live ones first, silent ones kept for an hour", async () => {
    const s = new MemoryStorage("q");
    await new Heartbeat(source(s), 5_000, T0, "old").beat(T0);
    await new Heartbeat(source(s), 5_000, T0, "quiet").beat(T0 + 30 * MIN);
    await new Heartbeat(source(s), 5_000, T0, "live").beat(T0 + 40 * MIN);
    const at = T0 + 40 * MIN + 1_000;
    expect((await readConsumers(s, at)).map((c) => [c.id, c.live])).toEqual([["live", true], ["quiet", false], ["old", false]]);
    expect((await readConsumers(s, T0 + 61 * MIN)).map((c) => c.id)).toEqual(["live", "quiet"]);
  });
});

describe("pruning", () => {
  test("drops buckets older than 60 minutes and heartbeats silent for an hour; keeps the rest", async () => {
    const s = new MemoryStorage("q");
    for (const m of [0, 1, 59, 70]) await s.putData(statsKey(T0 + m * MIN, "c"), "{}");
    await s.putData(CONSUMER_PREFIX + "gone", JSON.stringify({ v: 1, id: "gone", lastSeen: T0 }));
    await s.putData(CONSUMER_PREFIX + "here", JSON.stringify({ v: 1, id: "here", lastSeen: T0 + 70 * MIN }));
    const now = T0 + 70 * MIN + 30_000; // minute 70: 60 minutes kept are 11..70
    expect(await prune(s, now)).toBe(false);
    expect((await s.listData(STATS_PREFIX, 100)).map((r) => minuteOfKey(r.key))).toEqual([T0 + 59 * MIN, T0 + 70 * MIN]);
    expect((await s.listData(CONSUMER_PREFIX, 100)).map((r) => r.key)).toEqual([CONSUMER_PREFIX + "here"]);
  });
  test("bounded: one batch per call, and it says when more may be left", async () => {
    const s = new MemoryStorage("q");
    for (let i = 0; i < PRUNE_BATCH + 10; i++) await s.putData(statsKey(T0, `c${String(i).padStart(4, "0")}`), "{}");
    const now = T0 + 120 * MIN;
    expect(await prune(s, now)).toBe(true);
    expect(await s.countData(STATS_PREFIX)).toBe(10);
    expect(await prune(s, now)).toBe(false);
    expect(await s.countData(STATS_PREFIX)).toBe(0);
  });
  test("one consumer a minute prunes (the first to ask)", async () => {
    const s = new MemoryStorage("q");
    await s.putData(statsKey(T0, "c"), "{}");
    await s.putData(statsKey(T0 + MIN, "c"), "{}");
    const now = T0 + 61 * MIN;
    await s.incr(`observe:prune:${T0 + 61 * MIN}`, 1, now + MIN, now); // another consumer asked first
    await pruneIfElected(s, now);
    expect(await s.countData(STATS_PREFIX)).toBe(2);
    await pruneIfElected(s, now + MIN);
    expect(await s.countData(STATS_PREFIX)).toBe(0);
  });
});

describe("throughput and task statistics, summed over consumers", () => {
  async function twoConsumers() {
    const s = new MemoryStorage("q");
    for (const [id, at, list] of [
      ["c1", T0 + 1_000, [outcome("a", "complete", 2, T0), outcome("a", "complete", 3, T0), outcome("a", "error", 4, T0)]],
      ["c2", T0 + 2_000, [outcome("a", "complete", 500, T0), outcome("b", "retrying", 1, T0)]],
      ["c1", T0 + 2 * MIN + 1_000, [outcome("b", "complete", 1, T0)]],
    ] as const) {
      const hb = new Heartbeat(source(s), 5_000, T0, id);
      hb.stats.record(list, new Set(), at);
      await hb.beat(at);
    }
    return s;
  }
  test("one entry per minute, oldest first, zeros for empty minutes", async () => {
    const s = await twoConsumers();
    const points = await readThroughput(s, T0 + 2 * MIN + 5_000, 4);
    expect(points).toEqual([
      { minute: T0 - MIN, done: 0, failed: 0, retried: 0 },
      { minute: T0, done: 3, failed: 1, retried: 1 },
      { minute: T0 + MIN, done: 0, failed: 0, retried: 0 },
      { minute: T0 + 2 * MIN, done: 1, failed: 0, retried: 0 },
    ]);
    expect((await readThroughput(s, T0 + 2 * MIN + 5_000)).length).toBe(60);
    expect((await readThroughput(s, T0 + 2 * MIN + 5_000, 60)).reduce((n, p) => n + p.done, 0)).toBe(4);
  });
  test("per task: counts by outcome and the histograms", async () => {
    const s = await twoConsumers();
    const stats = await readTaskStats(s, T0 + 3 * MIN, 60);
    expect(stats.map((t) => t.name)).toEqual(["a", "b"]);
    const a = stats[0]!;
    expect(a.counts.complete).toBe(3);
    expect(a.counts.error).toBe(1);
    expect(a.run.count).toBe(4);
    expect(a.run.sum).toBe(509);
    expect(a.run.counts[bucketOf(500)]).toBe(1);
    expect(a.run.bounds).toEqual([...HISTOGRAM_BOUNDS_MS]);
    expect(a.wait.count).toBe(4);
  });
});

describe("the oldest ready task", () => {
  test("is the earliest ready time among ready items, not the first in lease order", async () => {
    const s = new MemoryStorage("q");
    const old = toQueueItem(msg("old", "low", T0), 1e9);
    const young = toQueueItem({ ...msg("young", "high", T0 + 50_000), priority: 10 }, 1e9);
    await s.enqueue([old, { ...young, priority: 10 }]);
    expect((await s.listPending(1))[0]!.id).toBe("young");
    expect(await readOldestReady(s, T0 + 60_000)).toEqual({ id: "old", name: "low", waitMs: 60_000, exact: true });
  });
  test("leased items do not count; nothing ready is null", async () => {
    const s = new MemoryStorage("q");
    await s.enqueue([toQueueItem(msg("x", "t", T0), 1e9)]);
    await s.lease(1, T0 + 30_000);
    expect(await readOldestReady(s, T0 + 1)).toBeNull();
  });
});

describe("--check decisions", () => {
  const oldest = { id: "i", name: "t", waitMs: 120_000, exact: true };
  test("no live consumer comes first", () => {
    expect(decideHealth({ liveConsumers: 0, oldest: null, recent: { done: 0, failed: 0 } }, {})).toEqual({ ok: false, reason: expect.stringContaining("no live consumer") });
  });
  test("the oldest ready task over --max-wait", () => {
    const v = decideHealth({ liveConsumers: 1, oldest, recent: { done: 0, failed: 0 } }, { maxWait: 60_000 });
    expect(v.ok).toBe(false);
    expect(!v.ok && v.reason).toContain("waited 2m");
    expect(decideHealth({ liveConsumers: 1, oldest, recent: { done: 0, failed: 0 } }, { maxWait: 120_000 }).ok).toBe(true);
  });
  test("failed rate over the last 5 minutes above R", () => {
    expect(decideHealth({ liveConsumers: 1, oldest: null, recent: { done: 90, failed: 10 } }, { maxFailedRate: 0.05 })).toEqual({ ok: false, reason: expect.stringContaining("10 of 100 tasks failed") });
    expect(decideHealth({ liveConsumers: 1, oldest: null, recent: { done: 90, failed: 10 } }, { maxFailedRate: 0.1 }).ok).toBe(true);
    expect(decideHealth({ liveConsumers: 1, oldest: null, recent: { done: 0, failed: 0 } }, { maxFailedRate: 0 }).ok).toBe(true);
  });
  test("--max-failed-rate values", () => {
    expect(parseRate("0.05")).toBe(0.05);
    expect(parseRate("1")).toBe(1);
    expect(parseRate(".5")).toBe(0.5);
    for (const bad of ["1.5", "-0.1", "5%", "", "abc", "NaN"]) expect(parseRate(bad)).toBeNull();
  });
});

describe("Prometheus text", () => {
  function sample() {
    const r = new StatsRecorder();
    r.record([outcome('we"ird\\task\nname', "complete", 2, T0), outcome("b", "error", 20_000, T0)], new Set(), T0 + 1_000);
    return renderMetrics({
      totals: r.totals,
      busySlots: 1,
      slots: 4,
      storage: { queued: [{ queue: "default", count: 3 }], scheduled: 2, running: 1, deadLetters: 5, liveConsumers: 1, oldestWaitSeconds: 1.5 },
    });
  }
  test("HELP and TYPE for each family; counters end in _total; histograms cumulative up to +Inf = _count", () => {
    const text = sample();
    expect(text.endsWith("\n")).toBe(true);
    expect(text).toContain("# TYPE huey_tasks_total counter\n");
    expect(text).toContain("# TYPE huey_task_run_seconds histogram\n");
    expect(text).toContain('huey_tasks_total{task="b",outcome="error"} 1\n');
    expect(text).toContain('huey_tasks_total{task="b",outcome="complete"} 0\n');
    expect(text).toContain('huey_task_run_seconds_bucket{task="b",le="10"} 0\n');
    expect(text).toContain('huey_task_run_seconds_bucket{task="b",le="30"} 1\n');
    expect(text).toContain('huey_task_run_seconds_bucket{task="b",le="+Inf"} 1\n');
    expect(text).toContain('huey_task_run_seconds_sum{task="b"} 20\n');
    expect(text).toContain('huey_task_run_seconds_count{task="b"} 1\n');
    expect(text).toContain('huey_queued_tasks{queue="default"} 3\n');
    for (const g of ["huey_scheduled_tasks 2", "huey_running_tasks 1", "huey_dead_letters 5", "huey_live_consumers 1", "huey_consumer_busy_slots 1", "huey_storage_up 1"]) expect(text).toContain(`\n${g}\n`);
    const families = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
    for (const f of families) expect(text).toContain(`# HELP ${f} `);
    expect(new Set(families).size).toBe(families.length);
  });
  test("label values escape backslash, double quote and line feed", () => {
    expect(escapeLabel('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(sample()).toContain('huey_tasks_total{task="we\\"ird\\\\task\\nname",outcome="complete"} 1\n');
    for (const line of sample().split("\n")) expect(line.includes("\r")).toBe(false);
  });
  test("without storage, the gauges read from it are left out and huey_storage_up is 0", () => {
    const text = renderMetrics({ totals: new Map(), busySlots: 0, slots: 1, storage: null });
    expect(text).toContain("\nhuey_storage_up 0\n");
    expect(text).not.toContain("huey_queued_tasks");
  });
});

describe("the metrics server's address and token (the dashboard's rules, its own flag names)", () => {
  test("HOST:PORT, PORT and [IPv6]:PORT; anything else is a ConfigurationError naming --metrics", () => {
    expect(metricsConfig("127.0.0.1:9464", undefined)).toEqual({ listen: { hostname: "127.0.0.1", port: 9464, loopback: true }, token: null });
    expect(metricsConfig("[::1]:0", undefined).listen).toEqual({ hostname: "::1", port: 0, loopback: true });
    expect(metricsConfig("9464", undefined).listen).toEqual({ hostname: "127.0.0.1", port: 9464, loopback: true });
    for (const bad of ["host:99999", "a b:1", "http://x:1", "nowhere"]) {
      expect(() => metricsConfig(bad, undefined)).toThrow(ConfigurationError);
      expect(() => metricsConfig(bad, undefined)).toThrow(/^--metrics/);
    }
  });
  test("an address other than loopback needs a token of 16 characters or more, named by the metrics flags", () => {
    expect(() => metricsConfig("0.0.0.0:9464", undefined)).toThrow(/not a loopback address: set a token with --metrics-token or HUEY_METRICS_TOKEN/);
    expect(() => metricsConfig("0.0.0.0:9464", "short")).toThrow(/--metrics-token \(or HUEY_METRICS_TOKEN\) must be at least 16 characters/);
    expect(metricsConfig("0.0.0.0:9464", "0123456789abcdef").token).toBe("0123456789abcdef");
  });
  test("loopback addresses", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "localhost"]) expect(isLoopback(h)).toBe(true);
    for (const h of ["0.0.0.0", "10.0.0.1", "::", "example.com"]) expect(isLoopback(h)).toBe(false);
  });
  test("the bearer token must match exactly", () => {
    const t = "0123456789abcdef0123";
    expect(bearerMatches(`Bearer ${t}`, t)).toBe(true);
    expect(bearerMatches(`Bearer ${t}x`, t)).toBe(false);
    expect(bearerMatches(t, t)).toBe(false);
    expect(bearerMatches(null, t)).toBe(false);
    expect(bearerMatches("Bearer ", t)).toBe(false);
  });
});

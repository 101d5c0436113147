// Deduplication windows (unique: { ttl, mode, key? }) through Huey on memory storage, no consumer.
// The clock is set with setSystemTime: the window's time is the call's Date.now().
import { afterEach, describe, expect, setSystemTime, test } from "bun:test";
import { ConfigurationError } from "../../src/errors";
import { MemoryHuey } from "../../src/huey";
import { readMessage } from "../../src/message";
import { Maintenance, type MaintenanceHost } from "../../src/consumer/maintenance";
import { DEDUP_SWEEP_GRACE_MS as G, dedupEntryState, sweepDedupWindows } from "../../src/consumer/dedup-sweep";
import { MemoryStorage } from "../../src/storage/memory";
import { SqliteStorage } from "../../src/storage/sqlite";
import { dedupValue, type QueueItem, type Storage } from "../../src/storage/types";
import { tempDb } from "../harness";

let n = 0;
const fresh = () => new MemoryHuey({ name: `dedup-${++n}` });
const T0 = 1_700_000_000_000;
afterEach(() => void setSystemTime());

async function scheduled(huey: MemoryHuey) {
  return (await huey.storage.listScheduled(100)).map((s) => ({ id: s.id, eta: s.eta, args: readMessage(s.payload).args, inner: readMessage(s.payload).id }));
}
async function pending(huey: MemoryHuey) {
  return (await huey.storage.listPending(100)).map((p) => ({ id: p.id, args: readMessage(p.payload).args, inner: readMessage(p.payload).id }));
}

describe("definition-time checks", () => {
  test.each([
    ["a ttl that is not a duration", { ttl: "soon", mode: "throttle" }, "unique.ttl"],
    ["a ttl of 0", { ttl: 0, mode: "debounce" }, "unique.ttl"],
    ["no ttl", { mode: "replace" }, "unique.ttl"],
    ["a mode not in the list", { ttl: "1s", mode: "squash" }, "unique.mode"],
    ["a key that is not a function", { ttl: "1s", mode: "throttle", key: "id" }, "unique.key"],
  ])("%s: ConfigurationError naming the task and the option", (_, unique, option) => {
    let err: unknown;
    try {
      fresh().task("sync_user", { unique: unique as never }, () => 1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toContain('task "sync_user"');
    expect((err as Error).message).toContain(option);
  });

  test("resolved: ttl in ms, the mode, a key function; plain unique stays off", () => {
    const t = fresh().task("t", { unique: { ttl: "2s", mode: "debounce" } }, () => 1);
    expect(t.options.unique).toBe(false);
    expect(t.options.dedup).toMatchObject({ ttl: 2000, mode: "debounce" });
    expect(t.options.dedup!.key(1, "a")).toBeString();
  });
});

describe("throttle", () => {
  test("the first call in the window is stored, later ones return its Result merged, also after it ran; a new window after ttl", async () => {
    const huey = fresh();
    const t = huey.task("ping", { unique: { ttl: "10s", mode: "throttle", key: (user: string) => user } }, (user: string, n: number) => `${user}${n}`);
    setSystemTime(T0);
    const a = await t("ann", 1);
    expect(a.merged).toBe(false);
    setSystemTime(T0 + 5_000);
    const b = await t("ann", 2);
    expect([b.id, b.merged]).toEqual([a.id, true]);
    const other = await t("bob", 1);
    expect(other.merged).toBe(false);
    expect((await pending(huey)).map((p) => p.args)).toEqual([["ann", 1], ["bob", 1]]);
    // a runs and finishes: the window still merges
    const [l] = (await huey.storage.lease(10, T0 + 60_000)).filter((x) => x.id === a.id);
    await huey.storage.commit({ ack: [{ id: l!.id, token: l!.token }] });
    setSystemTime(T0 + 9_999);
    expect((await t("ann", 3)).id).toBe(a.id);
    setSystemTime(T0 + 10_000);
    const c = await t("ann", 4);
    expect([c.id === a.id, c.merged]).toEqual([false, false]);
  });
});

describe("debounce", () => {
  test("the run waits ttl after the last call, with the last call's arguments, under the first id", async () => {
    const huey = fresh();
    const t = huey.task("reindex", { unique: { ttl: "3s", mode: "debounce", key: (doc: string) => doc } }, (doc: string, rev: number) => rev);
    setSystemTime(T0);
    const a = await t("d1", 1);
    setSystemTime(T0 + 1_000);
    const b = await t("d1", 2);
    setSystemTime(T0 + 2_500);
    const c = await t("d1", 3);
    expect([a.merged, b.merged, c.merged]).toEqual([false, true, true]);
    expect([b.id, c.id]).toEqual([a.id, a.id]);
    expect(await scheduled(huey)).toEqual([{ id: a.id, eta: T0 + 5_500, args: ["d1", 3], inner: a.id }]);
    // once it started (leased), a call opens a new window: a new task; the running one is untouched
    await huey.storage.promoteDue(T0 + 5_500, 10);
    const [l] = await huey.storage.lease(1, T0 + 60_000);
    setSystemTime(T0 + 5_600);
    const d = await t("d1", 4);
    expect([d.id === a.id, d.merged]).toEqual([false, false]);
    expect(readMessage(l!.payload).args).toEqual(["d1", 3]);
    expect(await scheduled(huey)).toEqual([{ id: d.id, eta: T0 + 8_600, args: ["d1", 4], inner: d.id }]);
    expect(await huey.storage.listPending(10)).toMatchObject([{ id: a.id, leased: true }]);
  });
});

describe("replace", () => {
  test("a pending task gets the new call's arguments and eta (delay, else now); a running one is not touched", async () => {
    const huey = fresh();
    const t = huey.task("notify", { unique: { ttl: "1m", mode: "replace", key: (user: string) => user } }, (user: string, msg: string) => msg);
    setSystemTime(T0);
    const a = await t.schedule(["ann", "hi"], { delay: "1h" });
    const b = await t.schedule(["ann", "hello"], { delay: "2h" });
    expect([b.id, b.merged]).toEqual([a.id, true]);
    expect(await scheduled(huey)).toEqual([{ id: a.id, eta: T0 + 7_200_000, args: ["ann", "hello"], inner: a.id }]);
    const c = await t("ann", "now");
    expect([c.id, c.merged]).toEqual([a.id, true]);
    expect(await scheduled(huey)).toEqual([]);
    expect(await pending(huey)).toEqual([{ id: a.id, args: ["ann", "now"], inner: a.id }]);
    await huey.storage.lease(1, T0 + 60_000);
    const d = await t("ann", "again");
    expect([d.id === a.id, d.merged]).toEqual([false, false]);
    const rows = await huey.storage.listPending(10);
    expect(rows.map((r) => [r.id, readMessage(r.payload).args, r.leased])).toEqual([[a.id, ["ann", "now"], true], [d.id, ["ann", "again"], false]]);
  });

  test("concurrent calls of one key leave one pending task, its id in its payload", async () => {
    const huey = fresh();
    const t = huey.task("notify", { unique: { ttl: "1m", mode: "replace", key: () => "k" } }, (n: number) => n);
    const rs = await Promise.all(Array.from({ length: 6 }, (_, i) => t(i)));
    expect(new Set(rs.map((r) => r.id)).size).toBe(1);
    expect(rs.filter((r) => !r.merged).length).toBe(1);
    const p = await pending(huey);
    expect(p.length).toBe(1);
    expect(p[0]!.inner).toBe(p[0]!.id);
  });
});

test("a key function that throws fails that call in the producer, naming the task; nothing stored, nothing lost", async () => {
  const huey = fresh();
  const t = huey.task("sync", { unique: { ttl: "1s", mode: "throttle", key: (id: number) => { if (id < 0) throw new Error("negative id"); return String(id); } } }, (id: number) => id);
  const ok = await t(1);
  const err = (await t(-1).catch((e: unknown) => e)) as Error;
  expect(err).toBeInstanceOf(ConfigurationError);
  expect(err.message).toContain('task "sync"');
  expect(err.message).toContain("negative id");
  expect((err.cause as Error).message).toBe("negative id");
  expect((await pending(huey)).map((p) => p.id)).toEqual([ok.id]);
});

test("a normal enqueue says merged: false; dedup tasks are refused by enqueueMany", async () => {
  const huey = fresh();
  const plain = huey.task("plain", () => 1);
  expect((await plain()).merged).toBe(false);
  const d = huey.task("d", { unique: { ttl: "1s", mode: "throttle" } }, () => 1);
  expect(await huey.enqueueMany([[d, []]]).catch((e: Error) => e.message)).toContain("one call at a time");
});

test("immediate mode: throttle runs the first call and merges the next into its Result; replace runs each call once its task is gone", async () => {
  const huey = new MemoryHuey({ name: `dedup-imm-${++n}`, immediate: true });
  const runs: unknown[] = [];
  const t = huey.task("t", { unique: { ttl: "1h", mode: "throttle" } }, (x: number) => (runs.push(x), x));
  const r = huey.task("r", { unique: { ttl: "1h", mode: "replace", key: () => "k" } }, (x: number) => (runs.push(`r${x}`), x));
  const a = await t(1);
  const b = await t(1);
  expect([b.id, b.merged, await b.get()]).toEqual([a.id, true, 1]);
  const c = await r(1);
  const d = await r(2);
  expect([c.merged, d.merged, d.id === c.id, await d.get()]).toEqual([false, false, false, 2]);
  expect(runs).toEqual([1, "r1", "r2"]);
});

describe("the maintenance sweep of ended deduplication windows", () => {
  const backends: [string, () => Storage][] = [
    ["memory", () => new MemoryStorage(`sweep-${++n}`)],
    ["sqlite", () => new SqliteStorage({ filename: tempDb(), queue: `sweep-${++n}` })],
  ];
  const item = (id: string): QueueItem => ({ id, name: "t", priority: 0, payload: "{}" });
  const keys = async (s: Storage) => (await s.listData("dedup:", 10_000)).map((r) => r.key);

  test("dedupEntryState: open windows stay (a grace past their end too), ended ones need their task checked, other values go", () => {
    expect(dedupEntryState("1000:abc", 999)).toEqual({ state: "keep" });
    expect(dedupEntryState("1000:abc", 1000 + G - 1)).toEqual({ state: "keep" });
    expect(dedupEntryState("1000:abc", 1000 + G)).toEqual({ state: "check", id: "abc" });
    expect(dedupEntryState("garbage", 0)).toEqual({ state: "drop" });
  });

  describe.each(backends)("on %s", (_kind, make) => {
    test("an entry goes once its window ended and its task is no longer queued, scheduled or leased", async () => {
      const s = make();
      await s.enqueueDeduped(item("gone"), "dedup:t:gone", "throttle", 1_000, 0);
      await s.enqueueDeduped(item("leased"), "dedup:t:leased", "throttle", 1_000, 0);
      await s.enqueueDeduped(item("queued"), "dedup:t:queued", "replace", 1_000, 0);
      await s.enqueueDeduped({ ...item("later"), eta: 5_000 }, "dedup:t:later", "replace", 1_000, 0);
      await s.enqueueDeduped(item("open"), "dedup:t:open", "throttle", 9_000 + G, 0);
      await s.putData("dedup:t:bad", "not a window");
      // "gone" ran and finished; "leased" is running; "queued" waits; "later" is scheduled.
      const [a] = await s.lease(1, 60_000);
      await s.commit({ ack: [{ id: a!.id, token: a!.token }] });
      const [b] = await s.lease(1, 60_000);
      expect([a!.id, b!.id]).toEqual(["gone", "leased"]);
      expect(await sweepDedupWindows(s, 1_000 + G - 1, undefined)).toEqual({ deleted: 1, cursor: undefined }); // the bad value
      expect(await sweepDedupWindows(s, 1_000 + G, undefined)).toEqual({ deleted: 1, cursor: undefined }); // gone
      expect(await keys(s)).toEqual(["dedup:t:later", "dedup:t:leased", "dedup:t:open", "dedup:t:queued"]);
      // The running one and the queued one finish: their entries go; the scheduled task's and the open window stay.
      const [c] = await s.lease(1, 60_000);
      await s.commit({ ack: [b!, c!].map((l) => ({ id: l.id, token: l.token })) });
      expect(await sweepDedupWindows(s, 2_000 + G, undefined)).toEqual({ deleted: 2, cursor: undefined });
      expect(await keys(s)).toEqual(["dedup:t:later", "dedup:t:open"]);
      await s.close();
    });

    test("an entry a producer set again between the sweep's read and its delete stays (compare-and-delete)", async () => {
      const s = make();
      await s.enqueueDeduped(item("old"), "dedup:t:k", "throttle", 1_000, 0);
      const [l] = await s.lease(1, 60_000);
      await s.commit({ ack: [{ id: l!.id, token: l!.token }] });
      // The producer's call lands just after the sweep checked the old task: a new window, a new task.
      const racing = {
        listData: s.listData.bind(s),
        deleteDataIf: s.deleteDataIf!.bind(s),
        hasTask: async (id: string) => {
          const was = await s.hasTask(id);
          expect(await s.enqueueDeduped(item("new"), "dedup:t:k", "throttle", 6_000 + G, 1_000 + G)).toEqual({ kind: "stored" });
          return was;
        },
      } as unknown as Storage;
      expect(await sweepDedupWindows(racing, 1_000 + G, undefined)).toEqual({ deleted: 0, cursor: undefined });
      expect(await s.getData("dedup:t:k", true)).toBe(dedupValue(6_000 + G, "new"));
      // Within the new window a call is still throttled into the new task.
      expect(await s.enqueueDeduped(item("third"), "dedup:t:k", "throttle", 7_000 + G, 2_000 + G)).toEqual({ kind: "merged", id: "new" });
      await s.close();
    });

    test("batches go on from a cursor past live windows, and the cursor ends at the last entry", async () => {
      const s = make();
      // 250 open windows sort first, then 150 ended ones whose tasks are gone.
      for (let i = 0; i < 400; i++) await s.putData(`dedup:t:${String(i).padStart(4, "0")}`, dedupValue(i < 250 ? 9_000 + G : 1_000, `x${i}`));
      let cursor: string | undefined;
      let deleted = 0;
      let batches = 0;
      do {
        const r = await sweepDedupWindows(s, 5_000 + G, cursor, 100);
        deleted += r.deleted;
        cursor = r.cursor;
        batches++;
      } while (cursor !== undefined);
      expect({ deleted, batches, left: await s.countData("dedup:") }).toEqual({ deleted: 150, batches: 5, left: 250 });
      await s.close();
    });
  });

  test("the consumer's retention round drops a throttle window of Huey once it ended and its task ran", async () => {
    const huey = fresh();
    setSystemTime(new Date(T0));
    const t = huey.task("sync", { unique: { ttl: "10s", mode: "throttle" } }, (_u: number) => 1);
    await t(1);
    const [l] = await huey.storage.lease(1, T0 + 60_000);
    await huey.storage.commit({ ack: [{ id: l!.id, token: l!.token }] });
    const host = { storage: huey.storage, failedRetention: null, log: { debug() {}, info() {}, warn() {}, error() {} } } as unknown as MaintenanceHost;
    const m = new Maintenance(host);
    expect(await m.retain(T0 + 10_000 + G - 1)).toEqual({ purged: 0, more: false });
    expect(await huey.storage.countData("dedup:")).toBe(1);
    expect(await m.retain(T0 + 10_000 + G)).toEqual({ purged: 1, more: false });
    expect(await huey.storage.countData("dedup:")).toBe(0);
  });
});

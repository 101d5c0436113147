import { afterAll, describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { RedisStorage } from "../../src/storage/redis";
import type { Storage } from "../../src/storage/types";
import { servicesRequired, wakesDuring } from "../harness";
import { probeRedis, REDIS_URL } from "../services";
import { describeStorageContract, item } from "./contract";

const URL = REDIS_URL;
// Each run has its own prefix, and afterAll deletes every key under it.
const PREFIX = `huey_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const T0 = 1_700_000_000_000;


async function keysUnder(client: RedisClient, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = (await client.send("SCAN", [cursor, "MATCH", pattern, "COUNT", "1000"])) as [string, string[]];
    cursor = String(next);
    keys.push(...batch);
  } while (cursor !== "0");
  return keys;
}

/** A port nobody listens on: bind it, then let it go. */
function freePort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

const skipReason = await probeRedis();
const available = skipReason === null;
const make = (queue: string) => new RedisStorage({ url: URL, queue, prefix: PREFIX });

describe("redis storage without a server", () => {
  test("the constructor does no I/O, and a refused port fails fast with a StorageError naming the URL", async () => {
    const port = freePort();
    const s = new RedisStorage({ url: `redis://huey:s3cret@127.0.0.1:${port}/0`, queue: "q" });
    const err = (await s.enqueue([item("a")]).catch((e: unknown) => e)) as Error & { code?: string };
    expect(err.code).toBe("HUEY_STORAGE");
    expect(err.message).toContain(`redis://huey:***@127.0.0.1:${port}/0`);
    expect(err.message).not.toContain("s3cret");
    expect(err.message).toContain("check that Redis is running");
    // A wait on an unreachable server ends on its timer, and close() ends everything.
    await s.waitForChange(20);
    await s.close();
  });

  test("a URL that is not a Redis URL is refused with a clear error", async () => {
    for (const url of ["localhost:6379", "http://localhost:6379", "not a url"]) {
      const s = new RedisStorage({ url, queue: "q" });
      const err = (await s.pendingCount().catch((e: unknown) => e)) as Error & { code?: string };
      expect(err.code).toBe("HUEY_STORAGE");
      expect(err.message).toContain(`"${url}" is not a Redis URL`);
      await s.close();
    }
  });
});

if (!available && !servicesRequired()) {
  console.warn(`skipping the Redis storage tests: ${skipReason} (HUEY_TEST_SERVICES=require makes this a failure)`);
}

if (!available && servicesRequired()) {
  test("a Redis server is reachable (HUEY_TEST_SERVICES=require)", () => {
    throw new Error(`the Redis tests need a server: ${skipReason}`);
  });
}

if (available) {
  afterAll(async () => {
    const client = new RedisClient(URL);
    const keys = await keysUnder(client, `${PREFIX}:*`);
    for (let i = 0; i < keys.length; i += 500) await client.send("DEL", keys.slice(i, i + 500));
    client.close();
  });

  describeStorageContract("redis", make, { shared: true });

  describe("redis storage", () => {
    const opened: Storage[] = [];
    let n = 0;
    const open = (queue = `r${n++}_${Date.now().toString(36)}`) => {
      const s = make(queue);
      opened.push(s);
      return s;
    };
    afterAll(async () => {
      for (const s of opened) await s.close();
    });

    test("two instances leasing concurrently over 500 items never get the same item", async () => {
      const a = open();
      const b = open(a.queue);
      await a.enqueue(Array.from({ length: 500 }, (_, i) => item(`i${i}`, i % 3)));
      const seen: string[] = [];
      const drain = async (s: Storage) => {
        for (;;) {
          const got = await s.lease(7, T0 + 60_000);
          if (got.length === 0) return;
          seen.push(...got.map((x) => x.id));
        }
      };
      await Promise.all([drain(a), drain(b), drain(a), drain(b)]);
      expect(seen.length).toBe(500);
      expect(new Set(seen).size).toBe(500);
      expect(await a.leasedCount()).toBe(500);
    });

    test("a lease and a commit of 2,500 items (more than the scripts' chunk of 1,000 arguments) apply to every item", async () => {
      const s = open();
      const n = 2_500;
      await s.enqueue(Array.from({ length: n }, (_, i) => ({ ...item(`i${i}`, i % 2), lane: i % 3 ? "default" : "emails" })));
      // 1,200 through the lanes (a filter), the other 1,300 without one (every lane at once).
      const byLane = await s.lease(1_200, T0 + 60_000, { now: T0, lanes: null });
      expect(byLane.length).toBe(1_200);
      const all = [...byLane, ...(await s.lease(n, T0 + 60_000))];
      expect(all.length).toBe(n);
      expect(new Set(all.map((x) => x.id)).size).toBe(n);
      expect(all.every((x) => x.leases === 1 && x.payload === JSON.stringify({ id: x.id }))).toBe(true);
      expect(all.find((x) => x.id === "i3")?.lane).toBe("emails");
      expect(await s.leasedCount()).toBe(n);
      // Half the results expire, half do not; one lease is someone else's by now (a wrong token).
      const stale = { ...all[7]!, token: "not-the-token" };
      const tasks = all.map((l, i) => ({ lease: i === 7 ? stale : l, results: [{ id: l.id, payload: `r${i}`, ...(i % 2 ? { expiresAt: T0 + 3_600_000 } : {}) }] }));
      expect(await s.commit({ tasks })).toEqual({ lost: [all[7]!.id] });
      expect(await s.leasedCount()).toBe(1);
      expect(await s.pendingCount()).toBe(0);
      expect(await s.getResult(all[0]!.id, true, T0)).toBe("r0");
      expect(await s.getResult(all[n - 1]!.id, true, T0)).toBe(`r${n - 1}`);
      expect(await s.getResult(all[7]!.id, true, T0)).toBeNull();
      expect(await s.resultCount()).toBe(n - 1);
      // The expiring ones are gone after their time, the others stay.
      expect(await s.purgeExpired(T0 + 7_200_000, 10_000)).toBe(n / 2 - 1); // the odd ones but #7
    });

    test("a subscribed wait wakes on another instance's enqueue, well before the fallback timer", async () => {
      const a = open();
      const b = open(a.queue);
      expect(await a.lease(1, T0)).toEqual([]);
      await a.waitForChange(1_000); // opens the subscription (and wakes once: it may have missed something)
      expect(await a.lease(1, T0)).toEqual([]);
      // Its fallback timer (2 s) would count as "timeout": the wake-up must come first.
      const wakes = await wakesDuring(async () => {
        const woke = a.waitForChange(10_000);
        await b.enqueue([item("x")]);
        await woke;
      });
      expect({ changed: wakes.changed, timeout: wakes.timeout }).toEqual({ changed: 1, timeout: 0 });
    });

    test("a change between a read and the wait is not slept through", async () => {
      const a = open();
      const b = open(a.queue);
      await a.lease(1, T0);
      await a.waitForChange(1_000);
      expect(await a.lease(1, T0)).toEqual([]);
      await b.enqueue([item("x")]);
      await Bun.sleep(20); // sets the scene (the message arrives before the wait starts); not a synchronisation
      // It returns at once for the change it already heard of; sleeping through it would end on the
      // 2 s fallback timer, counted as "timeout".
      const wakes = await wakesDuring(() => a.waitForChange(10_000));
      expect({ poll: wakes.poll, timeout: wakes.timeout }).toEqual({ poll: 0, timeout: 0 });
    });

    test("results wake blocking readers on the results topic", async () => {
      const a = open();
      const b = open(a.queue);
      expect(await a.getResult("r", true, T0)).toBeNull();
      await a.waitForChange(1_000, "results");
      expect(await a.getResult("r", true, T0)).toBeNull();
      const wakes = await wakesDuring(async () => {
        const woke = a.waitForChange(10_000, "results");
        await b.putResult({ id: "r", payload: "1" });
        await woke;
      });
      expect({ changed: wakes.changed, timeout: wakes.timeout }).toEqual({ changed: 1, timeout: 0 });
      expect(await a.getResult("r", true, T0)).toBe("1");
    });

    test("a dropped subscriber connection wakes waiters and is replaced", async () => {
      const admin = new RedisClient(URL);
      try {
        const pubsubIds = async () => {
          const list = String(await admin.send("CLIENT", ["LIST", "TYPE", "pubsub"]));
          return new Set([...list.matchAll(/\bid=(\d+)/g)].map((m) => m[1]!));
        };
        const a = open();
        const b = open(a.queue);
        const before = await pubsubIds();
        await a.lease(1, T0);
        await a.waitForChange(1_000);
        const ours = [...(await pubsubIds())].filter((id) => !before.has(id));
        expect(ours.length).toBe(1);
        const woke = a.waitForChange(10_000);
        await admin.send("CLIENT", ["KILL", "ID", ours[0]!]);
        await woke; // onclose wakes the waiter: it may have missed a message
        await a.lease(1, T0);
        await a.waitForChange(1_000); // subscribes again
        expect(await a.lease(1, T0)).toEqual([]);
        const wakes = await wakesDuring(async () => {
          const again = a.waitForChange(10_000);
          await b.enqueue([item("x")]);
          await again;
        });
        expect({ changed: wakes.changed, timeout: wakes.timeout }).toEqual({ changed: 1, timeout: 0 });
      } finally {
        admin.close();
      }
    });

    test("a dropped command connection fails the call in flight; the next call reconnects", async () => {
      const admin = new RedisClient(URL);
      try {
        const normalIds = async () => {
          const list = String(await admin.send("CLIENT", ["LIST", "TYPE", "normal"]));
          return new Set([...list.matchAll(/\bid=(\d+)/g)].map((m) => m[1]!));
        };
        const before = await normalIds();
        const s = open();
        await s.enqueue([item("a")]);
        const ours = [...(await normalIds())].filter((id) => !before.has(id));
        expect(ours.length).toBe(1);
        await admin.send("CLIENT", ["KILL", "ID", ours[0]!]);
        // Depending on timing, Bun has already reconnected or the call reports the drop.
        const first = await s.pendingCount().catch((e: Error) => e);
        if (first instanceof Error) expect(first.message).toContain("lost the connection to Redis");
        expect(await s.pendingCount()).toBe(1);
        expect((await s.lease(1, T0)).map((x) => x.id)).toEqual(["a"]);
      } finally {
        admin.close();
      }
    });

    test("flush leaves no key of the queue behind but the lock fence counters", async () => {
      const s = open();
      await s.enqueue([item("a"), item("b"), { ...item("e"), lane: "emails" }]);
      await s.schedule([{ ...item("c"), eta: T0 }, { ...item("f"), eta: T0, lane: "reports" }]);
      await s.pauseLane("emails", null);
      await s.lease(1, T0 + 1000);
      await s.putResult({ id: "r", payload: "1", expiresAt: T0 + 5 });
      await s.putData("k", "v");
      await s.incr("c", 1, T0 + 1000, T0);
      await s.acquireLock("L", "o", T0 + 1000, T0);
      const client = new RedisClient(URL);
      expect((await keysUnder(client, `${PREFIX}:${s.queue}:*`)).length).toBeGreaterThan(10);
      await s.flush();
      // The fences must outlive the flush: a fence is never handed out twice.
      expect(await keysUnder(client, `${PREFIX}:${s.queue}:*`)).toEqual([`${PREFIX}:${s.queue}:lock_fence`]);
      client.close();
    });

    test("items stored before lanes are adopted into \"default\"; a lane-set member an older version leased is skipped", async () => {
      const s = open();
      const key = (part: string) => `${PREFIX}:${s.queue}:${part}`;
      await s.enqueue([item("old1"), item("old2", 5)]);
      await s.schedule([{ ...item("old3"), eta: T0 }]);
      await s.enqueue([{ ...item("x"), lane: "emails" }]);
      const client = new RedisClient(URL);
      try {
        // As an older bun-huey left them: no lane, no per-lane sets.
        await client.send("HDEL", [key("lane"), "old1", "old2", "old3"]);
        await client.send("DEL", [key("ready:default"), key("schedule:default")]);
        // An older bun-huey leases from the global ready set only: the lane set keeps a stale member.
        await client.send("ZREM", [key("ready"), String(await client.send("HGET", [key("member"), "x"]))]);
      } finally {
        client.close();
      }
      expect([await s.pendingCount("default"), await s.scheduledCount("default"), await s.pendingCount()]).toEqual([2, 1, 2]);
      expect((await s.listPending(10, "emails")).map((x) => x.id)).toEqual([]);
      expect(await s.lease(10, T0 + 1000, { now: T0, lanes: { emails: 5 } })).toEqual([]);
      const got = await s.lease(10, T0 + 1000, { now: T0, lanes: { default: 5 } });
      expect(got.map((x) => [x.id, x.lane])).toEqual([["old2", "default"], ["old1", "default"]]);
      expect(await s.promoteDue(T0, 10)).toBe(1);
      expect((await s.lease(10, T0 + 1000, { now: T0 })).map((x) => [x.id, x.lane])).toEqual([["old3", "default"]]);
    });

    test("priorities keep their exact value and order, including negative and fractional ones", async () => {
      const s = open();
      await s.enqueue([item("a", -2.5), item("b", 1e6), item("c", 0), item("d", 1e6), item("e", -2.5)]);
      const got = await s.lease(10, T0);
      expect(got.map((x) => [x.id, x.priority])).toEqual([["b", 1e6], ["d", 1e6], ["c", 0], ["a", -2.5], ["e", -2.5]]);
    });

    test("close() ends every connection, so the process can exit", async () => {
      const code = `
        const { RedisStorage } = await import(${JSON.stringify(require.resolve("../../src/storage/redis"))});
        const s = new RedisStorage({ url: ${JSON.stringify(URL)}, queue: "exit", prefix: ${JSON.stringify(PREFIX)} });
        await s.lease(1, 0);
        await s.waitForChange(50);
        await s.close();`;
      const proc = Bun.spawn(["bun", "-e", code], { stderr: "pipe" });
      const exited = await Promise.race([proc.exited, Bun.sleep(10_000).then(() => "still running")]);
      if (exited === "still running") proc.kill();
      expect(exited).toBe(0);
    });
  });
}

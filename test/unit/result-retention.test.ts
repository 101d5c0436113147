// Result retention by default: the Huey's resultTtl (7 days), a task's own wins, failures expire too,
// periodic tasks store nothing unless asked, and the consumer's purge goes in bounded batches.
import { describe, expect, test } from "bun:test";
import { ConfigurationError } from "../../src/errors";
import { Huey } from "../../src/huey";
import { resolveHueyOptions } from "../../src/options";
import { Maintenance, PURGE_BATCH, PURGE_ROUNDS } from "../../src/consumer/maintenance";
import { MemoryStorage } from "../../src/storage/memory";
import type { MaintenanceHost } from "../../src/consumer/maintenance";

const DAY = 86_400_000;
let n = 0;

describe("resultTtl", () => {
  test("defaults to 7 days; false keeps results; 0 and nonsense are refused", () => {
    expect(resolveHueyOptions({ name: "a" }).resultTtl).toBe(7 * DAY);
    expect(resolveHueyOptions({ name: "a", resultTtl: "1h" }).resultTtl).toBe(3_600_000);
    expect(resolveHueyOptions({ name: "a", resultTtl: false }).resultTtl).toBeNull();
    expect(() => resolveHueyOptions({ name: "a", resultTtl: 0 })).toThrow(ConfigurationError);
    expect(() => resolveHueyOptions({ name: "a", resultTtl: "soon" as never })).toThrow(/resultTtl/);
  });

  test("a task's own resultTtl wins over the Huey's, and false keeps its results", () => {
    const huey = new Huey({ name: `ttl-${++n}`, resultTtl: "1h" });
    expect(huey.task("a", () => 1).options.resultTtl).toBe(3_600_000);
    expect(huey.task("b", { resultTtl: "5s" }, () => 1).options.resultTtl).toBe(5_000);
    expect(huey.task("c", { resultTtl: false }, () => 1).options.resultTtl).toBeNull();
    expect(new Huey({ name: `ttl-${++n}`, resultTtl: false }).task("d", () => 1).options.resultTtl).toBeNull();
  });

  test("immediate mode: a success and a failure both expire after the default 7 days", async () => {
    const huey = new Huey({ name: `ttl-${++n}`, immediate: true });
    const storage = huey.storage;
    const ok = huey.task("ok", () => 42);
    const bad = huey.task("bad", () => {
      throw new Error("no");
    });
    const before = Date.now();
    const a = await ok();
    const b = await bad();
    const after = Date.now();
    for (const id of [a.id, b.id]) expect(await storage.getResult(id, true, before + 7 * DAY - 1_000)).not.toBeNull();
    expect(await storage.purgeExpired(after + 7 * DAY - 1_000)).toBe(0);
    expect(await storage.purgeExpired(after + 7 * DAY + 1_000)).toBe(2);
    for (const id of [a.id, b.id]) expect(await storage.getResult(id, true, after + 7 * DAY + 1_000)).toBeNull();
  });

  test("periodic tasks store no result unless their options say results: true (as in Huey)", () => {
    const huey = new Huey({ name: `ttl-${++n}` });
    expect(huey.periodicTask("p", "* * * * *", () => 1).options.results).toBe(false);
    expect(huey.periodicTask("q", "* * * * *", { results: true }, () => 1).options.results).toBe(true);
    expect(huey.task("plain", () => 1).options.results).toBe(true);
  });
});

describe("the consumer's retention round", () => {
  function maintenance(storage: MemoryStorage): Maintenance {
    const host = { storage, failedRetention: null, log: { debug() {}, info() {}, warn() {}, error() {} } } as unknown as MaintenanceHost;
    return new Maintenance(host);
  }

  test("purges in batches of PURGE_BATCH, at most PURGE_ROUNDS per round, and says when more is left", async () => {
    const storage = new MemoryStorage("retention");
    const total = PURGE_BATCH * PURGE_ROUNDS + 5;
    await storage.commit({ results: Array.from({ length: total }, (_, i) => ({ id: `r${i}`, payload: "1", expiresAt: 1_000 })) });
    await storage.putResult({ id: "live", payload: "1", expiresAt: 10_000 });
    const m = maintenance(storage);
    expect(await m.retain(500)).toEqual({ purged: 0, more: false });
    expect(await m.retain(2_000)).toEqual({ purged: PURGE_BATCH * PURGE_ROUNDS, more: true });
    expect(await m.retain(2_000)).toEqual({ purged: 5, more: false });
    expect(await storage.resultCount()).toBe(1);
  });
});

// The markers revoked tasks leave (KEYS.revokedDone, see planSkip) go once their time is over: decided on
// memory storage with time as an argument, by the sweep itself and by the consumer's retention round.
import { expect, test } from "bun:test";
import { sweepRevokedMarkers } from "../../src/consumer/dedup-sweep";
import { Maintenance, type MaintenanceHost } from "../../src/consumer/maintenance";
import { MemoryHuey } from "../../src/huey";
import { KEYS } from "../../src/message";
import { planSkip } from "../../src/plan";
import { MemoryStorage } from "../../src/storage/memory";
import type { Storage } from "../../src/storage/types";

const T0 = 1_700_000_000_000;
const marker = (until: number | null) => JSON.stringify({ at: T0, until });

test("a spent or unreadable marker goes; one still counting, or kept for good, stays", async () => {
  const s = new MemoryStorage("q");
  await s.putData(`${KEYS.revokedDone}spent`, marker(T0 + 1_000));
  await s.putData(`${KEYS.revokedDone}counting`, marker(T0 + 5_000));
  await s.putData(`${KEYS.revokedDone}for-good`, marker(null));
  await s.putData(`${KEYS.revokedDone}garbled`, "{not json");
  await s.putData("revoked:id:other", marker(T0)); // a revocation, not a marker: not the sweep's
  expect(await sweepRevokedMarkers(s, T0 + 999, undefined)).toEqual({ deleted: 1, cursor: undefined }); // the garbled one
  expect(await sweepRevokedMarkers(s, T0 + 1_000, undefined)).toEqual({ deleted: 1, cursor: undefined });
  const left = (await s.listData(KEYS.revokedDone, 10)).map((r) => r.key.slice(KEYS.revokedDone.length));
  expect(left).toEqual(["counting", "for-good"]);
  expect(await s.getData("revoked:id:other", true)).not.toBeNull();
});

test("batches go on from a cursor, and a marker written again between read and delete stays", async () => {
  const s = new MemoryStorage("q");
  for (let i = 0; i < 250; i++) await s.putData(`${KEYS.revokedDone}${String(i).padStart(4, "0")}`, marker(i % 2 ? T0 : null));
  let cursor: string | undefined;
  let deleted = 0;
  do {
    const r = await sweepRevokedMarkers(s, T0 + 1, cursor, 100);
    deleted += r.deleted;
    cursor = r.cursor;
  } while (cursor !== undefined);
  expect({ deleted, left: await s.countData(KEYS.revokedDone) }).toEqual({ deleted: 125, left: 125 });
  // The task is revoked and skipped again while the sweep looks: the new marker is not the value it read.
  await s.putData(`${KEYS.revokedDone}again`, marker(T0));
  const racing = {
    deleteDataIf: s.deleteDataIf.bind(s),
    listData: async (prefix: string, limit: number, after?: string) => {
      const rows = await s.listData(prefix, limit, after);
      await s.putData(`${KEYS.revokedDone}again`, marker(T0 + 60_000));
      return rows;
    },
  } as unknown as Storage;
  expect((await sweepRevokedMarkers(racing, T0 + 1, undefined)).deleted).toBe(0);
  expect(await s.getData(`${KEYS.revokedDone}again`, true)).toBe(marker(T0 + 60_000));
});

test("the consumer's retention round drops the marker of a revoked skip once its result would have expired", async () => {
  const huey = new MemoryHuey({ name: "revoked-sweep" });
  const t = huey.task("sync", (_u: number) => 1);
  const r = await t(1);
  const [l] = await huey.storage.lease(1, T0 + 60_000);
  await huey.storage.commit(planSkip(l!, "revoked", { now: T0, ttl: 10_000 }).batch);
  expect(await huey.storage.getData(KEYS.revokedDone + r.id, true)).not.toBeNull();
  const host = { storage: huey.storage, failedRetention: null, log: { debug() {}, info() {}, warn() {}, error() {} } } as unknown as MaintenanceHost;
  const m = new Maintenance(host);
  expect(await m.retain(T0 + 9_999)).toEqual({ purged: 0, more: false });
  expect(await m.retain(T0 + 10_000)).toEqual({ purged: 1, more: false });
  expect(await huey.storage.getData(KEYS.revokedDone + r.id, true)).toBeNull();
});

// Result retention with real Bun Workers on a SQLite file: 10,000 no-op results with a short resultTtl are
// pruned by the consumer's retention rounds (in batches), and a relative filename lands beside the tasks file.
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as api from "../../src/index";
import { Consumer } from "../../src/consumer/consumer";
import { loadTasksFile, registerModulePlugin } from "../../src/consumer/loader";
import { Logger } from "../../src/consumer/logger";
import { tempDir, waitFor } from "../harness";

registerModulePlugin(api as unknown as Record<string, unknown>);
setDefaultTimeout(120_000);

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test("10,000 no-op results with resultTtl 1s are all pruned; the file is beside the tasks file", async () => {
  const dir = tempDir("huey-retention-");
  const file = join(dir, "tasks.ts");
  writeFileSync(
    file,
    `import { SqliteHuey } from "bun-huey";
export const huey = new SqliteHuey({ name: "ret", filename: "ret.db", resultTtl: "1s" });
export const noop = huey.task("noop", () => 1);
`,
  );
  const { huey } = await loadTasksFile(file, null);
  expect((huey as unknown as { filename: string }).filename).toBe(join(dir, "ret.db"));
  const lines: string[] = [];
  const consumer = new Consumer(huey, { file, instance: null }, { workers: 2, handleSignals: false, grace: "5s" }, new Logger("warn", "text", (s) => lines.push(s)));
  cleanups.push(async () => {
    await consumer.stop(0);
    await huey.close();
  });
  await consumer.start();
  expect(existsSync(join(dir, "ret.db"))).toBe(true);
  const def = huey.tasks().find((t) => t.name === "noop")!;
  expect(def.options.resultTtl).toBe(1_000);
  const reg = (await import(file)) as { noop: api.TaskDef<[], number> };
  const N = 10_000;
  await huey.enqueueMany(Array.from({ length: N }, () => [reg.noop, []] as const));
  await waitFor(async () => (await huey.resultCount()) === N, `${N} results stored`, 90_000);
  // The consumer's next retention round, run at a time past their expiry (time is an argument).
  const later = Date.now() + 2_000;
  let rounds = 0;
  let purged = 0;
  for (let more = true; more; rounds++) {
    const r = await consumer.maintenance.retain(later);
    purged += r.purged;
    more = r.more;
  }
  expect({ purged, left: await huey.resultCount(), rounds }).toEqual({ purged: N, left: 0, rounds: 1 });
  expect(lines.join("")).not.toContain("ERROR");
});

// A Worker that dies is replaced; a replacement that cannot load the tasks file is retried with
// backoff until it can, so the consumer does not run a Worker short for good.
import { expect, setDefaultTimeout, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SqliteHuey } from "../../src/storage/sqlite-huey";
import { FIXTURES, tempDir, waitFor } from "../harness";
import { spawnCli } from "../services";

setDefaultTimeout(60_000);

test("a replacement Worker that fails to load is retried until the tasks file loads again", async () => {
  const dir = tempDir();
  const env = { HUEY_DB: join(dir, "q.db"), HUEY_BREAK_FILE: join(dir, "broken") };
  const c = spawnCli(["run", join(FIXTURES, "breakable-fixture.ts"), "-w", "1"], env);
  const producer = new SqliteHuey({ name: "breakable", filename: env.HUEY_DB });
  const ok = producer.task("ok", (x: number) => x);
  const die = producer.task("die", () => 0);
  try {
    await waitFor(() => c.log().includes("consumer started"), "consumer started");
    expect(await (await ok(1)).get({ blocking: true, timeout: 10_000 })).toBe(1);
    writeFileSync(env.HUEY_BREAK_FILE, "");
    await die(); // kills the only Worker; its replacement cannot load the file
    await waitFor(() => c.log().includes("a replacement worker failed to start (trying again in 1000ms)"), "a failed replacement");
    const pending = await ok(2);
    rmSync(env.HUEY_BREAK_FILE);
    expect(await pending.get({ blocking: true, timeout: 30_000 })).toBe(2);
    expect(c.alive()).toBe(true);
  } finally {
    expect(await c.stop()).toBe(0);
    await producer.close();
  }
});

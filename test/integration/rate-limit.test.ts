// A rate limit holds across consumer processes: the window's counter lives in storage.
import { expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { SqliteHuey } from "../../src/storage/sqlite-huey";
import { FIXTURES, ROOT, tempDb, waitFor } from "../harness";

// Spawns consumer processes on a 2-core machine: a minute per test, not bun's 5 s default.
setDefaultTimeout(60_000);

test("2 consumer processes x 2 Workers: at most 2 runs per 1 s window in all, none lost", async () => {
  const db = tempDb("rate.db");
  // The producer declares the same task by name; the consumers run ctl-fixture's "limited".
  const huey = new SqliteHuey({ name: "ctl", filename: db });
  const limited = huey.task("limited", { rateLimit: { limit: 2, per: "1s" } }, () => Date.now());
  const env = { ...process.env, HUEY_DB: db };
  const procs = [0, 1].map(() =>
    Bun.spawn(["bun", join(ROOT, "src/cli.ts"), "run", join(FIXTURES, "ctl-fixture.ts"), "-w", "2", "-n", "--grace", "1s"], {
      env, stdout: "ignore", stderr: "pipe",
    }),
  );
  const logs = procs.map(() => "");
  procs.forEach((p, i) => {
    void (async () => {
      for await (const chunk of p.stderr) logs[i] += new TextDecoder().decode(chunk);
    })();
  });
  await waitFor(() => logs.every((l) => l.includes("consumer started")), "both consumers started");
  // A run starts some time after its admission, so its start time may fall in a later window than
  // the one that admitted it: count by what the windows guarantee, not by start times. Admissions
  // happen no earlier than t0, at most 2 per 1 s window: the 3rd and 4th are at or after the start
  // of t0's window + 1 s, the 5th and 6th at or after + 2 s, and each run starts after its admission.
  // Two consumers counting on their own would let 4 per window through: the last two could then
  // start before + 2 s.
  const t0 = Date.now();
  const window0 = Math.floor(t0 / 1000) * 1000;
  const group = await limited.map(Array.from({ length: 6 }, () => [] as []));
  try {
    const times = ((await group.get({ blocking: true, timeout: 30_000 })) as number[]).toSorted((a, b) => a - b);
    expect(times.length).toBe(6);
    expect(times.filter((t) => t >= window0 + 1000).length).toBeGreaterThanOrEqual(4);
    expect(times.filter((t) => t >= window0 + 2000).length).toBeGreaterThanOrEqual(2);
  } finally {
    for (const p of procs) p.kill("SIGTERM");
    await Promise.all(procs.map((p) => p.exited));
    await huey.close();
  }
});

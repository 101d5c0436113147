// `bun run bench:dashboard`: how long the dashboard's JSON API takes on a deep queue (SQLite). Enqueues
// --count tasks (default 1,000,000) with task.map in transactions of 10,000, some delayed and some in a
// second named queue, plus dead letters and results; then times each route over HTTP (the server
// in this process, the overview's cache off), median and max of --runs requests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SqliteHuey } from "../src/index";
import { KEYS } from "../src/message";
import { encode } from "../src/serializer";
import { startDashboard } from "../src/server/http";

const { values: opt } = parseArgs({
  options: {
    count: { type: "string", default: "1000000" },
    runs: { type: "string", default: "20" },
    help: { type: "boolean", short: "h", default: false },
  },
  strict: true,
});
if (opt.help) {
  console.log("usage: bun run bench:dashboard [--count N] [--runs N]");
  process.exit(0);
}
const count = Number(opt.count);
const runs = Number(opt.runs);
if (!Number.isInteger(count) || count < 1000) throw new Error(`--count must be a whole number of 1000 or more, got "${opt.count}"`);
const say = (s: string) => process.stderr.write(`bench:dashboard: ${s}\n`);

const dir = mkdtempSync(join(tmpdir(), "huey-bench-dash-"));
try {
  const huey = new SqliteHuey({ name: "bench", filename: join(dir, "bench.db") });
  const work = huey.task("work", (_i: number) => {});
  const mail = huey.task("mail", { queue: "emails" }, (_to: string) => {});
  const CHUNK = 10_000;
  const t0 = performance.now();
  for (let i = 0; i < count; i += CHUNK) {
    const n = Math.min(CHUNK, count - i);
    await work.map(Array.from({ length: n }, (_, k) => [i + k] as [number]));
  }
  await work.map(Array.from({ length: 1000 }, (_, k) => [k] as [number]), { delay: "1h" });
  await mail.map(Array.from({ length: 1000 }, (_, k) => [`u${k}@example.com`] as [string]));
  const s = huey.storage;
  for (let i = 0; i < 1000; i++) {
    await s.putResult({ id: `result-${i}`, payload: encode({ ok: true, value: i }, "bench") });
    await s.putData(`${KEYS.failed}dead-${String(i).padStart(4, "0")}`, JSON.stringify({ id: `dead-${i}`, name: "work", args: [i], attempts: 1, failedAt: Date.now(), error: { name: "Error", message: "x" }, payload: "{}" }));
  }
  say(`enqueued ${count.toLocaleString("en-US")} tasks (+1,000 delayed, +1,000 in "emails", 1,000 results and dead letters) in ${Math.round(performance.now() - t0)} ms`);

  const dash = startDashboard(() => huey, { listen: "127.0.0.1:0", overviewTtl: 0, log: say });
  const base = `http://127.0.0.1:${dash.port}`;
  const routes = [
    "/api/overview",
    "/api/queued?limit=50",
    "/api/queued?limit=50&offset=10000",
    "/api/queued?limit=50&q=mail",
    "/api/scheduled?limit=50",
    "/api/running?limit=50",
    "/api/done?limit=50",
    "/api/failed?limit=50",
  ];
  console.log(`| route (${count.toLocaleString("en-US")} queued) | median ms | max ms |`);
  console.log("| --- | --- | --- |");
  for (const route of routes) {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      const res = await fetch(base + route);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${route}: HTTP ${res.status}`);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    console.log(`| ${route} | ${times[Math.floor(times.length / 2)]!.toFixed(1)} | ${times[times.length - 1]!.toFixed(1)} |`);
  }
  // The raw baseline of the overview: the counts it needs, straight from the storage on the same file
  // (no HTTP, no JSON, no heartbeats or statistics), measured the same way.
  const raw: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await Promise.all([s.pendingCount(), s.leasedCount(), s.scheduledCount(), s.resultCount(), s.countData(KEYS.failed)]);
    raw.push(performance.now() - t);
  }
  raw.sort((a, b) => a - b);
  console.log(`| raw: the overview's five counts from SqliteStorage | ${raw[Math.floor(raw.length / 2)]!.toFixed(1)} | ${raw[raw.length - 1]!.toFixed(1)} |`);
  await dash.stop();
  await huey.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

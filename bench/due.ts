// `bun run bench:due`: bulk delayed enqueue, and how soon the first task runs when a million come
// due at once (issue: promotion moved them all before the first lease). SQLite only.
//
//   bun run bench:due                   1,000,000 tasks, the consumer from dist/huey (built if stale)
//   bun run bench:due --count 200000    fewer
//   bun run bench:due --binary PATH     another consumer binary (an older build, to compare)
//
// Each figure is printed with a raw bun:sqlite baseline of the same work measured in the same run.
import { Database } from "bun:sqlite";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { SqliteHuey } from "../src/index";
import { Child, cleanupAll, installCleanupHandlers, removeTempDir, trackTempDir } from "./_proc";

const ROOT = resolve(import.meta.dir, "..");
const { values: opt } = parseArgs({
  options: {
    count: { type: "string", default: "1000000" },
    binary: { type: "string" },
    workers: { type: "string", default: "4" },
    help: { type: "boolean", short: "h", default: false },
  },
  strict: true,
});
if (opt.help) {
  console.log("usage: bun run bench:due [--count N] [--binary PATH] [--workers N]");
  process.exit(0);
}
const count = Number(opt.count);
if (!Number.isInteger(count) || count < 10_000) {
  console.error(`bench:due: --count must be a whole number of 10000 or more, got "${opt.count}"`);
  process.exit(2);
}
const CHUNK = 10_000; // calls per map() call: one transaction each
const progress = (s: string) => process.stderr.write(`bench:due: ${s}\n`);

installCleanupHandlers();
const dir = trackTempDir(mkdtempSync(join(tmpdir(), "huey-bench-due-")));
let binary = opt.binary ? resolve(opt.binary) : join(ROOT, "dist", "huey");
if (!opt.binary) {
  progress("building dist/huey");
  const b = Bun.spawnSync(["bun", "run", "build"], { cwd: ROOT, stdout: "ignore", stderr: "pipe" });
  if (b.exitCode !== 0) throw new Error(`bun run build failed: ${b.stderr.toString()}`);
}
if (!existsSync(binary)) throw new Error(`no consumer binary at ${binary}`);

// The consumer's tasks file: the first run in each Worker appends its time to a file, so the
// bench learns when the first task ran without reading the database.
writeFileSync(
  join(dir, "tasks.ts"),
  `import { SqliteHuey } from "bun-huey";
import { appendFileSync } from "node:fs";
export const huey = new SqliteHuey({ name: "due", filename: process.env.DUE_DB! });
let first = true;
export const mark = huey.task("mark", { results: false }, (_i: number) => {
  if (first) { first = false; appendFileSync(process.env.DUE_FIRST!, Date.now() + "\\n"); }
});
`,
);

try {
  // ---------------------------------------------------------------- bulk delayed enqueue
  const args = Array.from({ length: count }, (_, i) => [i] as [number]);
  const far = Date.now() + 86_400_000;
  const db = join(dir, "due.db");
  const huey = new SqliteHuey({ name: "due", filename: db });
  const mark = huey.task("mark", { results: false }, (_i: number) => undefined);
  await mark.map(args.slice(0, 1000), { eta: far }); // warm up
  await huey.flush();
  progress(`bulk delayed enqueue: ${count.toLocaleString("en-US")} in map(argsList, { eta }) calls of ${CHUNK.toLocaleString("en-US")}`);
  let t0 = performance.now();
  for (let i = 0; i < count; i += CHUNK) await mark.map(args.slice(i, i + CHUNK), { eta: far });
  const bulkRate = count / ((performance.now() - t0) / 1000);

  // Raw: the same rows (payloads prebuilt, so no message building) in the same statements.
  const rawDb = join(dir, "raw.db");
  const rawHuey = new SqliteHuey({ name: "due", filename: rawDb });
  await rawHuey.storage.pendingCount(); // creates the schema
  await rawHuey.close();
  const rows = (new Database(db, { readonly: true }).query("SELECT id, name, priority, eta, payload FROM schedule").all() as
    { id: string; name: string; priority: number; eta: number; payload: string }[]);
  const raw = new Database(rawDb);
  raw.run("PRAGMA journal_mode = WAL");
  raw.run("PRAGMA synchronous = NORMAL");
  const sqlFor = (n: number) => `INSERT INTO schedule (id, queue, name, priority, eta, payload) VALUES ${Array(n).fill("(?, ?, ?, ?, ?, ?)").join(", ")}`;
  const full = raw.query(sqlFor(128));
  const insert = raw.transaction((part: typeof rows) => {
    for (let i = 0; i < part.length; i += 128) {
      const slice = part.slice(i, i + 128);
      const p: (string | number)[] = [];
      for (const r of slice) p.push(r.id, "due", r.name, r.priority, r.eta, r.payload);
      (slice.length === 128 ? full : raw.query(sqlFor(slice.length))).run(...p);
    }
  });
  t0 = performance.now();
  for (let i = 0; i < rows.length; i += CHUNK) insert.immediate(rows.slice(i, i + CHUNK));
  const rawBulkRate = rows.length / ((performance.now() - t0) / 1000);
  raw.close();

  // ---------------------------------------------------------------- first run after all come due
  // A second database, its consumer started and warm; then the same bulk enqueue with one eta,
  // `due`, far enough ahead for the enqueue to end first (from the rate just measured).
  const firstFile = join(dir, "first.txt");
  writeFileSync(firstFile, "");
  const db2 = join(dir, "due2.db");
  const huey2 = new SqliteHuey({ name: "due", filename: db2 });
  const mark2 = huey2.task("mark", { results: false }, (_i: number) => undefined);
  await huey2.storage.pendingCount();
  const consumer = new Child([binary, "run", "tasks.ts", "-w", opt.workers!, "-q"], {
    cwd: dir,
    env: { ...process.env, DUE_DB: db2, DUE_FIRST: firstFile, NO_COLOR: "1" },
  });
  // Ready when a warm-up task has run (its Worker's line in the file; only later lines count).
  await mark2(-1);
  while (readFileSync(firstFile, "utf8") === "") {
    if (consumer.proc.exitCode !== null) throw new Error(`consumer exited: ${consumer.output}`);
    await Bun.sleep(20);
  }
  const due = Date.now() + Math.ceil((count / bulkRate) * 1000 * 1.5) + 3_000;
  for (let i = 0; i < count; i += CHUNK) await mark2.map(args.slice(i, i + CHUNK), { eta: due });
  if (Date.now() > due - 1_000) throw new Error("the enqueue ended too close to the due time; run again on a quieter machine");
  await huey2.close();
  progress(`first run: ${count.toLocaleString("en-US")} tasks due at once, -w ${opt.workers}`);
  let firstRun: number | null = null;
  const deadline = due + 120_000;
  while (firstRun === null && Date.now() < deadline) {
    const times = readFileSync(firstFile, "utf8").split("\n").filter(Boolean).map(Number).filter((t) => t >= due);
    if (times.length) firstRun = Math.min(...times);
    else await Bun.sleep(5);
  }
  await consumer.stop();
  if (firstRun === null) throw new Error(`no task ran within 120 s of coming due; consumer output:\n${consumer.output}`);

  // Raw: with the same million due, one promotion of a batch of 1000 and a lease of one, in the
  // statements the SQLite backend uses: the least any consumer must do before its first run.
  const r = new Database(rawDb);
  const now = Date.now();
  r.query("UPDATE schedule SET eta = ?").run(now);
  r.run("PRAGMA wal_checkpoint(TRUNCATE)");
  t0 = performance.now();
  r.transaction(() => {
    r.query(`INSERT INTO queue (queue, id, name, priority, payload) SELECT queue, id, name, priority, payload FROM schedule
             WHERE queue = 'due' AND eta <= ?1 ORDER BY eta, rowid LIMIT 1000`).run(now);
    r.query(`DELETE FROM schedule WHERE rowid IN (SELECT rowid FROM schedule WHERE queue = 'due' AND eta <= ?1 ORDER BY eta, rowid LIMIT 1000)`).run(now);
  }).immediate();
  r.query(`UPDATE queue SET leased_until = ?1, token = 'x' WHERE seq IN (SELECT seq FROM queue WHERE queue = 'due' AND leased_until IS NULL
           ORDER BY priority DESC, seq LIMIT 1) RETURNING id`).all(now + 30_000);
  const rawFirst = performance.now() - t0;
  r.close();
  await huey.close();

  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  console.log(`bulk delayed enqueue   ${fmt(bulkRate).padStart(10)}/s   raw ${fmt(rawBulkRate)}/s   ratio ${(bulkRate / rawBulkRate).toFixed(2)}x   (target >= 200,000/s)`);
  console.log(`first run after due    ${fmt(firstRun - due).padStart(10)} ms   raw ${rawFirst.toFixed(1)} ms (promote 1000 + lease 1)   (target <= 100 ms)`);
  console.log(`(${count.toLocaleString("en-US")} tasks; consumer ${binary === join(ROOT, "dist", "huey") ? "dist/huey" : binary}, -w ${opt.workers})`);
} finally {
  removeTempDir(dir);
  cleanupAll();
}

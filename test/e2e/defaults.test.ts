// Safe defaults of the binary: a relative SQLite filename resolves beside the tasks file, read-only commands
// never create a database, .env beside the tasks file is loaded, durations need a unit, flags have
// environment equivalents, and the startup line names the version and the database.
import { afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { childEnv, Child, hueyBinary, killAll, runHuey, spawnHuey } from "./binary";
import { ROOT, tempDir } from "../harness";

setDefaultTimeout(60_000);
beforeAll(async () => {
  await hueyBinary();
}, 120_000);
afterEach(killAll);

const PKG = await Bun.file(join(ROOT, "package.json")).json();

const TASKS = `import { SqliteHuey } from "bun-huey";
export const huey = new SqliteHuey({ name: "app", filename: "app.db" });
export const add = huey.task("add", (a: number, b: number) => a + b + Number(process.env.EXTRA ?? 0));
`;

/** Folders A (tasks file, relative filename "app.db"), B and C, with no database anywhere yet. */
function folders(options: { moduleVersion?: string } = {}) {
  const root = tempDir("huey-defaults-");
  const [a, b, c] = ["A", "B", "C"].map((d) => join(root, d));
  for (const d of [a!, b!, c!]) mkdirSync(d);
  writeFileSync(join(a!, "tasks.ts"), TASKS);
  mkdirSync(join(a!, "node_modules"));
  if (options.moduleVersion) {
    mkdirSync(join(a!, "node_modules", "bun-huey"));
    writeFileSync(join(a!, "node_modules", "bun-huey", "package.json"), JSON.stringify({ name: "bun-huey", version: options.moduleVersion }));
  } else {
    // A producer run with bun imports the library from here, as an app that installed it would:
    // this checkout's sources (the package's own exports point at a build only `bun run pack` makes).
    const mod = join(a!, "node_modules", "bun-huey");
    mkdirSync(mod);
    writeFileSync(join(mod, "package.json"), JSON.stringify({ name: "bun-huey", version: PKG.version, type: "module", exports: { ".": "./index.ts" } }));
    writeFileSync(join(mod, "index.ts"), `export * from ${JSON.stringify(join(ROOT, "src", "index.ts"))};\n`);
  }
  return { a: a!, b: b!, c: c!, tasks: join(a!, "tasks.ts"), db: join(a!, "app.db") };
}

describe("a relative filename resolves against the tasks file's folder", () => {
  test("consumer started in B, producer (bun) in C, CLI in B: all use A/app.db, and .env of A is loaded", async () => {
    const f = folders();
    writeFileSync(join(f.a, ".env"), "EXTRA=100\n");
    const consumer = await spawnHuey(["run", f.tasks, "-w", "1", "--grace", "1s"], { cwd: f.b });
    await consumer.waitForStderr("consumer started", "the consumer's startup line");
    expect(consumer.stderr).toContain(`consumer started: bun-huey ${PKG.version}, huey "app" on sqlite at ${f.db},`);
    expect(consumer.stderr).not.toContain("node_modules/bun-huey");
    writeFileSync(join(f.c, "prod.ts"), `import { add } from ${JSON.stringify(f.tasks)};\nconsole.log((await add(1, 2)).id);\n`);
    const producer = new Child([process.execPath, join(f.c, "prod.ts")], { cwd: f.c, env: childEnv() });
    expect(await producer.exit()).toBe(0);
    const id = producer.stdout.trim();
    const r = await runHuey(["result", f.tasks, id, "--wait", "--timeout", "20s", "--json"], { cwd: f.b });
    expect({ code: r.code, out: JSON.parse(r.stdout) }).toEqual({ code: 0, out: { id, value: 103 } });
    const status = await runHuey(["status", f.tasks, "--json"], { cwd: f.c });
    expect(JSON.parse(status.stdout).database).toBe(f.db);
    consumer.proc.kill("SIGTERM");
    expect(await consumer.exit()).toBe(0);
    expect(readdirSync(f.b)).toEqual([]);
    expect(readdirSync(f.c)).toEqual(["prod.ts"]);
  });
});

describe("commands that only read never create a database", () => {
  test.each([[["status"]], [["pending"]], [["scheduled"]], [["failed"]], [["locks"]], [["flush", "--yes"]], [["result", "some-id"]]])(
    "huey %p on a missing database: 'no database at PATH', exit 1, nothing created",
    async (argv: string[]) => {
      const f = folders();
      const [command, ...rest] = argv;
      const r = await runHuey([command!, f.tasks, ...rest], { cwd: f.b });
      expect(r.code).toBe(1);
      expect(r.stderr).toStartWith(`huey: no database at ${f.db}`);
      expect(readdirSync(f.a).sort()).toEqual(["node_modules", "tasks.ts"]);
      expect(existsSync(f.db)).toBe(false);
    },
  );
});

describe("durations and environment variables", () => {
  test.each([
    [["--grace", "5"], {}, /^huey: --grace must be a duration with a unit such as 5s \(bare numbers are not accepted\)/],
    [["--lease", "30"], {}, /^huey: --lease must be a duration with a unit such as 30s/],
    [[], { HUEY_TIMEOUT: "10" }, /^huey: HUEY_TIMEOUT must be a duration with a unit such as 10s/],
    [[], { HUEY_WORKERS: "lots" }, /^huey: HUEY_WORKERS must be a whole number of 0 or more, got "lots"/],
    [[], { HUEY_NO_PERIODIC: "maybe" }, /^huey: HUEY_NO_PERIODIC must be 1 or 0/],
  ])("huey run %p with env %p is a usage error (exit 2)", async (flags, env, message) => {
    const f = folders();
    const r = await runHuey(["run", f.tasks, ...flags], { cwd: f.b, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  test("a flag wins over its variable; .env may set HUEY_* and a variable already set wins over .env", async () => {
    const f = folders();
    writeFileSync(join(f.a, ".env"), "HUEY_WORKERS=3\nHUEY_CONCURRENCY=lots\n");
    const bad = await runHuey(["run", f.tasks], { cwd: f.b });
    expect({ code: bad.code, err: bad.stderr.split("\n")[0] }).toEqual({ code: 2, err: 'huey: HUEY_CONCURRENCY must be a whole number of 1 or more, got "lots"' });
    const c = await spawnHuey(["run", f.tasks, "-w", "2"], { cwd: f.b, env: { HUEY_CONCURRENCY: "5" } });
    await c.waitForStderr("consumer started", "the startup line");
    expect(c.stderr).toContain("2 worker(s) x concurrency 5");
    c.proc.kill("SIGTERM");
    expect(await c.exit()).toBe(0);
    const off = await spawnHuey(["run", f.tasks, "--no-env-file"], { cwd: f.b });
    await off.waitForStderr("consumer started", "the startup line");
    expect(off.stderr).toContain("1 worker(s) x concurrency 1");
    off.proc.kill("SIGTERM");
    expect(await off.exit()).toBe(0);
  });

  test("run --help names the variables and the --no-env-file flag", async () => {
    const r = await runHuey(["run", "--help"], { cwd: tempDir() });
    for (const s of ["HUEY_WORKERS", "HUEY_GRACE", "HUEY_TIMEOUT", "--no-env-file", "need a unit"]) expect(r.stdout).toContain(s);
  });
});

test("a node_modules/bun-huey of another version beside the tasks file: one warning at startup", async () => {
  const f = folders({ moduleVersion: "0.0.1-other" });
  const c = await spawnHuey(["run", f.tasks], { cwd: f.b });
  await c.waitForStderr("consumer started", "the startup line");
  c.proc.kill("SIGTERM");
  expect(await c.exit()).toBe(0);
  const warnings = c.stderr.split("\n").filter((l) => l.includes("node_modules/bun-huey 0.0.1-other"));
  expect(warnings.length).toBe(1);
  expect(warnings[0]).toContain(`bun-huey ${PKG.version}`);
});

// The compiled binary's command line: help, version, usage errors and tasks files it cannot run.
import { afterEach, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { hueyBinary, killAll, lines, runHuey, taskDir } from "./binary";

// Spawns Workers and processes on a 2-core machine: a minute per test, not bun's 5 s default
// (setDefaultTimeout applies to the file that calls it; bunfig.toml has no such setting).
setDefaultTimeout(60_000);

const ANSI = /\x1b\[/;

beforeAll(async () => {
  await hueyBinary();
}, 120_000);

afterEach(killAll);

describe("help and version", () => {
  test("huey --version prints the package version and exits 0", async () => {
    const { dir } = taskDir();
    const pkg = await Bun.file(join(import.meta.dir, "..", "..", "package.json")).json();
    const r = await runHuey(["--version"], { cwd: dir });
    expect({ code: r.code, stdout: r.stdout.trim(), stderr: r.stderr }).toEqual({ code: 0, stdout: pkg.version, stderr: "" });
  });

  test.each([
    [["--help"], "run"],
    [["run", "--help"], "--workers"],
  ])("huey %p exits 0 with usage on stdout and no colour codes when piped", async (args, mentions) => {
    const { dir } = taskDir();
    const r = await runHuey(args, { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("USAGE");
    expect(r.stdout).toContain(mentions);
    expect(ANSI.test(r.stdout)).toBe(false);
    expect(ANSI.test(r.stderr)).toBe(false);
  });

  test("huey with no arguments prints usage and exits 2", async () => {
    const { dir } = taskDir();
    const r = await runHuey([], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).toContain("USAGE");
    expect(ANSI.test(r.stdout + r.stderr)).toBe(false);
  });
});

describe("usage errors exit 2 with the problem on the first stderr line", () => {
  test.each([
    [["run", "tasks.ts", "--wokers", "2"], /^huey: unknown flag --wokers/],
    [["run", "tasks.ts", "-w", "abc"], /^huey: --workers must be a whole number .*"abc"/],
    [["run", "tasks.ts", "-w", "-1"], /^huey: --workers must be a whole number of 0 or more/],
    [["run", "tasks.ts", "--lease", "soon"], /^huey: .*lease/],
  ])("huey %p", async (args, first) => {
    const { dir, env } = taskDir();
    const r = await runHuey(args, { cwd: dir, env });
    expect(r.code).toBe(2);
    const out = lines(r.stderr);
    expect(out[0]).toMatch(first);
    // The message and at most a hint where to read more; no stack trace.
    expect(out.length).toBeLessThanOrEqual(2);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe("");
  });
});

describe("tasks files and databases the consumer cannot run exit 1 with one clear line", () => {
  async function runFile(fixture: string, file = "tasks.ts", setup?: (dir: string, env: Record<string, string>) => void) {
    const { dir, env } = taskDir(fixture);
    setup?.(dir, env);
    const r = await runHuey(["run", file, "-w", "2"], { cwd: dir, env });
    return { ...r, out: lines(r.stderr) };
  }

  test("a tasks file that does not exist: the message names it", async () => {
    const r = await runFile("basic-fixture.ts", "missing-tasks.ts");
    expect(r.code).toBe(1);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(/^huey: .*not found.*missing-tasks\.ts/);
  });

  test("a tasks file that throws while it is imported: failed to load, with the error", async () => {
    const r = await runFile("throws-fixture.ts");
    expect(r.code).toBe(1);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(/^huey: .*tasks\.ts failed to load: .*fixture exploded on purpose/);
  });

  test("a tasks file that exports no Huey instance: says what to add", async () => {
    const r = await runFile("no-huey-fixture.ts");
    expect(r.code).toBe(1);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(/^huey: .*exports no Huey instance/);
    expect(r.out[0]).toContain("export const huey = new SqliteHuey(");
  });

  test("a tasks file that registers a task name twice: already registered, naming the task", async () => {
    const r = await runFile("duplicate-fixture.ts");
    expect(r.code).toBe(1);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(/^huey: .*"same_name" is already registered/);
  });

  test("a database file that is not SQLite: is not a SQLite database", async () => {
    const r = await runFile("basic-fixture.ts", "tasks.ts", (_dir, env) =>
      writeFileSync(env.HUEY_DB!, "these are notes, not a database\n".repeat(200)),
    );
    expect(r.code).toBe(1);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(/^huey: .*queue\.db is not a SQLite database/);
  });
});

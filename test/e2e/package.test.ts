// The package as a user gets it: `bun run pack` once, the tarball installed into a fresh project with
// `bun add ./bun-huey-<version>.tgz`, then that project's own tsc (strict, exactOptionalPropertyTypes,
// noUncheckedIndexedAccess, no skipLibCheck: our declarations are checked too), the binary and the
// package's own bin running its tasks file for a producer run with bun, a consumer started from the
// app's code, and Node.js refused in one line. Needs the npm registry (citty, croner, bun-types).
import { afterAll, afterEach, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, ROOT, servicesRequired, tempDir } from "../harness";
import { Child, childEnv, hueyBinary, killAll, lines } from "./binary";

// Packs, installs and spawns on a loaded 2-core machine: a minute per test, not bun's 5 s default.
setDefaultTimeout(60_000);

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { name: string; version: string };
const TARBALL = `${pkg.name}-${pkg.version}.tgz`;
const TSC = join(ROOT, "node_modules", ".bin", "tsc");
const REGISTRY = (process.env.npm_config_registry ?? "https://registry.npmjs.org").replace(/\/$/, "");

/** Why the registry cannot be used (the install needs citty, croner and bun-types), or null. */
async function probeRegistry(): Promise<string | null> {
  try {
    const r = await fetch(`${REGISTRY}/bun-types`, { method: "HEAD", signal: AbortSignal.timeout(5_000) });
    return r.ok ? null : `the npm registry ${REGISTRY} answered ${r.status}`;
  } catch (err) {
    return `the npm registry ${REGISTRY} is unreachable (${err instanceof Error ? err.message : String(err)})`;
  }
}

const unreachable = await probeRegistry();
if (unreachable !== null && !servicesRequired()) {
  console.warn(`skipping test/e2e/package.test.ts: ${unreachable} (set HUEY_TEST_SERVICES=require to fail instead)`);
}

/** Run a command to its end in `cwd`. */
async function run(cmd: string[], cwd: string, env: Record<string, string> = {}, timeoutMs = 60_000) {
  const c = new Child(cmd, { cwd, env: childEnv(env) });
  const code = await c.exit(timeoutMs);
  return { code, stdout: c.stdout, stderr: c.stderr };
}

async function ok(cmd: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  const r = await run(cmd, cwd, env, 120_000);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} exited ${r.code} in ${cwd}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

describe.skipIf(unreachable !== null && !servicesRequired())("the packed tarball, installed into a fresh project", () => {
  let app = "";
  let tarball = "";

  beforeAll(async () => {
    if (unreachable !== null) throw new Error(`${unreachable} (HUEY_TEST_SERVICES=require)`);
    const out = tempDir("huey-pack-");
    const [packed] = await Promise.all([
      ok([process.execPath, "run", "scripts/pack.ts"], ROOT, { HUEY_PACK_OUT: out }),
      hueyBinary(),
    ]);
    expect(packed).toContain(TARBALL);
    tarball = join(out, TARBALL);
    // The app: its own folder, the tarball copied in, the fixture's tasks, producer and tsconfig.
    app = tempDir("huey-app-");
    cpSync(join(FIXTURES, "package-app"), app, { recursive: true });
    cpSync(tarball, join(app, TARBALL));
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }, null, 2));
    await ok([process.execPath, "add", `./${TARBALL}`], app);
    await ok([process.execPath, "add", "-d", "bun-types@1.4.5"], app);
  }, 180_000);

  afterEach(killAll);
  afterAll(killAll);

  test("holds built JavaScript and declarations, not our .ts sources or .sql/.lua files", async () => {
    const listing = (await ok(["tar", "tzf", tarball], ROOT)).split("\n").filter((l) => l !== "");
    for (const f of ["package.json", "README.md", "dist/lib/index.js", "dist/lib/worker-entry.js", "dist/lib/cli.js", "dist/lib/node.cjs", "dist/lib/types/index.d.ts"]) {
      expect(listing).toContain(`package/${f}`);
    }
    const sources = listing.filter((f) => /\.(ts|tsx|sql|lua)$/.test(f) && !f.endsWith(".d.ts"));
    expect(sources).toEqual([]);
    expect(listing.filter((f) => !f.startsWith("package/dist/lib/") && f !== "package/package.json" && f !== "package/README.md")).toEqual([]);
    // No declaration imports a text module, and the text is inside the bundle.
    const installed = join(app, "node_modules", "bun-huey", "dist", "lib");
    const dts = walk(join(installed, "types")).filter((f) => f.endsWith(".d.ts"));
    for (const f of dts) expect(readFileSync(f, "utf8")).not.toMatch(/["'][^"']*\.(lua|sql)["']/);
    const js = walk(installed).filter((f) => f.endsWith(".js")).map((f) => readFileSync(f, "utf8")).join("\n");
    expect(js).toContain("CREATE TABLE");
    expect(js).toContain("redis.call");
  });

  test("the app's tsc (strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess, no skipLibCheck) finds 0 errors", async () => {
    const config = JSON.parse(readFileSync(join(app, "tsconfig.json"), "utf8")) as { compilerOptions: Record<string, unknown> };
    expect(config.compilerOptions).toMatchObject({ strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true });
    expect(config.compilerOptions.skipLibCheck).toBeUndefined();
    const r = await run([TSC, "--noEmit", "-p", "."], app, {}, 120_000);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
  }, 120_000);

  test("the binary runs the app's tasks.ts; a producer run with bun enqueues and reads the results", async () => {
    const bin = await hueyBinary();
    await consumeAndProduce([bin, "run", "tasks.ts", "-w", "2"], "bin.db");
  });

  test("the package's own bin (node_modules/.bin/huey, run by bun) runs the consumer too", async () => {
    const bin = join(app, "node_modules", ".bin", "huey");
    expect((await ok([bin, "--version"], app)).trim()).toBe(pkg.version);
    await consumeAndProduce([bin, "run", "tasks.ts", "-w", "1"], "pkg-bin.db");
  });

  test("runConsumer() from the app's own code runs a task on a Worker started from the installed bundle", async () => {
    const out = await ok([process.execPath, "consume.ts"], app, { HUEY_DB: join(app, "lib.db") });
    const value = JSON.parse(out.trim().split("\n").pop()!) as { attempt: number; thread: string };
    expect(value).toMatchObject({ attempt: 1, thread: "worker" });
  });

  test.each([
    ["import", `import("bun-huey")`],
    ["require", `require("bun-huey")`],
  ])("Node.js (%s) is refused in one line that says to run the app with bun", async (_kind, code) => {
    if (Bun.which("node") === null) {
      console.warn("skipping the Node.js check: node is not on PATH");
      return;
    }
    const r = await run(["node", "-e", code], app);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain("ERR_UNKNOWN_FILE_EXTENSION");
    expect(lines(r.stderr)).toEqual(["bun-huey runs on Bun (https://bun.sh), not on Node.js: run your app with bun (bun app.ts), not node"]);
  });

  /** Start `consumer` in the app, wait until it runs, run producer.ts with bun, check what it read, stop the consumer. */
  async function consumeAndProduce(consumer: string[], db: string): Promise<void> {
    const env = { HUEY_DB: join(app, db) };
    const c = new Child(consumer, { cwd: app, env: childEnv(env) });
    await c.waitForStderr("consumer started", "the consumer to start");
    const out = await ok([process.execPath, "producer.ts"], app, env);
    const result = JSON.parse(out.trim().split("\n").pop()!);
    expect(result).toEqual({
      sum: 3,
      scheduled: 42,
      mapped: [2, 4, 6],
      pipeline: [5, 10, "n=10"],
      chord: 106,
      group: [20, 40],
      ctx: { id: expect.any(String), attempt: 1, thread: "worker" },
      failure: "HUEY_TASK_FAILED: failed on purpose: x",
      reported: "reported: failed on purpose: x",
      signals: ["enqueued", "scheduled"],
    });
    c.proc.kill("SIGTERM");
    expect(await c.exit()).toBe(0);
  }
});

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

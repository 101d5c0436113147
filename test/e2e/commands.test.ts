// The operator commands of the compiled `huey` binary (everything but `run`, which run.test.ts
// covers): output for people, the --json shapes, exit codes and one-line errors.
import { afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SqliteHuey, SqliteStorage } from "../../src/index";
import { waitFor } from "../harness";
import { hueyBinary, killAll, lines, runHuey, spawnHuey, taskDir } from "./binary";

// Spawns the binary and consumers on a 2-core machine: a minute per test, not bun's 5 s default.
setDefaultTimeout(60_000);

const ANSI = /\x1b\[/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

beforeAll(async () => {
  await hueyBinary();
}, 120_000);

afterEach(killAll);

/** A temp folder with the CLI fixture as tasks.ts, and a `huey` runner bound to it. */
function setup(fixture = "cli-fixture.ts") {
  const { dir, env } = taskDir(fixture);
  const huey = async (...args: string[]) => {
    const r = await runHuey(args, { cwd: dir, env });
    // Piped output never carries colour codes.
    expect(ANSI.test(r.stdout) || ANSI.test(r.stderr)).toBe(false);
    return r;
  };
  /** Run a command that must succeed with --json; returns its parsed stdout. */
  const json = async <T = any>(...args: string[]): Promise<T> => {
    const r = await huey(...args, "--json");
    if (r.code !== 0) throw new Error(`huey ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  return { dir, env, huey, json };
}

/** An error: exit code, and exactly one line on stderr (no stack), nothing on stdout. */
function expectError(r: { code: number; stdout: string; stderr: string }, code: number, first: RegExp): void {
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code, stdout: "" });
  const out = lines(r.stderr);
  expect(out[0]).toMatch(first);
  expect(out.length).toBeLessThanOrEqual(code === 2 ? 2 : 1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe("help and version", () => {
  const commands = ["run", "enqueue", "tasks", "status", "pending", "scheduled", "failed", "result", "revoke", "restore", "flush", "locks"];

  test("huey --help lists every command; each command's --help has its usage, options and an example", async () => {
    const { huey } = setup();
    const root = await huey("--help");
    expect(root.code).toBe(0);
    for (const c of commands) expect(root.stdout).toMatch(new RegExp(`^\\s+${c}\\s{2,}\\S`, "m"));
    const helps = await Promise.all(commands.map((c) => huey(c, "--help")));
    for (const [i, r] of helps.entries()) {
      const c = commands[i]!;
      expect({ c, code: r.code, stderr: r.stderr }).toEqual({ c, code: 0, stderr: "" });
      expect(r.stdout).toContain(`USAGE huey ${c} [OPTIONS] <FILE>`);
      expect(r.stdout).toMatch(new RegExp(`EXAMPLES\\n\\n  huey ${c} tasks\\.ts`));
      if (c !== "run") for (const flag of ["--instance", "--json", "-v, --verbose"]) expect(r.stdout).toContain(flag);
      expect(r.stdout).not.toMatch(/ +$/m);
    }
    expect((await huey("help", "enqueue")).stdout).toContain("--from=<FILE.jsonl>");
  });

  test("huey --version prints the version", async () => {
    const { huey } = setup();
    const pkg = await Bun.file(join(import.meta.dir, "..", "..", "package.json")).json();
    const r = await huey("--version");
    expect({ code: r.code, stdout: r.stdout.trim() }).toEqual({ code: 0, stdout: pkg.version });
  });
});

describe("usage errors exit 2; other errors exit 1; one line on stderr", () => {
  test.each([
    [["status", "tasks.ts", "--jsn"], /^huey: unknown flag --jsn for "status"/],
    [["status"], /^huey: Missing required positional argument: FILE/],
    [["bogus"], /^huey: unknown command "bogus"; commands: run, enqueue/],
    [["enqueue", "tasks.ts", "add", "1", "--delay", "soon"], /^huey: --delay must be a duration/],
    [["enqueue", "tasks.ts", "add", "1", "--delay", "1s", "--eta", "2030-01-01"], /^huey: give --delay or --eta, not both/],
    [["enqueue", "tasks.ts", "add", "--eta", "tomorrow"], /^huey: --eta must be an ISO date or epoch milliseconds/],
    [["enqueue", "tasks.ts", "add", "1", "--from", "x.jsonl"], /^huey: --from reads the arguments from the file/],
    [["pending", "tasks.ts", "--limit", "0"], /^huey: --limit must be a whole number of 1 or more/],
    [["pending", "tasks.ts", "extra"], /^huey: unexpected argument "extra"/],
    [["revoke", "tasks.ts"], /^huey: give a task ID or --task NAME/],
    [["flush", "tasks.ts"], /^huey: huey flush removes data: confirm with --yes \(stdin is not a terminal/],
    [["failed", "tasks.ts", "--retry", "all", "--purge"], /^huey: give --retry or --purge, not both/],
  ])("huey %p", async (args, first) => {
    const { huey } = setup();
    // flush reads the queue before it asks: it needs a database (a missing one is "no database at").
    if (args[0] === "flush") expect((await huey("enqueue", "tasks.ts", "add", "1", "2")).code).toBe(0);
    const r = await huey(...args);
    expectError(r, 2, first);
    expect(lines(r.stderr)[1]).toMatch(/^\(see huey (\w+ )?--help\)$/);
  });

  test("a tasks file that does not exist: exit 1 naming it", async () => {
    const { huey } = setup();
    expectError(await huey("status", "nope.ts"), 1, /^huey: tasks file not found: nope\.ts/);
  });

  test("an unknown task: exit 1 with the registered names, nothing enqueued", async () => {
    const { huey, json } = setup();
    expectError(
      await huey("enqueue", "tasks.ts", "nope", "1"),
      1,
      /^huey: no task named "nope" in tasks\.ts; registered: add, echo, boom, nothing, limited, sync, nightly, mailer, perCustomer$/,
    );
    // Nothing enqueued: not even a database was created.
    expectError(await huey("status", "tasks.ts"), 1, /^huey: no database at \/.*queue\.db/);
    void json;
  });

  test("-v adds the stack trace", async () => {
    const { huey } = setup();
    const r = await huey("status", "nope.ts", "-v");
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 1, stdout: "" });
    expect(r.stderr).toMatch(/^huey: .*tasks file not found: nope\.ts.*\n\s+at /);
  });

  test("a file exporting several instances needs --instance; --instance picks one", async () => {
    const { huey, json } = setup("cli-multi-fixture.ts");
    expectError(await huey("tasks", "tasks.ts"), 1, /^huey: .*exports several Huey instances .*choose one with --instance NAME/);
    expect((await json<{ name: string }[]>("tasks", "tasks.ts", "--instance", "other")).map((t) => t.name)).toEqual(["ping"]);
    expect((await json<{ name: string }[]>("tasks", "tasks.ts", "--instance", "main")).map((t) => t.name)).toEqual(["add"]);
    expectError(await huey("tasks", "tasks.ts", "--instance", "third"), 1, /^huey: .*has no Huey instance "third"/);
  });
});

describe("enqueue, pending, scheduled", () => {
  test("arguments are JSON when they parse, else strings; the id goes to stdout", async () => {
    const { huey, json } = setup();
    const r = await huey("enqueue", "tasks.ts", "echo", "1", "hello", '{"a":[1,null]}', "true", '"5"', "-2", "--", "--not-a-flag");
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    expect(id).toMatch(UUID);
    const pending = await json("pending", "tasks.ts");
    expect(pending).toEqual([
      { id, name: "echo", queue: "default", args: [1, "hello", { a: [1, null] }, true, "5", -2, "--not-a-flag"], priority: 0, attempt: 1, retries: 0, leased: false },
    ]);
  });

  test("--priority, --delay and --eta; pending in run order, scheduled earliest first; --limit", async () => {
    const { huey, json } = setup();
    const low = await json("enqueue", "tasks.ts", "add", "1", "1", "--priority", "-3");
    expect(low).toEqual({ id: expect.stringMatching(UUID), name: "add", eta: null });
    const high = await json("enqueue", "tasks.ts", "add", "2", "2");
    const t0 = Date.now();
    const later = await json("enqueue", "tasks.ts", "add", "3", "3", "--delay", "1h");
    const at = await json("enqueue", "tasks.ts", "echo", "x", "--eta", "2030-01-02T03:04:05Z");
    expect(at.eta).toBe(Date.parse("2030-01-02T03:04:05Z"));
    expect(later.eta).toBeGreaterThanOrEqual(t0 + 3_600_000 - 5_000);

    expect((await json<{ id: string }[]>("pending", "tasks.ts")).map((p) => p.id)).toEqual([high.id, low.id]);
    expect((await json<{ id: string }[]>("pending", "tasks.ts", "--limit", "1")).map((p) => p.id)).toEqual([high.id]);
    const scheduled = await json("scheduled", "tasks.ts");
    expect(scheduled).toEqual([
      { id: later.id, name: "add", queue: "default", args: [3, 3], priority: 5, attempt: 1, retries: 0, eta: later.eta },
      { id: at.id, name: "echo", queue: "default", args: ["x"], priority: 0, attempt: 1, retries: 0, eta: at.eta },
    ]);

    const table = await huey("pending", "tasks.ts");
    expect(lines(table.stdout)[0]).toMatch(/^ID\s+NAME\s+ARGS\s+PRIORITY\s+STATE$/);
    expect(table.stdout).toContain(`${high.id}  add   [2,2]`);
    const sch = await huey("scheduled", "tasks.ts", "--limit", "1");
    expect(sch.stdout).toMatch(/2030-01-02 03:04:05Z|in 59m|in 1h/);
    expect(sch.stderr).toBe("showing 1 of 2 (--limit N for more)\n");
    expect((await huey("pending", "tasks.ts", "--limit", "1")).stderr).toBe("showing 1 of 2 (--limit N for more)\n");
  });

  test("--from: one call per line, in batches, ids on stdout; --json gives them all", async () => {
    const { dir, huey, json } = setup();
    const file = join(dir, "calls.jsonl");
    writeFileSync(file, Array.from({ length: 2500 }, (_, i) => JSON.stringify([i, 1])).join("\n") + "\n\n");
    const r = await huey("enqueue", "tasks.ts", "add", "--from", "calls.jsonl");
    expect(r.code).toBe(0);
    const ids = lines(r.stdout);
    expect(ids).toHaveLength(2500);
    expect(new Set(ids).size).toBe(2500);
    expect(r.stderr).toBe("enqueued 2500 tasks of add from calls.jsonl\n");
    const out = await json("enqueue", "tasks.ts", "add", "--from", "calls.jsonl");
    expect({ ...out, ids: out.ids.length }).toEqual({ name: "add", enqueued: 2500, ids: 2500 });
    expect((await json("status", "tasks.ts")).queued).toBe(5000);
  });

  test("--from with a bad line: exit 1 naming the line; the batches before it are enqueued, nothing after", async () => {
    const { dir, huey, json } = setup();
    const rows = Array.from({ length: 2600 }, (_, i) => JSON.stringify([i, 1]));
    rows[2399] = "[1, 2"; // line 2400
    writeFileSync(join(dir, "bad.jsonl"), rows.join("\n"));
    const r = await huey("enqueue", "tasks.ts", "add", "--from", "bad.jsonl");
    expect(r.code).toBe(1);
    expect(lines(r.stdout)).toHaveLength(2000);
    expect(lines(r.stderr)).toEqual([
      expect.stringMatching(
        /^huey: bad\.jsonl line 2400: not valid JSON \(.*\); enqueued 2000 tasks from lines 1-2000, nothing from line 2001 on$/,
      ),
    ]);
    expect((await json("status", "tasks.ts")).queued).toBe(2000);

    writeFileSync(join(dir, "obj.jsonl"), '{"a": 1}\n');
    expectError(await huey("enqueue", "tasks.ts", "add", "--from", "obj.jsonl"), 1, /^huey: obj\.jsonl line 1: expected a JSON array of arguments, got \{"a": 1\}; nothing was enqueued$/);
    expectError(await huey("enqueue", "tasks.ts", "add", "--from", "missing.jsonl"), 1, /^huey: --from file not found: missing\.jsonl$/);
  });
});

describe("tasks and status", () => {
  test("tasks: every registered task with its options", async () => {
    const { huey, json } = setup();
    const tasks = await json<Record<string, unknown>[]>("tasks", "tasks.ts");
    const base = {
      queue: "default", priority: 0, retries: 0, retryDelay: 0, retryBackoff: 1, timeout: null, expires: null, unique: false, dedup: null,
      rateLimit: null, lock: null, lockPerKey: false, concurrency: null, results: true, periodic: null,
    };
    expect(tasks).toEqual([
      { ...base, name: "add", priority: 5 },
      { ...base, name: "echo" },
      { ...base, name: "boom", retries: 1, retryDelay: 10 },
      { ...base, name: "nothing" },
      { ...base, name: "limited", timeout: 30_000, unique: true, rateLimit: { limit: 5, per: 60_000 } },
      { ...base, name: "sync", lock: "daily-sync" },
      { ...base, name: "nightly", results: false, periodic: expect.stringContaining("0 3 * * *") },
      { ...base, name: "mailer", queue: "emails", unique: true, dedup: { ttl: 10_000, mode: "throttle" }, concurrency: { limit: 2, perKey: true } },
      { ...base, name: "perCustomer", lock: "perCustomer", lockPerKey: true },
    ]);
    const r = await huey("tasks", "tasks.ts");
    expect(lines(r.stdout)[0]).toMatch(/^NAME\s+QUEUE\s+PRIORITY\s+RETRIES\s+RETRY DELAY\s+TIMEOUT\s+UNIQUE\s+RATE LIMIT\s+LOCK\s+CONCURRENCY\s+SCHEDULE$/);
    expect(r.stdout).toMatch(/^limited\s+default\s+0\s+0\s+-\s+30s\s+yes\s+5\/1m\s+-\s+-\s+-$/m);
    expect(r.stdout).toMatch(/^mailer\s+emails\s+0\s+0\s+-\s+-\s+throttle 10s\s+-\s+-\s+2 per key\s+-$/m);
    expect(r.stdout).toMatch(/^perCustomer\s+default\s+0\s+0\s+-\s+-\s+-\s+-\s+perCustomer per key\s+-\s+-$/m);
  });

  test("status: counts, locks and periodic tasks with their next run", async () => {
    const { env, huey, json } = setup();
    await json("enqueue", "tasks.ts", "add", "1", "2");
    await json("enqueue", "tasks.ts", "add", "1", "2", "--delay", "1h");
    const storage = new SqliteStorage({ filename: env.HUEY_DB, queue: "cli" });
    const until = Date.now() + 60_000;
    await storage.acquireLock("daily-sync", "owner-1", until, Date.now());
    await storage.close();
    const s = await json("status", "tasks.ts");
    expect(s).toEqual({
      queue: "cli",
      storage: "sqlite",
      database: env.HUEY_DB,
      queued: 1,
      running: 0,
      scheduled: 1,
      failed: 0,
      results: 0,
      locks: [{ key: "daily-sync", owner: "owner-1", until }],
      paused: [],
      periodic: [{ name: "nightly", schedule: expect.stringContaining("0 3 * * *"), nextRun: expect.any(Number) }],
      at: expect.any(Number),
      only: null,
      queues: [
        { queue: "default", queued: 1 },
        { queue: "emails", queued: 0 },
      ],
      consumers: [],
      throughput: Object.fromEntries(["last1m", "last5m", "last60m"].map((k) => [k, { done: 0, failed: 0, retried: 0 }])),
      oldestReady: { id: expect.any(String), name: "add", waitMs: expect.any(Number), exact: true },
    });
    expect(s.periodic[0].nextRun).toBeGreaterThan(s.at);
    const r = await huey("status", "tasks.ts");
    expect(r.stdout).toStartWith(`queue "cli" (sqlite)\n  database ${env.HUEY_DB}\n`);
    expect(r.stdout).toMatch(/\n {2}queued {5}1\n {2}running {4}0\n {2}scheduled {2}1\n/);
    expect(r.stdout).toMatch(/daily-sync\s+owner-1\s+(59|60)s/);
    expect(r.stdout).toMatch(/nightly\s+"0 3 \* \* \*".*\(in /);
  });

  test("status --watch: one snapshot per interval when piped (JSON lines with --json); SIGINT exits 0", async () => {
    const { dir, env, json } = setup();
    await json("enqueue", "tasks.ts", "add", "1", "2"); // status needs a database to watch
    const c = await spawnHuey(["status", "tasks.ts", "--watch", "100ms", "--json"], { cwd: dir, env });
    await waitFor(() => c.stdout.split("\n").length >= 3 || !c.running, "two snapshots");
    c.proc.kill("SIGINT");
    expect(await c.exit()).toBe(0);
    const snaps = lines(c.stdout).map((l) => JSON.parse(l));
    expect(snaps.length).toBeGreaterThanOrEqual(2);
    expect(snaps[1].at).toBeGreaterThan(snaps[0].at);
    expect(ANSI.test(c.stdout)).toBe(false);
  });
});

describe("with a consumer: results, failures, retry and purge", () => {
  test("enqueue --wait and result: values, failures (exit 1 with the error), not finished", async () => {
    const { dir, env, huey, json } = setup();
    const pendingId = (await json("enqueue", "tasks.ts", "add", "40", "2")).id;
    expectError(await huey("result", "tasks.ts", pendingId), 1, new RegExp(`^huey: task ${pendingId} has not finished`));
    expectError(await huey("result", "tasks.ts", "no-such-id"), 1, /^huey: no task with id no-such-id is queued, scheduled or running, and no result is stored/);
    expectError(await huey("result", "tasks.ts", pendingId, "--timeout", "50ms"), 1, new RegExp(`^huey: no result for task ${pendingId} within 50ms`));

    const consumer = await spawnHuey(["run", "tasks.ts"], { cwd: dir, env });
    await consumer.waitForStderr("consumer started", "the consumer to start");
    try {
      expect(await json("result", "tasks.ts", pendingId, "--wait", "--timeout", "20s")).toEqual({ id: pendingId, value: 42 });
      const r = await huey("result", "tasks.ts", pendingId);
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: "42\n" });

      const waited = await huey("enqueue", "tasks.ts", "echo", "a", "[1,2]", "--wait", "--timeout", "20s");
      expect(waited.code).toBe(0);
      expect(JSON.parse(waited.stdout)).toEqual(["a", [1, 2]]);
      expect(waited.stderr).toMatch(/^enqueued echo [0-9a-f-]{36}; waiting for its result\n$/);
      expect(await json("enqueue", "tasks.ts", "nothing", "--wait")).toEqual({ id: expect.stringMatching(UUID), name: "nothing", eta: null, value: null });

      const failed = await huey("enqueue", "tasks.ts", "boom", "first", "--wait", "--timeout", "20s");
      const boomId = failed.stderr.match(/enqueued boom (\S+);/)![1]!;
      expect({ code: failed.code, stdout: failed.stdout }).toEqual({ code: 1, stdout: "" });
      expect(lines(failed.stderr)[1]).toBe(`huey: task boom (${boomId}) failed: Error: boom: first`);
      expectError(await huey("result", "tasks.ts", boomId), 1, new RegExp(`^huey: task boom \\(${boomId}\\) failed: Error: boom: first$`));
      const verbose = await huey("result", "tasks.ts", boomId, "-v");
      expect(verbose.stderr).toContain("\n    at ");

      const second = (await json("enqueue", "tasks.ts", "boom", "second")).id;
      expect((await huey("result", "tasks.ts", second, "--wait")).code).toBe(1);
    } finally {
      consumer.proc.kill("SIGTERM");
      expect(await consumer.exit()).toBe(0);
    }

    // Dead letters, oldest first.
    const dead = await json<any[]>("failed", "tasks.ts");
    expect(dead.map((d) => [d.name, d.args, d.attempts, d.error.name, d.error.message, d.error.code])).toEqual([
      ["boom", ["first"], 2, "Error", "boom: first", "E_BOOM"],
      ["boom", ["second"], 2, "Error", "boom: second", "E_BOOM"],
    ]);
    expect(Object.keys(dead[0]).sort()).toEqual(["args", "attempts", "error", "failedAt", "id", "name", "queue"]);
    expect(dead[0].queue).toBe("default");
    expect(dead[0].failedAt).toBeGreaterThan(Date.now() - 60_000);
    const table = await huey("failed", "tasks.ts");
    expect(lines(table.stdout)[0]).toMatch(/^ID\s+NAME\s+ARGS\s+ATTEMPTS\s+ERROR\s+FAILED AT$/);
    expect(table.stdout).toContain("Error: boom: first");
    expect((await json("status", "tasks.ts")).failed).toBe(2);

    // Retry one: queued again under the same id, its retries restored, its dead letter gone.
    const [first, next] = dead;
    expect(await json("failed", "tasks.ts", "--retry", first.id)).toEqual({ retried: [first.id] });
    expect((await json<any[]>("pending", "tasks.ts")).map((p) => [p.id, p.args, p.retries])).toEqual([[first.id, ["first"], 1]]);
    expect((await json<any[]>("failed", "tasks.ts")).map((d) => d.id)).toEqual([next.id]);
    expectError(await huey("failed", "tasks.ts", "--retry", "no-such-id"), 1, /^huey: no failed task with id "no-such-id"/);
    expect((await huey("failed", "tasks.ts", "--retry", "all")).stdout).toBe(`retried 1 task ${next.id}\n`);
    expect(await json("failed", "tasks.ts")).toEqual([]);
    expect((await json<any[]>("pending", "tasks.ts")).map((p) => p.id).sort()).toEqual([first.id, next.id].sort());

    // A consumer runs them again; they fail again.
    const again = await spawnHuey(["run", "tasks.ts"], { cwd: dir, env });
    try {
      await waitFor(async () => (await json<any[]>("failed", "tasks.ts")).length === 2, "both retried tasks to fail again");
    } finally {
      again.proc.kill("SIGTERM");
      expect(await again.exit()).toBe(0);
    }

    // Purge: all needs --yes without a terminal; one by id does not.
    expectError(await huey("failed", "tasks.ts", "--purge"), 2, /^huey: huey failed removes data: confirm with --yes/);
    expect(await json("failed", "tasks.ts", "--purge", next.id)).toEqual({ purged: 1 });
    expectError(await huey("failed", "tasks.ts", "--purge", next.id), 1, /^huey: no failed task with id/);
    expect(await json("failed", "tasks.ts", "--purge", "--yes")).toEqual({ purged: 1 });
    expect(await json("failed", "tasks.ts")).toEqual([]);
    expect((await huey("failed", "tasks.ts")).stdout).toBe("no failed tasks\n");
  }, 60_000);
});

describe("revoke, restore, locks, flush", () => {
  test("revoke and restore by id and by task", async () => {
    const { env, huey, json } = setup();
    const h = new SqliteHuey({ name: "cli", filename: env.HUEY_DB });
    const add = h.task("add", (a: number, b: number) => a + b);
    try {
      const id = (await json("enqueue", "tasks.ts", "add", "1", "2")).id;
      expect(await json("revoke", "tasks.ts", id)).toEqual({ id, task: null, until: null, once: false });
      expect(await h.isRevokedId(id)).toBe(true);
      expect(await json("restore", "tasks.ts", id)).toEqual({ id, task: null, restored: true });
      expect(await h.isRevokedId(id)).toBe(false);
      expect((await huey("restore", "tasks.ts", id)).stdout).toBe(`task ${id} was not revoked\n`);

      const before = Date.now();
      const r = await json("revoke", "tasks.ts", "--task", "add", "--until", "1h", "--once");
      expect(r).toEqual({ id: null, task: "add", until: expect.any(Number), once: true });
      expect(r.until).toBeGreaterThanOrEqual(before + 3_600_000);
      expect(await add.isRevoked()).toBe(true);
      expect((await huey("restore", "tasks.ts", "--task", "add")).stdout).toBe("restored task add\n");
      expect(await add.isRevoked()).toBe(false);
      expect((await huey("revoke", "tasks.ts", "--task", "add", "--until", "2030-01-01T00:00:00Z")).stdout).toMatch(
        /^revoked every call of task add until 2030-01-01 00:00:00Z \(in /,
      );
      expectError(await huey("revoke", "tasks.ts", "--task", "nope"), 1, /^huey: no task named "nope" in tasks\.ts; registered: add/);
      expectError(await huey("revoke", "tasks.ts", "no-such-id"), 1, /^huey: no task with id no-such-id is queued, scheduled or running/);
      expectError(await huey("revoke", "tasks.ts", id, "--task", "add"), 2, /^huey: give a task ID or --task NAME, not both/);
    } finally {
      await h.close();
    }
  });

  test("locks: list, free one, free all", async () => {
    const { env, huey, json } = setup();
    const storage = new SqliteStorage({ filename: env.HUEY_DB, queue: "cli" });
    const now = Date.now();
    await storage.acquireLock("a-lock", "o1", now + 30_000, now);
    await storage.acquireLock("b-lock", "o2", now + 90_000, now);
    await storage.close();
    expect(await json("locks", "tasks.ts")).toEqual([
      { key: "a-lock", owner: "o1", until: now + 30_000, fence: 1 },
      { key: "b-lock", owner: "o2", until: now + 90_000, fence: 1 },
    ]);
    const table = await huey("locks", "tasks.ts");
    expect(table.stdout).toMatch(/^KEY\s+OWNER\s+EXPIRES IN\s+FENCE\na-lock\s+o1\s+(29|30)s\s+1\nb-lock\s+o2\s+1m( 29s| 30s)?\s+1\n$/);
    expect(await json("locks", "tasks.ts", "--flush", "a-lock", "nope")).toEqual({ freed: 1 });
    expect((await json<{ key: string }[]>("locks", "tasks.ts")).map((l) => l.key)).toEqual(["b-lock"]);
    expect((await huey("locks", "tasks.ts", "--flush")).stdout).toBe("freed 1 lock\n");
    expect((await huey("locks", "tasks.ts")).stdout).toBe("no locks held\n");
  });

  test("flush --yes removes everything and reports what it removed", async () => {
    const { huey, json } = setup();
    await json("enqueue", "tasks.ts", "add", "1", "2");
    await json("enqueue", "tasks.ts", "add", "1", "2", "--delay", "1h");
    expect(await json("flush", "tasks.ts", "--yes")).toEqual({ queue: "cli", queued: 1, running: 0, scheduled: 1, results: 0, failed: 0, locks: 0 });
    expect(await json("status", "tasks.ts")).toMatchObject({ queued: 0, scheduled: 0, running: 0, results: 0, failed: 0, locks: [] });
    expect((await huey("flush", "tasks.ts", "-y")).stdout).toBe(
      'flushed queue "cli": removed 0 queued, 0 running, 0 scheduled, 0 results, 0 failed, 0 locks\n',
    );
  });
});

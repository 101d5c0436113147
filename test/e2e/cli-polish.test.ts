// The command line's polish on the compiled binary: a reader that closes the pipe early, --json
// errors, suggestions for typos, and huey backup.
import { afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { SqliteStorage } from "../../src/storage/sqlite";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { waitFor } from "../harness";
import { hueyBinary, killAll, lines, runHuey, spawnHuey, taskDir } from "./binary";

setDefaultTimeout(60_000);

beforeAll(async () => {
  await hueyBinary();
}, 120_000);

afterEach(killAll);

/** Create the queue's database, as a first producer would: read-only commands never create one. */
async function makeDb(file: string): Promise<void> {
  const s = new SqliteStorage({ filename: file, queue: "cli" });
  await s.pendingCount();
  await s.close();
}

describe("a reader that closes the pipe early", () => {
  test("status --watch: the process exits 0 with no stack once stdout is closed", async () => {
    const { dir, env } = taskDir("cli-fixture.ts");
    await makeDb(env.HUEY_DB);
    const bin = await hueyBinary();
    const p = Bun.spawn([bin, "status", "tasks.ts", "--watch", "100ms"], { cwd: dir, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
    const reader = p.stdout.getReader();
    let got = "";
    while (!got.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      got += new TextDecoder().decode(value);
    }
    await reader.cancel(); // closes our end of the pipe, as `head` does
    const code = await p.exited;
    const stderr = await new Response(p.stderr).text();
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(got).toContain("---");
  });
});

describe("--json errors and suggestions", () => {
  test.each([
    [["status", "tasks.ts", "--jsn", "--json"], 2, "usage", /did you mean --json\?/],
    [["stauts", "tasks.ts", "--json"], 2, "usage", /unknown command "stauts"; did you mean "status"\?/],
    [["status", "nope.ts", "--json"], 1, "not_found", /tasks file not found: nope\.ts/],
    [["result", "tasks.ts", "no-such-id", "--json"], 1, "not_found", /no task with id no-such-id/],
    [["pending", "tasks.ts", "--json"], 1, "no_database", /^no database at .*queue\.db/],
  ])("huey %p", async (args, exit, code, message) => {
    const { dir, env } = taskDir("cli-fixture.ts");
    if (code !== "no_database") await makeDb(env.HUEY_DB);
    const r = await runHuey(args as string[], { cwd: dir, env });
    expect(r.code).toBe(exit as number);
    const body = JSON.parse(r.stdout);
    // huey result also says the task's state (here: unknown).
    const state = (args as string[])[0] === "result" ? { state: { state: "unknown", id: "no-such-id" } } : {};
    expect(body).toEqual({ error: { code, message: expect.stringMatching(message as RegExp), ...state } });
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test("a typo with no near command or flag gets no suggestion", async () => {
    const { dir, env } = taskDir("cli-fixture.ts");
    const r = await runHuey(["status", "tasks.ts", "--zzzzzz"], { cwd: dir, env });
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain("did you mean");
  });
});

describe("huey backup", () => {
  test("copies with the source's mode; refuses to overwrite without --force; the copy opens", async () => {
    const { dir, env } = taskDir("cli-fixture.ts");
    for (let i = 0; i < 3; i++) expect((await runHuey(["enqueue", "tasks.ts", "add", String(i), "1"], { cwd: dir, env })).code).toBe(0);
    const out = join(dir, "copy.db");
    const r = await runHuey(["backup", "tasks.ts", out], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const db = new Database(out, { readonly: true });
    expect((db.query("SELECT count(*) AS n FROM queue").get() as { n: number }).n).toBe(3);
    db.close();
    const again = await runHuey(["backup", "tasks.ts", out, "--json"], { cwd: dir, env });
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout).error.code).toBe("exists");
    expect((await runHuey(["backup", "tasks.ts", out, "--force"], { cwd: dir, env })).code).toBe(0);
  });

  test("a database with a newer schema version: refused naming both versions, the file untouched", async () => {
    const { dir, env } = taskDir("cli-fixture.ts");
    expect((await runHuey(["enqueue", "tasks.ts", "add", "1", "1"], { cwd: dir, env })).code).toBe(0);
    const db = new Database(env.HUEY_DB);
    db.run("INSERT INTO schema_version (version, applied_at) VALUES (999, 0)");
    db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    db.close();
    const before = await Bun.file(env.HUEY_DB).bytes();
    const r = await runHuey(["status", "tasks.ts"], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/schema version 999, newer than this bun-huey knows \(\d+\)/);
    expect(Buffer.compare(Buffer.from(await Bun.file(env.HUEY_DB).bytes()), Buffer.from(before))).toBe(0);
  });
});

test("huey result of a revoked task says it was revoked (exit 1, code revoked)", async () => {
  const { dir, env } = taskDir("cli-fixture.ts");
  const id = JSON.parse((await runHuey(["enqueue", "tasks.ts", "add", "1", "1", "--json"], { cwd: dir, env })).stdout).id;
  expect((await runHuey(["revoke", "tasks.ts", id], { cwd: dir, env })).code).toBe(0);
  const r = await runHuey(["result", "tasks.ts", id], { cwd: dir, env });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(new RegExp(`^huey: task ${id} was revoked`));
  const j = await runHuey(["result", "tasks.ts", id, "--json"], { cwd: dir, env });
  expect(JSON.parse(j.stdout).error.code).toBe("revoked");
});

describe("huey failed FILE ID", () => {
  test("shows one dead letter in full, its stack escaped; --json the object; an unknown id exits 1 (not_found)", async () => {
    const { dir, env } = taskDir("cli-fixture.ts");
    const why = "x\x1b]0;pwned\x07y";
    const id = JSON.parse((await runHuey(["enqueue", "tasks.ts", "boom", why, "--json"], { cwd: dir, env })).stdout).id;
    const consumer = await spawnHuey(["run", "tasks.ts"], { cwd: dir, env });
    try {
      await waitFor(async () => JSON.parse((await runHuey(["failed", "tasks.ts", "--json"], { cwd: dir, env })).stdout).length === 1, "boom to fail for good");
    } finally {
      consumer.proc.kill("SIGTERM");
      expect(await consumer.exit()).toBe(0);
    }

    const j = await runHuey(["failed", "tasks.ts", id, "--json"], { cwd: dir, env });
    expect(j.code).toBe(0);
    const d = JSON.parse(j.stdout);
    expect(d).toEqual({
      id,
      name: "boom",
      queue: "default",
      args: [why],
      attempts: 2,
      error: { name: "Error", message: `boom: ${why}`, code: "E_BOOM", stack: expect.stringContaining("\n    at ") },
      failedAt: expect.any(Number),
    });

    const r = await runHuey(["failed", "tasks.ts", id], { cwd: dir, env });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(r.stdout).not.toContain("\x1b");
    expect(r.stdout).not.toContain("\x07");
    const out = lines(r.stdout);
    const shown = "x\\x1b]0;pwned\\x07y";
    expect(out.slice(0, 8)).toEqual([
      "task      boom",
      `id        ${id}`,
      "queue     default",
      `args      ["x\\u001b]0;pwned\\u0007y"]`,
      `error     Error: boom: ${shown}`,
      "code      E_BOOM",
      "attempts  2",
      expect.stringMatching(/^failed at \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/),
    ]);
    expect(out[8]).toBe("stack");
    expect(out[9]).toBe(`  Error: boom: ${shown}`);
    expect(out.slice(10).length).toBeGreaterThan(0);
    for (const l of out.slice(10)) expect(l).toMatch(/^ {6}at /);

    const missing = await runHuey(["failed", "tasks.ts", "no-such-id", "--json"], { cwd: dir, env });
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)).toEqual({ error: { code: "not_found", message: expect.stringMatching(/^no failed task with id "no-such-id"/) } });
    const plain = await runHuey(["failed", "tasks.ts", "no-such-id"], { cwd: dir, env });
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/^huey: no failed task with id "no-such-id"/);
    // An ID with --retry is ambiguous; --limit is for the list.
    expect((await runHuey(["failed", "tasks.ts", id, "--retry", "all"], { cwd: dir, env })).code).toBe(2);
    expect((await runHuey(["failed", "tasks.ts", id, "--limit", "5"], { cwd: dir, env })).code).toBe(2);
    // Showing it changed nothing: it is still there to retry.
    expect(JSON.parse((await runHuey(["failed", "tasks.ts", "--json"], { cwd: dir, env })).stdout).map((x: { id: string }) => x.id)).toEqual([id]);
  });

  test("--help names the ID", async () => {
    const { dir, env } = taskDir("cli-fixture.ts");
    const r = await runHuey(["failed", "--help"], { cwd: dir, env });
    expect(r.stdout).toContain("ID");
    expect(r.stdout).toMatch(/show this dead letter in full/);
  });
});

test("huey result of a revoked task a consumer skipped still says it was revoked (the skip leaves a marker)", async () => {
  const { dir, env } = taskDir("cli-fixture.ts");
  const id = JSON.parse((await runHuey(["enqueue", "tasks.ts", "add", "1", "1", "--json"], { cwd: dir, env })).stdout).id;
  expect((await runHuey(["revoke", "tasks.ts", id], { cwd: dir, env })).code).toBe(0);
  const consumer = await spawnHuey(["run", "tasks.ts"], { cwd: dir, env });
  let r: { code: number; stdout: string; stderr: string } | null;
  try {
    // Before the skip, result reports the pending revocation; after it, the marker the skip left.
    r = await waitFor(async () => {
      const x = await runHuey(["result", "tasks.ts", id], { cwd: dir, env });
      return x.stderr.includes("a consumer skipped it") ? x : null;
    }, "the consumer to skip the revoked task");
  } finally {
    consumer.proc.kill("SIGTERM");
    expect(await consumer.exit()).toBe(0);
  }
  expect(r!.code).toBe(1);
  expect(r!.stderr).toBe(`huey: task ${id} was revoked: a consumer skipped it, so it has no result\n`);
  const j = await runHuey(["result", "tasks.ts", id, "--json"], { cwd: dir, env });
  expect(j.code).toBe(1);
  expect(JSON.parse(j.stdout)).toEqual({
    error: { code: "revoked", message: `task ${id} was revoked: a consumer skipped it, so it has no result`, state: { state: "revoked", id, at: expect.any(Number) } },
  });
  // The skip consumed the revocation and ran nothing.
  expect(JSON.parse((await runHuey(["pending", "tasks.ts", "--json"], { cwd: dir, env })).stdout)).toEqual([]);
  const db = new Database(env.HUEY_DB, { readonly: true });
  try {
    const keys = (db.query("SELECT key FROM kv").all() as { key: string }[]).map((k) => k.key);
    // The marker, and the skipped attempt's log record (with its expiry index entry): no revocation left.
    expect(keys.filter((k) => k.includes(id)).sort()).toEqual([`revoked-done:${id}`, expect.stringMatching(/^tasklog-exp:\d{15}:tasklog:/), `tasklog:${id}#0001`]);
  } finally {
    db.close();
  }
});

test("huey pending with wide characters (CJK, emoji) in the arguments: columns start at the same display column", async () => {
  const { dir, env } = taskDir("cli-fixture.ts");
  for (const args of [["echo", "漢字テスト"], ["echo", "🎉", "x"], ["echo", "👍🏽ok"], ["echo", "plain"], ["add", "1", "2"]]) {
    expect((await runHuey(["enqueue", "tasks.ts", ...args], { cwd: dir, env })).code).toBe(0);
  }
  const r = await runHuey(["pending", "tasks.ts"], { cwd: dir, env });
  expect(r.code).toBe(0);
  const [header, ...rows] = lines(r.stdout);
  expect(rows.length).toBe(5);
  const width = (s: string) => Bun.stringWidth(s);
  const col = (line: string, text: string, from = 0) => {
    const at = line.indexOf(text, from);
    expect(at).toBeGreaterThanOrEqual(0);
    return width(line.slice(0, at));
  };
  const argsAt = col(header!, "ARGS");
  const priorityEnd = col(header!, "PRIORITY") + "PRIORITY".length;
  const stateAt = col(header!, "STATE");
  expect(rows.some((row) => width(row) !== row.length)).toBe(true); // the test does hold wide characters
  for (const row of rows) {
    expect(col(row, "[")).toBe(argsAt);
    const state = row.endsWith("ready") ? row.length - "ready".length : -1;
    expect(state).toBeGreaterThan(0);
    expect(width(row.slice(0, state))).toBe(stateAt);
    // PRIORITY is right-aligned: its digits end where the header's word ends, two spaces before STATE.
    const before = row.slice(0, state);
    expect(before.endsWith("  ")).toBe(true);
    expect(width(before.trimEnd())).toBe(priorityEnd);
  }
  expect(r.stdout).toContain("漢字テスト");
  expect(r.stdout).toContain("👍🏽ok");
});

// The command line's polish on the compiled binary: a reader that closes the pipe early, --json
// errors, suggestions for typos, and huey backup.
import { afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { SqliteStorage } from "../../src/storage/sqlite";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { waitFor } from "../harness";
import { hueyBinary, killAll, runHuey, taskDir } from "./binary";

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
    expect(body).toEqual({ error: { code, message: expect.stringMatching(message as RegExp) } });
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

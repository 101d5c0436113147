// `huey failed | pending | scheduled | result | locks | status` print task data (ids, arguments,
// error messages, lock keys) with every control character escaped: an OSC sequence or a newline
// stored by a task reaches neither the terminal nor a forged line, in tables and in --json.
// Runs `bun src/cli.ts` (the binary shares the same output code; commands.test.ts covers it).
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { SqliteHuey } from "../../src/index";
import { KEYS, type DeadLetter, type StoredResult } from "../../src/message";
import { FIXTURES, ROOT, tempDir } from "../harness";

setDefaultTimeout(60_000);

const OSC_LINK = "\x1b]8;;https://evil.example\x07click me\x1b]8;;\x07";
const OSC_CLIP = "\x1b]52;c;cm0gLXJmIH4=\x07";
const FORGED = "\n2026-01-01 00:00:00Z  forged-row";
const EVIL = `${OSC_LINK}${OSC_CLIP}\x1b[2J\x1b[1A\u009b31m${FORGED}\u202e`;
/** A control character (C0, DEL, C1), a Unicode line separator or a bidi override. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

async function cli(dir: string, db: string, ...args: string[]) {
  const proc = Bun.spawn(["bun", join(ROOT, "src", "cli.ts"), ...args], {
    cwd: dir,
    env: { ...process.env, HUEY_DB: db, NO_COLOR: "1" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

/** Output lines with no control character at all: the newlines are the output's own. */
function expectInert(text: string): string[] {
  const lines = text.split("\n");
  for (const l of lines) expect(l).not.toMatch(CONTROL);
  return lines;
}

describe("CLI listings escape control characters in task data", () => {
  test("failed, pending, scheduled, result, locks, status: tables and --json", async () => {
    const dir = tempDir("huey-escape-");
    const db = join(dir, "q.db");
    copyFileSync(join(FIXTURES, "cli-fixture.ts"), join(dir, "tasks.ts"));
    const huey = new SqliteHuey({ name: "cli", filename: db });
    const echo = huey.task("echo", (...args: unknown[]) => args);
    const deadId = `dead${EVIL}`;
    try {
      const dead: DeadLetter = {
        id: deadId,
        name: "boom",
        args: [EVIL],
        error: { name: "Error", message: `boom ${EVIL}`, stack: `Error: boom ${EVIL}\n    at x` },
        attempts: 1,
        failedAt: Date.now(),
        payload: "{}",
      };
      await huey.storage.putData(KEYS.failed + deadId, JSON.stringify(dead));
      await echo.schedule([EVIL, { k: EVIL }], { id: `pending${EVIL}` });
      await echo.schedule([EVIL], { id: `later${EVIL}`, delay: "1h" });
      const failedResult: StoredResult = { ok: false, name: "boom", error: { name: "Error", message: `boom ${EVIL}`, stack: `Error: boom ${EVIL}\n    at x` }, attempts: 1 };
      await huey.storage.commit({
        results: [
          { id: "r-ok", payload: JSON.stringify({ ok: true, value: { text: EVIL } } satisfies StoredResult), expiresAt: null },
          { id: "r-failed", payload: JSON.stringify(failedResult), expiresAt: null },
        ],
      });
      expect(await huey.storage.acquireLock(`lock${EVIL}`, `owner${EVIL}`, Date.now() + 3_600_000, Date.now())).not.toBeNull();

      for (const [cmd, ...rest] of [["failed"], ["pending"], ["scheduled"], ["locks"], ["status"]] as string[][]) {
        const table = await cli(dir, db, cmd!, "tasks.ts", ...rest);
        expect({ cmd, code: table.code, stderr: table.stderr }).toEqual({ cmd, code: 0, stderr: "" });
        const lines = expectInert(table.stdout);
        expect(lines.some((l) => l.includes("\\x1b]8;;https://evil.example\\x07"))).toBe(true);
        // No forged row: the text after the stored newline stays on its row.
        expect(lines.filter((l) => l.includes("forged-row")).every((l) => l.includes("\\n2026-01-01"))).toBe(true);
        const json = await cli(dir, db, cmd!, "tasks.ts", ...rest, "--json");
        expect({ cmd, code: json.code }).toEqual({ cmd, code: 0 });
        expectInert(json.stdout);
        JSON.parse(json.stdout); // still JSON, holding the same text (checked below for failed)
      }
      const failed = JSON.parse((await cli(dir, db, "failed", "tasks.ts", "--json")).stdout);
      expect(failed[0].id).toBe(deadId);
      expect(failed[0].error.message).toBe(`boom ${EVIL}`);

      const ok = await cli(dir, db, "result", "tasks.ts", "r-ok");
      expect(ok.code).toBe(0);
      expectInert(ok.stdout);
      expect(JSON.parse(ok.stdout)).toEqual({ text: EVIL });

      for (const verbose of [[], ["-v"]]) {
        const bad = await cli(dir, db, "result", "tasks.ts", "r-failed", ...verbose);
        expect(bad.code).toBe(1);
        const lines = expectInert(bad.stderr);
        expect(lines[0]).toStartWith("huey: task boom (r-failed) failed: Error: boom \\x1b]8;;https://evil.example\\x07");
        expect(lines[0]).toContain("\\n2026-01-01 00:00:00Z  forged-row");
      }
    } finally {
      await huey.close();
    }
  });
});

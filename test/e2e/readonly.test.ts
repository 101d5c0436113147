// A database on a read-only file system: the binary refuses it with one clear line, and the file
// is left as it was. Needs a read-only bind mount (root in this sandbox); skipped with the reason
// printed where mounting is not allowed.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SqliteStorage } from "../../src/storage/sqlite";
import { tempDir } from "../harness";
import { hueyBinary } from "./binary";

setDefaultTimeout(60_000);

const src = tempDir("huey-ro-src-");
const mnt = join(tempDir("huey-ro-mnt-"), "ro");
let mounted = false;

function sh(cmd: string[]): boolean {
  return Bun.spawnSync(cmd, { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

beforeAll(async () => {
  const s = new SqliteStorage({ filename: join(src, "app.db"), queue: "app" });
  await s.enqueue([{ id: "kept", name: "t", priority: 0, payload: "{}" }]);
  await s.close();
  writeFileSync(
    join(src, "tasks.ts"),
    `import { SqliteHuey } from "bun-huey";\nexport const huey = new SqliteHuey({ name: "app", filename: ${JSON.stringify(join(mnt, "app.db"))} });\nexport const t = huey.task("t", () => 1);\n`,
  );
  mkdirSync(mnt, { recursive: true });
  mounted = sh(["mount", "--bind", src, mnt]) && sh(["mount", "-o", "remount,bind,ro", mnt]);
  if (!mounted) {
    sh(["umount", mnt]);
    console.warn("skipping the read-only database test: this machine does not allow a read-only bind mount (needs root)");
  }
  await hueyBinary();
});

afterAll(() => {
  if (mounted) sh(["umount", mnt]);
});

test("huey run on a database on a read-only file system: exit 1, one line saying so, nothing changed", async () => {
  if (!mounted) return;
  const before = readFileSync(join(src, "app.db"));
  const p = Bun.spawnSync([await hueyBinary(), "run", join(mnt, "tasks.ts")], { stdout: "pipe", stderr: "pipe" });
  const stderr = p.stderr.toString();
  expect(p.exitCode).toBe(1);
  expect(stderr.trim().split("\n")).toHaveLength(1);
  expect(stderr).toContain("app.db is read-only");
  expect(readFileSync(join(src, "app.db")).equals(before)).toBe(true);
});

// `bun run build --target <t>`: only the flag parsing. Cross builds download a runtime per target
// (~100 MB each) and are not run in the suite; README "Building for another server" lists them.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { ROOT, tempDir } from "../harness";

const KNOWN = "linux-x64, linux-arm64, linux-x64-musl, linux-arm64-musl";

async function build(args: string[]): Promise<{ code: number; stdout: string; stderr: string; out: string }> {
  const out = join(tempDir("huey-build-"), "huey");
  const p = Bun.spawn([process.execPath, "build.ts", ...args], {
    cwd: ROOT,
    env: { ...process.env, HUEY_BUILD_OUT: out },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout, stderr] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, stdout, stderr, out };
}

test("an unknown target is a usage error (exit 2) listing the known targets; nothing is built", async () => {
  for (const args of [["--target", "windows-x64"], ["--target=linux-x86"]]) {
    const r = await build(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`unknown target "${args.join("=").replace(/^--target=+/, "")}"`);
    expect(r.stderr).toContain(`known targets: ${KNOWN}`);
    expect(await Bun.file(r.out).exists()).toBe(false);
  }
});

test("--target without a value, or a stray argument, is a usage error", async () => {
  const missing = await build(["--target"]);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain("--target needs a value");
  expect(missing.stderr).toContain(KNOWN);
  const stray = await build(["linux-x64"]);
  expect(stray.code).toBe(2);
  expect(stray.stderr).toContain('unknown argument "linux-x64"');
});

test("--help lists the targets and exits 0", async () => {
  const r = await build(["--help"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(KNOWN);
});

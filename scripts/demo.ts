// `bun run demo`: build the binary, run its consumer on tasks/demo.ts with a fresh SQLite file,
// enqueue a handful of tasks from this process, print their results, stop the consumer, exit.
import { $ } from "bun";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const binary = join(root, "dist", "huey");
console.log("building dist/huey ...");
await $`bun run build`.cwd(root);

// The consumer runs the binary in a folder with only the tasks file, as on a server.
const dir = mkdtempSync(join(tmpdir(), "huey-demo-"));
const db = join(dir, "demo.db");
copyFileSync(join(root, "tasks", "demo.ts"), join(dir, "tasks.ts"));
process.env.HUEY_DEMO_DB = db;

console.log(`starting: huey run tasks.ts -w 2   (in ${dir})`);
const consumer = Bun.spawn([binary, "run", "tasks.ts", "-w", "2"], {
  cwd: dir,
  env: { ...process.env, HUEY_DEMO_DB: db },
  stdout: "inherit",
  stderr: "pipe",
});
const cleanup = () => {
  consumer.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
};

try {
  // Show the consumer's log, and wait for it to say it started.
  let ready!: () => void;
  const started = new Promise<void>((r) => (ready = r));
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of consumer.stderr) {
      const text = decoder.decode(chunk);
      for (const line of text.split("\n")) if (line) process.stderr.write(`  consumer | ${line}\n`);
      if (text.includes("consumer started")) ready();
    }
  })();
  await Promise.race([started, consumer.exited.then((c) => Promise.reject(new Error(`consumer exited with ${c}`)))]);

  // The producer: this process imports the same tasks module and enqueues.
  const { add, slow, flaky } = await import(join(root, "tasks", "demo.ts"));
  const results = [
    ["add(1, 2)", await add(1, 2)],
    ["add(40, 2)", await add(40, 2)],
    ["slow(200)  priority 10", await slow(200)],
    ["flaky('a') retries 2", await flaky("a")],
    ...[...(await add.map([[10, 20], [30, 40]]))].map((r: unknown, i: number) => [`add.map[${i}]`, r]),
  ] as [string, unknown][];
  for (const [label, r] of results) {
    const value = await (r as { get(o: object): Promise<unknown> }).get({ blocking: true, timeout: 10_000 });
    console.log(`${label.padEnd(24)} -> ${JSON.stringify(value)}`);
  }
  consumer.kill("SIGTERM");
  const code = await consumer.exited;
  console.log(`consumer exited with code ${code}`);
  rmSync(dir, { recursive: true, force: true });
  process.exit(code === 0 ? 0 : 1);
} catch (err) {
  console.error("demo failed:", err);
  cleanup();
  process.exit(1);
}

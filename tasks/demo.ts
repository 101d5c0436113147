// The demo's tasks: `bun run demo` runs a consumer on this file and enqueues a few of each.
import { SqliteHuey } from "bun-huey";

export const huey = new SqliteHuey({ name: "demo", filename: process.env.HUEY_DEMO_DB ?? "demo.db" });

export const add = huey.task("add", (a: number, b: number) => a + b);

export const slow = huey.task("slow", { priority: 10 }, async (ms: number) => {
  await Bun.sleep(ms);
  return ms;
});

export const flaky = huey.task("flaky", { retries: 2, retryDelay: "100ms" }, (key: string) => {
  // Fails on the first attempt of each key, then succeeds: shows retries.
  const seen = (globalThis as { seen?: Set<string> }).seen ??= new Set();
  if (!seen.has(key)) {
    seen.add(key);
    throw new Error(`first attempt of ${key} fails on purpose`);
  }
  return `${key} ok`;
});

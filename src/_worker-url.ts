// Lives at the top of src/ on purpose: inside the compiled binary every module's import.meta.url
// is the bundle's, at the root of /$bunfs/root/, which is where this file sits in the source tree.
// So one relative URL is right both under `bun run` and in the executable.
export const WORKER_URL = new URL("./consumer/worker-entry.ts", import.meta.url).href;
